//! Reloading the device TLS certificate and the trust material while ztp runs (`POST
//! /api/v1/reload`, SIGHUP): new handshakes get the new certificate, a connection in flight
//! goes on, and a reload that cannot load changes nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use ztp_tests::{Server, success, temp_dir, transcript, ztp, ztp_bin};

/// A second development PKI, whose TLS certificate stands for the renewed one.
fn renewed_pki(dir: &Path) -> std::path::PathBuf {
    let other = dir.join("renewed");
    success(ztp(
        ["pki".as_ref(), "init".as_ref(), other.as_os_str()] as [&std::ffi::OsStr; 3]
    ));
    other
}

/// Puts `pki`'s TLS certificate and key where `server` reads its own.
fn install_certificate(server: &Server, pki: &Path) {
    for file in ["tls.pem", "tls.key"] {
        std::fs::copy(
            pki.join("server").join(file),
            server.pki().join("server").join(file),
        )
        .unwrap();
    }
}

/// `POST /api/v1/reload` with the bootstrap token: the status and the body.
fn reload(server: &Server) -> (String, String) {
    let answer = server.admin_request("POST", "/api/v1/reload", "");
    (answer.status.to_string(), answer.body)
}

/// `ztp device bootstrap` as SN-0001, anchoring the server's certificate at `server_ca`.
fn bootstrap_trusting(server: &Server, server_ca: &Path) -> Output {
    let pki = server.pki();
    let device = pki.join("devices/SN-0001");
    Command::new(ztp_bin())
        .args(["device", "bootstrap", "--url", &server.device_url])
        .arg("--cert")
        .arg(device.join("idevid.pem"))
        .arg("--key")
        .arg(device.join("idevid.key"))
        .arg("--server-ca")
        .arg(server_ca)
        .arg("--voucher-ca")
        .arg(pki.join("manufacturer/voucher-ca.pem"))
        .arg("--license-ca")
        .arg(pki.join("manufacturer/license-ca.pem"))
        .output()
        .unwrap()
}

/// The SHA-256 fingerprint of the certificate in `pem`, as `ztp pki show` prints it (hex).
fn fingerprint(pem: &Path) -> String {
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(pem)
        .output()
        .unwrap()
        .stdout;
    let digest = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(&der)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&digest.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A TLS connection of device SN-0001 held open, asking for host-meta on it.
struct Connection {
    child: Child,
    answers: BufReader<ChildStdout>,
}

impl Connection {
    fn open(server: &Server) -> Self {
        let mut child = server
            .s_client("SN-0001")
            .arg("-ign_eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let answers = BufReader::new(child.stdout.take().unwrap());
        Self { child, answers }
    }

    /// Asks for host-meta on the connection and reads the whole answer.
    fn host_meta(&mut self) -> String {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(b"GET /.well-known/host-meta HTTP/1.1\r\nHost: ztp\r\n\r\n")
            .unwrap();
        stdin.flush().unwrap();
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if self.answers.read_line(&mut line).unwrap() == 0 {
                panic!("the connection closed: {head}");
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        self.answers.read_exact(&mut body).unwrap();
        head + &String::from_utf8_lossy(&body)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_reload_serves_the_new_certificate_while_a_connection_in_flight_goes_on() {
    let dir = temp_dir();
    let server = Server::start(&dir.path().join("data"));
    let renewed = renewed_pki(dir.path());
    let mut connection = Connection::open(&server);
    assert!(connection.host_meta().starts_with("HTTP/1.1 200"));

    install_certificate(&server, &renewed);
    let (status, body) = reload(&server);
    assert_eq!(status, "200", "{body}");
    let new = fingerprint(&renewed.join("server/tls.pem"));
    assert!(
        body.contains(&new),
        "the new certificate's fingerprint {new}: {body}"
    );

    let answer = connection.host_meta();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("restconf"),
        "the connection opened before the reload is still served: {answer}"
    );
    let renewed_root = renewed.join("manufacturer/root-ca.pem");
    let served = bootstrap_trusting(&server, &renewed_root);
    assert!(served.status.success(), "{}", transcript(&served));
    let old = server.bootstrap("SN-0001", &[]);
    assert!(
        !old.status.success(),
        "a new handshake no longer gets the old certificate: {}",
        transcript(&old)
    );
}

#[test]
fn a_reload_that_cannot_load_changes_nothing() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let certificate = server.pki().join("server/tls.pem");
    let good = std::fs::read(&certificate).unwrap();
    std::fs::write(&certificate, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();

    let (status, body) = reload(&server);
    assert_eq!(status, "422", "{body}");
    assert!(body.contains("tls.pem"), "the file is named: {body}");
    let served = server.bootstrap("SN-0001", &[]);
    assert!(served.status.success(), "{}", transcript(&served));

    std::fs::write(&certificate, good).unwrap();
    let (status, body) = reload(&server);
    assert_eq!(status, "200", "{body}");
}

#[test]
fn sighup_reloads_a_running_process() {
    let dir = temp_dir();
    let server = Server::process(&dir.path().join("data"));
    let renewed = renewed_pki(dir.path());
    install_certificate(&server, &renewed);
    let pid = server.pid().expect("a process").to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    ztp_tests::wait_until(
        "the reload logged",
        std::time::Duration::from_secs(20),
        || {
            let log = server.log();
            if log.contains("reloaded the device TLS certificate") {
                Ok(())
            } else {
                Err(log)
            }
        },
    );
    let served = bootstrap_trusting(&server, &renewed.join("manufacturer/root-ca.pem"));
    assert!(served.status.success(), "{}", transcript(&served));
}

/// How many refusals for `reason` `/metrics` counts.
fn refusals(server: &Server, reason: &str) -> String {
    let series =
        format!("ztp_device_refusals_total{{reason=\"{reason}\",rpc=\"get_bootstrapping_data\"}} ");
    server
        .admin_request("GET", "/metrics", "")
        .body
        .lines()
        .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
        .unwrap_or_else(|| "0".to_owned())
}

#[test]
fn a_reload_puts_a_new_idevid_ca_in_force() {
    let dir = temp_dir();
    let server = Server::start(&dir.path().join("data"));
    let renewed = renewed_pki(dir.path());
    // A device of another manufacturer CA: its SN-0001, an inventory serial the sample does not
    // pin to one certificate.
    let device = renewed.join("devices/SN-0001");
    let call = || {
        server.device_post(
            "SN-0001",
            "get-bootstrapping-data",
            r#"{"ietf-sztp-bootstrap-server:input":{}}"#,
            &[
                "--cert",
                device.join("idevid.pem").to_str().unwrap(),
                "--key",
                device.join("idevid.key").to_str().unwrap(),
            ],
        )
    };
    call();
    assert_eq!(refusals(&server, "untrusted_certificate"), "1");

    let anchors = server.pki().join("manufacturer/idevid-ca.pem");
    let mut both = std::fs::read_to_string(&anchors).unwrap();
    both.push_str(&std::fs::read_to_string(renewed.join("manufacturer/idevid-ca.pem")).unwrap());
    std::fs::write(&anchors, both).unwrap();
    let (status, body) = reload(&server);
    assert_eq!(status, "200", "{body}");
    let answered = call();
    assert!(
        String::from_utf8_lossy(&answered.stdout).contains("ietf-sztp-bootstrap-server:output"),
        "a device of the new CA is served: {}",
        transcript(&answered)
    );
    assert_eq!(refusals(&server, "untrusted_certificate"), "1");
}
