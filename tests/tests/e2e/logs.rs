//! The log: one id per device call, answered as `x-request-id`, on the call's log lines and on
//! the events it wrote; and no secret in any line of a whole onboarding at debug level (admin
//! token, NMS password, webhook secret, master key, private keys).

use std::fs;

use serde_json::Value;
use ztp_tests::{Server, success, temp_dir, transcript};

#[test]
fn a_device_call_is_followed_by_its_id_from_the_answer_to_the_log_and_its_events() {
    let dir = temp_dir();
    let server = Server::process(dir.path());
    let answered = server.device_post(
        "SN-0001",
        "get-bootstrapping-data",
        r#"{"ietf-sztp-bootstrap-server:input":{}}"#,
        &["-D", "-"],
    );
    let text = String::from_utf8_lossy(&answered.stdout).into_owned();
    let id = text
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("x-request-id:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("an x-request-id header: {}", transcript(&answered)));
    assert_eq!(id.len(), 16, "{id}");

    let events: Value =
        serde_json::from_str(&success(server.admin(["events", "--serial", "SN-0001"]))).unwrap();
    let stamped: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["request_id"] == id.as_str())
        .collect();
    assert!(
        stamped
            .iter()
            .any(|event| event["kind"] == "bootstrap-served"),
        "the call's event carries its id {id}: {events:#}"
    );
    let logged = server.log();
    assert!(
        logged
            .lines()
            .any(|line| line.contains(&id) && line.contains("SN-0001")),
        "a log line of the call carries its id {id}:\n{logged}"
    );
}

#[test]
fn a_whole_onboarding_logs_no_secret_even_at_debug_level() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::process_with(&data, &[("RUST_LOG", "debug")]);
    let password = "a-very-secret-nms-password-7f3a";
    let password_file = dir.path().join("password");
    fs::write(&password_file, format!("{password}\n")).unwrap();
    success(server.admin([
        "nms",
        "add",
        "example-customer",
        "main",
        "--host",
        "127.0.0.1",
        "--user",
        "ztp",
        "--password-file",
        password_file.to_str().unwrap(),
        "--pin",
        "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "--policy",
        "off",
    ]));
    let added: Value = serde_json::from_str(&success(server.admin([
        "webhook",
        "add",
        "example-customer",
        "ops",
        "--url",
        "https://hooks.example.com/ztp",
    ])))
    .unwrap();
    let webhook_secret = added["secret"].as_str().unwrap_or_default().to_owned();
    assert!(webhook_secret.len() >= 16, "{added}");
    success(server.admin(["customer", "add", "acme"]));
    success(server.admin(["token", "create", "--role", "read-only", "viewer"]));
    for _ in 0..2 {
        let served = server.bootstrap("SN-0001", &[]);
        assert!(served.status.success(), "{}", transcript(&served));
    }
    let refused = server.bootstrap("SN-0001", &["--hw-model", "x"]);
    let _ = refused;

    let log = server.log();
    assert!(log.contains("DEBUG"), "the log is at debug level:\n{log}");
    let token = fs::read_to_string(data.join("admin-token")).unwrap();
    let master_key = fs::read_to_string(data.join("master-key")).unwrap();
    for (what, secret) in [
        ("the admin token", token.trim()),
        ("the NMS password", password),
        ("the webhook secret", webhook_secret.as_str()),
        ("the master key", master_key.trim()),
        ("a private key", "PRIVATE KEY"),
    ] {
        assert!(!secret.is_empty(), "{what}");
        assert!(
            !log.contains(secret),
            "{what} is in the log:\n{}",
            log.lines()
                .filter(|line| line.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
