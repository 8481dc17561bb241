//! The bootstrap benchmark: simulated devices at first power-on against ztp and, in the same
//! run with the same load generator, key types and TLS settings, against a bare hyper + rustls
//! mTLS server (the baseline, the ceiling set by the handshake's cryptography).
//!
//! ```text
//! cargo bench -p ztp --bench bootstrap                                   # docs/benchmarks.md's figures
//! cargo bench -p ztp --bench bootstrap -- --inventories 1000,1000000    # with the 1M row
//! cargo bench -p ztp --bench bootstrap -- --target https://host:port \
//!     --pki DIR --serials SN-0001,SN-0002 --model uCPE-100               # another server
//! ```
//!
//! Each device bootstraps once first (a warm-up pass); then, for ztp and the baseline, it
//! sweeps concurrency (closed loop, each device a new TCP and TLS connection with its IDevID,
//! get-bootstrapping-data, report-progress), takes the concurrency that maximises the
//! baseline, measures both there in `--rounds` alternating pairs, and prints for the pair with
//! the median ratio bootstraps/s for both, their ratio, p50/p99/max latency, server CPU
//! seconds per bootstrap and peak RSS; then the latency at half the baseline's peak (open
//! loop), a device with a long history beside a fresh one, the same at each inventory size,
//! and a surge of first bootstraps (devices a fresh server has never seen, each once). Every
//! bootstrap ztp answered is checked against its event log, counted through the admin API.
//! `--database-url` puts each ztp the run starts on another store (SQLite in its data
//! directory by default): the bench reaches the store only through ztp.
//! The JSON result goes to `--json` (default `target/bench-bootstrap.json`).
//!
//! The load generator shares the machine with the server under test (as the baseline does), so
//! figures are compared as ratios within one run.

mod baseline;
mod load;

use std::fmt::Write as _;
use std::fs;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use ztp::admin::client::AdminClient;
use ztp::agent::tls::{ClientIdentity, ServerTrust, client_config};
use ztp_certs::dev_pki::{self, layout};
use ztp_certs::{Cert, IdevidSpec, KeyAlgorithm, ProductId, SerialPlacement};
use ztp_tests::{Server, ztp_bin};

use load::{Device, RunResult, Span, Target};

/// The benchmark's options.
#[derive(Debug, Parser)]
struct Options {
    /// Device identities in the load (each bootstraps in turn).
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Inventory sizes to measure ztp at (devices imported through `ztp device import`).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    inventories: Vec<usize>,
    /// Concurrency levels of the sweep.
    #[arg(long, value_delimiter = ',', default_value = "4,16,64")]
    concurrency: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Alternating pairs of runs (baseline, then ztp) of the headline; the headline is the
    /// pair with the median ratio, since single runs on a shared machine are several
    /// hundredths apart.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also measure ztp with SQLite's `synchronous = normal` (commits synced at checkpoints)
    /// at the best concurrency.
    #[arg(long)]
    also_normal: bool,
    /// The store of each ztp the run starts (`database.url`), `{name}` standing for the
    /// server's name in the run (`ztp-0`, `ztp-1`…, `ztp-surge`, `ztp-normal`), so that each
    /// starts empty: e.g. `sqlite:///var/tmp/{name}.sqlite?mode=rwc`. Default: the SQLite file
    /// in each server's data directory. Only ztp's own interfaces touch the store (its
    /// configuration, the import command and the admin API), so any store ztp supports can be
    /// measured.
    #[arg(long)]
    database_url: Option<String>,
    /// ztp processes serving each measured store, sharing its database (`--database-url`
    /// naming one they can share: PostgreSQL), the load taking them in turn as a load
    /// balancer would; their CPU times add up, their peak memory is the largest.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Devices of the first-bootstrap surge: never seen before, each bootstrapping once, beside
    /// the baseline (0: skip it).
    #[arg(long, default_value_t = 5000)]
    surge: usize,
    /// Earlier bootstraps of the long-history device.
    #[arg(long, default_value_t = 500)]
    history: usize,
    /// Where to write the JSON result (relative paths: to the workspace).
    #[arg(long, default_value = "target/bench-bootstrap.json")]
    json: PathBuf,
    /// Load another RFC 8572 server at this URL instead (no baseline, no event check).
    #[arg(long)]
    target: Option<String>,
    /// With --target: a PKI directory in ztp's development layout holding the device
    /// identities (`devices/<serial>/idevid.pem|.key`) and the root the server's certificate
    /// chains to (`manufacturer/root-ca.pem`).
    #[arg(long)]
    pki: Option<PathBuf>,
    /// With --target: the serials to use.
    #[arg(long, value_delimiter = ',')]
    serials: Vec<String>,
    /// The hw-model devices send.
    #[arg(long, default_value = "uCPE-100")]
    model: String,
    /// Internal: run the baseline server on this PKI directory.
    #[arg(long, hide = true)]
    baseline: Option<PathBuf>,
    /// Internal: where the baseline writes its port.
    #[arg(long, hide = true)]
    port_file: Option<PathBuf>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let options = Options::parse();
    if let (Some(pki), Some(port_file)) = (&options.baseline, &options.port_file) {
        baseline::run(pki, port_file);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match &options.target {
        Some(url) => runtime.block_on(external(&options, url)),
        None => runtime.block_on(compare(&options)),
    }
}

/// Another server: the sweep only.
async fn external(options: &Options, url: &str) {
    let pki = options.pki.as_deref().expect("--pki with --target");
    let serials: Vec<String> = options.serials.clone();
    assert!(!serials.is_empty(), "--serials with --target");
    let devices = Arc::new(identities(pki, &serials));
    let target = target_of(&[url], &options.model);
    let mut rows = Vec::new();
    for &c in &options.concurrency {
        let run = load::closed_loop(
            &target,
            &devices,
            c,
            Span::For(Duration::from_secs(options.seconds)),
        )
        .await;
        println!("{url} c={c}: {}", line(&run));
        rows.push(json!({"concurrency": c, "run": run}));
    }
    write_json(&options.json, &json!({"target": url, "sweep": rows}));
}

/// ztp beside the baseline.
async fn compare(options: &Options) {
    let work = tempfile::tempdir().expect("a temp dir");
    let smallest = *options.inventories.iter().min().expect("an inventory size");
    let mut ztp = ZtpUnderTest::start(&work.path().join("ztp-0"), options, smallest);
    let devices = Arc::new(identities(&ztp.pki(), &ztp.serials));
    let baseline = Baseline::start(&ztp.pki(), work.path());
    let duration = Duration::from_secs(options.seconds);
    if std::env::var_os("ZTP_BENCH_HISTORY_ONLY").is_some() {
        println!("{}", long_history(&ztp, &devices, options.history).await);
        return;
    }

    // Each device's first bootstrap (license allocated, voucher signed) before the sweep, so
    // that every point measures devices calling again; first bootstraps have a row of their
    // own (the surge).
    let warm_up = load::closed_loop(&ztp.target, &devices, 16, Span::EachDeviceOnce).await;
    ztp.answered += warm_up.bootstraps;
    println!("warm-up (each device once): ztp {}", line(&warm_up));

    // The sweep: the same concurrency levels for both.
    let mut sweep = Vec::new();
    let (mut best, mut best_c) = (0.0, options.concurrency[0]);
    for &c in &options.concurrency {
        let (base, ours) =
            side_by_side(&baseline, &mut ztp, &devices, c, Span::For(duration)).await;
        println!("c={c:>4}  baseline {}", line(&base.run));
        println!(
            "        ztp      {}   ratio {:.2}",
            line(&ours.run),
            ours.run.per_second / base.run.per_second
        );
        if base.run.per_second > best {
            (best, best_c) = (base.run.per_second, c);
        }
        sweep.push(json!({"concurrency": c, "baseline": base, "ztp": ours}));
    }

    // At the baseline's best concurrency, measured again in alternating pairs for the
    // headline: the pair with the median ratio.
    let mut pairs = Vec::new();
    for round in 1..=options.rounds.max(1) {
        let (base, ours) =
            side_by_side(&baseline, &mut ztp, &devices, best_c, Span::For(duration)).await;
        println!(
            "headline pair {round}: baseline {:.0}/s, ztp {:.0}/s, ratio {:.2}",
            base.run.per_second,
            ours.run.per_second,
            ours.run.per_second / base.run.per_second
        );
        pairs.push((base, ours));
    }
    let pair_ratio =
        |(base, ours): &(Measured, Measured)| ours.run.per_second / base.run.per_second;
    let ratios: Vec<f64> = pairs.iter().map(pair_ratio).collect();
    let failures_of_pairs: usize = pairs
        .iter()
        .map(|(base, ours)| base.run.failures + ours.run.failures)
        .sum();
    pairs.sort_by(|a, b| pair_ratio(a).total_cmp(&pair_ratio(b)));
    let (base, ours) = pairs.swap_remove(pairs.len() / 2);
    let ratio = ours.run.per_second / base.run.per_second;

    // Latency at half the baseline's peak, open loop.
    let half = base.run.per_second / 2.0;
    let cap = best_c * 4;
    let base_half = measured(&[baseline.pid()], || {
        load::open_loop(&baseline.target, &devices, half, duration, cap)
    })
    .await;
    let ours_half = measured(&ztp.pids(), || {
        load::open_loop(&ztp.target, &devices, half, duration, cap)
    })
    .await;
    ztp.answered += ours_half.run.bootstraps;

    // A device with a long history beside fresh ones (sequential, one at a time).
    let history = long_history(&ztp, &devices, options.history).await;
    ztp.answered += history["bootstraps"].as_u64().unwrap_or(0) as usize;

    // The peak memory of serving devices (before the admin API lists the event log), and
    // every answered bootstrap is in that log.
    let peak_rss_mib = ztp.peak_rss_mib();
    let recorded = ztp.recorded().await;

    // The other inventory sizes.
    let mut inventories = vec![json!({
        "devices": smallest, "per_second": ours.run.per_second, "p99_ms": ours.run.p99_ms,
        "peak_rss_mib": peak_rss_mib,
    })];
    let answered_first = ztp.answered;
    drop(ztp);
    for (i, &size) in options
        .inventories
        .iter()
        .filter(|&&s| s != smallest)
        .enumerate()
    {
        let mut big =
            ZtpUnderTest::start(&work.path().join(format!("ztp-{}", i + 1)), options, size);
        let devices = Arc::new(identities(&big.pki(), &big.serials));
        // Warmed up as the first server was by its sweep (the import's write-ahead log is
        // checkpointed, caches filled), then measured.
        let warm_up = load::closed_loop(&big.target, &devices, best_c, Span::For(duration)).await;
        big.answered += warm_up.bootstraps;
        let run = measured(&big.pids(), || {
            load::closed_loop(&big.target, &devices, best_c, Span::For(duration))
        })
        .await;
        big.answered += run.run.bootstraps;
        let peak_rss_mib = big.peak_rss_mib();
        let recorded = big.recorded().await;
        assert_eq!(recorded.served, big.answered, "every bootstrap is recorded");
        println!(
            "inventory {size}: {}  peak RSS {peak_rss_mib:.0} MiB",
            line(&run.run)
        );
        inventories.push(json!({
            "devices": size, "per_second": run.run.per_second, "p99_ms": run.run.p99_ms,
            "peak_rss_mib": peak_rss_mib, "failures": run.run.failures,
        }));
    }

    // A surge of devices at first power-on: each never seen before, bootstrapping once.
    let surge = if options.surge > 0 {
        first_bootstraps(&work.path().join("ztp-surge"), options, best_c).await
    } else {
        Value::Null
    };

    let mut normal = Value::Null;
    if options.also_normal {
        let dir = work.path().join("ztp-normal");
        let mut fast =
            ZtpUnderTest::start_with(&dir, options, smallest, options.devices, Some("normal"));
        let devices = Arc::new(identities(&fast.pki(), &fast.serials));
        let run = measured(&fast.pids(), || {
            load::closed_loop(&fast.target, &devices, best_c, Span::For(duration))
        })
        .await;
        fast.answered += run.run.bootstraps;
        let recorded = fast.recorded().await;
        assert_eq!(
            recorded.served, fast.answered,
            "every bootstrap is recorded"
        );
        println!(
            "ztp, synchronous = normal: {}  CPU {:.2} ms/bootstrap",
            line(&run.run),
            run.cpu_ms_per_bootstrap
        );
        normal = json!(run);
    }

    let mut report = String::new();
    writeln!(report, "\nbootstrap benchmark: {} device identities, {} s per point, concurrency {best_c} (the baseline's best)", devices.len(), options.seconds).unwrap();
    writeln!(
        report,
        "| server | bootstraps/s | p50 ms | p99 ms | max ms | CPU ms/bootstrap | database CPU ms/bootstrap | peak RSS MiB |"
    )
    .unwrap();
    writeln!(report, "|---|---|---|---|---|---|---|---|").unwrap();
    for (name, m) in [("baseline (bare rustls mTLS)", &base), ("ztp", &ours)] {
        writeln!(
            report,
            "| {name} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} |",
            m.run.per_second,
            m.run.p50_ms,
            m.run.p99_ms,
            m.run.max_ms,
            m.cpu_ms_per_bootstrap,
            m.database_cpu_ms_per_bootstrap,
            m.peak_rss_mib
        )
        .unwrap();
    }
    if let Some(run) = normal.get("run") {
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        writeln!(
            report,
            "| ztp, synchronous = normal | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} |",
            f(&run["per_second"]),
            f(&run["p50_ms"]),
            f(&run["p99_ms"]),
            f(&run["max_ms"]),
            f(&normal["cpu_ms_per_bootstrap"]),
            f(&normal["database_cpu_ms_per_bootstrap"]),
            f(&normal["peak_rss_mib"])
        )
        .unwrap();
    }
    let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    writeln!(
        report,
        "\nztp/baseline: {ratio:.2} (the median of {} alternating pairs: {})",
        ratios.len(),
        listed.join(", ")
    )
    .unwrap();
    if let Some(ratio) = surge["ratio"].as_f64() {
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        writeln!(
            report,
            "first bootstraps ({} devices never seen, each once, concurrency {best_c}): baseline \
             {:.0}/s, ztp {:.0}/s (p99 {:.1} ms, CPU {:.2} ms/bootstrap, database CPU {:.2}), \
             ratio {ratio:.2}",
            surge["devices"],
            f(&surge["baseline"]["run"]["per_second"]),
            f(&surge["ztp"]["run"]["per_second"]),
            f(&surge["ztp"]["run"]["p99_ms"]),
            f(&surge["ztp"]["cpu_ms_per_bootstrap"]),
            f(&surge["ztp"]["database_cpu_ms_per_bootstrap"]),
        )
        .unwrap();
    }
    writeln!(report, "at half the baseline's peak ({half:.0}/s, open loop): p99 baseline {:.1} ms, ztp {:.1} ms (p50 {:.1} / {:.1})", base_half.run.p99_ms, ours_half.run.p99_ms, base_half.run.p50_ms, ours_half.run.p50_ms).unwrap();
    writeln!(
        report,
        "long history ({} earlier bootstraps): median {:.2} ms vs {:.2} ms for fresh devices",
        options.history,
        history["long_history_p50_ms"].as_f64().unwrap_or(0.0),
        history["fresh_p50_ms"].as_f64().unwrap_or(0.0)
    )
    .unwrap();
    for row in &inventories {
        writeln!(
            report,
            "inventory {}: {:.0} bootstraps/s, p99 {:.1} ms, peak RSS {:.0} MiB",
            row["devices"],
            row["per_second"].as_f64().unwrap_or(0.0),
            row["p99_ms"].as_f64().unwrap_or(0.0),
            row["peak_rss_mib"].as_f64().unwrap_or(0.0)
        )
        .unwrap();
    }
    writeln!(
        report,
        "failures: {}; recorded {} of {} answered bootstraps, {} progress reports",
        sweep_failures(&sweep)
            + failures_of_pairs
            + base_half.run.failures
            + ours_half.run.failures
            + warm_up.failures
            + [&surge["baseline"], &surge["ztp"]]
                .iter()
                .map(|m| m["run"]["failures"].as_u64().unwrap_or(0) as usize)
                .sum::<usize>(),
        recorded.served,
        answered_first,
        recorded.progress
    )
    .unwrap();
    print!("{report}");
    assert_eq!(
        recorded.served, answered_first,
        "every answered bootstrap is recorded"
    );

    write_json(
        &options.json,
        &json!({
            "devices": devices.len(),
            "seconds_per_point": options.seconds,
            "best_concurrency": best_c,
            "warm_up": warm_up,
            "sweep": sweep,
            "headline": {"baseline": base, "ztp": ours, "ratio": ratio, "pair_ratios": ratios},
            "half_peak": {"rate": half, "baseline": base_half, "ztp": ours_half},
            "history": history,
            "inventories": inventories,
            "first_bootstraps": surge,
            "synchronous_normal": normal,
            "recorded": {"served": recorded.served, "answered": answered_first, "progress": recorded.progress},
        }),
    );
    drop(baseline);
}

/// `options.surge` devices that ztp has never seen bootstrap once each at `concurrency`, and
/// the same handshakes against the baseline (on this PKI); every answer is checked against the
/// event log.
async fn first_bootstraps(dir: &Path, options: &Options, concurrency: usize) -> Value {
    let mut ztp = ZtpUnderTest::start_with(dir, options, options.surge, options.surge, None);
    let devices = Arc::new(identities(&ztp.pki(), &ztp.serials));
    let baseline = Baseline::start(&ztp.pki(), dir);
    let (base, ours) = side_by_side(
        &baseline,
        &mut ztp,
        &devices,
        concurrency,
        Span::EachDeviceOnce,
    )
    .await;
    let recorded = ztp.recorded().await;
    assert_eq!(recorded.served, ztp.answered, "every bootstrap is recorded");
    let ratio = ours.run.per_second / base.run.per_second;
    println!("first bootstraps: baseline {}", line(&base.run));
    println!(
        "                  ztp      {}   ratio {ratio:.2}",
        line(&ours.run)
    );
    json!({
        "devices": options.surge, "concurrency": concurrency,
        "baseline": base, "ztp": ours, "ratio": ratio,
    })
}

/// The baseline, then ztp, under the same closed loop of `devices` at `concurrency` for
/// `span`; ztp's bootstraps count as answered (for the event-log check).
async fn side_by_side(
    baseline: &Baseline,
    ztp: &mut ZtpUnderTest,
    devices: &Arc<Vec<Device>>,
    concurrency: usize,
    span: Span,
) -> (Measured, Measured) {
    let base = measured(&[baseline.pid()], || {
        load::closed_loop(&baseline.target, devices, concurrency, span)
    })
    .await;
    let ours = measured(&ztp.pids(), || {
        load::closed_loop(&ztp.target, devices, concurrency, span)
    })
    .await;
    ztp.answered += ours.run.bootstraps;
    (base, ours)
}

fn sweep_failures(sweep: &[Value]) -> usize {
    sweep
        .iter()
        .map(|row| {
            (row["baseline"]["run"]["failures"].as_u64().unwrap_or(0)
                + row["ztp"]["run"]["failures"].as_u64().unwrap_or(0)) as usize
        })
        .sum()
}

/// A run with the server's CPU time and peak memory, and the CPU time the PostgreSQL server on
/// this machine spent meanwhile (0 on SQLite, and for the baseline).
#[derive(Debug, Clone, serde::Serialize)]
struct Measured {
    run: RunResult,
    cpu_ms_per_bootstrap: f64,
    database_cpu_ms_per_bootstrap: f64,
    peak_rss_mib: f64,
}

/// `run` measured with the CPU time of the processes `pids` (one server's instances), added
/// up, and the largest peak memory among them.
async fn measured<F, Fut>(pids: &[u32], run: F) -> Measured
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = RunResult>,
{
    let cpu = || pids.iter().map(|&pid| cpu_seconds(pid)).sum::<f64>();
    let (before, database_before) = (cpu(), database_cpu_seconds());
    let run = run().await;
    let cpu = cpu() - before;
    let database = database_cpu_seconds() - database_before;
    let per_bootstrap = |seconds: f64| seconds * 1000.0 / run.bootstraps.max(1) as f64;
    Measured {
        cpu_ms_per_bootstrap: per_bootstrap(cpu),
        database_cpu_ms_per_bootstrap: per_bootstrap(database),
        peak_rss_mib: peak_rss_mib(pids),
        run,
    }
}

/// The largest peak memory among the processes `pids`, MiB.
fn peak_rss_mib(pids: &[u32]) -> f64 {
    let peak = pids.iter().map(|&pid| status_kib(pid, "VmHWM")).max();
    peak.unwrap_or(0) as f64 / 1024.0
}

/// `count` sequential bootstraps of a device after `history` earlier ones, beside `count` of
/// devices without history.
async fn long_history(ztp: &ZtpUnderTest, devices: &Arc<Vec<Device>>, history: usize) -> Value {
    let count = 100.min(devices.len() - 1);
    let old = &devices[0];
    let started = Instant::now();
    load::sequential(&ztp.target, old, history).await;
    let building = started.elapsed();
    let mut long = load::sequential(&ztp.target, old, count).await;
    let mut fresh = Vec::with_capacity(count);
    for device in devices.iter().skip(devices.len() - count) {
        fresh.extend(load::sequential(&ztp.target, device, 1).await);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    json!({
        "bootstraps": history + 2 * count,
        "earlier_bootstraps": history,
        "building_seconds": building.as_secs_f64(),
        "long_history_p50_ms": median(&mut long),
        "fresh_p50_ms": median(&mut fresh),
    })
}

/// ztp serving a fresh data directory with `inventory` devices: `--instances` processes on
/// one store, the first of them the one administered.
struct ZtpUnderTest {
    server: Server,
    others: Vec<Server>,
    target: Target,
    serials: Vec<String>,
    answered: usize,
}

struct Recorded {
    served: usize,
    progress: usize,
}

impl ZtpUnderTest {
    fn start(dir: &Path, options: &Options, inventory: usize) -> Self {
        Self::start_with(dir, options, inventory, options.devices, None)
    }

    /// ztp with `inventory` devices, the first `identities` of them with IDevIDs; its store at
    /// SQLite's `synchronous` level when one is given.
    fn start_with(
        dir: &Path,
        options: &Options,
        inventory: usize,
        identities: usize,
        synchronous: Option<&str>,
    ) -> Self {
        // Logs at warn: the per-request info lines would measure the log file, not ztp.
        let log = std::env::var("ZTP_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
        let mut env = vec![("RUST_LOG", log)];
        if let Some(template) = &options.database_url {
            let name = dir
                .file_name()
                .expect("a server directory")
                .to_string_lossy();
            env.push(("ZTP_DATABASE__URL", template.replace("{name}", &name)));
        }
        if let Some(synchronous) = synchronous {
            env.push(("ZTP_DATABASE__SYNCHRONOUS", synchronous.to_owned()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::process_with(dir, &env);
        // The event log is to count this run's bootstraps only.
        let served = admin(
            &server,
            &[
                "events",
                "--kind",
                "bootstrap-served",
                "--limit",
                "1",
                "--output",
                "json",
            ],
        );
        assert_eq!(
            serde_json::from_str::<Vec<Value>>(&served).ok(),
            Some(vec![]),
            "the store of {} must start empty (a --database-url template names one per server)",
            dir.display()
        );
        let pki = server.pki();
        let identities = identities.min(inventory);
        let serials: Vec<String> = (0..identities).map(|i| format!("BENCH-{i:07}")).collect();
        let started = Instant::now();
        for serial in &serials {
            let spec = IdevidSpec {
                serial: ztp_certs::Serial::parse(serial).expect("serial"),
                model: ProductId::parse(&options.model).expect("model"),
                placement: SerialPlacement::default(),
                hardware_module_name: true,
                key_algorithm: KeyAlgorithm::EcdsaP256,
            };
            dev_pki::issue_device(&pki, &spec).expect("an IDevID");
        }
        let issued = started.elapsed();
        // The inventory through the real import path; devices past the identities are filler.
        let csv = dir.join("inventory.csv");
        let mut text = String::from("serial,model,customer\n");
        for i in 0..inventory {
            writeln!(text, "BENCH-{i:07},{},example-customer", options.model).unwrap();
        }
        fs::write(&csv, text).expect("the inventory CSV");
        let started = Instant::now();
        admin(
            &server,
            &["device", "import", "--quiet", csv.to_str().expect("path")],
        );
        let imported = started.elapsed();
        // Licenses: an uncounted pool for the model, so that every answer carries a signed bundle.
        admin(
            &server,
            &[
                "license",
                "pool-add",
                "example-customer",
                "bench",
                "--feature",
                "ESS-ED-100G-SIA3",
                "--model",
                &options.model,
            ],
        );
        eprintln!(
            "ztp: {identities} IDevIDs issued in {:.1} s, {inventory} devices imported in {:.1} s",
            issued.as_secs_f64(),
            imported.as_secs_f64()
        );
        // The other instances find the data directory the first seeded (PKI, master key, admin
        // token) and its store.
        let others: Vec<Server> = (1..options.instances)
            .map(|_| Server::process_with(dir, &env))
            .collect();
        let urls: Vec<&str> = std::iter::once(&server)
            .chain(&others)
            .map(|s| s.device_url.as_str())
            .collect();
        let target = target_of(&urls, &options.model);
        Self {
            server,
            others,
            target,
            serials,
            answered: 0,
        }
    }

    fn pki(&self) -> PathBuf {
        self.server.pki()
    }

    fn pids(&self) -> Vec<u32> {
        std::iter::once(&self.server)
            .chain(&self.others)
            .map(|server| server.pid().expect("ztp runs"))
            .collect()
    }

    fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(&self.pids())
    }

    /// Bootstraps and progress reports in the event log, counted through the admin API (so
    /// whatever the store), a page of the newest events at a time.
    async fn recorded(&self) -> Recorded {
        let token =
            fs::read_to_string(self.server.data_dir.join("admin-token")).expect("the admin token");
        let admin = AdminClient::new(&self.server.admin_url, token.trim()).expect("an admin URL");
        let count = async |kind: &str| {
            let (mut count, mut before) = (0, None);
            loop {
                let page = match before {
                    Some(id) => format!("/api/v1/events?kind={kind}&limit={PAGE}&before={id}"),
                    None => format!("/api/v1/events?kind={kind}&limit={PAGE}"),
                };
                let events: Vec<Listed> = admin.get(&page).await.expect("a page of events");
                count += events.len();
                match events.last() {
                    Some(oldest) if events.len() == PAGE => before = Some(oldest.id),
                    _ => return count,
                }
            }
        };
        Recorded {
            served: count("bootstrap-served").await,
            progress: count("progress-reported").await,
        }
    }
}

/// Events per page of the admin API (its largest).
const PAGE: usize = 1000;

/// An event as the admin API lists it: only its id is needed, to page.
#[derive(serde::Deserialize)]
struct Listed {
    id: i64,
}

/// `ztp <args>` against `server`: what it printed.
fn admin(server: &Server, args: &[&str]) -> String {
    let output = Command::new(ztp_bin())
        .args(args)
        .env("ZTP_ADMIN_URL", &server.admin_url)
        .env("ZTP_DATA_DIR", &server.data_dir)
        .output()
        .expect("ztp runs");
    assert!(
        output.status.success(),
        "ztp {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The baseline server process.
struct Baseline {
    child: Child,
    target: Target,
}

impl Baseline {
    fn start(pki: &Path, work: &Path) -> Self {
        let port_file = work.join("baseline.port");
        let child = Command::new(std::env::current_exe().expect("this binary"))
            .arg("--baseline")
            .arg(pki)
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .spawn()
            .expect("the baseline starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                break port;
            }
            assert!(Instant::now() < deadline, "the baseline did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            target: target_of(&[&format!("https://127.0.0.1:{port}")], "uCPE-100"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Device identities from a PKI in the development layout: each device's TLS configuration
/// (its IDevID with the IDevID CA, as ztp's agent sends it; the manufacturer root as the
/// server's trust anchor).
fn identities(pki: &Path, serials: &[String]) -> Vec<Device> {
    let root = Cert::chain_from_pem(&dev_pki::read(&pki.join(layout::ROOT_CA)).expect("root"))
        .expect("root PEM");
    let intermediate = dev_pki::read(&pki.join(layout::IDEVID_CA))
        .ok()
        .and_then(|pem| Cert::chain_from_pem(&pem).ok())
        .unwrap_or_default();
    serials
        .iter()
        .map(|serial| {
            let dir = pki.join(layout::device(serial));
            let mut chain =
                Cert::chain_from_pem(&dev_pki::read(&dir.join("idevid.pem")).expect("IDevID"))
                    .expect("IDevID PEM");
            if chain.len() == 1 {
                chain.extend(intermediate.iter().cloned());
            }
            let key = dev_pki::read(&dir.join("idevid.key")).expect("IDevID key");
            let identity = ClientIdentity::new(&chain, &key).expect("an identity");
            let config =
                client_config(&identity, ServerTrust::Anchors(&root)).expect("a TLS configuration");
            let mut config = ClientConfig::clone(&config);
            // HTTP/1.1 for both servers: one request after another on the device's connection.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            // A device at first power-on has no session to resume: every handshake is full.
            config.resumption = rustls::client::Resumption::disabled();
            Device {
                serial: serial.clone(),
                tls: Arc::new(config),
            }
        })
        .collect()
}

/// The server at `urls` (its instances' URLs, which differ by port only).
fn target_of(urls: &[&str], model: &str) -> Target {
    let authority_of = |url: &str| {
        url.strip_prefix("https://")
            .expect("an https:// URL")
            .trim_end_matches('/')
            .to_owned()
    };
    let addresses = urls
        .iter()
        .map(|url| {
            authority_of(url)
                .to_socket_addrs()
                .expect("a resolvable address")
                .next()
                .expect("an address")
        })
        .collect();
    let authority = authority_of(urls[0]);
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Target {
        addresses,
        started: Arc::default(),
        server_name: ServerName::try_from(host).expect("a server name"),
        authority,
        model: model.to_owned(),
    }
}

fn line(run: &RunResult) -> String {
    format!(
        "{:>7.0} bootstraps/s  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  ({} done, {} failed{})",
        run.per_second,
        run.p50_ms,
        run.p99_ms,
        run.max_ms,
        run.bootstraps,
        run.failures,
        run.first_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    )
}

fn write_json(path: &Path, value: &Value) {
    // `cargo bench` runs this in the package's directory; relative paths mean the workspace's.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = &workspace.join(path);
    if let Some(parent) = path.parent() {
        let _ = fs::create_dir_all(parent);
    }
    fs::write(path, serde_json::to_string_pretty(value).expect("JSON")).expect("the JSON result");
    println!("result: {}", path.display());
}

/// The CPU time of this machine's PostgreSQL processes (`postgres`, the server and its
/// backends), in seconds; 0 without any.
fn database_cpu_seconds() -> f64 {
    let Ok(processes) = fs::read_dir("/proc") else {
        return 0.0;
    };
    processes
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// The process's user + system CPU time in seconds (Linux procfs; 100 ticks per second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
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
