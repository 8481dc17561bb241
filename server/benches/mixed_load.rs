//! The mixed-load benchmark: good devices bootstrapping at a steady rate from 127.0.0.1 while
//! abusive clients from other loopback addresses hold every connection they can (idle TLS with
//! and without a certificate, bare TCP, slowloris, garbage; see `ztp_tests::abuse`), against a
//! real `ztp serve` under `ulimit -n`; and, as the baseline in the same run, the same good
//! devices against the same server with no abuse. Prints the good devices' success rate and
//! p50/p99 latency with and without abuse and their ratios.
//!
//! ```text
//! cargo bench -p ztp --bench mixed_load                              # the figures in docs/
//! cargo bench -p ztp --bench mixed_load -- --sources 4 --per-source 100 --open-files 256
//! ```
//!
//! Good devices run an open loop (`--rate` bootstraps per second for `--seconds`; latency from
//! each one's scheduled start, so a queue cannot hide), each bootstrap a new TCP and TLS
//! connection with the device's IDevID, get-bootstrapping-data and report-progress (the
//! bootstrap bench's load generator). The run fails after its report if a good bootstrap
//! failed. Abusers' connections still open after the drain are reported, not failed on: once
//! the kernel's accept queue overflows, a client can hold a connection the server's kernel
//! has dropped without a word (a bare TCP client never learns it), which no server can close;
//! the exhaustion test, whose abuse stays within the queue, asserts that none is left.
//! The JSON result goes to `--json` (default `target/bench-mixed-load.json`).

// The bootstrap bench's load generator; this bench uses its open loop only.
#[allow(dead_code)]
#[path = "bootstrap/load.rs"]
mod load;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use serde_json::json;
use ztp_tests::Server;
use ztp_tests::abuse::{self, Abuse, Mix, Plan};

use load::{Device, RunResult, Target};

/// The benchmark's options.
#[derive(Debug, Parser)]
struct Options {
    /// The server's file descriptors (`ulimit -n`).
    #[arg(long, default_value_t = 1024)]
    open_files: u32,
    /// Abuse sources: 127.0.0.2 onwards.
    #[arg(long, default_value_t = 8)]
    sources: usize,
    /// Abusers per source (a quarter each idle TLS with and without a certificate and bare
    /// TCP, an eighth each slowloris and garbage).
    #[arg(long, default_value_t = 160)]
    per_source: usize,
    /// The server's connections per source (`device_api.max_connections_per_source`). The
    /// default keeps every source's share within what 1024 files leave the device listener
    /// (8 × 96 = 768 of 840): abuse beyond its shares is closed at accept.
    #[arg(long, default_value_t = 96)]
    max_connections_per_source: usize,
    /// The server's connections in all (`device_api.max_connections`; default: ztp's).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Good bootstraps per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds per measurement (without abuse, then under it).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The server's deadline for a handshake, a first request and a head, seconds.
    #[arg(long, default_value_t = 2)]
    read_timeout: u64,
    /// The server's deadline between requests, seconds.
    #[arg(long, default_value_t = 3)]
    idle_timeout: u64,
    /// Time between a slowloris client's bytes, milliseconds.
    #[arg(long, default_value_t = 300)]
    drip_ms: u64,
    /// Where to write the JSON result (relative paths: to the workspace).
    #[arg(long, default_value = "target/bench-mixed-load.json")]
    json: PathBuf,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(&options));
}

async fn run(options: &Options) {
    let work = tempfile::tempdir().expect("a temp dir");
    let (read_timeout, idle_timeout, per_source) = (
        options.read_timeout.to_string(),
        options.idle_timeout.to_string(),
        options.max_connections_per_source.to_string(),
    );
    // Logs at warn: the per-request info lines would measure the log file, not ztp.
    let log = std::env::var("ZTP_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    let max_connections = options.max_connections.map(|n| n.to_string());
    let mut env = vec![
        ("RUST_LOG", log.as_str()),
        ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", &read_timeout),
        ("ZTP_DEVICE_API__IDLE_TIMEOUT_SECS", &idle_timeout),
        ("ZTP_DEVICE_API__MAX_CONNECTIONS_PER_SOURCE", &per_source),
    ];
    if let Some(max_connections) = &max_connections {
        env.push(("ZTP_DEVICE_API__MAX_CONNECTIONS", max_connections));
    }
    let server = Server::start_with_open_files(&work.path().join("ztp"), &env, options.open_files);
    let pid = server.pid().expect("ztp runs");
    let pki = server.pki();
    let target = target_of(&server.device_url);
    // The sample devices SN-0001 and SN-0003 are the good ones; SN-0002 lends its certificate
    // to the abusers that present one.
    let devices = Arc::new(
        ["SN-0001", "SN-0003"]
            .iter()
            .map(|serial| {
                let mut config = ClientConfig::clone(&abuse::device_config(&pki, serial));
                // A device at first power-on has no session to resume: every handshake is full.
                config.resumption = rustls::client::Resumption::disabled();
                Device {
                    serial: (*serial).to_owned(),
                    tls: Arc::new(config),
                }
            })
            .collect::<Vec<_>>(),
    );
    let duration = Duration::from_secs(options.seconds);
    let cap = (options.rate * options.seconds as f64).ceil().max(1.0) as usize;

    // Warm-up, then the baseline: good devices alone.
    load::open_loop(&target, &devices, options.rate, Duration::from_secs(1), cap).await;
    let at_rest = open_files(pid);
    let alone = load::open_loop(&target, &devices, options.rate, duration, cap).await;
    println!("good devices alone:       {}", line(&alone));

    // The abuse.
    let plan = Plan {
        target: target.addresses[0],
        server_name: target.server_name.clone(),
        sources: abuse::loopback_sources(2, options.sources),
        mix: Mix::of(options.per_source),
        anonymous: abuse::anonymous_config(&pki),
        device: abuse::device_config(&pki, "SN-0002"),
        drip: Duration::from_millis(options.drip_ms),
        pause: Duration::from_millis(100),
    };
    let abusers = plan.sources.len() * plan.mix.total();
    let abuse = Abuse::start(plan);
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (sampling, peak) = (Arc::clone(&sampling), Arc::clone(&peak));
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(open_files(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Until the abuse holds most of what the server lets it (its sources' shares, or every
    // abuser), or the server's descriptors run out.
    let limit = options.open_files as usize;
    let holdable = abusers.min(options.sources * options.max_connections_per_source) * 3 / 4;
    for _ in 0..200 {
        if open_files(pid) + 2 >= limit || abuse.open() >= holdable {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let saturated_at = open_files(pid);

    let abused = load::open_loop(&target, &devices, options.rate, duration, cap).await;
    println!("good devices under abuse: {}", line(&abused));
    let open_at_end = abuse.open();
    let drain = Duration::from_secs(4 * (options.read_timeout + options.idle_timeout) + 30);
    let report = abuse.stop(drain).await;
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let peak = peak.load(Ordering::Relaxed);
    let mut after = open_files(pid);
    for _ in 0..100 {
        if after <= at_rest + 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = open_files(pid);
    }

    let success =
        |run: &RunResult| run.bootstraps as f64 / (run.bootstraps + run.failures).max(1) as f64;
    let total = report.total();
    println!(
        "\nmixed-load benchmark: {abusers} abusers from {} sources against ztp under ulimit -n {} \
         (connections: {} in all, {} per source); good devices at {}/s for {} s each",
        options.sources,
        options.open_files,
        options
            .max_connections
            .map_or("ztp's default".to_owned(), |n| n.to_string()),
        options.max_connections_per_source,
        options.rate,
        options.seconds
    );
    println!("| good devices | success | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, run) in [("alone", &alone), ("under abuse", &abused)] {
        println!(
            "| {name} | {:.1} % ({}/{}) | {:.1} | {:.1} | {:.1} |",
            100.0 * success(run),
            run.bootstraps,
            run.bootstraps + run.failures,
            run.p50_ms,
            run.p99_ms,
            run.max_ms
        );
    }
    let p50_ratio = abused.p50_ms / alone.p50_ms.max(f64::MIN_POSITIVE);
    let p99_ratio = abused.p99_ms / alone.p99_ms.max(f64::MIN_POSITIVE);
    println!(
        "\nunder abuse / alone: success {:.2}, p50 {p50_ratio:.2}, p99 {p99_ratio:.2}",
        success(&abused) / success(&alone).max(f64::MIN_POSITIVE)
    );
    println!(
        "server descriptors: {at_rest} at rest, {saturated_at} when the good devices started, \
         peak {peak}, {after} after the drain; abusers' connections: {} made, {open_at_end} open \
         when the good devices stopped, {} still open after the drain",
        total.connections, total.still_open
    );
    print!("{}", report.table());

    write_json(
        &options.json,
        &json!({
            "open_files": options.open_files,
            "sources": options.sources,
            "abusers": abusers,
            "max_connections": options.max_connections,
            "max_connections_per_source": options.max_connections_per_source,
            "rate": options.rate,
            "seconds": options.seconds,
            "read_timeout_secs": options.read_timeout,
            "idle_timeout_secs": options.idle_timeout,
            "alone": alone,
            "under_abuse": abused,
            "success_alone": success(&alone),
            "success_under_abuse": success(&abused),
            "p50_ratio": p50_ratio,
            "p99_ratio": p99_ratio,
            "descriptors": {"at_rest": at_rest, "saturated": saturated_at, "peak": peak, "after": after},
            "abuse": report.kinds.iter().map(|(kind, t)| json!({
                "kind": kind.name(), "connections": t.connections, "established": t.established,
                "closed_by_server": t.closed_by_server, "connect_failures": t.connect_failures,
                "still_open": t.still_open, "longest_secs": t.longest.as_secs_f64(),
            })).collect::<Vec<_>>(),
        }),
    );

    assert_eq!(
        alone.failures + abused.failures,
        0,
        "every good bootstrap succeeds (first error: {:?})",
        abused.first_error.as_ref().or(alone.first_error.as_ref())
    );
}

/// The file descriptors `pid` has open (Linux procfs).
fn open_files(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .unwrap_or(0)
}

fn target_of(url: &str) -> Target {
    let authority = url
        .strip_prefix("https://")
        .expect("an https:// URL")
        .trim_end_matches('/')
        .to_owned();
    Target {
        addresses: vec![authority.parse().expect("an IP address and port")],
        started: Arc::default(),
        server_name: ServerName::try_from("127.0.0.1").expect("a server name"),
        authority,
        model: "uCPE-100".to_owned(),
    }
}

fn line(run: &RunResult) -> String {
    format!(
        "{} of {} succeeded  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms{}",
        run.bootstraps,
        run.bootstraps + run.failures,
        run.p50_ms,
        run.p99_ms,
        run.max_ms,
        run.first_error
            .as_deref()
            .map(|e| format!("  (first error: {e})"))
            .unwrap_or_default()
    )
}

fn write_json(path: &Path, value: &serde_json::Value) {
    // `cargo bench` runs this in the package's directory; relative paths mean the workspace's.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = &workspace.join(path);
    if let Some(parent) = path.parent() {
        let _ = fs::create_dir_all(parent);
    }
    fs::write(path, serde_json::to_string_pretty(value).expect("JSON")).expect("the JSON result");
    println!("result: {}", path.display());
}
