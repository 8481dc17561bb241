//! The fault suite: each test starts real processes (ztp, OpenSSH's sshd, a webhook receiver)
//! and breaks one of them the way production does: the NMS killed between an upload's write and
//! its rename, an NMS that accepts TCP and never answers, the SQLite file's disk full, ztp
//! SIGKILLed under load. After each: every answered bootstrap is recorded, every registration is
//! on the NMS exactly once as a complete file, no license seat is lost or doubled, and ztp
//! recovered by itself. See docs/reliability.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use ztp_certs::Cert;
use ztp_tests::faults::{SilentPeer, SmallFs};
use ztp_tests::sshd::Sshd;
use ztp_tests::{Server, stdout, success, temp_dir, transcript, wait_until, yanglint};
use ztp_yang::{DeviceRegistration, Document};

use crate::registration::{events, fast_process, fast_server, registrations};
use crate::webhooks::{self, Receiver};

const CUSTOMER: &str = "example-customer";
const MODULE: &str = "ztp-device-registration@2026-12-09.yang";
const FEATURE: &str = "ESS-ED-100G-SIA3";

fn json(output: Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

/// Adds NMS connection `name` of the sample customer on `port`, pinned to `sshd`'s host key and
/// delivering to `sshd`'s directory `name` (made here), and installs ztp's generated key in
/// `sshd`.
fn add_nms(server: &Server, sshd: &Sshd, name: &str, port: u16, policy: &str) {
    fs::create_dir_all(sshd.root().join(name)).unwrap();
    let added = json(server.admin([
        "nms",
        "add",
        CUSTOMER,
        name,
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--user",
        "root",
        "--pin",
        &sshd.host_fingerprint().to_string(),
        "--directory",
        &sshd.root().join(name).display().to_string(),
        "--policy",
        policy,
    ]));
    let key = added["public_key"].as_str().expect("a generated key");
    let path = sshd.root().join("authorized_keys");
    let mut keys = fs::read_to_string(&path).unwrap_or_default();
    keys.push_str(key);
    keys.push('\n');
    fs::write(path, keys).unwrap();
}

/// Waits until `count` registrations (of `args`) are delivered.
fn wait_delivered(server: &Server, args: &[&str], count: usize, limit: Duration) {
    wait_until("delivery", limit, || {
        let all = registrations(server, args);
        let done = all.iter().filter(|r| r["state"] == "delivered").count();
        if done == count {
            Ok(())
        } else {
            Err(format!("{done} of {count} delivered: {all:#?}"))
        }
    });
}

/// The files in NMS connection `connection`'s directory (see [`add_nms`]), sorted.
fn nms_files(sshd: &Sshd, connection: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(sshd.root().join(connection))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Checks that `serial`'s registration is on NMS connection `connection` once, complete:
/// `<serial>.xml` valid against its YANG module, about this device and its certificate, the
/// very content ztp delivered. Any other file there of this name is a hidden temporary file,
/// never a visible part.
fn assert_registered_once(server: &Server, sshd: &Sshd, connection: &str, serial: &str) {
    let name = format!("{serial}.xml");
    let files = nms_files(sshd, connection);
    assert_eq!(files.iter().filter(|f| **f == name).count(), 1, "{files:?}");
    for other in files.iter().filter(|f| f.contains(serial) && **f != name) {
        assert!(
            other.starts_with(&format!(".{name}.")) && other.ends_with(".tmp"),
            "only hidden temporary files beside the registration: {files:?}"
        );
    }
    let path = sshd.root().join(connection).join(&name);
    yanglint(None, &[MODULE], &path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let bytes = fs::read(&path).unwrap();
    let document = DeviceRegistration::from_xml(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(document.serial_number, serial);
    assert_eq!(document.owner, CUSTOMER);
    let pem =
        fs::read_to_string(server.pki().join("devices").join(serial).join("idevid.pem")).unwrap();
    assert_eq!(
        document.idevid_certificate.as_deref(),
        Some(Cert::from_pem(&pem).unwrap().der()),
        "{serial}: the certificate the device presented"
    );
    let listed = registrations(server, &["--serial", serial, "--connection", connection]);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["state"], "delivered", "{listed:#?}");
    let shown = json(server.admin(["registration", "show", &listed[0]["id"].to_string()]));
    assert_eq!(
        shown["content"].as_str().unwrap().as_bytes(),
        bytes,
        "{serial}: the NMS has what ztp delivered"
    );
}

/// The absolute path of the Python interpreter, for commands that sshd runs with its own PATH.
fn python() -> String {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn an_nms_killed_between_write_and_rename_ends_with_the_registration_once_and_complete() {
    let dir = temp_dir();
    // A long operation limit: the attempt held below fails because the NMS dies, not by itself.
    let server = fast_server(
        dir.path(),
        &[
            ("ZTP_NMS__OPERATION_TIMEOUT_SECS", "60"),
            ("ZTP_NMS__INLINE_WAIT_MS", "1000"),
        ],
    );
    let mut sshd = Sshd::start();
    // The NMS's SFTP server holds the first rename it is asked for: the registration is written
    // under its temporary name, and not yet under its own.
    let held = sshd.root().join("held");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/sftp_hold.py");
    sshd.set_sftp_subsystem(&format!(
        "{} {} {} /usr/lib/openssh/sftp-server",
        python(),
        script.display(),
        held.display()
    ));
    sshd.restart();
    add_nms(&server, &sshd, "main", sshd.port(), "nms-first");

    let first = server.bootstrap("SN-0001", &[]);
    wait_until(
        "the upload to reach its rename",
        Duration::from_secs(30),
        || {
            if held.exists() {
                Ok(())
            } else {
                Err(format!("{:?}", nms_files(&sshd, "main")))
            }
        },
    );
    let written = nms_files(&sshd, "main");
    assert!(
        written.len() == 1 && written[0].starts_with(".SN-0001.xml."),
        "only the temporary file so far: {written:?}"
    );

    // The NMS dies mid-upload (SIGKILL, every sshd process) and comes back on the same port.
    sshd.stop();
    sshd.set_sftp_subsystem("internal-sftp");
    sshd.restart();
    wait_delivered(&server, &[], 1, Duration::from_secs(30));
    let answered = server.bootstrap("SN-0001", &[]);
    assert!(answered.status.success(), "{}", transcript(&answered));

    assert_registered_once(&server, &sshd, "main", "SN-0001");
    let registration = &registrations(&server, &[])[0];
    assert!(
        registration["attempts"].as_i64() >= Some(2),
        "{registration:#}"
    );
    assert_eq!(events(&server, "registration-delivered").len(), 1);
    // Every answer the device got is recorded: the held first call (answered at once or
    // refused with 503 while its registration was on its way) and the one after.
    let served = events(&server, "bootstrap-served");
    let refused = events(&server, "bootstrap-refused");
    let answers_200 = 1 + usize::from(first.status.success());
    assert_eq!(served.len(), answers_200, "{served:#?}");
    if !first.status.success() {
        assert!(transcript(&first).contains("503"), "{}", transcript(&first));
        assert!(refused.iter().any(|e| e["status"] == 503), "{refused:#?}");
    }
    assert!(
        sshd.accepted_logins() >= 2,
        "a new session after the restart"
    );
}

#[test]
fn an_nms_that_accepts_tcp_and_never_answers_times_out_holds_no_device_for_ever_and_loses_nothing()
{
    let dir = temp_dir();
    let server = fast_server(
        dir.path(),
        &[
            ("ZTP_NMS__INLINE_WAIT_MS", "500"),
            ("ZTP_NMS__MAX_DEVICE_HOLD_SECS", "3"),
        ],
    );
    let sshd = Sshd::start();
    let silent = SilentPeer::start();
    add_nms(&server, &sshd, "main", sshd.port(), "nms-first");
    add_nms(&server, &sshd, "silent", silent.port(), "nms-first");

    // nms-first: the device is held back while a registration is undelivered...
    let held = server.bootstrap("SN-0001", &[]);
    assert!(
        !held.status.success() && transcript(&held).contains("503"),
        "{}",
        transcript(&held)
    );
    // ...the working NMS gets its file meanwhile...
    wait_delivered(
        &server,
        &["--connection", "main"],
        1,
        Duration::from_secs(30),
    );
    // ...and each attempt on the silent one ends at its deadline, with the step that hung.
    wait_until(
        "attempts on the silent NMS end",
        Duration::from_secs(30),
        || {
            let r = &registrations(&server, &["--connection", "silent"])[0];
            let error = r["last_error"].as_str().unwrap_or_default();
            if r["attempts"].as_i64() >= Some(2) && error.contains("timed out") {
                Ok(())
            } else {
                Err(r.to_string())
            }
        },
    );
    assert!(silent.accepted() >= 2, "each attempt connected");
    let status = json(server.admin(["nms", "show", CUSTOMER, "silent"]))["status"].clone();
    assert_eq!(status["state"], "failing", "{status:#}");
    let alarms = events(&server, "nms-failing");
    assert_eq!(
        alarms.len(),
        1,
        "one alarm, not one per attempt: {alarms:#?}"
    );

    // The hold is bounded: the device is answered though the silent NMS has nothing.
    wait_until("an answer after the hold", Duration::from_secs(30), || {
        let output = server.bootstrap("SN-0001", &[]);
        if output.status.success() {
            Ok(())
        } else {
            Err(transcript(&output))
        }
    });
    let pending = &registrations(&server, &["--connection", "silent"])[0];
    assert_eq!(pending["state"], "pending", "still queued: {pending:#}");

    // Another device of the same customer is not held up by the first one's silent NMS
    // beyond the same bounded hold, and the working NMS has both files.
    wait_until(
        "the second device answered",
        Duration::from_secs(30),
        || {
            let output = server.bootstrap("SN-0002", &[]);
            if output.status.success() {
                Ok(())
            } else {
                Err(transcript(&output))
            }
        },
    );
    wait_delivered(
        &server,
        &["--connection", "main"],
        2,
        Duration::from_secs(30),
    );

    // The NMS answers again (its administrator moved it to a working port): nothing was lost.
    drop(silent);
    success(server.admin([
        "nms",
        "set",
        CUSTOMER,
        "silent",
        "--port",
        &sshd.port().to_string(),
    ]));
    wait_delivered(&server, &[], 4, Duration::from_secs(30));
    for connection in ["main", "silent"] {
        for serial in ["SN-0001", "SN-0002"] {
            assert_registered_once(&server, &sshd, connection, serial);
        }
        assert_eq!(nms_files(&sshd, connection), ["SN-0001.xml", "SN-0002.xml"]);
    }
    let delivered = events(&server, "registration-delivered");
    assert_eq!(delivered.len(), 4, "{delivered:#?}");
    assert_eq!(events(&server, "nms-recovered").len(), 1);
}

#[test]
fn a_full_disk_refuses_devices_with_503_and_admin_writes_clearly_and_ztp_recovers_when_space_returns()
 {
    if ztp_tests::database::on_postgres() {
        // SQLite's own way of failing (its file on a small disk): run on SQLite only.
        return;
    }
    let dir = temp_dir();
    let disk = SmallFs::mount(&dir.path().join("db"), 32 * 1024 * 1024);
    let db = disk.path().join("ztp.sqlite");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let server = Server::process_with(
        &dir.path().join("data"),
        &[("ZTP_DATABASE__URL", url.as_str())],
    );
    let answered = server.bootstrap("SN-0001", &[]);
    assert!(answered.status.success(), "{}", transcript(&answered));

    // The disk fills up just after a checkpoint emptied the write-ahead log, so the next commit
    // needs space it cannot have.
    wait_until(
        "an emptied write-ahead log",
        Duration::from_secs(30),
        || {
            let connection = rusqlite::Connection::open(&db).unwrap();
            let busy: i64 = connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .unwrap();
            let wal = fs::metadata(disk.path().join("ztp.sqlite-wal")).map_or(0, |m| m.len());
            if busy == 0 && wal == 0 {
                Ok(())
            } else {
                Err(format!("busy {busy}, log of {wal} bytes"))
            }
        },
    );
    disk.fill();

    // While full: a device is told to come back later, an administrator what is wrong, and
    // nothing is said to be done that is not.
    let refused = server.bootstrap("SN-0002", &[]);
    assert!(!refused.status.success());
    assert!(
        transcript(&refused).contains("503"),
        "{}",
        transcript(&refused)
    );
    let write = server.admin([
        "device",
        "add",
        "SN-FULL",
        "--model",
        "uCPE-100",
        "--customer",
        CUSTOMER,
    ]);
    let said = transcript(&write);
    assert!(!write.status.success(), "{said}");
    assert!(
        said.contains("503") && said.contains("disk is full"),
        "a clear error: {said}"
    );
    assert!(server.pid().is_some());
    assert!(
        server.log().contains("the database's disk is full"),
        "the operator is told: {}",
        server.log()
    );

    // Space returns: the same process serves again, with nothing lost and nothing corrupt.
    disk.free();
    wait_until("a device answered again", Duration::from_secs(30), || {
        let output = server.bootstrap("SN-0002", &[]);
        if output.status.success() {
            Ok(())
        } else {
            Err(transcript(&output))
        }
    });
    success(server.admin([
        "device",
        "add",
        "SN-FULL",
        "--model",
        "uCPE-100",
        "--customer",
        CUSTOMER,
    ]));
    let served = events(&server, "bootstrap-served");
    for serial in ["SN-0001", "SN-0002"] {
        assert!(
            served
                .iter()
                .any(|e| e["serial"] == serial && e["status"] == 200),
            "{serial}: {served:#?}"
        );
        let device = json(server.admin(["device", "show", serial]));
        assert_ne!(device["state"], "imported", "{device:#}");
    }
    let integrity = ztp_tests::database::scalar(disk.path(), "PRAGMA integrity_check");
    assert_eq!(integrity, "ok");
}

/// Devices of the SIGKILL test.
const LOAD: usize = 12;
/// Bootstraps at once in the SIGKILL test.
const WORKERS: usize = 4;

#[test]
fn ztp_killed_under_load_loses_no_answered_bootstrap_registration_webhook_or_seat() {
    let dir = temp_dir();
    let certs = dir.path().join("receiver");
    Receiver::make_certificates(&certs);
    let mut receiver = Receiver::start(&certs, 0);
    let port = receiver.port;
    let data = dir.path().join("ztp");
    // Short NMS timeouts: a registration caught mid-attempt by the kill waits for its lease,
    // (2 x connect + auth + 6 x operation) x 2 = 20 s here. A timeout only means a retry.
    let mut env: Vec<(&str, &str)> = webhooks::FAST.to_vec();
    env.extend([
        ("ZTP_NMS__CONNECT_TIMEOUT_SECS", "1"),
        ("ZTP_NMS__AUTH_TIMEOUT_SECS", "2"),
        ("ZTP_NMS__OPERATION_TIMEOUT_SECS", "1"),
    ]);
    let mut server = fast_process(&data, &env);
    webhooks::add_webhook(&server, &receiver, &certs);
    let mut sshd = Sshd::start();
    add_nms(&server, &sshd, "main", sshd.port(), "parallel");
    let pool = json(server.admin([
        "license",
        "pool-add",
        CUSTOMER,
        "core",
        "--feature",
        FEATURE,
        "--model",
        "uCPE-100",
        "--seats",
        "100",
    ]));
    assert_eq!(pool["free"], 100);
    let serials: Vec<String> = (1..=LOAD).map(|i| format!("SN-LOAD-{i:02}")).collect();
    for serial in &serials {
        server.new_device(serial, CUSTOMER);
    }
    // The NMS and the receiver are down: registrations and webhooks queue up.
    sshd.stop();
    receiver.stop();

    // Devices bootstrap, a few at a time; ztp is killed (SIGKILL) once some were answered.
    let pid = server.pid().unwrap();
    let next = AtomicUsize::new(0);
    // Answered: the device got and verified its bootstrapping data. Reported: its
    // bootstrap-complete was taken too (sent as a device that reports the progress of redirect
    // information does; the reference agent reports only onboarding information).
    let answered = Mutex::new(BTreeSet::new());
    let reported = Mutex::new(BTreeSet::new());
    let successes = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(serial) = serials.get(i) else { break };
                    let output = server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
                    if output.status.success() {
                        answered.lock().unwrap().insert(serial.clone());
                        let report = server.report(serial, "bootstrap-complete", None);
                        if report.status.success() && stdout(&report).trim() == "204" {
                            reported.lock().unwrap().insert(serial.clone());
                        }
                        successes.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        wait_until("some devices answered", Duration::from_secs(60), || {
            let n = successes.load(Ordering::SeqCst);
            if n >= LOAD / 3 {
                Ok(())
            } else {
                Err(format!("{n} answered"))
            }
        });
        success(
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .output()
                .unwrap(),
        );
    });
    server.kill();
    let answered = answered.into_inner().unwrap();
    let reported = reported.into_inner().unwrap();
    assert!(answered.len() < LOAD, "killed mid-way: {answered:?}");

    // Everything comes back; ztp on the same data directory.
    sshd.restart();
    let receiver = Receiver::start(&certs, port);
    let server = fast_process(&data, &env);

    // Every bootstrap that got its answer is recorded, with its license.
    let served = events(&server, "bootstrap-served");
    for serial in &answered {
        assert!(
            served
                .iter()
                .any(|e| e["serial"] == serial.as_str() && e["status"] == 200),
            "{serial} was answered before the kill: {served:#?}"
        );
        let held = json(server.admin(["license", "device", serial]));
        assert_eq!(held.as_array().unwrap().len(), 1, "{serial}: {held:#}");
    }
    let progress = events(&server, "progress-reported");
    for serial in &reported {
        assert!(
            progress.iter().any(|e| e["serial"] == serial.as_str()
                && e["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("bootstrap-complete")),
            "{serial} reported completion before the kill: {progress:#?}"
        );
    }
    // The others call again and are answered.
    for serial in serials.iter().filter(|s| !reported.contains(*s)) {
        let output = server.bootstrap(serial, &["--hw-model", "uCPE-100"]);
        assert!(output.status.success(), "{serial}: {}", transcript(&output));
        let report = server.report(serial, "bootstrap-complete", None);
        assert_eq!(
            stdout(&report).trim(),
            "204",
            "{serial}: {}",
            transcript(&report)
        );
    }

    // Every registration lands once, complete (one caught mid-attempt by the kill once its
    // lease ends).
    wait_delivered(&server, &[], LOAD, Duration::from_secs(120));
    let delivered = events(&server, "registration-delivered");
    for serial in &serials {
        assert_registered_once(&server, &sshd, "main", serial);
        let count = delivered
            .iter()
            .filter(|e| e["serial"] == serial.as_str())
            .count();
        assert_eq!(count, 1, "{serial}: {delivered:#?}");
    }
    assert_eq!(
        nms_files(&sshd, "main").len(),
        LOAD,
        "{:?}",
        nms_files(&sshd, "main")
    );

    // Webhooks: each device's completion and registration reach the receiver at least once;
    // a delivery repeated after the kill carries the same id and body.
    wait_until("webhooks delivered", Duration::from_secs(60), || {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for request in receiver.received() {
            let ok = request["answered"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s));
            let event = webhooks::body(&request);
            if ok && event["type"] != "ping" {
                let key = (
                    event["serial"].as_str().unwrap_or_default().to_owned(),
                    event["type"].as_str().unwrap_or_default().to_owned(),
                );
                *seen.entry(key).or_default() += 1;
            }
        }
        let missing: Vec<String> = serials
            .iter()
            .flat_map(|s| {
                ["device.bootstrap-complete", "device.registered-in-nms"]
                    .map(|t| (s.clone(), t.to_owned()))
            })
            .filter(|key| !seen.contains_key(key))
            .map(|(s, t)| format!("{s} {t}"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            let serial = missing[0].split(' ').next().unwrap_or_default();
            let timeline = server.admin(["device", "timeline", serial]);
            Err(format!("missing: {missing:?}; {}", transcript(&timeline)))
        }
    });
    let mut bodies: BTreeMap<String, String> = BTreeMap::new();
    for request in receiver.received() {
        let event = webhooks::body(&request);
        let id = event["id"].to_string();
        let text = request["body"].as_str().unwrap().to_owned();
        if let Some(earlier) = bodies.insert(id.clone(), text.clone()) {
            assert_eq!(earlier, text, "delivery {id} repeated with another body");
        }
    }
    wait_until("webhook queue empty", Duration::from_secs(30), || {
        let shown = json(server.admin(["webhook", "show", CUSTOMER, "ops"]));
        if shown["status"]["pending"] == 0 && shown["status"]["dead"] == 0 {
            Ok(())
        } else {
            Err(shown.to_string())
        }
    });

    // Licenses: one seat per device, the pool's count equal to its active licenses.
    let pools = json(server.admin(["license", "pools", CUSTOMER]));
    assert_eq!(pools[0]["allocated"], LOAD, "{pools:#}");
    for serial in &serials {
        let held = json(server.admin(["license", "device", serial]));
        let active: Vec<&Value> = held
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["state"] == "active")
            .collect();
        assert_eq!(active.len(), 1, "{serial}: {held:#}");
    }
    let mismatched = ztp_tests::database::scalar(
        &data,
        "SELECT COUNT(*) FROM license_pools p WHERE p.allocated != \
         (SELECT COUNT(*) FROM licenses l WHERE l.pool_id = p.id AND l.state = 'active')",
    );
    assert_eq!(
        mismatched, "0",
        "a pool whose count differs from its licenses"
    );
    let doubled = ztp_tests::database::scalar(
        &data,
        "SELECT COUNT(*) FROM (SELECT pool_id, serial FROM licenses WHERE state = 'active' \
         GROUP BY pool_id, serial HAVING COUNT(*) > 1) AS doubled",
    );
    assert_eq!(doubled, "0", "a device with two seats of one pool");
    if !ztp_tests::database::on_postgres() {
        let integrity = ztp_tests::database::scalar(&data, "PRAGMA integrity_check");
        assert_eq!(integrity, "ok");
    }
}
