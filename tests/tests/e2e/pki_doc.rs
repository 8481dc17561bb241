//! docs/pki.md, run: every `sh` block of the production PKI document, in order, each with
//! `bash -euo pipefail`, in a fresh directory (with `/etc/ztp` and `/var/lib/ztp` moved into
//! it); the real `ztp serve` on the configuration the blocks write; the device they issue
//! bootstraps trusting the anchors they give devices, and is refused once the document's
//! revocation commands have run; and ztp refuses to start when the voucher signer comes from
//! the IDevID CA.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use ztp_tests::{Server, serve_command, stdout, success, temp_dir, tool, transcript, wait_until};

/// The document, as this test binary was built with it.
const DOC: &str = include_str!("../../../docs/pki.md");
/// The section whose blocks revoke the device: run once it has bootstrapped.
const REVOCATION: &str = "## Revoking a device";
/// The device the document issues, and its model.
const SERIAL: &str = "EXN24010001";
const MODEL: &str = "uCPE-100";
/// The private key files the document has `ztp secrets seal-keys` seal, under `/etc/ztp`.
const KEY_FILES: [&str; 3] = [
    "manufacturer/masa.key",
    "manufacturer/license-signing.key",
    "tls/server.key",
];

/// One `sh` block of the document and the section (`## …` heading) it is in.
struct Block {
    section: String,
    script: String,
}

/// The `sh` blocks of `doc`, in order.
fn sh_blocks(doc: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<Vec<&str>> = None;
    for line in doc.lines() {
        match &mut open {
            None if line.trim_end() == "```sh" => open = Some(Vec::new()),
            None if line.starts_with("## ") => section = line.trim_end().to_owned(),
            None => {}
            Some(lines) if line.trim_end() == "```" => {
                blocks.push(Block {
                    section: section.clone(),
                    script: lines.join("\n"),
                });
                open = None;
            }
            Some(lines) => lines.push(line),
        }
    }
    assert!(open.is_none(), "docs/pki.md ends inside an sh block");
    blocks
}

/// The machine the document's blocks run on, all in one temporary directory: the working
/// directory of the CA and factory blocks, and the server's `/etc/ztp` and `/var/lib/ztp`.
struct Machine {
    _root: tempfile::TempDir,
    work: PathBuf,
    etc: PathBuf,
    data: PathBuf,
}

impl Machine {
    fn new() -> Self {
        let root = temp_dir();
        let work = root.path().join("pki");
        fs::create_dir_all(&work).unwrap();
        Self {
            etc: root.path().join("etc/ztp"),
            data: root.path().join("var/lib/ztp"),
            work,
            _root: root,
        }
    }

    /// Runs `script` as the document's reader would, in the working directory: with the
    /// server's directories here, the device port's name loopback, the account this test's and
    /// the `ztp` of this build on the PATH.
    fn run(&self, what: &str, script: &str) {
        let script = script
            .replace("/etc/ztp", self.etc.to_str().unwrap())
            .replace("/var/lib/ztp", self.data.to_str().unwrap());
        let id = |flag: &str| stdout(&tool("id", [flag])).trim().to_owned();
        let bin = ztp_tests::ztp_bin();
        let path = std::env::join_paths(std::iter::once(bin.parent().unwrap().to_owned()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(&self.work)
            .env("PATH", path)
            .env("ZTP_SERVER_NAMES", "IP:127.0.0.1")
            .env("ZTP_USER", id("-un"))
            .env("ZTP_GROUP", id("-gn"))
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{what} failed:\n{script}\n{}",
            transcript(&output)
        );
    }

    /// The configuration the document writes.
    fn config(&self) -> PathBuf {
        self.etc.join("ztp.toml")
    }

    /// `ztp device bootstrap` at `url` as the document's device: its IDevID, and the anchors
    /// the document gives devices, one per role.
    fn bootstrap(&self, url: &str) -> Output {
        let device = self.work.join("devices").join(SERIAL);
        let anchors = self.work.join("device-anchors");
        Command::new(ztp_tests::ztp_bin())
            .args([
                "device",
                "bootstrap",
                "--url",
                url,
                "--nonce",
                "--hw-model",
                MODEL,
            ])
            .arg("--cert")
            .arg(device.join("idevid.pem"))
            .arg("--key")
            .arg(device.join("idevid.key"))
            .arg("--server-ca")
            .arg(anchors.join("tls-ca.pem"))
            .arg("--voucher-ca")
            .arg(anchors.join("voucher-ca.pem"))
            .arg("--license-ca")
            .arg(anchors.join("license-ca.pem"))
            .output()
            .expect("ztp device bootstrap runs")
    }
}

/// The document's blocks before its revocation section, and those from it on.
fn blocks_around_revocation() -> (Vec<Block>, Vec<Block>) {
    let mut setup = sh_blocks(DOC);
    let first = setup
        .iter()
        .position(|block| block.section == REVOCATION)
        .unwrap_or(setup.len());
    let revocation = setup.split_off(first);
    assert!(
        setup
            .iter()
            .any(|b| b.script.contains(&format!("SERIAL={SERIAL}"))),
        "docs/pki.md no longer issues {SERIAL}"
    );
    assert!(
        revocation.iter().any(|b| b.script.contains("-revoke")),
        "docs/pki.md has no sh block revoking a device under {REVOCATION:?}"
    );
    (setup, revocation)
}

/// Runs the blocks on `machine`, in order.
fn run_all(machine: &Machine, blocks: &[Block]) {
    for (n, block) in blocks.iter().enumerate() {
        machine.run(
            &format!("sh block {} of docs/pki.md ({})", n + 1, block.section),
            &block.script,
        );
    }
}

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

#[test]
fn the_documented_pki_serves_its_device_until_the_documented_revocation() {
    let machine = Machine::new();
    let (setup, revocation) = blocks_around_revocation();
    run_all(&machine, &setup);
    for key in KEY_FILES {
        let text = fs::read_to_string(machine.etc.join(key)).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{key} is not sealed: {text}");
    }

    let config = machine.config();
    let server = Server::process_with(&machine.data, &[("ZTP_CONFIG", config.to_str().unwrap())]);
    assert!(
        !server.log().contains("is not sealed"),
        "ztp read a plain key file:\n{}",
        server.log()
    );
    success(server.admin(["customer", "add", "acme"]));
    success(server.admin([
        "target",
        "add",
        "acme",
        "main",
        "--address",
        "bootstrap.acme.example",
        "--port",
        "443",
    ]));
    success(server.admin([
        "device",
        "add",
        SERIAL,
        "--model",
        MODEL,
        "--customer",
        "acme",
    ]));
    success(server.admin([
        "license",
        "pool-add",
        "acme",
        "core",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--seats",
        "10",
        "--model",
        MODEL,
    ]));

    // The TLS certificate verifies from the TLS CA, the voucher from the voucher CA, the
    // license bundle from the license CA.
    let outcome = json(machine.bootstrap(&server.device_url));
    assert_eq!(outcome["serial"], SERIAL, "{outcome:#}");
    assert_eq!(outcome["server-authenticated"], true, "{outcome:#}");
    assert_eq!(outcome["voucher"]["serial-number"], SERIAL, "{outcome:#}");
    assert_eq!(
        outcome["refused-licenses"],
        serde_json::json!([]),
        "{outcome:#}"
    );
    assert_eq!(
        outcome["licenses"][0]["serial-number"], SERIAL,
        "{outcome:#}"
    );

    // Revoked with the document's commands: refused once ztp has re-read the CRL.
    let reloads = || server.log().matches("reloaded CRL").count();
    let before = reloads();
    run_all(&machine, &revocation);
    wait_until("ztp re-reads the new CRL", Duration::from_secs(30), || {
        (reloads() > before)
            .then_some(())
            .ok_or_else(|| "no CRL reloaded yet".to_owned())
    });
    let refused = machine.bootstrap(&server.device_url);
    let said = transcript(&refused);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("401"), "{said}");
    let events = json(server.admin(["events", "--serial", SERIAL, "--limit", "1"]));
    assert_eq!(events[0]["kind"], "bootstrap-refused", "{events:#}");
    assert!(
        events[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("is revoked")),
        "{events:#}"
    );
}

#[test]
fn a_voucher_signer_from_the_idevid_ca_keeps_ztp_from_starting() {
    let machine = Machine::new();
    let (setup, _) = blocks_around_revocation();
    run_all(&machine, &setup);

    // The same request as the document's voucher signer, issued by the IDevID CA instead.
    machine.run(
        "a voucher signer from the IDevID CA",
        r#"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out crossed.key
openssl req -new -config profiles.cnf -key crossed.key -subj "/CN=masa" -out crossed.csr
openssl ca -batch -config idevid-ca/ca.cnf -extfile profiles.cnf -extensions signer \
    -subj "/CN=Example Networks Voucher Signing/O=Example Networks" -days 730 -notext \
    -in crossed.csr -out crossed.crt
cat crossed.crt idevid-ca/ca.pem > crossed.pem
"#,
    );
    let said = refused_start(
        &machine,
        &[
            (
                "ZTP_MANUFACTURER__MASA_CERTIFICATE",
                &machine.work.join("crossed.pem"),
            ),
            (
                "ZTP_MANUFACTURER__MASA_KEY",
                &machine.work.join("crossed.key"),
            ),
        ],
    );
    for words in [
        "voucher signer",
        "device identity (IDevID)",
        "give each role its own CA",
    ] {
        assert!(said.contains(words), "{words:?} not in:\n{said}");
    }
}

/// Starts `ztp serve` on `machine`'s configuration with `env`, expecting it to exit with an
/// error within a minute (killed otherwise): what it said on standard error.
fn refused_start(machine: &Machine, env: &[(&str, &Path)]) -> String {
    let mut serve = serve_command(&machine.data);
    serve
        .env("ZTP_CONFIG", machine.config())
        .envs(env.iter().copied());
    ztp_tests::refused_start(serve)
}
