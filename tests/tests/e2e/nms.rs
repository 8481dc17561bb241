//! NMS onboarding against a real OpenSSH sshd: a connection is added (ztp generates its key),
//! tested step by step, re-pinned and re-authenticated; its secrets never come back out. Hosts
//! at non-public addresses are refused unless in a network the manufacturer allows.

use std::fs;

use serde_json::Value;
use ztp_tests::sshd::Sshd;
use ztp_tests::{NMS_ALLOWED_PRIVATE_NETWORKS, Server, success, temp_dir, transcript};

fn json(output: std::process::Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// Runs `ztp nms test` and returns (succeeded, printed report).
fn test(server: &Server) -> (bool, Value) {
    let output = server.admin(["nms", "test", "example-customer", "main"]);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", transcript(&output)));
    (output.status.success(), report)
}

fn failed_step(report: &Value) -> String {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ok"] == false)
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn an_nms_connection_is_onboarded_tested_and_keeps_its_secrets() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    let port = sshd.port().to_string();

    // What the server presents, as ssh-keygen computes it from the host key file.
    let shown = json(server.admin(["nms", "fingerprint", &format!("127.0.0.1:{port}")]));
    assert_eq!(shown["fingerprint"], pin.as_str());

    // Added without a password: ztp generates a key pair and shows the public key only.
    let incoming = sshd.incoming().display().to_string();
    let added = json(server.admin([
        "nms",
        "add",
        "example-customer",
        "main",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "root",
        "--pin",
        &pin,
        "--directory",
        &incoming,
    ]));
    assert_eq!(added["auth"], "key");
    assert_eq!(added["policy"], "nms-first");
    let public_key = added["public_key"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("ssh-ed25519 "), "{public_key}");

    // The key is not installed yet: the test stops at authentication.
    let (ok, report) = test(&server);
    assert!(!ok);
    assert_eq!(failed_step(&report), "authentication", "{report:#}");

    // Installed by the NMS administrator: every step passes and the probe file is gone.
    fs::write(
        sshd.root().join("authorized_keys"),
        format!("{public_key}\n"),
    )
    .unwrap();
    let (ok, report) = test(&server);
    assert!(ok, "{report:#}");
    assert!(
        sshd.incoming_files().is_empty(),
        "the probe file is removed"
    );

    // A pin that does not match: stopped at the host key, before any credential is sent.
    let other = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    success(server.admin(["nms", "set", "example-customer", "main", "--pin", other]));
    let logins = sshd.accepted_logins();
    let (ok, report) = test(&server);
    assert!(!ok);
    assert_eq!(failed_step(&report), "host key check", "{report:#}");
    assert_eq!(report["presented_fingerprint"], pin.as_str());
    assert_eq!(sshd.accepted_logins(), logins, "no login attempt");

    // Rotation: two pins, one of them right.
    success(server.admin([
        "nms",
        "set",
        "example-customer",
        "main",
        "--pin",
        other,
        "--pin",
        &pin,
    ]));
    assert!(test(&server).0);

    // A wrong password: a clear failure at authentication.
    let password = dir.path().join("password");
    fs::write(&password, "not-the-password\n").unwrap();
    success(server.admin([
        "nms".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        "main".as_ref(),
        "--password-file".as_ref(),
        password.as_os_str(),
    ]));
    let (ok, report) = test(&server);
    assert!(!ok);
    assert_eq!(failed_step(&report), "authentication", "{report:#}");

    // Secrets never come back out of the admin API.
    let listed = success(server.admin(["nms", "list", "example-customer"]));
    let shown = success(server.admin(["nms", "show", "example-customer", "main"]));
    for text in [&listed, &shown] {
        assert!(!text.contains("not-the-password"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    assert!(shown.contains("\"auth\": \"password\""), "{shown}");
}

#[test]
fn broken_nms_connections_are_refused_before_they_are_stored() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let add = |extra: &[&str]| {
        let mut args = vec!["nms", "add", "example-customer", "main", "--user", "ztp"];
        args.extend_from_slice(extra);
        server.admin(args)
    };
    let refused = |output: std::process::Output, needle: &str| {
        assert!(!output.status.success(), "{}", transcript(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
    };
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    refused(
        add(&["--host", "nms.example", "--pin", "MD5:00:11"]),
        "SHA256",
    );
    refused(add(&["--host", "bad host!", "--pin", pin]), "host");
    refused(
        add(&[
            "--host",
            "nms.example",
            "--pin",
            pin,
            "--policy",
            "sometimes",
        ]),
        "expected one of `nms-first`",
    );
    refused(
        server.admin([
            "nms", "add", "ghost", "main", "--host", "h", "--user", "u", "--pin", pin,
        ]),
        "ghost",
    );
    let listed: Vec<Value> =
        serde_json::from_str(&success(server.admin(["nms", "list", "example-customer"]))).unwrap();
    assert!(listed.is_empty(), "{listed:#?}");
    // Nothing listens there: the test reports the failed connect, bounded in time.
    success(add(&["--host", "127.0.0.1", "--port", "1", "--pin", pin]));
    let (ok, report) = test(&server);
    assert!(!ok);
    assert_eq!(failed_step(&report), "tcp connect", "{report:#}");
}

#[test]
fn nms_hosts_at_non_public_addresses_are_refused_by_default() {
    let dir = temp_dir();
    let server = Server::start_strict(dir.path());
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    let refused = |output: std::process::Output, address: &str| {
        assert!(!output.status.success(), "{}", transcript(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        for needle in [
            "400",
            address,
            "not allowed",
            "[nms] allowed_private_networks",
        ] {
            assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
        }
    };
    // Given as addresses: refused when the connection is saved.
    for address in ["127.0.0.1", "::1", "0.0.0.0", "169.254.169.254"] {
        let output = server.admin([
            "nms",
            "add",
            "example-customer",
            "main",
            "--host",
            address,
            "--user",
            "ztp",
            "--pin",
            pin,
        ]);
        refused(output, address);
    }
    let listed: Vec<Value> =
        serde_json::from_str(&success(server.admin(["nms", "list", "example-customer"]))).unwrap();
    assert!(listed.is_empty(), "{listed:#?}");

    // A name is checked at every connection, on what it resolves to: `localhost` is loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    success(server.admin([
        "nms",
        "add",
        "example-customer",
        "main",
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        "ztp",
        "--pin",
        pin,
        "--policy",
        "off",
    ]));
    refused(
        server.admin([
            "nms",
            "set",
            "example-customer",
            "main",
            "--host",
            "127.0.0.1",
        ]),
        "127.0.0.1",
    );
    let (ok, report) = test(&server);
    assert!(!ok);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    assert_eq!(steps[0]["step"], "tcp connect");
    let message = steps[0]["message"].as_str().unwrap();
    assert!(
        message.contains("not allowed") && message.contains("[nms] allowed_private_networks"),
        "{message}"
    );
    refused(
        server.admin(["nms", "fingerprint", &format!("127.0.0.1:{port}")]),
        "127.0.0.1",
    );
    refused(
        server.admin(["nms", "fingerprint", &format!("localhost:{port}")]),
        "localhost",
    );
    listener.set_nonblocking(true).unwrap();
    assert_eq!(
        listener.accept().map(drop).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "no connection was attempted"
    );
}

#[test]
fn nms_hosts_in_an_allowed_network_are_reached() {
    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[(NMS_ALLOWED_PRIVATE_NETWORKS, r#"["127.0.0.0/8"]"#)],
    );
    let sshd = Sshd::start();
    let pin = sshd.host_fingerprint().to_string();
    let port = sshd.port().to_string();

    let shown = json(server.admin(["nms", "fingerprint", &format!("127.0.0.1:{port}")]));
    assert_eq!(shown["fingerprint"], pin.as_str());
    let add = |host: &str| {
        server.admin([
            "nms",
            "add",
            "example-customer",
            "main",
            "--host",
            host,
            "--port",
            &port,
            "--user",
            "root",
            "--pin",
            &pin,
            "--directory",
            &sshd.incoming().display().to_string(),
        ])
    };
    let outside = add("::1");
    assert!(!outside.status.success(), "::1 is outside 127.0.0.0/8");
    let added = json(add("127.0.0.1"));
    fs::write(
        sshd.root().join("authorized_keys"),
        format!("{}\n", added["public_key"].as_str().unwrap()),
    )
    .unwrap();
    let (ok, report) = test(&server);
    assert!(ok, "{report:#}");
}
