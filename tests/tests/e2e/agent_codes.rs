//! The reference agent presents activation codes to a real `ztp serve` with
//! `device_api.activation_codes` on: beside its IDevID where the device's code is a second
//! factor (and a clear error naming `--activation-code-file` without it), and alone for a
//! device without an IDevID, which still verifies what it is given.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ztp_tests::{Server, success, temp_dir, transcript, ztp_bin};

const CODES_ON: (&str, &str) = ("ZTP_DEVICE_API__ACTIVATION_CODES", "true");

/// Writes `code` and a newline to `dir/name` with permission bits `mode`.
fn code_file(dir: &Path, name: &str, code: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{code}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn set_code(server: &Server, serial: &str, body: &str) -> Value {
    let path = format!("/api/v1/devices/{serial}/activation-code");
    let answer = server.admin_request("PUT", &path, body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The verified answer `ztp device bootstrap` printed.
fn verified(output: &Output) -> Value {
    assert!(output.status.success(), "{}", transcript(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_agent_presents_a_second_factor_code_beside_its_idevid_and_says_when_one_is_missing() {
    let dir = temp_dir();
    let server = Server::start_with(&dir.path().join("data"), &[CODES_ON]);
    set_code(&server, "SN-0001", r#"{"code":"LABEL-ON-THE-BOX-0001"}"#);
    let code = code_file(dir.path(), "code", "LABEL-ON-THE-BOX-0001", 0o600);
    let code_arg = code.to_str().unwrap();

    let answer = verified(&server.bootstrap("SN-0001", &["--activation-code-file", code_arg]));
    assert_eq!(answer["serial"], "SN-0001");
    assert_eq!(answer["server-authenticated"], true);
    assert!(answer["conveyed-information"].is_object(), "{answer}");

    // Without the code: the server's Basic challenge becomes an error naming the option.
    let missing = server.bootstrap("SN-0001", &[]);
    assert!(!missing.status.success());
    let error = stderr(&missing);
    assert!(error.contains("--activation-code-file"), "{error}");
    assert!(error.contains("activation code"), "{error}");

    // A wrong code is said to be refused; the code itself is never printed.
    let wrong = code_file(dir.path(), "wrong", "NOT-THE-LABEL-0001", 0o600);
    let refused = server.bootstrap(
        "SN-0001",
        &["--activation-code-file", wrong.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    let error = stderr(&refused);
    assert!(error.contains("refused the activation code"), "{error}");
    assert!(!error.contains("NOT-THE-LABEL"), "{error}");

    // A code file others may read is refused before anything is sent.
    let exposed = code_file(dir.path(), "exposed", "LABEL-ON-THE-BOX-0001", 0o644);
    let output = server.bootstrap(
        "SN-0001",
        &["--activation-code-file", exposed.to_str().unwrap()],
    );
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("chmod 600") && error.contains("0644"),
        "{error}"
    );
    assert!(!error.contains("LABEL-ON-THE-BOX"), "{error}");
}

/// `ztp device <verb>` as VM-0001, a device without an IDevID: `--serial` and the code file,
/// no `--cert`; the server's TLS anchor when `trusted`, else provisional TLS.
fn without_idevid(server: &Server, verb: &[&str], code: &Path, trusted: bool) -> Output {
    let manufacturer = server.pki().join("manufacturer");
    let mut command = Command::new(ztp_bin());
    command
        .args(["device"])
        .args(verb)
        .args(["--serial", "VM-0001", "--activation-code-file"])
        .arg(code)
        .arg("--voucher-ca")
        .arg(manufacturer.join("voucher-ca.pem"))
        .arg("--license-ca")
        .arg(manufacturer.join("license-ca.pem"))
        .args(["--timeout", "20"]);
    if trusted {
        command
            .arg("--server-ca")
            .arg(manufacturer.join("root-ca.pem"));
    }
    command.output().expect("ztp device runs")
}

/// The configuration the customer's onboarding information conveys.
const CONFIGURATION: &str = "hostname vCPE-1\n";

/// Gives the customer onboarding information (a configuration, merged); returns where the
/// device's commit hook is to keep what it commits.
fn onboard(server: &Server, dir: &Path) -> PathBuf {
    let onboarding = serde_json::json!({"ietf-sztp-conveyed-info:onboarding-information": {
        "configuration-handling": "merge",
        "configuration": BASE64.encode(CONFIGURATION),
    }});
    let file = dir.join("onboarding.json");
    fs::write(&file, onboarding.to_string()).unwrap();
    let customer = ["customer", "set", "example-customer", "--onboarding"];
    success(server.admin(customer.iter().copied().chain([file.to_str().unwrap()])));
    dir.join("committed")
}

/// Adds VM-0001, a device without an IDevID, with a generated code as its only factor;
/// returns the file holding the code.
fn code_only_device(server: &Server, dir: &Path) -> PathBuf {
    success(server.admin([
        "device",
        "add",
        "VM-0001",
        "--model",
        "vCPE-1",
        "--customer",
        "example-customer",
    ]));
    let set = set_code(server, "VM-0001", r#"{"only_factor":true}"#);
    let code = set["code"]
        .as_str()
        .expect("a generated code is shown once");
    code_file(dir, "code", code, 0o600)
}

#[test]
fn a_device_without_an_idevid_bootstraps_and_onboards_on_its_code_alone() {
    let dir = temp_dir();
    let server = Server::start_with(&dir.path().join("data"), &[CODES_ON]);
    let code = code_only_device(&server, dir.path());
    let url = server.device_url.clone();

    let bootstrap = ["bootstrap", "--url", url.as_str()];
    let answer = verified(&without_idevid(&server, &bootstrap, &code, true));
    assert_eq!(answer["serial"], "VM-0001");
    assert_eq!(answer["server-authenticated"], true);
    assert!(answer["conveyed-information"].is_object(), "{answer}");

    // The agent loop too: onboarding information installed, every report let in (each
    // request carries the code).
    let committed = onboard(&server, dir.path());
    let state = dir.path().join("state");
    let hook = dir.path().join("commit-hook");
    fs::write(
        &hook,
        format!("#!/bin/sh\ncp \"$1\" {}\n", committed.display()),
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let run = [
        "run",
        "--once",
        "--server",
        url.as_str(),
        "--state-dir",
        state.to_str().unwrap(),
        "--commit-hook",
        hook.to_str().unwrap(),
    ];
    let output = without_idevid(&server, &run, &code, true);
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(fs::read_to_string(&committed).unwrap(), CONFIGURATION);
    let reports = success(server.admin(["device", "progress", "VM-0001"]));
    let reports: Value = serde_json::from_str(&reports).unwrap();
    let kinds: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["progress_type"].as_str())
        .collect();
    for kind in [
        "bootstrap-initiated",
        "config-complete",
        "bootstrap-complete",
    ] {
        assert!(kinds.contains(&kind), "{kind} not among {kinds:?}");
    }
    let events = success(server.admin(["events", "--serial", "VM-0001", "--limit", "50"]));
    let events: Vec<Value> = serde_json::from_str(&events).unwrap();
    assert!(events.iter().any(|e| e["status"] == 200), "{events:#?}");
    assert!(
        !events.iter().any(|e| e["status"] == 401),
        "VM-0001 was refused: {events:#?}"
    );
}

#[test]
fn a_device_without_an_idevid_never_sends_its_code_to_a_provisional_server() {
    let dir = temp_dir();
    let server = Server::start_with(&dir.path().join("data"), &[CODES_ON]);
    let code = code_only_device(&server, dir.path());
    let url = server.device_url.clone();
    let bootstrap = ["bootstrap", "--url", url.as_str()];

    // Provisional TLS: the code is not sent, and a device with nothing else does not ask.
    let output = without_idevid(&server, &bootstrap, &code, false);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("not authenticated (provisional TLS)"),
        "{error}"
    );
    assert!(error.contains("--server-ca"), "{error}");
    let events = success(server.admin(["events", "--serial", "VM-0001", "--limit", "50"]));
    let events: Vec<Value> = serde_json::from_str(&events).unwrap();
    assert!(
        events.iter().all(|e| e["kind"] == "admin-change"),
        "the server heard nothing from VM-0001: {events:#?}"
    );

    // --serial without a code is refused by the command line.
    let output = Command::new(ztp_bin())
        .args(["device", "bootstrap", "--url", &url, "--serial", "VM-0001"])
        .args(["--voucher-ca", "v.pem"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    assert!(stderr(&output).contains("--activation-code-file"));
}
