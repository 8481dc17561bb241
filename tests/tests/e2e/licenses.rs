//! Node-locked licenses conveyed at bootstrap: signed by the manufacturer's license key
//! (checked by `openssl cms -verify`), valid against the ztp-licenses YANG module (yanglint),
//! the same ids on every call, and a counted pool never over-allocated under concurrency.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ztp_tests::{Server, openssl_cms_verify, success, temp_dir, transcript, yanglint};

const CUSTOMER: &str = "example-customer";
const FEATURE: &str = "ESS-ED-100G-SIA3";

fn json(output: std::process::Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// `ztp device bootstrap` as `serial` with hw-model uCPE-100; the printed outcome.
fn bootstrap(server: &Server, serial: &str) -> Value {
    let output = server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
    assert!(
        output.status.success(),
        "{serial} was not answered: {}",
        transcript(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The license ids a bootstrap outcome (`ztp device bootstrap`'s output) carries.
pub(crate) fn license_ids(outcome: &Value) -> Vec<String> {
    outcome["licenses"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|l| l["license-id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn add_pool(server: &Server, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "license",
        "pool-add",
        CUSTOMER,
        name,
        "--feature",
        FEATURE,
        "--model",
        "uCPE-100",
    ];
    args.extend_from_slice(extra);
    json(server.admin(args))
}

/// The raw get-bootstrapping-data answer of `serial`, as a device's own client gets it.
fn raw_answer(server: &Server, serial: &str, dir: &Path) -> Value {
    let output = server.device_post(
        serial,
        "get-bootstrapping-data",
        r#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"uCPE-100"}}"#,
        &[],
    );
    let body = success(output);
    fs::write(dir.join("answer.json"), &body).unwrap();
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_device_gets_its_node_locked_licenses_signed_by_the_manufacturer() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let pool = add_pool(&server, "core", &["--seats", "3"]);
    assert_eq!(
        (pool["seats"].as_u64(), pool["free"].as_u64()),
        (Some(3), Some(3))
    );

    // The agent verifies the bundle and prints the license locked to it.
    let outcome = bootstrap(&server, "SN-0001");
    assert_eq!(
        outcome["refused-licenses"],
        serde_json::json!([]),
        "{outcome:#}"
    );
    let licenses = outcome["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 1, "{outcome:#}");
    assert_eq!(licenses[0]["feature"], FEATURE);
    assert_eq!(licenses[0]["serial-number"], "SN-0001");
    assert_eq!(licenses[0]["product-id"], "uCPE-100");
    assert_eq!(licenses[0]["type"], "perpetual");
    let ids = license_ids(&outcome);

    // Independently: OpenSSL verifies the signature to the manufacturer root, and yanglint
    // validates the content against the license module.
    let answer = raw_answer(&server, "SN-0001", dir.path());
    let bundle = answer["ietf-sztp-bootstrap-server:output"]["ztp-licenses:license-bundle"]
        .as_str()
        .unwrap_or_else(|| panic!("no license bundle: {answer:#}"));
    let der = dir.path().join("bundle.der");
    fs::write(&der, BASE64.decode(bundle).unwrap()).unwrap();
    let content = dir.path().join("licenses.json");
    let root = server.pki().join("manufacturer/root-ca.pem");
    success(openssl_cms_verify(&der, &root, &content));
    yanglint(None, &["ztp-licenses@2026-11-23.yang"], &content).unwrap();
    let text = fs::read_to_string(&content).unwrap();
    assert!(text.contains(&ids[0]) && text.contains("SN-0001"), "{text}");

    // Every call: the same license, the same seat.
    assert_eq!(license_ids(&bootstrap(&server, "SN-0001")), ids);
    let pools = json(server.admin(["license", "pools", CUSTOMER]));
    assert_eq!(pools[0]["allocated"], 1, "{pools:#}");
    assert_eq!(pools[0]["free"], 2, "{pools:#}");
    let held = json(server.admin(["license", "device", "SN-0001"]));
    assert_eq!(held.as_array().unwrap().len(), 1, "{held:#}");
    assert_eq!(held[0]["id"], ids[0].as_str());
    assert_eq!(held[0]["state"], "active");

    // Shrinking below what is allocated is refused; growing is fine.
    let shrink = server.admin(["license", "pool-set", CUSTOMER, "core", "--seats", "0"]);
    assert!(!shrink.status.success());
    let grown = json(server.admin(["license", "pool-set", CUSTOMER, "core", "--seats", "5"]));
    assert_eq!(grown["free"], 4);

    // Agents served by the lenient profile reject output leaves they do not know: no bundle.
    success(server.admin(["customer", "set", CUSTOMER, "--profile", "lenient"]));
    let lenient = bootstrap(&server, "SN-0001");
    assert_eq!(lenient["license-bundle-present"], false, "{lenient:#}");
}

#[test]
fn an_ended_subscription_is_not_conveyed_and_renewal_brings_it_back() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    add_pool(
        &server,
        "sub",
        &[
            "--type",
            "subscription",
            "--starts",
            "2020-01-01",
            "--ends",
            "2021-01-01",
        ],
    );
    let outcome = bootstrap(&server, "SN-0002");
    assert!(license_ids(&outcome).is_empty(), "{outcome:#}");
    assert_eq!(outcome["license-bundle-present"], false);
    let events = success(server.admin(["events", "--serial", "SN-0002", "--limit", "5"]));
    assert!(events.contains("the subscription ended"), "{events}");

    json(server.admin([
        "license",
        "pool-set",
        CUSTOMER,
        "sub",
        "--ends",
        "2099-01-01",
    ]));
    let outcome = bootstrap(&server, "SN-0002");
    let licenses = outcome["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 1, "{outcome:#}");
    assert_eq!(licenses[0]["type"], "subscription");
    assert_eq!(licenses[0]["not-after"], "2099-01-01T00:00:00Z");
}

#[test]
fn two_hundred_concurrent_bootstraps_share_fifty_seats_exactly() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    add_pool(&server, "fifty", &["--seats", "50"]);
    let serials: Vec<String> = (1..=200).map(|i| format!("SN-{i:04}")).collect();
    for serial in &serials[3..] {
        server.new_device(serial, CUSTOMER);
    }

    let outcomes: Vec<(String, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = serials
            .iter()
            .map(|serial| {
                let server = &server;
                scope.spawn(move || (serial.clone(), bootstrap(server, serial)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let licensed: Vec<&(String, Value)> = outcomes
        .iter()
        .filter(|(_, o)| !license_ids(o).is_empty())
        .collect();
    assert_eq!(licensed.len(), 50, "exactly the pool's seats");
    let mut ids: Vec<String> = licensed.iter().flat_map(|(_, o)| license_ids(o)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no license conveyed twice");
    for (serial, outcome) in &outcomes {
        assert!(
            outcome["conveyed-information"].is_object(),
            "{serial} was redirected, licensed or not: {outcome:#}"
        );
    }

    let pools = json(server.admin(["license", "pools", CUSTOMER]));
    assert_eq!(pools[0]["allocated"], 50, "{pools:#}");
    assert_eq!(pools[0]["free"], 0, "{pools:#}");
    assert_eq!(
        pools[0]["short"], 150,
        "every shortage is recorded: {pools:#}"
    );
    let shortages: Vec<Value> = serde_json::from_str(&success(server.admin([
        "events",
        "--kind",
        "license-shortage",
        "--limit",
        "1000",
    ])))
    .unwrap();
    assert_eq!(shortages.len(), 150);
}

#[test]
fn revocation_frees_a_seat_and_rma_moves_licenses_to_the_replacement() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    add_pool(&server, "one", &["--seats", "1"]);

    let first = license_ids(&bootstrap(&server, "SN-0001"));
    assert_eq!(first.len(), 1);
    assert!(
        license_ids(&bootstrap(&server, "SN-0002")).is_empty(),
        "no seat left"
    );

    // Revoked: the seat goes to the next device; the revoked device gets none again.
    let revoked = json(server.admin(["license", "revoke", &first[0], "--reason", "returned"]));
    assert_eq!(revoked["state"], "revoked");
    let second = license_ids(&bootstrap(&server, "SN-0002"));
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert!(license_ids(&bootstrap(&server, "SN-0001")).is_empty());

    // RMA: SN-0002 failed, SN-0003 replaces it.
    let moved = json(server.admin(["license", "rma", "SN-0002", "SN-0003"]));
    assert_eq!(moved.as_array().unwrap().len(), 1, "{moved:#}");
    let third = license_ids(&bootstrap(&server, "SN-0003"));
    assert_eq!(third, [moved[0]["id"].as_str().unwrap()]);
    assert!(
        license_ids(&bootstrap(&server, "SN-0002")).is_empty(),
        "the failed device no longer gets them"
    );
    let old = json(server.admin(["license", "device", "SN-0002"]));
    assert_eq!(old[0]["state"], "revoked");
    assert_eq!(old[0]["replaced_by"], third[0].as_str());
    let pools = json(server.admin(["license", "pools", CUSTOMER]));
    assert_eq!(pools[0]["allocated"], 1, "one seat, moved: {pools:#}");

    // Revoking twice, or a license that does not exist: a clear error.
    let again = server.admin(["license", "revoke", &first[0]]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("does not exist"),
        "{}",
        transcript(&again)
    );
}

#[test]
fn expiring_licenses_and_the_usage_report_as_json_csv_and_table() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date();
    add_pool(
        &server,
        "soon",
        &[
            "--type",
            "subscription",
            "--ends",
            &soon.to_string(),
            "--seats",
            "2",
        ],
    );
    add_pool(&server, "forever", &["--seats", "1"]);
    bootstrap(&server, "SN-0001");
    bootstrap(&server, "SN-0002");

    let expiring = json(server.admin(["license", "expiring", CUSTOMER]));
    let expiring = expiring.as_array().unwrap();
    assert_eq!(
        expiring.len(),
        2,
        "both subscription licenses: {expiring:#?}"
    );
    assert!(expiring.iter().all(|l| l["pool"] == "soon"));
    let later = json(server.admin(["license", "expiring", CUSTOMER, "--days", "5"]));
    assert_eq!(later, serde_json::json!([]), "none within 5 days");

    let usage = json(server.admin(["license", "usage", CUSTOMER]));
    let forever = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pool"] == "forever")
        .unwrap();
    assert_eq!(
        (&forever["allocated"], &forever["free"], &forever["short"]),
        (&Value::from(1), &Value::from(0), &Value::from(1)),
        "SN-0002 is short of a seat: {usage:#}"
    );
    let csv = success(server.admin(["license", "usage", CUSTOMER, "--csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "pool,feature,type,seats,allocated,free,expiring,ended,short,status"
    );
    assert!(
        lines.contains(&"forever,ESS-ED-100G-SIA3,perpetual,1,1,0,0,0,1,active"),
        "{csv}"
    );
    assert!(
        lines.contains(
            &format!("soon,ESS-ED-100G-SIA3,subscription,2,2,0,2,0,0,ends {soon}").as_str()
        ),
        "{csv}"
    );
    let table = success(server.admin(["license", "usage", CUSTOMER, "--table"]));
    assert!(table.starts_with("pool "), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn the_usage_csv_shows_a_pool_name_a_spreadsheet_would_evaluate_as_text() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    // A name of letters, digits and '-' that a spreadsheet reads as a formula over two cells.
    let hostile = "-A1-B1";
    json(server.admin([
        "license",
        "pool-add",
        "--feature",
        FEATURE,
        "--model",
        "uCPE-100",
        "--",
        CUSTOMER,
        hostile,
    ]));

    let csv = success(server.admin(["license", "usage", CUSTOMER, "--csv"]));
    let cells = super::csv_cells(&csv);
    assert_eq!(cells[1][0], format!("'{hostile}"), "{csv}");
    assert_eq!(super::formula_cells(&csv), Vec::<String>::new(), "{csv}");
    let table = success(server.admin(["license", "usage", CUSTOMER, "--table"]));
    assert!(
        table.lines().nth(1).unwrap().starts_with("-A1-B1 "),
        "the table is for reading, not for spreadsheets: {table}"
    );
}
