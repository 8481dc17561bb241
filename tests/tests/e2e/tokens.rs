//! Admin API tokens: shown once and stored hashed, read-only tokens cannot change anything,
//! revoked and expired tokens are refused, failed authentications are recorded and limited, and
//! every change names the token that made it.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir, transcript, ztp_bin};

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// Runs a `ztp` admin command with `token`.
fn with_token(server: &Server, token: &str, args: &[&str]) -> Output {
    Command::new(ztp_bin())
        .args(args)
        .env("ZTP_ADMIN_URL", &server.admin_url)
        .env("ZTP_ADMIN_TOKEN", token)
        .output()
        .unwrap()
}

fn refused(output: &Output, needle: &str) {
    assert!(!output.status.success(), "{}", transcript(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
}

fn create(server: &Server, args: &[&str]) -> (String, String) {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let created = json(server.admin(all));
    (
        created["token"].as_str().unwrap().to_owned(),
        created["id"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn tokens_have_roles_expire_and_are_revoked_and_changes_name_their_token() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    // Shown once, stored as a digest: the list never shows it.
    let (admin, admin_id) = create(&server, &["ops", "--role", "manufacturer-admin"]);
    assert!(admin.starts_with(&format!("ztp.{admin_id}.")));
    let listed = success(server.admin(["token", "list"]));
    assert!(
        listed.contains(&admin_id) && !listed.contains(&admin),
        "{listed}"
    );
    let database = std::fs::read(dir.path().join("ztp.sqlite")).unwrap();
    let secret = admin.rsplit('.').next().unwrap();
    assert!(
        !database
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the token is not in the database"
    );

    // A change names its token.
    success(with_token(&server, &admin, &["customer", "add", "acme"]));
    let events = json(server.admin(["events", "--kind", "admin-change", "--limit", "5"]));
    let detail = events[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("created customer acme")
            && detail.contains(&format!("by token {admin_id}, manufacturer-admin")),
        "{detail}"
    );
    assert!(
        events[0]["peer"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    // Read-only: everything may be read, nothing changed, tokens not even listed.
    let (reader, _) = create(&server, &["auditor", "--role", "read-only"]);
    assert!(
        with_token(&server, &reader, &["customer", "list"])
            .status
            .success()
    );
    assert!(
        with_token(&server, &reader, &["device", "show", "SN-0001"])
            .status
            .success()
    );
    refused(
        &with_token(&server, &reader, &["customer", "add", "evil"]),
        "may only read",
    );
    refused(
        &with_token(&server, &reader, &["device", "remove", "SN-0001"]),
        "may only read",
    );
    refused(
        &with_token(&server, &reader, &["token", "list"]),
        "manufacturer admins",
    );
    assert!(
        with_token(&server, &admin, &["device", "show", "SN-0001"])
            .status
            .success()
    );

    // Revoked: refused at once.
    success(server.admin(["token", "revoke", &admin_id]));
    refused(
        &with_token(&server, &admin, &["customer", "list"]),
        "not valid",
    );

    // Expiring: accepted until the moment, refused after.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (brief, brief_id) = create(
        &server,
        &["brief", "--role", "read-only", "--expires-at", &soon],
    );
    assert!(
        with_token(&server, &brief, &["customer", "list"])
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(2500));
    refused(
        &with_token(&server, &brief, &["customer", "list"]),
        "not valid",
    );
    let tokens = json(server.admin(["token", "list"]));
    let state = |id: &str| {
        tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map(|t| t["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state(&admin_id).as_deref(), Some("revoked"));
    assert_eq!(state(&brief_id).as_deref(), Some("expired"));
    let failures = json(server.admin(["events", "--kind", "admin-auth-failed"]));
    let reasons: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"revoked token"), "{reasons:?}");
    assert!(reasons.contains(&"expired token"), "{reasons:?}");

    // Bad requests to make tokens.
    refused(
        &server.admin(["token", "create", "x", "--role", "customer-admin"]),
        "needs a customer",
    );
    refused(
        &server.admin(["token", "create", "x", "--role", "superuser"]),
        "unknown role",
    );
}

#[test]
fn failed_authentications_are_limited_per_address() {
    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[("ZTP_ADMIN_API__FAILED_AUTH_WINDOW_SECS", "3")],
    );
    let status = |token: &str| {
        let out = curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("Authorization: Bearer {token}"),
            &format!("{}/api/v1/customers", server.admin_url),
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for i in 0..10 {
        assert_eq!(status(&format!("ztp.0000.guess{i}")), "401");
    }
    assert_eq!(
        status("ztp.0000.guess"),
        "429",
        "the eleventh try is turned away"
    );
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    assert_eq!(
        status(token.trim()),
        "429",
        "even with the right token, until the window ends"
    );
    // The window ends: the right token is let in again, and the failures are on record.
    std::thread::sleep(Duration::from_secs(3));
    let failures = json(server.admin(["events", "--kind", "admin-auth-failed", "--limit", "50"]));
    assert_eq!(
        failures.as_array().unwrap().len(),
        10,
        "one event per failure up to the limit"
    );
}
