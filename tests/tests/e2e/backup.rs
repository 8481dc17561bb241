//! `ztp backup` while ztp serves, `ztp restore` with it stopped: the restored copy serves the
//! same devices; a damaged copy, a copy of another program and a restore beside a running
//! server are refused and change nothing. And `ztp migrate --dry-run`, which applies nothing.

use std::fs;
use std::path::Path;

use ztp_tests::database::on_postgres;
use ztp_tests::{Server, data_command, success, temp_dir, transcript};

/// Runs `ztp <command> --data-dir <data> <file>`.
fn run(command: &str, data: &Path, file: &Path) -> std::process::Output {
    data_command(data)
        .args([command, "--data-dir"])
        .arg(data)
        .arg(file)
        .output()
        .unwrap()
}

/// What `ztp device show` says of `serial`'s state.
fn state(server: &Server, serial: &str) -> String {
    let shown = success(server.admin(["device", "show", serial]));
    let value: serde_json::Value = serde_json::from_str(&shown).unwrap();
    value["state"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_backup_taken_while_serving_restores_into_a_server_that_serves_the_same_devices() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::process(&data);
    let copy = dir.path().join("ztp-backup.sqlite");
    if on_postgres() {
        let refused = run("backup", &data, &copy);
        assert!(!refused.status.success());
        assert!(
            transcript(&refused).contains("pg_dump"),
            "{}",
            transcript(&refused)
        );
        return;
    }
    let served = server.bootstrap("SN-0001", &[]);
    assert!(served.status.success(), "{}", transcript(&served));
    let before = state(&server, "SN-0001");

    let backed_up = run("backup", &data, &copy);
    assert!(backed_up.status.success(), "{}", transcript(&backed_up));
    assert!(
        String::from_utf8_lossy(&backed_up.stdout).contains("devices"),
        "{}",
        transcript(&backed_up)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run("backup", &data, &copy);
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );

    // A restore beside the running server is refused; the server goes on.
    let refused = run("restore", &data, &copy);
    assert!(!refused.status.success());
    assert!(
        transcript(&refused).contains("in use by a running `ztp serve`"),
        "{}",
        transcript(&refused)
    );
    server.stop();

    // Another machine: the same PKI and master key (kept apart from the database), the copy.
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::copy(data.join("master-key"), elsewhere.join("master-key")).unwrap();
    let pki = Command::new("cp")
        .arg("-a")
        .arg(data.join("pki"))
        .arg(elsewhere.join("pki"))
        .status()
        .unwrap();
    assert!(pki.success());
    let restored = run("restore", &elsewhere, &copy);
    assert!(restored.status.success(), "{}", transcript(&restored));
    let server = Server::process(&elsewhere);
    assert_eq!(
        state(&server, "SN-0001"),
        before,
        "the same device, as it was"
    );
    let served = server.bootstrap("SN-0001", &[]);
    assert!(served.status.success(), "{}", transcript(&served));
}

use std::process::Command;

#[test]
fn a_damaged_or_foreign_copy_is_refused_and_the_database_stays() {
    if on_postgres() {
        eprintln!("SQLite's files only: ran on SQLite in the run before");
        return;
    }
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut server = Server::process(&data);
    let copy = dir.path().join("copy.sqlite");
    assert!(run("backup", &data, &copy).status.success());
    server.stop();
    let database = fs::read(data.join("ztp.sqlite")).unwrap();

    let damaged = dir.path().join("damaged.sqlite");
    let mut bytes = fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0x5a);
    fs::write(&damaged, bytes).unwrap();
    let foreign = dir.path().join("foreign.sqlite");
    let made = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); c.commit()"])
        .arg(&foreign)
        .status()
        .unwrap();
    assert!(made.success());
    for (file, why) in [
        (&damaged, "integrity"),
        (&foreign, "not a ztp database"),
        (&dir.path().join("missing.sqlite"), "missing"),
    ] {
        let refused = run("restore", &data, file);
        assert!(!refused.status.success(), "{why}: {}", transcript(&refused));
        assert_eq!(
            fs::read(data.join("ztp.sqlite")).unwrap(),
            database,
            "{why}: the database is untouched"
        );
    }
    assert!(
        transcript(&run("restore", &data, &foreign)).contains("not a ztp database"),
        "the reason is given"
    );
}

#[test]
fn a_dry_run_lists_the_migrations_a_database_lacks_and_applies_none() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    if !on_postgres() {
        let fresh = data_command(&data)
            .args(["migrate", "--dry-run", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        let said = transcript(&fresh);
        assert!(fresh.status.success(), "{said}");
        assert!(said.contains("migration(s) to apply"), "{said}");
        assert!(!data.join("ztp.sqlite").exists(), "nothing created: {said}");
    }
    let mut server = Server::process(&data);
    server.stop();
    let current = data_command(&data)
        .args(["migrate", "--dry-run", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        transcript(&current).contains("nothing to apply"),
        "{}",
        transcript(&current)
    );
}
