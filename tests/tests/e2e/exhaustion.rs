//! The device port under abuse: a real `ztp serve` that may open 256 files, hundreds of clients
//! from other loopback addresses that complete handshakes and say nothing, connect and say
//! nothing, trickle a request head or send no TLS at all, and a good device bootstrapping every
//! second from 127.0.0.1 all the while.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ztp_tests::abuse::{self, Fate, Kind};
use ztp_tests::{Server, temp_dir, transcript};

/// Abusive sources, 127.0.0.2 to 127.0.0.9, and clients of each kind from each.
const SOURCES: u8 = 8;
const PER_KIND: usize = 10;

#[test]
fn hundreds_of_abusive_clients_neither_stop_good_devices_nor_outlive_their_deadlines() {
    let dir = temp_dir();
    let server = Server::start_with_open_files(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "2"),
            ("ZTP_DEVICE_API__IDLE_TIMEOUT_SECS", "3"),
            // 8 sources × 20 = 160 connections, within the 168 that 256 files allow.
            ("ZTP_DEVICE_API__MAX_CONNECTIONS_PER_SOURCE", "20"),
        ],
        256,
    );
    let pid = server.pid().expect("ztp runs");
    let sockets_before = abuse::open_sockets(pid);
    let address: SocketAddr = server
        .device_url
        .trim_start_matches("https://")
        .parse()
        .expect("the device port's address");
    let tls = abuse::device_tls(&server.pki(), "SN-0002");
    // Generous: a client must be closed by its deadline (2 or 3 s), not by this.
    let patience = Duration::from_secs(40);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // Each client comes straight back when closed, for as long as the good device calls.
    let until = Instant::now() + Duration::from_secs(11);
    let abusers: Vec<_> = (0..SOURCES)
        .flat_map(|n| Kind::ALL.map(|kind| (IpAddr::from([127, 0, 0, 2 + n]), kind)))
        .flat_map(|(source, kind)| std::iter::repeat_n((source, kind), PER_KIND))
        .map(|(source, kind)| {
            let tls = tls.clone();
            let fates = abuse::abuse_until(kind, source, address, tls, patience, until);
            (kind, runtime.spawn(fates))
        })
        .collect();

    // A good device, once a second, while the abuse goes on: every bootstrap succeeds.
    let mut latencies = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let outcome = server.bootstrap("SN-0001", &[]);
        let took = started.elapsed();
        assert!(
            outcome.status.success(),
            "a good device failed under abuse after {took:?}: {}",
            transcript(&outcome)
        );
        latencies.push(took);
        // Paced at one a second: the load the test describes, not a wait for an event.
        std::thread::sleep(Duration::from_secs(1).saturating_sub(took));
    }

    let mut fates: BTreeMap<Kind, Vec<Fate>> = BTreeMap::new();
    for (kind, client) in abusers {
        let client = runtime.block_on(client).expect("the client ran");
        fates.entry(kind).or_default().extend(client);
    }
    for (kind, fates) in &fates {
        assert!(
            fates.iter().all(|f| matches!(f, Fate::Closed(_))),
            "every {kind:?} connection is made and closed by the server: {fates:?}"
        );
        let slowest = fates
            .iter()
            .filter_map(|f| match f {
                Fate::Closed(after) => Some(*after),
                _ => None,
            })
            .max();
        println!(
            "{kind:?}: {} connections, the longest closed after {slowest:?}",
            fates.len()
        );
    }
    println!("good device, one bootstrap a second: {latencies:?}");

    // The server gives back what the abuse held: its sockets return to where they were
    // (polled: the last closes are being processed as the clients see them).
    let mut sockets = abuse::open_sockets(pid);
    for _ in 0..100 {
        if sockets <= sockets_before {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        sockets = abuse::open_sockets(pid);
    }
    assert!(
        sockets <= sockets_before,
        "ztp holds {sockets} sockets, {sockets_before} before the abuse"
    );
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("the limit of open files allows fewer connections"),
        "ztp sized its connection bounds to its 256 files: {log}"
    );
}
