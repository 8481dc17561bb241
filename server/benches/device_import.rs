//! Bulk device import: rows per second and the server's peak memory, importing a CSV of N rows
//! (10 of them bad) through `ztp device import` into a `ztp serve` on its embedded defaults.
//!
//! ```text
//! cargo bench -p ztp --bench device_import                      # 100,000 rows
//! ZTP_BENCH_ROWS=1000000 cargo bench -p ztp --bench device_import
//! ```
//!
//! Peak memory is the server's VmHWM (Linux), which includes everything it did before the
//! import; the RSS before the import is printed beside it. The server's import size limit is
//! raised to the file's size when the file is larger.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Instant;

use ztp_tests::{Server, ztp_bin};

fn main() {
    let rows: usize = std::env::var("ZTP_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("devices.csv");
    let mut text = String::from("serial,model,customer,certificate_pin\n");
    for i in 0..rows {
        if i % (rows / 10).max(1) == 7 {
            text.push_str("../bad,uCPE-100,example-customer,\n");
        }
        writeln!(text, "BENCH-{i:07},uCPE-100,example-customer,{i:064x}").unwrap();
    }
    fs::write(&file, &text).expect("CSV");
    // A million rows are larger than an import may be by default.
    let max_bytes = text.len().max(64 << 20).to_string();
    let server = Server::process_with(
        dir.path(),
        &[("ZTP_ADMIN_API__MAX_IMPORT_BYTES", max_bytes.as_str())],
    );
    let pid = server.pid().expect("server pid");
    let before = status_kib(pid, "VmRSS");

    let started = Instant::now();
    let output = Command::new(ztp_bin())
        .args(["device", "import", "--quiet"])
        .arg(&file)
        .env("ZTP_ADMIN_URL", &server.admin_url)
        .env("ZTP_DATA_DIR", dir.path())
        .output()
        .expect("ztp device import runs");
    let elapsed = started.elapsed();
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("an import report");
    assert_eq!(report["imported"], rows, "{report}");
    let peak = status_kib(pid, "VmHWM");

    println!(
        "device import: {rows} rows ({:.1} MiB of CSV, {} bad) into SQLite",
        text.len() as f64 / 1048576.0,
        report["bad_rows"]
    );
    println!(
        "  {:.2} s, {:.0} rows/s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  server RSS before {:.1} MiB, peak {:.1} MiB",
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// A `/proc/<pid>/status` field in KiB (0 where there is no procfs).
fn status_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
