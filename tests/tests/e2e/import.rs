//! Bulk device import from CSV: 100,000 rows with 10 bad ones go in with the 10 reported by
//! line; importing again changes nothing; all-or-nothing keeps nothing when a row is bad and
//! returns its whole report; a serial repeated in a file is refused on its line (CRLF files
//! counted alike). An import holds nothing while its client is slow: devices bootstrap and
//! other administration goes on; its size, its rows and its time are limited, and an import
//! stopped by a limit says how far it got. Each customer's audit log shows what an import did
//! to it.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

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
fn all_or_nothing_keeps_nothing_and_reports_every_bad_row() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let file = dir.path().join("small.csv");
    let mut text = String::from("serial,model,customer\nNEW-0,uCPE-100,example-customer\n");
    for i in 1..=50 {
        writeln!(text, "NEW-{i},uCPE-100,ghost").unwrap();
    }
    fs::write(&file, &text).unwrap();
    let (output, report) = import(&server, &file, &["--all-or-nothing"]);
    assert!(!output.status.success());
    assert_eq!(report["committed"], false);
    assert_eq!(report["imported"], 0);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(
        errors.len(),
        50,
        "the whole report: {}",
        transcript(&output)
    );
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[49]["line"], 52);
    assert!(
        !server.admin(["device", "show", "NEW-0"]).status.success(),
        "nothing kept"
    );

    // Without bad rows, everything is written, in several batches.
    let mut text = String::from("serial,model,customer\n");
    for i in 0..1200 {
        writeln!(text, "ALL-{i:04},uCPE-100,example-customer").unwrap();
    }
    fs::write(&file, &text).unwrap();
    let (output, report) = import(&server, &file, &["--all-or-nothing"]);
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(
        (&report["rows"], &report["imported"], &report["committed"]),
        (&Value::from(1200), &Value::from(1200), &Value::from(true))
    );
    for serial in ["ALL-0000", "ALL-0599", "ALL-1199"] {
        success(server.admin(["device", "show", serial]));
    }
}

#[test]
fn a_serial_repeated_in_a_file_is_refused_on_its_line_in_crlf_files_too() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let file = dir.path().join("dup.csv");
    fs::write(
        &file,
        "serial,model,customer\r\n\
         DUP-1,uCPE-100,example-customer\r\n\
         DUP-2,uCPE-100,example-customer\r\n\
         \r\n\
         DUP-1,uCPE-200,example-customer\r\n\
         DUP-3,uCPE-100,ghost\r\n",
    )
    .unwrap();
    let (_, report) = import(&server, &file, &[]);
    assert_eq!(report["rows"], 4, "{report:#}");
    assert_eq!(report["imported"], 2, "devices, not rows: {report:#}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors[0]["line"], 5, "{report:#}");
    assert_eq!(
        errors[0]["reason"],
        "serial DUP-1 already appears on line 2"
    );
    assert_eq!(errors[1]["line"], 6, "{report:#}");
    let device: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "DUP-1"]))).unwrap();
    assert_eq!(device["model"], "uCPE-100", "the first occurrence wins");
}

/// An import request on a connection of its own, its body sent piece by piece (HTTP/1.1
/// chunked transfer coding) when the test says so.
struct RawImport {
    stream: TcpStream,
}

impl RawImport {
    fn start(server: &Server, mode: &str) -> Self {
        Self::with_headers(server, mode, "Transfer-Encoding: chunked\r\n")
    }

    fn with_headers(server: &Server, mode: &str, headers: &str) -> Self {
        let address = server.admin_url.strip_prefix("http://").unwrap();
        let token = fs::read_to_string(server.data_dir.join("admin-token")).unwrap();
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "POST /api/v1/devices/import?mode={mode} HTTP/1.1\r\nHost: {address}\r\n\
             Authorization: Bearer {}\r\nContent-Type: text/csv\r\n{headers}\r\n",
            token.trim()
        )
        .unwrap();
        Self { stream }
    }

    /// Sends one piece of the body.
    fn send(&mut self, data: &str) {
        write!(self.stream, "{:x}\r\n{data}\r\n", data.len()).unwrap();
        self.stream.flush().unwrap();
    }

    /// Ends the body and reads the answer.
    fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(b"0\r\n\r\n").unwrap();
        self.answer()
    }

    /// Reads the answer (the server may answer before the body ends): its status and body.
    fn answer(mut self) -> (u16, Value) {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut buffer).expect("an answer");
            assert!(n > 0, "no answer: {}", String::from_utf8_lossy(&received));
            received.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&received);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() < length {
                continue;
            }
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            return (status, serde_json::from_str(body).unwrap());
        }
    }
}

fn error_message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[test]
fn a_trickled_import_holds_nothing() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let mut import = RawImport::start(&server, "partial");
    import.send("serial,model,customer\nSLOW-0,uCPE-100,example-customer\n");
    for i in 1..=3 {
        // The import is open, with rows read: devices and administration carry on.
        let bootstrap = server.bootstrap("SN-0001", &[]);
        assert!(bootstrap.status.success(), "{}", transcript(&bootstrap));
        success(server.admin(["customer", "add", &format!("other-{i}")]));
        import.send(&format!("SLOW-{i},uCPE-100,example-customer\n"));
    }
    let (status, report) = import.finish();
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(
        (&report["rows"], &report["imported"], &report["bad_rows"]),
        (&Value::from(4), &Value::from(4), &Value::from(0)),
        "{report:#}"
    );
    for i in 0..=3 {
        success(server.admin(["device", "show", &format!("SLOW-{i}")]));
    }
}

#[test]
fn an_import_that_takes_too_long_stops_and_says_how_far_it_got() {
    let dir = temp_dir();
    let server = Server::start_with(dir.path(), &[("ZTP_ADMIN_API__IMPORT_DEADLINE_SECS", "2")]);
    for (mode, kept) in [("partial", true), ("all-or-nothing", false)] {
        let mut import = RawImport::start(&server, mode);
        import.send(&format!(
            "serial,model,customer\nLATE-{mode}-1,uCPE-100,example-customer\n\
             LATE-{mode}-2,uCPE-100,example-customer\n"
        ));
        // The body never ends: the server gives up at the deadline.
        let (status, answer) = import.answer();
        assert_eq!(status, 408, "{answer:#}");
        let message = error_message(&answer);
        assert!(message.contains("did not arrive within 2 s"), "{message}");
        let expected = if kept {
            "2 device(s) were imported from the 2 row(s) before it"
        } else {
            "nothing was kept"
        };
        assert!(message.contains(expected), "{message}");
        let shown = server.admin(["device", "show", &format!("LATE-{mode}-2")]);
        assert_eq!(shown.status.success(), kept, "{}", transcript(&shown));
    }
}

#[test]
fn an_import_larger_than_the_limit_stops_and_says_how_far_it_got() {
    let dir = temp_dir();
    let server = Server::start_with(dir.path(), &[("ZTP_ADMIN_API__MAX_IMPORT_BYTES", "1000")]);
    let mut import = RawImport::start(&server, "partial");
    let mut rows = String::from("serial,model,customer\n");
    for i in 0..10 {
        writeln!(rows, "BIG-{i},uCPE-100,example-customer").unwrap();
    }
    assert!(rows.len() < 500);
    import.send(&rows);
    // A row that would end beyond the limit.
    import.send(&"Z".repeat(900));
    let (status, answer) = import.answer();
    assert_eq!(status, 413, "{answer:#}");
    let message = error_message(&answer);
    assert!(message.contains("larger than 1000 bytes"), "{message}");
    assert!(
        message.contains("10 device(s) were imported from the 10 row(s) before it"),
        "{message}"
    );
    success(server.admin(["device", "show", "BIG-9"]));

    // A body announced too large is refused before it is read.
    let import = RawImport::with_headers(&server, "partial", "Content-Length: 2000\r\n");
    let (status, answer) = import.answer();
    assert_eq!(status, 413, "{answer:#}");
    assert!(
        error_message(&answer).contains("nothing was read"),
        "{answer:#}"
    );

    // The command line says why, whatever it had sent.
    let file = dir.path().join("big.csv");
    let mut text = String::from("serial,model,customer\n");
    for i in 0..2000 {
        writeln!(text, "CLI-{i:04},uCPE-100,example-customer").unwrap();
    }
    fs::write(&file, text).unwrap();
    let output = server.admin([
        "device".as_ref(),
        "import".as_ref(),
        file.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("413") && stderr.contains("larger than 1000 bytes"),
        "{}",
        transcript(&output)
    );
}

#[test]
fn a_row_longer_than_the_limit_stops_the_import_at_its_line() {
    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[("ZTP_ADMIN_API__MAX_IMPORT_ROW_BYTES", "1024")],
    );
    let file = dir.path().join("long.csv");
    for (mode, kept) in [("partial", true), ("all-or-nothing", false)] {
        let mut text = String::from("serial,model,customer\n");
        for i in 1..=3 {
            writeln!(text, "LONG-{mode}-{i},uCPE-100,example-customer").unwrap();
        }
        writeln!(
            text,
            "LONG-{mode}-4,{},example-customer",
            "x".repeat(1 << 20)
        )
        .unwrap();
        writeln!(text, "LONG-{mode}-5,uCPE-100,example-customer").unwrap();
        fs::write(&file, text).unwrap();
        let mut args = vec![
            "device".as_ref(),
            "import".as_ref(),
            file.as_os_str(),
            "--quiet".as_ref(),
        ];
        if !kept {
            args.push("--all-or-nothing".as_ref());
        }
        let output = server.admin(args);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("line 5 is longer than 1024 bytes"),
            "{}",
            transcript(&output)
        );
        let expected = if kept {
            "3 device(s) were imported"
        } else {
            "nothing was kept"
        };
        assert!(stderr.contains(expected), "{}", transcript(&output));
        let shown = server.admin(["device", "show", &format!("LONG-{mode}-3")]);
        assert_eq!(shown.status.success(), kept);
        assert!(
            !server
                .admin(["device", "show", &format!("LONG-{mode}-5")])
                .status
                .success()
        );
    }
}

#[test]
fn the_audit_log_of_each_customer_shows_what_an_import_did_to_it() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    success(server.admin(["customer", "add", "acme"]));
    let file = dir.path().join("mixed.csv");
    fs::write(
        &file,
        "serial,model,customer\n\
         AUD-1,uCPE-100,acme\n\
         AUD-2,uCPE-100,example-customer\n\
         AUD-3,uCPE-100,acme\n\
         AUD-4,uCPE-100,\n",
    )
    .unwrap();
    let (output, report) = import(&server, &file, &[]);
    assert!(output.status.success(), "{}", transcript(&output));
    assert_eq!(report["imported"], 4);
    let entries = |customer: &str| -> Vec<Value> {
        let all: Value =
            serde_json::from_str(&success(server.admin(["audit", "--customer", customer])))
                .unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["object_kind"] == "device-import")
            .cloned()
            .collect()
    };
    let acme = entries("acme");
    assert_eq!(acme.len(), 1, "{acme:#?}");
    assert_eq!(acme[0]["summary"], "imported 2 device(s) for acme");
    assert_eq!(acme[0]["object"], "/devices/import");
    let example = entries("example-customer");
    assert_eq!(example.len(), 1, "{example:#?}");
    assert_eq!(
        example[0]["summary"],
        "imported 1 device(s) for example-customer"
    );
    let all: Value = serde_json::from_str(&success(server.admin(["audit"]))).unwrap();
    let imports: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_kind"] == "device-import")
        .collect();
    assert_eq!(imports.len(), 3, "one entry per customer: {imports:#?}");
    assert!(
        imports.iter().any(|e| e["customer"].is_null()
            && e["summary"] == "imported 1 device(s) without a customer")
    );
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
