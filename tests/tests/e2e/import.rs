//! Bulk device import from CSV: 100,000 rows with 10 bad ones go in with the 10 reported by
//! line; importing again changes nothing; all-or-nothing keeps nothing when a row is bad; a
//! customer's token imports only for its customer.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use ztp_tests::{Server, success, temp_dir, transcript};

const ROWS: usize = 100_000;

/// Lines (1 = header) and contents of the bad rows, with a word their reason must contain.
const BAD: [(&str, &str); 10] = [
    ("../../etc/passwd,uCPE-100,example-customer,", "serial"),
    ("SN 7,uCPE-100,example-customer,", "serial"),
    (",uCPE-100,example-customer,", "serial"),
    ("BAD-0004,,example-customer,", "product id"),
    ("BAD-0005,uCPE-100,ghost,", "does not exist"),
    ("BAD-0006,uCPE-100,example-customer,xyz", "certificate_pin"),
    ("BAD-0007,uCPE-100", "fields"),
    ("BAD-0008,uCPE-100,example-customer,,extra", "fields"),
    ("BAD-0009,model with spaces,example-customer,", "product id"),
    ("BAD-0010,uCPE-100,acme,", "does not exist"),
];

/// Writes the file; returns the line number of each bad row.
fn write_csv(path: &Path) -> Vec<u64> {
    let mut text = String::from("serial,model,customer,certificate_pin\n");
    let mut bad_lines = Vec::new();
    let every = ROWS / BAD.len();
    let mut line = 1;
    for i in 0..ROWS {
        line += 1;
        let pin = if i % 2 == 0 {
            format!("{:064x}", i)
        } else {
            String::new()
        };
        writeln!(text, "IMP-{i:06},uCPE-100,example-customer,{pin}").unwrap();
        if i % every == every / 2 {
            line += 1;
            text.push_str(BAD[bad_lines.len()].0);
            text.push('\n');
            bad_lines.push(line);
        }
    }
    fs::write(path, text).unwrap();
    bad_lines
}

fn import(server: &Server, file: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "device".as_ref(),
        "import".as_ref(),
        file.as_os_str(),
        "--quiet".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let output = server.admin(args);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", transcript(&output)));
    (output, report)
}

/// How many devices the inventory holds (paging through the admin API).
fn count_devices(server: &Server) -> usize {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let mut args = vec!["device", "list", "--limit", "1000"];
        if !after.is_empty() {
            args.extend(["--after", after.as_str()]);
        }
        let page: Vec<Value> = serde_json::from_str(&success(server.admin(args))).unwrap();
        let Some(last) = page.last() else {
            return count;
        };
        count += page.len();
        after = last["serial"].as_str().unwrap().to_owned();
    }
}

#[test]
fn a_hundred_thousand_rows_with_ten_bad_ones() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let before = count_devices(&server);
    let file = dir.path().join("devices.csv");
    let bad_lines = write_csv(&file);

    let (output, report) = import(&server, &file, &[]);
    assert!(!output.status.success(), "bad rows make the exit status 1");
    assert_eq!(report["rows"], ROWS + BAD.len());
    assert_eq!(report["imported"], ROWS);
    assert_eq!(report["bad_rows"], BAD.len());
    assert_eq!(report["committed"], true);
    let errors = report["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, bad_lines);
    for (error, (row, word)) in errors.iter().zip(BAD) {
        let reason = error["reason"].as_str().unwrap();
        assert!(reason.contains(word), "{row:?}: {reason}");
    }
    assert_eq!(count_devices(&server), before + ROWS);
    let device: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "IMP-099998"]))).unwrap();
    assert_eq!(device["customer"], "example-customer");
    assert_eq!(device["certificate_pin"], format!("{:064x}", 99_998));

    // The same file again: the same rows, nothing new.
    let (_, again) = import(&server, &file, &[]);
    assert_eq!(again["imported"], ROWS);
    assert_eq!(count_devices(&server), before + ROWS);
}

#[test]
fn all_or_nothing_keeps_nothing_and_a_customer_token_imports_only_its_own() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    success(server.admin(["customer", "add", "acme"]));
    let file = dir.path().join("small.csv");
    fs::write(
        &file,
        "serial,model,customer\nNEW-1,uCPE-100,example-customer\nNEW-2,uCPE-100,ghost\n",
    )
    .unwrap();
    let (output, report) = import(&server, &file, &["--all-or-nothing"]);
    assert!(!output.status.success());
    assert_eq!(report["committed"], false);
    assert_eq!(report["errors"][0]["line"], 3);
    assert!(
        !server.admin(["device", "show", "NEW-1"]).status.success(),
        "nothing kept"
    );

    let created: Value = serde_json::from_str(&success(server.admin([
        "token",
        "create",
        "acme-ops",
        "--role",
        "customer-admin",
        "--customer",
        "acme",
    ])))
    .unwrap();
    let token = created["token"].as_str().unwrap();
    fs::write(
        &file,
        "serial,model,customer\nACME-1,uCPE-100,acme\nACME-2,uCPE-100,example-customer\n",
    )
    .unwrap();
    let output = server.admin_as(
        token,
        [
            "device".as_ref(),
            "import".as_ref(),
            "--quiet".as_ref(),
            file.as_os_str(),
        ],
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["imported"], 1, "{report:#}");
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{report:#}"
    );
    assert!(server.admin(["device", "show", "ACME-1"]).status.success());
    assert!(!server.admin(["device", "show", "ACME-2"]).status.success());
}

#[test]
fn rows_can_put_devices_into_serial_drawn_license_pools() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    for (name, scope) in [("trial", "--serial"), ("core", "--model")] {
        let value = if scope == "--serial" {
            "SN-0001"
        } else {
            "uCPE-100"
        };
        success(server.admin([
            "license",
            "pool-add",
            "example-customer",
            name,
            "--feature",
            "F-1",
            scope,
            value,
        ]));
    }
    let file = dir.path().join("pools.csv");
    fs::write(
        &file,
        "serial,model,customer,license_pools\n\
         POOL-1,uCPE-100,example-customer,trial\n\
         POOL-2,uCPE-100,example-customer,trial; \n\
         POOL-3,uCPE-100,example-customer,ghost\n\
         POOL-4,uCPE-100,example-customer,core\n",
    )
    .unwrap();
    let (_, report) = import(&server, &file, &[]);
    assert_eq!(report["imported"], 2, "{report:#}");
    let reasons: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("does not exist"), "{reasons:?}");
    assert!(reasons[1].contains("drawn by model"), "{reasons:?}");
    // Importing again lists nobody twice.
    import(&server, &file, &[]);
    let pool: Value = serde_json::from_str(&success(server.admin([
        "license",
        "pool",
        "example-customer",
        "trial",
    ])))
    .unwrap();
    assert_eq!(
        pool["serials"],
        serde_json::json!(["SN-0001", "POOL-1", "POOL-2"]),
        "{pool:#}"
    );
}
