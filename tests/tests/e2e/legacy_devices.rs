//! Devices as older hierarchies and secure elements make them, against the real `ztp serve`:
//! an IDevID hierarchy signed with SHA-1 (made by the `openssl` CLI, as Cisco's Root CA 2048 and
//! ACT2 SUDI CA are), a device whose key makes only RSA PKCS#1 v1.5 signatures (`openssl
//! s_client -client_sigalgs`), and a device that takes only an RSA server certificate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use ztp_tests::{Server, refused_start, serve_command, success, temp_dir, transcript};

/// The legacy device: a Cisco-style UDI in the subject's serialNumber.
const SERIAL: &str = "FOC2612X0AB";
const MODEL: &str = "ISR4321";

/// Runs a shell script in `dir` (`bash -euo pipefail`); panics with its output if it fails.
fn sh(dir: &Path, script: &str) {
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .output()
        .expect("bash runs");
    assert!(output.status.success(), "{}", transcript(&output));
}

/// An RSA-2048 hierarchy signed with SHA-1 throughout, in `dir`: `root.pem` (self-signed),
/// `sudi-ca.pem` (signed by the root) and the device's `device.pem`/`device.key` (signed by
/// the SUDI CA, its subject `serialNumber=PID:<model> SN:<serial>`).
fn sha1_hierarchy(dir: &Path) {
    sh(
        dir,
        &format!(
            r#"
cat > ca.ext <<'X'
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
X
cat > device.ext <<'X'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
X
openssl req -x509 -sha1 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 3650 \
  -subj "/O=Legacy Systems/CN=Legacy Root CA 2048" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -new -newkey rsa:2048 -nodes -keyout sudi-ca.key -out sudi-ca.csr \
  -subj "/O=Legacy Systems/CN=Legacy SUDI CA"
openssl x509 -req -sha1 -in sudi-ca.csr -CA root.pem -CAkey root.key -CAcreateserial \
  -days 3650 -extfile ca.ext -out sudi-ca.pem
openssl req -new -newkey rsa:2048 -nodes -keyout device.key -out device.csr \
  -subj "/serialNumber=PID:{MODEL} SN:{SERIAL}/O=Legacy Systems/CN={MODEL}-{SERIAL}"
openssl x509 -req -sha1 -in device.csr -CA sudi-ca.pem -CAkey sudi-ca.key -CAcreateserial \
  -days 3650 -extfile device.ext -out device.pem
openssl x509 -in device.pem -noout -text | grep -q 'Signature Algorithm: sha1WithRSAEncryption'
"#
        ),
    );
}

/// `ZTP_MANUFACTURER__*` variables adding the legacy root and SUDI CA to the development PKI's
/// anchors, with `opted_in` of them opted in to SHA-1.
fn legacy_trust(legacy: &Path, opted_in: &[&str]) -> Vec<(String, String)> {
    let file = |name: &str| legacy.join(name).to_str().unwrap().to_owned();
    let list = |items: &[String]| serde_json::to_string(items).unwrap();
    vec![
        (
            "ZTP_MANUFACTURER__TRUST_ANCHORS".into(),
            list(&["pki/manufacturer/idevid-ca.pem".into(), file("root.pem")]),
        ),
        (
            "ZTP_MANUFACTURER__INTERMEDIATES".into(),
            list(&[file("sudi-ca.pem")]),
        ),
        (
            "ZTP_MANUFACTURER__LEGACY_SHA1".into(),
            list(&opted_in.iter().map(|name| file(name)).collect::<Vec<_>>()),
        ),
    ]
}

fn pairs(variables: &[(String, String)]) -> Vec<(&str, &str)> {
    variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// `ztp device bootstrap` as the device whose IDevID is `cert`/`key`, trusting the server's
/// development PKI.
fn bootstrap_as(server: &Server, cert: &Path, key: &Path) -> Output {
    let voucher_ca = server.pki().join("manufacturer/voucher-ca.pem");
    server.bootstrap_as(&server.device_url, (cert, key), &voucher_ca, &[])
}

fn events(server: &Server) -> Vec<Value> {
    let out = success(server.admin(["events", "--limit", "50"]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_sha1_idevid_hierarchy_is_served_only_where_the_operator_opted_in_for_its_cas() {
    let dir = temp_dir();
    let legacy = dir.path().join("legacy");
    std::fs::create_dir_all(&legacy).unwrap();
    sha1_hierarchy(&legacy);
    let data = dir.path().join("data");

    // Without the opt-in, ztp refuses to start and says what to set.
    std::fs::create_dir_all(&data).unwrap();
    let mut serve = serve_command(&data);
    serve.envs(legacy_trust(&legacy, &[]));
    let said = refused_start(serve);
    assert!(
        said.contains("signed with SHA-1") && said.contains("manufacturer.legacy_sha1"),
        "{said}"
    );

    // Opted in for both CAs: the device is served, the chain is flagged as legacy.
    let trust = legacy_trust(&legacy, &["root.pem", "sudi-ca.pem"]);
    let server = Server::process_with(&data, &pairs(&trust));
    assert!(
        server
            .log()
            .contains("device chains may carry SHA-1 signatures by this CA"),
        "the opt-in is warned about at start:\n{}",
        server.log()
    );
    server.add_device(SERIAL, MODEL, "example-customer");
    let (cert, key) = (legacy.join("device.pem"), legacy.join("device.key"));
    let served = bootstrap_as(&server, &cert, &key);
    assert!(served.status.success(), "{}", transcript(&served));
    let served = events(&server);
    let bootstrap = served
        .iter()
        .find(|e| e["serial"] == SERIAL && e["kind"] == "bootstrap-served")
        .unwrap_or_else(|| panic!("no bootstrap event of {SERIAL}: {served:#?}"));
    assert!(
        bootstrap["detail"]
            .as_str()
            .is_some_and(|d| d.contains("legacy SHA-1 chain")),
        "{bootstrap:#}"
    );
    let metrics = server.admin_request("GET", "/metrics", "");
    assert!(
        metrics.body.contains("ztp_device_legacy_chains_total 1"),
        "{}",
        metrics.body
    );
    drop(server);

    // The SUDI CA configured but not opted in: ztp names the file to opt in.
    let mut serve = serve_command(&data);
    serve.envs(legacy_trust(&legacy, &["root.pem"]));
    let said = refused_start(serve);
    assert!(said.contains("sudi-ca.pem"), "{said}");

    // Only the root configured and opted in, the device presenting the SUDI CA itself: the
    // root's SHA-1 signature on the SUDI CA is accepted, the SUDI CA's on the device is not
    // (its key is no configured CA's), and the refusal says why.
    let mut trust = legacy_trust(&legacy, &["root.pem"]);
    trust[1].1 = "[]".into();
    let server = Server::process_with(&data, &pairs(&trust));
    let chain = legacy.join("device-chain.pem");
    let pem = |name: &str| std::fs::read_to_string(legacy.join(name)).unwrap();
    std::fs::write(&chain, pem("device.pem") + &pem("sudi-ca.pem")).unwrap();
    let refused = bootstrap_as(&server, &chain, &key);
    assert!(!refused.status.success(), "{}", transcript(&refused));
    let events = events(&server);
    assert!(
        events.iter().any(|e| e["status"] == 401
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("SHA-1 by a CA that is not opted in"))),
        "{events:#?}"
    );
}

/// `openssl s_client` as device `serial` of `server`'s development PKI whose key signs only
/// with RSA PKCS#1 v1.5 (`-client_sigalgs`), sending one get-bootstrapping-data request; the
/// answer's status line, or what went wrong.
fn pkcs1_only_device(server: &Server, serial: &str, extra: &[&str]) -> String {
    let body = r#"{"ietf-sztp-bootstrap-server:input":{}}"#;
    let request = format!(
        "POST /restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data HTTP/1.1\r\n\
         Host: localhost\r\nContent-Type: application/yang-data+json\r\n\
         Accept: application/yang-data+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut client = server
        .s_client(serial)
        .args(["-client_sigalgs", "RSA+SHA256:RSA+SHA384:RSA+SHA512"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).unwrap();
    drop(stdin);
    let output = client.wait_with_output().unwrap();
    let answer = String::from_utf8_lossy(&output.stdout);
    answer
        .lines()
        .next()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_device_whose_key_makes_only_pkcs1_signatures_is_served_by_a_listener_capped_at_tls_1_2() {
    const DEVICE: &str = "SN-0901";
    let dir = temp_dir();
    let data = dir.path().join("data");

    // TLS 1.3 offered: the device cannot sign its CertificateVerify (TLS 1.3 takes RSA-PSS
    // only), so it sends no certificate, and is refused as a device without one.
    let server = Server::start(&data);
    rsa_device(&server, DEVICE);
    let answer = pkcs1_only_device(&server, DEVICE, &[]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    drop(server);

    // Capped at TLS 1.2: PKCS#1 v1.5 is a TLS 1.2 signature, the device is served.
    let server = Server::start_with(&data, &[("ZTP_DEVICE_API__TLS_VERSIONS", r#"["1.2"]"#)]);
    let answer = pkcs1_only_device(&server, DEVICE, &[]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issues an RSA IDevID for `serial` from the server's development PKI and imports it.
fn rsa_device(server: &Server, serial: &str) {
    server.issue_device_with(serial, &["--key-type", "rsa2048"]);
    server.add_device(serial, "uCPE-100", "example-customer");
}

/// The type of the signature the server's handshake carries (`ECDSA`, `RSA-PSS`: its
/// certificate's key) for a TLS client offering `sigalgs`, as `openssl s_client -brief` says.
fn server_signature(server: &Server, sigalgs: Option<&str>) -> Option<String> {
    let mut client = server.s_client("SN-0001");
    client.arg("-brief");
    if let Some(sigalgs) = sigalgs {
        client.args(["-sigalgs", sigalgs]);
    }
    let output = client
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("openssl runs");
    transcript(&output)
        .lines()
        .find_map(|line| line.strip_prefix("Signature type: "))
        .map(str::to_owned)
}

#[test]
fn rsa_and_ecdsa_server_certificates_are_served_side_by_side_by_the_algorithms_a_device_offers() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let pki: PathBuf = data.join("pki");
    std::fs::create_dir_all(&data).unwrap();
    success(ztp_tests::ztp([
        "pki",
        "init",
        pki.to_str().unwrap(),
        "--server-key",
        "both",
    ]));
    let server = Server::start_with(
        &data,
        &[
            (
                "ZTP_DEVICE_API__ALTERNATIVE_TLS_CERTIFICATE",
                "pki/server/tls-rsa.pem",
            ),
            (
                "ZTP_DEVICE_API__ALTERNATIVE_TLS_KEY",
                "pki/server/tls-rsa.key",
            ),
        ],
    );
    // The first certificate (ECDSA) for a client that takes it; the RSA one for a client
    // offering RSA signatures only.
    let rsa_only = Some("RSA+SHA256:rsa_pss_rsae_sha256");
    assert_eq!(server_signature(&server, None).as_deref(), Some("ECDSA"));
    assert_eq!(
        server_signature(&server, rsa_only).as_deref(),
        Some("RSA-PSS")
    );
    drop(server);
    // Without the alternative certificate, that client gets no handshake.
    let server = Server::start(&data);
    assert_eq!(server_signature(&server, None).as_deref(), Some("ECDSA"));
    assert_eq!(server_signature(&server, rsa_only), None);
}
