//! Admin API tokens: shown once and stored hashed, read-only tokens cannot change anything,
//! revoked and expired tokens are refused, failed authentications are recorded and limited, and
//! every change names the token that made it.

use std::sync::Arc;

use std::process::Output;
use std::time::Duration;
use ztp::domain::clock::{Clock, ManualClock};

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir, transcript};

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
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
    // The server's clock: stepped past a token's expiry instead of waiting for it.
    let clock = Arc::new(ManualClock::starting_now());
    let server = Server::start_with_clock(dir.path(), &[], clock.clone());

    // Shown once, stored as a digest: the list never shows it.
    let (admin, admin_id) = create(&server, &["ops", "--role", "manufacturer-admin"]);
    assert!(admin.starts_with(&format!("ztp.{admin_id}.")));
    let listed = success(server.admin(["token", "list"]));
    assert!(
        listed.contains(&admin_id) && !listed.contains(&admin),
        "{listed}"
    );
    let stored = ztp_tests::database::contents(dir.path());
    let secret = admin.rsplit('.').next().unwrap();
    assert_eq!(
        ztp_tests::database::holding(&stored, secret.as_bytes()),
        None,
        "the token is not in the database"
    );

    // A change names its token.
    success(server.admin_as(&admin, ["customer", "add", "acme"]));
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
        server
            .admin_as(&reader, ["customer", "list"])
            .status
            .success()
    );
    assert!(
        server
            .admin_as(&reader, ["device", "show", "SN-0001"])
            .status
            .success()
    );
    refused(
        &server.admin_as(&reader, ["customer", "add", "evil"]),
        "may only read",
    );
    refused(
        &server.admin_as(&reader, ["device", "remove", "SN-0001"]),
        "may only read",
    );
    refused(
        &server.admin_as(&reader, ["token", "list"]),
        "manufacturer's administrators",
    );
    assert!(
        server
            .admin_as(&admin, ["device", "show", "SN-0001"])
            .status
            .success()
    );

    // Revoked: refused at once.
    success(server.admin(["token", "revoke", &admin_id]));
    refused(&server.admin_as(&admin, ["customer", "list"]), "not valid");

    // Expiring: accepted until the moment, refused after.
    let soon = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(clock.now_ms() + 2000) * 1_000_000,
    )
    .unwrap();
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (brief, brief_id) = create(
        &server,
        &["brief", "--role", "read-only", "--expires-at", &soon],
    );
    assert!(
        server
            .admin_as(&brief, ["customer", "list"])
            .status
            .success()
    );
    clock.advance(Duration::from_millis(2500));
    refused(&server.admin_as(&brief, ["customer", "list"]), "not valid");
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
    let reader_entry = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "auditor")
        .unwrap();
    assert!(reader_entry["last_used_at"].is_string(), "{reader_entry:#}");
    // Failures are recorded beside the answer, not before it: wait for them (bounded).
    let mut reasons = Vec::new();
    for _ in 0..100 {
        let failures = json(server.admin(["events", "--kind", "admin-auth-failed"]));
        reasons = failures
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap().to_owned())
            .collect();
        if ["revoked token", "expired token"]
            .iter()
            .all(|r| reasons.iter().any(|d| d == r))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reasons.iter().any(|d| d == "revoked token"), "{reasons:?}");
    assert!(reasons.iter().any(|d| d == "expired token"), "{reasons:?}");

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
        "200",
        "the right token passes: a bad client locks out only itself"
    );
    // The failures are on record, one event each up to the limit.
    let failures = json(server.admin(["events", "--kind", "admin-auth-failed", "--limit", "50"]));
    assert_eq!(
        failures.as_array().unwrap().len(),
        10,
        "one event per failure up to the limit"
    );
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Whatever `args` asks about another customer's object fails exactly as for a missing one.
fn same_as_missing(server: &Server, token: &str, other: &[&str], missing: &[&str]) {
    let other = server.admin_as(token, other);
    let missing = server.admin_as(token, missing);
    assert!(!other.status.success() && !missing.status.success());
    let (a, b) = (stderr(&other), stderr(&missing));
    assert!(a.contains("404"), "{a}");
    // The same words, but for the name asked about.
    let shape = |s: &str| s.split('"').step_by(2).collect::<Vec<_>>().join("\"\"");
    assert_eq!(shape(&a), shape(&b), "{a} vs {b}");
}

#[test]
fn a_customer_token_sees_and_changes_only_its_own_customer() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    // Customer B: acme, with a redirect target, a device, an NMS connection and a pool.
    success(server.admin(["customer", "add", "acme"]));
    success(server.admin([
        "target",
        "add",
        "acme",
        "nms",
        "--address",
        "nms.acme.example",
        "--port",
        "443",
    ]));
    server.issue_device("SN-0100");
    success(server.admin([
        "device",
        "add",
        "SN-0100",
        "--model",
        "uCPE-100",
        "--customer",
        "acme",
    ]));
    let pin = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
    for customer in ["acme", "example-customer"] {
        success(server.admin([
            "nms",
            "add",
            customer,
            "main",
            "--host",
            "127.0.0.1",
            "--user",
            "ztp",
            "--pin",
            pin,
            "--policy",
            "parallel",
        ]));
    }
    success(server.admin([
        "license",
        "pool-add",
        "acme",
        "core",
        "--feature",
        "F-1",
        "--seats",
        "1",
    ]));
    assert!(server.bootstrap("SN-0100", &[]).status.success());
    assert!(server.bootstrap("SN-0001", &[]).status.success());

    let (token, _) = create(
        &server,
        &[
            "ex-ops",
            "--role",
            "customer-admin",
            "--customer",
            "example-customer",
        ],
    );
    let run = |args: &[&str]| server.admin_as(&token, args);

    // Another customer's objects are indistinguishable from missing ones.
    same_as_missing(
        &server,
        &token,
        &["customer", "show", "acme"],
        &["customer", "show", "ghost"],
    );
    same_as_missing(
        &server,
        &token,
        &["device", "show", "SN-0100"],
        &["device", "show", "SN-9999"],
    );
    same_as_missing(
        &server,
        &token,
        &["nms", "list", "acme"],
        &["nms", "list", "ghost"],
    );
    same_as_missing(
        &server,
        &token,
        &["license", "pools", "acme"],
        &["license", "pools", "ghost"],
    );
    let acme_registration = json(server.admin(["registration", "list", "--customer", "acme"]));
    let id = acme_registration[0]["id"].to_string();
    same_as_missing(
        &server,
        &token,
        &["registration", "show", &id],
        &["registration", "show", "99999"],
    );

    // Owners are the manufacturer's to assign: it creates no device and moves none, not even
    // its own.
    for args in [
        vec![
            "device",
            "add",
            "SN-0200",
            "--model",
            "m",
            "--customer",
            "acme",
        ],
        vec![
            "device",
            "add",
            "SN-0200",
            "--model",
            "m",
            "--customer",
            "example-customer",
        ],
        vec!["device", "set", "SN-0001", "--customer", "acme"],
        vec!["device", "set", "SN-0001", "--model", "uCPE-200"],
        vec!["device", "remove", "SN-0001"],
    ] {
        refused(&run(&args), "403");
    }
    assert!(!success(server.admin(["device", "list"])).contains("SN-0200"));

    // Lists show its own things only.
    let customers = json(run(&["customer", "list"]));
    assert_eq!(customers.as_array().unwrap().len(), 1);
    assert_eq!(customers[0]["name"], "example-customer");
    let devices = success(run(&["device", "list"]));
    assert!(
        devices.contains("SN-0001") && !devices.contains("SN-0100"),
        "{devices}"
    );
    let events = success(run(&["events", "--limit", "200"]));
    assert!(
        events.contains("SN-0001") && !events.contains("SN-0100"),
        "{events}"
    );
    let registrations = json(run(&["registration", "list"]));
    assert!(
        registrations
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["customer"] == "example-customer"),
        "{registrations:#}"
    );

    // Its own NMS connections and targets are its to manage.
    success(run(&[
        "nms",
        "set",
        "example-customer",
        "main",
        "--policy",
        "off",
    ]));
    success(run(&[
        "target",
        "add",
        "example-customer",
        "lab",
        "--address",
        "10.0.0.5",
        "--port",
        "8443",
    ]));

    // The manufacturer's business is not.
    for args in [
        vec!["customer", "add", "mine"],
        vec!["customer", "set", "example-customer", "--profile", "strict"],
        vec![
            "license",
            "pool-add",
            "example-customer",
            "more",
            "--feature",
            "F-2",
        ],
        vec!["token", "list"],
        vec!["nms", "fingerprint", "127.0.0.1:22"],
    ] {
        let output = run(&args);
        assert!(!output.status.success(), "{args:?} was allowed");
        assert!(
            stderr(&output).contains("403"),
            "{args:?}: {}",
            stderr(&output)
        );
    }

    // A read-only token of acme reads acme only.
    let (reader, _) = create(
        &server,
        &["acme-audit", "--role", "read-only", "--customer", "acme"],
    );
    let devices = success(server.admin_as(&reader, ["device", "list"]));
    assert!(
        devices.contains("SN-0100") && !devices.contains("SN-0001"),
        "{devices}"
    );
    refused(
        &server.admin_as(&reader, ["device", "remove", "SN-0100"]),
        "may only read",
    );
}
