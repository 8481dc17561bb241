//! The database's schema as operators upgrade it: `ztp migrate` as a deployment step, and
//! instances that start only on a database migrated for them (`database.migrations =
//! "verify"`). Runs on this run's backend (SQLite, or PostgreSQL with `ZTP_TEST_POSTGRES`).

use std::process::Stdio;

use ztp_tests::{Server, data_command, serve_command, success, temp_dir, transcript};

const VERIFY: (&str, &str) = ("ZTP_DATABASE__MIGRATIONS", "verify");

#[test]
fn instances_that_verify_wait_for_ztp_migrate_and_then_serve() {
    let dir = temp_dir();
    let data = dir.path().join("data");

    let refused = serve_command(&data)
        .env(VERIFY.0, VERIFY.1)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{}", transcript(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("ztp migrate"), "says what to do: {said}");

    let migrated = success(
        data_command(&data)
            .args(["migrate", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert!(
        migrated.contains("the database is at migration"),
        "{migrated}"
    );
    // Again: nothing left to apply, the same answer.
    let again = success(
        data_command(&data)
            .args(["migrate", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(again, migrated);

    let server = Server::process_with(&data, &[VERIFY]);
    let answered = server.bootstrap("SN-0001", &[]);
    assert!(answered.status.success(), "{}", transcript(&answered));
}

/// The state of `serial` as the admin API shows it.
fn device_state(server: &Server, serial: &str) -> String {
    let shown = success(server.admin(["device", "show", serial]));
    let device: serde_json::Value = serde_json::from_str(&shown).unwrap();
    device["state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn an_installation_moves_from_sqlite_to_postgresql_with_what_it_holds() {
    // The PostgreSQL pass: the target is a database of the run's server.
    if !ztp_tests::database::on_postgres() {
        return;
    }
    let dir = temp_dir();
    let data = dir.path().join("data");
    let sqlite = format!("sqlite://{}?mode=rwc", data.join("ztp.sqlite").display());
    let on_sqlite = [("ZTP_DATABASE__URL", sqlite.as_str())];
    let mut server = Server::process_with(&data, &on_sqlite);
    for serial in ["SN-0001", "SN-0002"] {
        let answered = server.bootstrap(serial, &[]);
        assert!(answered.status.success(), "{}", transcript(&answered));
    }
    server.stop();

    let target = ztp_tests::database::variables(&dir.path().join("target"))
        .into_iter()
        .find(|(key, _)| key == "ZTP_DATABASE__URL")
        .map(|(_, url)| url)
        .expect("a PostgreSQL database");
    let copied = success(
        data_command(&data)
            .args(["db", "copy", "--from", &sqlite, "--to", &target])
            .output()
            .unwrap(),
    );
    assert!(copied.contains("verified"), "{copied}");
    let events_row = copied
        .lines()
        .find(|line| line.starts_with("events "))
        .unwrap_or_default();
    assert!(
        events_row
            .split_whitespace()
            .nth(1)
            .is_some_and(|n| n != "0"),
        "{copied}"
    );
    // Into a database that holds rows: refused, nothing written.
    let again = data_command(&data)
        .args(["db", "copy", "--from", &sqlite, "--to", &target])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty database"),
        "{}",
        transcript(&again)
    );

    // The installation on PostgreSQL: what it held is there, and it goes on from there.
    let server = Server::process_with(&data, &[("ZTP_DATABASE__URL", target.as_str())]);
    assert_eq!(device_state(&server, "SN-0001"), "redirected");
    let answered = server.bootstrap("SN-0003", &[]);
    assert!(answered.status.success(), "{}", transcript(&answered));
    assert_eq!(device_state(&server, "SN-0003"), "redirected");
    let served = success(server.admin(["events", "--kind", "bootstrap-served"]));
    let served: Vec<serde_json::Value> = serde_json::from_str(&served).unwrap();
    assert_eq!(served.len(), 3, "{served:#?}");
}
