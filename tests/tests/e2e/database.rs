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
