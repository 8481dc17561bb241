//! Several `ztp serve` processes on one PostgreSQL database, as behind a load balancer: they
//! share nothing but the database, and what one instance grants another sees. Runs in the
//! PostgreSQL pass of the suite (`ZTP_TEST_POSTGRES`); on SQLite, one machine's file, there is
//! nothing to share.

use serde_json::Value;
use ztp_tests::{Server, success, temp_dir, transcript};

use crate::licenses::license_ids;

const CUSTOMER: &str = "example-customer";

fn json(output: std::process::Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

#[test]
fn first_bootstraps_spread_over_three_instances_share_fifty_seats_exactly() {
    if !ztp_tests::database::on_postgres() {
        return;
    }
    let dir = temp_dir();
    let data = dir.path().join("data");
    // The first seeds the data directory (PKI, master key, token) and the database; the others
    // find both, and each listens on ports of its own.
    let instances = [
        Server::process(&data),
        Server::process(&data),
        Server::process(&data),
    ];
    let first = &instances[0];
    success(first.admin([
        "license",
        "pool-add",
        CUSTOMER,
        "fifty",
        "--feature",
        "ESS-ED-100G-SIA3",
        "--model",
        "uCPE-100",
        "--seats",
        "50",
    ]));
    let serials: Vec<String> = (1..=200).map(|i| format!("SN-{i:04}")).collect();
    for serial in &serials[3..] {
        first.new_device(serial, CUSTOMER);
    }

    let outcomes: Vec<(String, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = serials
            .iter()
            .enumerate()
            .map(|(i, serial)| {
                let server = &instances[i % instances.len()];
                scope.spawn(move || {
                    let output = server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
                    assert!(output.status.success(), "{serial}: {}", transcript(&output));
                    let outcome: Value = serde_json::from_slice(&output.stdout).unwrap();
                    (serial.clone(), outcome)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut ids: Vec<String> = outcomes.iter().flat_map(|(_, o)| license_ids(o)).collect();
    assert_eq!(
        ids.len(),
        50,
        "exactly the pool's seats, over all instances"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no license granted twice");
    // Each instance sees the same pool: the others' allocations are in the one database.
    for instance in &instances {
        let pools = json(instance.admin(["license", "pools", CUSTOMER]));
        assert_eq!(
            (pools[0]["allocated"].as_u64(), pools[0]["short"].as_u64()),
            (Some(50), Some(150)),
            "{pools:#}"
        );
    }
    // A device calling again, at another instance than the first time, keeps its license.
    let (serial, outcome) = outcomes
        .iter()
        .find(|(_, o)| !license_ids(o).is_empty())
        .unwrap();
    let index = serials.iter().position(|s| s == serial).unwrap();
    let again =
        instances[(index + 1) % instances.len()].bootstrap(serial, &["--hw-model", "uCPE-100"]);
    assert!(again.status.success(), "{}", transcript(&again));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(license_ids(&again), license_ids(outcome));
}
