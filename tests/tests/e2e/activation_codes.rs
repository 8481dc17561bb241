//! Activation codes against the real `ztp serve`: HTTP Basic (the serial as the username) as
//! a second factor beside the IDevID, as the only factor of a device without one, locked out
//! after wrong codes, and read only when `device_api.activation_codes` is on.

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir};

const GET_BOOTSTRAPPING_DATA: &str = "get-bootstrapping-data";
const INPUT: &str = r#"{"ietf-sztp-bootstrap-server:input":{}}"#;

/// The status line and the headers of the answer, then its body, as curl prints them with `-i`.
fn answer(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn status(output: &std::process::Output) -> u16 {
    answer(output)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// get-bootstrapping-data as device `serial` of the development PKI (its IDevID), with
/// `basic` credentials if given.
fn with_idevid(server: &Server, serial: &str, basic: Option<&str>) -> std::process::Output {
    let mut extra = vec!["-i"];
    if let Some(basic) = basic {
        extra.extend(["-u", basic]);
    }
    server.device_post(serial, GET_BOOTSTRAPPING_DATA, INPUT, &extra)
}

/// get-bootstrapping-data with no client certificate, with `basic` credentials if given
/// (curl `-i`: the answer's head, then its body).
pub(crate) fn without_idevid(server: &Server, basic: Option<&str>) -> std::process::Output {
    let url = format!(
        "{}/restconf/operations/ietf-sztp-bootstrap-server:{GET_BOOTSTRAPPING_DATA}",
        server.device_url
    );
    let root = server.pki().join("manufacturer/root-ca.pem");
    let mut args = vec![
        "-i".to_owned(),
        "--cacert".to_owned(),
        root.to_str().unwrap().to_owned(),
        "-H".to_owned(),
        "Content-Type: application/yang-data+json".to_owned(),
        "-d".to_owned(),
        INPUT.to_owned(),
    ];
    if let Some(basic) = basic {
        args.extend(["-u".to_owned(), basic.to_owned()]);
    }
    args.push(url);
    curl(args)
}

fn set_code(server: &Server, serial: &str, body: &str) -> Value {
    let path = format!("/api/v1/devices/{serial}/activation-code");
    let answer = server.admin_request("PUT", &path, body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

fn events_of(server: &Server, serial: &str) -> Vec<Value> {
    let out = success(server.admin(["events", "--serial", serial, "--limit", "50"]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn an_activation_code_is_a_second_factor_beside_the_idevid_where_a_device_has_one() {
    let dir = temp_dir();
    let server = Server::start_with(dir.path(), &[("ZTP_DEVICE_API__ACTIVATION_CODES", "true")]);
    // Set from the command line, the code read from a file.
    let code_file = dir.path().join("code");
    std::fs::write(&code_file, "LABEL-ON-THE-BOX-0001\n").unwrap();
    let set: Value = serde_json::from_str(&success(server.admin([
        "device",
        "activation-code",
        "set",
        "SN-0001",
        "--code-file",
        code_file.to_str().unwrap(),
    ])))
    .unwrap();
    assert_eq!(set["only_factor"], false);
    assert!(
        set.get("code").is_none(),
        "a given code is never shown: {set}"
    );
    let shown = server.admin_request("GET", "/api/v1/devices/SN-0001/activation-code", "");
    assert!(!shown.body.contains("LABEL-ON-THE-BOX"), "{}", shown.body);

    // The IDevID alone is not enough any more; the challenge says how to authenticate.
    let missing = with_idevid(&server, "SN-0001", None);
    assert_eq!(status(&missing), 401, "{}", answer(&missing));
    assert!(
        answer(&missing)
            .to_lowercase()
            .contains("www-authenticate: basic"),
        "{}",
        answer(&missing)
    );
    let wrong = with_idevid(&server, "SN-0001", Some("SN-0001:NOT-THE-LABEL-0001"));
    assert_eq!(status(&wrong), 401);
    let other_user = with_idevid(&server, "SN-0001", Some("SN-0002:LABEL-ON-THE-BOX-0001"));
    assert_eq!(status(&other_user), 401);
    let served = with_idevid(&server, "SN-0001", Some("SN-0001:LABEL-ON-THE-BOX-0001"));
    assert_eq!(status(&served), 200, "{}", answer(&served));
    // Devices without a code are served on their IDevID as before.
    assert_eq!(status(&with_idevid(&server, "SN-0002", None)), 200);

    let refusals: Vec<String> = events_of(&server, "SN-0001")
        .iter()
        .filter(|e| e["status"] == 401)
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    for words in [
        "must present its activation code",
        "wrong activation code",
        "is not the device's serial",
    ] {
        assert!(
            refusals.iter().any(|d| d.contains(words)),
            "{words:?} not among the refusals filed under SN-0001: {refusals:#?}"
        );
    }
}

#[test]
fn a_device_without_an_idevid_is_let_in_by_its_code_alone_only_where_opted_in() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &[("ZTP_DEVICE_API__ACTIVATION_CODES", "true")]);
    server.add_device("VM-0001", "vCPE-1", "example-customer");
    let set = set_code(&server, "VM-0001", r#"{"only_factor":true}"#);
    let code = set["code"]
        .as_str()
        .expect("a generated code is shown once")
        .to_owned();
    let basic = format!("VM-0001:{code}");

    assert_eq!(status(&without_idevid(&server, None)), 401);
    let served = without_idevid(&server, Some(&basic));
    assert_eq!(status(&served), 200, "{}", answer(&served));
    // A second-factor code never stands alone.
    set_code(&server, "SN-0001", r#"{"code":"LABEL-ON-THE-BOX-0001"}"#);
    assert_eq!(
        status(&without_idevid(
            &server,
            Some("SN-0001:LABEL-ON-THE-BOX-0001")
        )),
        401
    );

    // Wrong codes lock a serial for the window, its right code included (one that verified
    // before is remembered: its device is no guesser).
    server.add_device("VM-0002", "vCPE-1", "example-customer");
    set_code(
        &server,
        "VM-0002",
        r#"{"code":"VM-0002-RIGHT-CODE","only_factor":true}"#,
    );
    for _ in 0..5 {
        assert_eq!(
            status(&without_idevid(&server, Some("VM-0002:WRONG-WRONG-WRONG"))),
            401
        );
    }
    assert_eq!(
        status(&without_idevid(&server, Some("VM-0002:VM-0002-RIGHT-CODE"))),
        401
    );
    assert_eq!(status(&without_idevid(&server, Some(&basic))), 200);
    let events = events_of(&server, "VM-0002");
    assert!(
        events.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("too many wrong activation codes"))),
        "{events:#?}"
    );
    drop(server);

    // Off: codes are not read, and a device without an IDevID is not let in.
    let server = Server::start(&data);
    assert_eq!(status(&without_idevid(&server, Some(&basic))), 401);
    assert_eq!(status(&with_idevid(&server, "SN-0001", None)), 200);
}
