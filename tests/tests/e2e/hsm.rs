//! The voucher (MASA) and license signing keys on an HSM: SoftHSM2 holds the development PKI's
//! keys (imported as an operator would, with `softhsm2-util --import`), the key files are gone,
//! and `ztp serve`, configured by `pkcs11:` URI, signs vouchers (cached and per-nonce, several at
//! once) and license bundles that the reference agent verifies against the voucher and license
//! CAs; an RSA voucher key signs too, and a reload opens the keys again. A URI naming no key,
//! another role's key or a wrong PIN stops the start with a message that names the key and the
//! URI, never the PIN.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use ztp_tests::{Server, data_command, serve_command, success, temp_dir, tool, transcript};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "ztp";
/// Distinctive, so that finding it in a log or message means the PIN leaked.
const PIN: &str = "hsm-pin-5e1f9a";
const CUSTOMER: &str = "example-customer";

/// A SoftHSM2 token `ztp` in `dir` (its own configuration, named by `SOFTHSM2_CONF`).
struct Token {
    conf: PathBuf,
}

impl Token {
    fn init(dir: &Path) -> Self {
        let tokens = dir.join("tokens");
        fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let token = Self { conf };
        token.util(&[
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "so-pin-0000",
        ]);
        token
    }

    /// Imports the PKCS#8 key `file` as object `label` with id `id` (hex).
    fn import(&self, file: &Path, label: &str, id: &str) {
        let file = file.to_str().unwrap();
        self.util(&[
            "--import", file, "--token", TOKEN, "--label", label, "--id", id, "--pin", PIN,
        ]);
    }

    fn util(&self, args: &[&str]) {
        success(
            Command::new("softhsm2-util")
                .args(args)
                .env("SOFTHSM2_CONF", &self.conf)
                .output()
                .expect("softhsm2-util runs (Debian's softhsm2)"),
        );
    }

    fn env(&self) -> (&'static str, &str) {
        ("SOFTHSM2_CONF", self.conf.to_str().unwrap())
    }
}

/// The URI of object `object` on the token, with the PIN from `pin` (`pin-value=…` or
/// `pin-source=file:…`).
fn uri(object: &str, pin: &str) -> String {
    format!("pkcs11:token={TOKEN};object={object};type=private?module-path={MODULE}&{pin}")
}

fn agent(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// A data directory with the development PKI and sample inventory, made by a first start on
/// file keys; then the voucher and license keys moved onto a new token (their files deleted).
/// With `rsa`, the voucher signer is first replaced by an RSA one its CA issues.
fn data_dir_with_keys_on_a_token(dir: &Path, rsa: bool) -> (PathBuf, Token) {
    let data = dir.join("data");
    Server::start(&data).stop();
    let token = Token::init(dir);
    let manufacturer = data.join("pki/manufacturer");
    if rsa {
        rsa_voucher_signer(&manufacturer, dir);
    }
    token.import(&manufacturer.join("masa.key"), "masa", "01");
    token.import(&manufacturer.join("license-signing.key"), "license", "02");
    fs::remove_file(manufacturer.join("masa.key")).unwrap();
    fs::remove_file(manufacturer.join("license-signing.key")).unwrap();
    (data, token)
}

#[test]
fn vouchers_and_licenses_are_signed_by_keys_on_an_hsm() {
    let dir = temp_dir();
    let (data, token) = data_dir_with_keys_on_a_token(dir.path(), false);
    let pin_file = dir.path().join("hsm-pin");
    fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let masa = uri("masa", &format!("pin-source=file:{}", pin_file.display()));
    let license = uri("license", &format!("pin-value={PIN}"));
    let env = [
        token.env(),
        ("ZTP_MANUFACTURER__MASA_KEY", masa.as_str()),
        ("ZTP_MANUFACTURER__LICENSE_KEY", license.as_str()),
    ];

    // The same URIs in a configuration file: check-config looks for no key file, and signs a
    // probe with each key on the token.
    let file = dir.path().join("ztp.toml");
    fs::write(
        &file,
        format!("[manufacturer]\nmasa_key = \"{masa}\"\nlicense_key = \"{license}\"\n"),
    )
    .unwrap();
    // check-config opens the keys as a start would: it needs the token's configuration too.
    let (name, value) = token.env();
    let checked = data_command(&data)
        .env(name, value)
        .arg("check-config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let said = transcript(&checked);
    assert!(checked.status.success(), "{said}");
    assert!(
        !said.contains("masa_key") && !said.contains("license_key"),
        "{said}"
    );
    assert!(!said.contains(PIN), "{said}");

    // seal-keys seals the TLS key file and leaves the token's keys alone.
    let sealed = success(
        data_command(&data)
            .args(["secrets", "seal-keys", "--data-dir"])
            .arg(&data)
            .envs(env)
            .output()
            .unwrap(),
    );
    assert!(sealed.contains("(device_api.tls_key): sealed"), "{sealed}");
    for field in ["manufacturer.masa_key", "manufacturer.license_key"] {
        assert!(
            sealed.contains(&format!("({field}): on a PKCS#11 token, nothing to seal")),
            "{sealed}"
        );
    }
    assert!(!sealed.contains(PIN), "{sealed}");

    let server = Server::process_with(&data, &env);
    success(server.admin([
        "license",
        "pool-add",
        CUSTOMER,
        "core",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--model",
        "uCPE-100",
        "--seats",
        "3",
    ]));

    // The agent verifies the voucher against the voucher CA and the bundle against the
    // license CA: both were signed on the token.
    let outcome = agent(server.bootstrap("SN-0001", &["--hw-model", "uCPE-100"]));
    assert_eq!(
        outcome["licenses"].as_array().map(Vec::len),
        Some(1),
        "{outcome:#}"
    );
    assert_eq!(
        outcome["refused-licenses"],
        serde_json::json!([]),
        "{outcome:#}"
    );

    // A nonce voucher is signed per call: several at once share the key's one session.
    let calls = std::thread::scope(|s| {
        let calls: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| server.bootstrap("SN-0001", &["--hw-model", "uCPE-100", "--nonce"]))
            })
            .collect();
        calls
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    for call in calls {
        let outcome = agent(call);
        assert_eq!(
            outcome["licenses"].as_array().map(Vec::len),
            Some(1),
            "{outcome:#}"
        );
    }

    let log = server.log();
    assert!(!log.contains(PIN), "the PIN is in the log:\n{log}");
    assert!(!log.contains("masa.key"), "{log}");
}

#[test]
fn a_uri_naming_no_key_another_key_or_a_wrong_pin_stops_the_start_without_showing_the_pin() {
    let dir = temp_dir();
    let (data, token) = data_dir_with_keys_on_a_token(dir.path(), false);
    let pin = format!("pin-value={PIN}");
    let license = uri("license", &pin);
    for (masa, expected) in [
        (
            uri("no-such-key", &pin),
            "no private key with that object/id",
        ),
        // The license key, whose public half is not the voucher certificate's.
        (
            uri("license", &pin),
            "the key does not belong to the certificate",
        ),
        (uri("masa", "pin-value=not-the-pin"), "PinIncorrect"),
    ] {
        let mut serve = serve_command(&data);
        serve
            .envs([
                token.env(),
                ("ZTP_MANUFACTURER__MASA_KEY", masa.as_str()),
                ("ZTP_MANUFACTURER__LICENSE_KEY", license.as_str()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = exited(serve);
        let said = transcript(&output);
        assert!(!output.status.success(), "{said}");
        assert!(said.contains("voucher-signing (MASA) key"), "{said}");
        let shown = masa
            .replace(&pin, "pin-value=(hidden)")
            .replace("pin-value=not-the-pin", "pin-value=(hidden)");
        assert!(said.contains(&shown), "{said}");
        assert!(said.contains(expected), "{said}");
        assert!(!said.contains(PIN), "the PIN is in the message:\n{said}");
        assert!(
            !said.contains("not-the-pin"),
            "the PIN is in the message:\n{said}"
        );
    }
}

#[test]
fn an_rsa_voucher_key_on_an_hsm_signs_and_a_reload_opens_it_again() {
    let dir = temp_dir();
    let (data, token) = data_dir_with_keys_on_a_token(dir.path(), true);
    let pin = format!("pin-value={PIN}");
    let (masa, license) = (uri("masa", &pin), uri("license", &pin));
    let server = Server::process_with(
        &data,
        &[
            token.env(),
            ("ZTP_MANUFACTURER__MASA_KEY", masa.as_str()),
            ("ZTP_MANUFACTURER__LICENSE_KEY", license.as_str()),
        ],
    );
    for extra in [&[][..], &["--nonce"]] {
        agent(server.bootstrap("SN-0002", extra));
    }
    // A reload opens both keys again (new sessions beside the old, which close).
    let reloaded = server.admin_request("POST", "/api/v1/reload", "");
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    assert!(
        reloaded.body.contains("voucher_signer"),
        "{}",
        reloaded.body
    );
    agent(server.bootstrap("SN-0002", &["--nonce"]));
    agent(server.bootstrap("SN-0003", &[]));
}

/// Replaces the voucher signer in `manufacturer` (`masa.pem`, `masa.key`) by an RSA-2048 one
/// that the voucher CA issues with openssl, in the profile of docs/pki.md's signers.
fn rsa_voucher_signer(manufacturer: &Path, dir: &Path) {
    let path = |name: &str| manufacturer.join(name).to_str().unwrap().to_owned();
    let work = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    fs::write(
        work("signer.cnf"),
        "[ signer ]\n\
         basicConstraints       = critical, CA:false\n\
         keyUsage               = critical, digitalSignature\n\
         subjectKeyIdentifier   = hash\n\
         authorityKeyIdentifier = keyid:always\n",
    )
    .unwrap();
    success(tool(
        "openssl",
        [
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &path("masa.key"),
            "-subj",
            "/O=ztp Development Manufacturer/CN=Voucher Signing RSA",
            "-out",
            &work("signer.csr"),
        ],
    ));
    success(tool(
        "openssl",
        [
            "x509",
            "-req",
            "-in",
            &work("signer.csr"),
            "-CA",
            &path("voucher-ca.pem"),
            "-CAkey",
            &path("voucher-ca.key"),
            "-set_serial",
            "0x5eed",
            "-days",
            "730",
            "-sha256",
            "-extfile",
            &work("signer.cnf"),
            "-extensions",
            "signer",
            "-out",
            &work("signer.pem"),
        ],
    ));
    let mut chain = fs::read_to_string(work("signer.pem")).unwrap();
    chain.push_str(&fs::read_to_string(path("voucher-ca.pem")).unwrap());
    fs::write(path("masa.pem"), chain).unwrap();
}

/// Runs `command`, which must exit by itself within a minute.
fn exited(mut command: Command) -> Output {
    let mut child = command.spawn().expect("ztp runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ztp serve started with a URI naming no key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// An owner CA and a signer it issues, made with openssl in `dir`, the signer's key PKCS#8:
/// (CA PEM, signer chain PEM, signer key file).
fn owner_pki(dir: &Path) -> (String, String, PathBuf) {
    let run = |args: &[&str]| {
        success(
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap(),
        )
    };
    let ec = [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
    ];
    run(&[&ec[..], &["-out", "owner-ca.key"]].concat());
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "owner-ca.key",
        "-subj",
        "/O=example-customer/CN=HSM Owner CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "owner-ca.pem",
    ]);
    run(&[&ec[..], &["-out", "owner-signer.key"]].concat());
    run(&[
        "req",
        "-new",
        "-key",
        "owner-signer.key",
        "-subj",
        "/O=example-customer/CN=HSM Owner Signing",
        "-out",
        "owner-signer.csr",
    ]);
    fs::write(
        dir.join("owner-signer.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "owner-signer.csr",
        "-CA",
        "owner-ca.pem",
        "-CAkey",
        "owner-ca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        "owner-signer.ext",
        "-out",
        "owner-signer.pem",
    ]);
    (
        fs::read_to_string(dir.join("owner-ca.pem")).unwrap(),
        fs::read_to_string(dir.join("owner-signer.pem")).unwrap(),
        dir.join("owner-signer.key"),
    )
}

/// `PUT …/owner-credentials` of the sample customer with `body`: the status and the body.
fn replace_owner(server: &Server, body: &Value) -> (String, String) {
    let path = format!("/api/v1/customers/{CUSTOMER}/owner-credentials");
    let answer = server.admin_request("PUT", &path, &body.to_string());
    (answer.status.to_string(), answer.body)
}

#[test]
fn an_owners_signing_key_on_an_hsm_signs_its_conveyed_information() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    Server::start(&data).stop();
    let token = Token::init(dir.path());
    let (ca, chain, key) = owner_pki(dir.path());
    token.import(&key, "owner", "03");
    fs::remove_file(&key).unwrap();
    let modules = format!("[\"{MODULE}\"]");
    let server = Server::process_with(
        &data,
        &[
            token.env(),
            ("ZTP_MANUFACTURER__OWNER_KEY_MODULES", modules.as_str()),
        ],
    );

    // A module the manufacturer did not list is never loaded.
    let elsewhere = uri("owner", &format!("pin-value={PIN}"))
        .replace(MODULE, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    let (status, body) = replace_owner(
        &server,
        &serde_json::json!({"owner_ca_pem": ca, "signer_chain_pem": chain, "signer_key_pem": elsewhere}),
    );
    assert_eq!(status, "400", "{body}");
    assert!(body.contains("owner_key_modules"), "{body}");
    assert!(!body.contains(PIN), "{body}");

    let on_token = uri("owner", &format!("pin-value={PIN}"));
    let (status, body) = replace_owner(
        &server,
        &serde_json::json!({"owner_ca_pem": ca, "signer_chain_pem": chain, "signer_key_pem": on_token}),
    );
    assert_eq!(status, "200", "{body}");
    // The agent checks that the owner certificate signed the conveyed information and that the
    // voucher pins the CA that issued it.
    let answer = agent(server.bootstrap("SN-0001", &[]));
    assert_eq!(
        answer["owner-certificate"], "CN=HSM Owner Signing,O=example-customer",
        "{answer:#}"
    );
    assert!(!server.log().contains(PIN));
}
