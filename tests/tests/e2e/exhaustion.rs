//! The device port under abuse with few file descriptors: a real `ztp serve` under
//! `ulimit -n 256`, hundreds of clients from other loopback addresses holding connections that
//! ask nothing (idle TLS with and without a certificate, bare TCP, slowloris, garbage), while a
//! good device bootstraps every second from 127.0.0.1. ztp keeps its connection bounds within
//! its descriptors (168 device connections of 256 files), each source within its share. Latencies are printed, not asserted: the
//! mixed-load bench (`cargo bench -p ztp --bench mixed_load`) is where figures are measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ztp_tests::abuse::{self, Abuse, Mix, Plan};
use ztp_tests::{Server, temp_dir, transcript};

/// The server's file descriptors (`ulimit -n`).
const OPEN_FILES: u32 = 256;
/// Abuse sources, 127.0.0.2 onwards.
const SOURCES: usize = 8;
/// The connections a source may hold: 8 × 20 = 160, within the 168 that 256 files allow.
const SHARE: usize = 20;
/// Abusers per source, twice its share: the rest are closed at accept, and come back.
const PER_SOURCE: usize = 40;
/// Good bootstraps, a second apart.
const GOOD_BOOTSTRAPS: usize = 16;

/// The file descriptors `pid` has open (Linux procfs).
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .unwrap_or(0)
}

#[test]
fn good_devices_bootstrap_while_hundreds_of_abusers_hold_their_shares() {
    let dir = temp_dir();
    let per_source = SHARE.to_string();
    let server = Server::start_with_open_files(
        dir.path(),
        &[
            // Short deadlines keep the test short: 2 s for a handshake, a first request and a
            // head, 3 s between requests.
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "2"),
            ("ZTP_DEVICE_API__IDLE_TIMEOUT_SECS", "3"),
            ("ZTP_DEVICE_API__MAX_CONNECTIONS_PER_SOURCE", &per_source),
        ],
        OPEN_FILES,
    );
    let pid = server.pid().expect("ztp runs");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(&format!(" {OPEN_FILES} "))),
        "the server runs under ulimit -n {OPEN_FILES}:\n{limits}"
    );

    // A first bootstrap without abuse: the server's descriptors at rest, and a normal latency.
    let began = Instant::now();
    let first = server.bootstrap("SN-0001", &[]);
    let quiet_latency = began.elapsed();
    assert!(first.status.success(), "{}", transcript(&first));
    let at_rest = open_files(pid);

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let address = server.device_url.trim_start_matches("https://");
    let pki = server.pki();
    let plan = Plan {
        target: address.parse().expect("the device API's address"),
        server_name: "127.0.0.1".try_into().expect("a server name"),
        sources: abuse::loopback_sources(2, SOURCES),
        mix: Mix::of(PER_SOURCE),
        anonymous: abuse::anonymous_config(&pki),
        device: abuse::device_config(&pki, "SN-0002"),
        drip: Duration::from_millis(300),
        pause: Duration::from_millis(100),
    };
    let abusers = plan.sources.len() * plan.mix.total();
    let abuse = {
        let _runtime = runtime.enter();
        Abuse::start(plan)
    };

    // The server's descriptors, sampled while the abuse lasts.
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
    // The abuse holds most of its shares before the good device starts.
    let held = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        abuse.open() >= SOURCES * SHARE * 3 / 4
    });
    assert!(
        held,
        "{abusers} abusers hold only {} connections (server descriptors peak {})",
        abuse.open(),
        peak.load(Ordering::Relaxed)
    );

    // A good device bootstraps every second from 127.0.0.1.
    let mut good = Vec::with_capacity(GOOD_BOOTSTRAPS);
    for _ in 0..GOOD_BOOTSTRAPS {
        let began = Instant::now();
        let output = server.bootstrap("SN-0001", &[]);
        good.push((began.elapsed(), output));
        std::thread::sleep(Duration::from_secs(1).saturating_sub(began.elapsed()));
    }
    let open_during = abuse.open();

    // No more abusers' connections; the server is to close those still open by its deadlines.
    let report = runtime.block_on(abuse.stop(Duration::from_secs(60)));
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("the sampler");

    let latencies: Vec<String> = good
        .iter()
        .map(|(latency, _)| format!("{:.0}", latency.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "good bootstraps (ms): before the abuse {:.0}; under it {}",
        quiet_latency.as_secs_f64() * 1000.0,
        latencies.join(" ")
    );
    println!(
        "{abusers} abusers from {SOURCES} sources; {open_during} connections open at the end of \
         the good bootstraps; server descriptors: {at_rest} at rest, peak {}",
        peak.load(Ordering::Relaxed)
    );
    print!("{}", report.table());

    for (i, (_, output)) in good.iter().enumerate() {
        assert!(
            output.status.success(),
            "good bootstrap {i} failed under abuse: {}",
            transcript(output)
        );
    }
    for (kind, tally) in &report.kinds {
        assert!(
            tally.established > 0,
            "no {} connection got through: {:?}",
            kind.name(),
            report.first_connect_error
        );
        assert_eq!(
            tally.still_open,
            0,
            "{} connections were left open:\n{}",
            kind.name(),
            report.table()
        );
    }

    // Every abuser's descriptor is released, and the server still serves.
    let released = (0..100).any(|_| {
        let now = open_files(pid);
        now <= at_rest + 4 || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(
        released,
        "the server holds {} descriptors, {at_rest} at rest",
        open_files(pid)
    );
    let after = server.bootstrap("SN-0001", &[]);
    assert!(after.status.success(), "{}", transcript(&after));
    // ztp kept its bounds within its descriptors: accept never failed for want of one.
    let log = server.log();
    assert!(
        log.contains("the limit of open files allows fewer connections"),
        "{log}"
    );
    assert!(!log.contains("accept failed"), "{log}");
}
