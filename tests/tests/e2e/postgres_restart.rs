//! ztp on a PostgreSQL server that restarts under it while devices keep calling: while the
//! database is down, devices are told to come back (503, a RESTCONF error, Retry-After) and administrators what is wrong;
//! when it is back, ztp recovers by itself, and nothing it acknowledged is lost.
//!
//! The test runs a PostgreSQL server of its own (Debian's binaries, `initdb` and `pg_ctl` as
//! the `postgres` user, on a free loopback port), so that stopping it disturbs no other test.
//! It runs in the suite's PostgreSQL pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ztp_tests::{Server, success, temp_dir, tool, transcript};

/// A PostgreSQL server of the test's own, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

/// Debian's PostgreSQL binaries (the newest installed version).
fn binaries() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (/usr/lib/postgresql)")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|bin| bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop().expect("pg_ctl")
}

/// Runs `program` of `bin` as the `postgres` user when this is root (PostgreSQL refuses to
/// run as root).
fn as_postgres(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(mut command: Command) {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        transcript(&output)
    );
}

impl Cluster {
    fn create(dir: &Path) -> Self {
        let bin = binaries();
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        if is_root() {
            run({
                let mut chown = Command::new("chown");
                chown.args(["-R", "postgres:postgres"]).arg(dir);
                chown
            });
        }
        run({
            let mut initdb = as_postgres(&bin, "initdb");
            initdb
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data);
            initdb
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { bin, data, port };
        cluster.start();
        cluster
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        run({
            let mut start = as_postgres(&self.bin, "pg_ctl");
            start
                .args(["-w", "-D"])
                .arg(&self.data)
                .args(["-l"])
                .arg(self.data.join("log"))
                .args(["-o", &options, "start"]);
            start
        });
    }

    fn stop(&self) {
        run({
            let mut stop = as_postgres(&self.bin, "pg_ctl");
            stop.args(["-w", "-m", "fast", "-D"])
                .arg(&self.data)
                .arg("stop");
            stop
        });
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = as_postgres(&self.bin, "pg_ctl");
        stop.args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop");
        let _ = stop.output();
    }
}

/// The status code of a response `curl -i` printed.
fn status(response: &str) -> &str {
    response.split_whitespace().nth(1).unwrap_or_default()
}

/// A bootstrap as device `serial` with curl: the response head and body.
fn call(server: &Server, serial: &str) -> String {
    let output = server.device_post(
        serial,
        "get-bootstrapping-data",
        r#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"uCPE-100"}}"#,
        &["-i"],
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Answers of devices calling in a loop, as they come.
struct Answers {
    received: mpsc::Receiver<String>,
    /// Every answer so far, in order.
    all: Vec<String>,
}

impl Answers {
    /// Waits until `count` more answers have status `code`; at most [`PHASE`] answers.
    fn until(&mut self, count: usize, code: &str) {
        let mut seen = 0;
        for _ in 0..PHASE {
            let answer = self
                .received
                .recv_timeout(Duration::from_secs(60))
                .expect("devices keep being answered");
            seen += usize::from(status(&answer) == code);
            self.all.push(answer);
            if seen == count {
                return;
            }
        }
        panic!("{count} answers {code} did not come in {PHASE} answers");
    }
}

/// Answers a phase of the test waits through at most.
const PHASE: usize = 2000;

#[test]
fn while_postgresql_restarts_under_load_devices_are_told_to_retry_and_ztp_recovers_by_itself() {
    if !ztp_tests::database::on_postgres() {
        return;
    }
    let dir = temp_dir();
    let cluster = Cluster::create(&dir.path().join("postgres"));
    let url = cluster.url();
    // Devices are told to come back after a second of waiting for a connection.
    let server = Server::process_with(
        &dir.path().join("data"),
        &[
            ("ZTP_DATABASE__URL", url.as_str()),
            ("ZTP_DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
        ],
    );
    let (sent, received) = mpsc::channel();
    let mut answers = Answers {
        received,
        all: Vec::new(),
    };
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Three devices calling back to back throughout.
        for serial in ["SN-0001", "SN-0002", "SN-0003"] {
            let (sent, stop, server) = (sent.clone(), &stop, &server);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if sent.send(call(server, serial)).is_err() {
                        return;
                    }
                }
            });
        }
        answers.until(10, "200");

        cluster.stop();
        answers.until(10, "503");
        let admin = server.admin(["device", "show", "SN-0001"]);
        assert!(!admin.status.success(), "{}", transcript(&admin));

        // ztp reconnects by itself: the calls are answered again.
        cluster.start();
        answers.until(10, "200");
        stop.store(true, Ordering::Relaxed);
    });
    drop(sent);
    answers.all.extend(answers.received.try_iter());

    // Every call was answered: served, or told to come back with a RESTCONF error.
    let mut served = 0;
    for answer in &answers.all {
        match status(answer) {
            "200" => served += 1,
            "503" => {
                assert!(
                    answer.to_ascii_lowercase().contains("retry-after:"),
                    "{answer}"
                );
                assert!(answer.contains("ietf-restconf:errors"), "{answer}");
            }
            _ => panic!("neither served nor told to retry: {answer}"),
        }
    }
    // Nothing ztp acknowledged is lost: each answered bootstrap is recorded (an entry whose
    // commit went through just as the connection broke may be recorded and answered 503).
    let shown = server.admin(["device", "show", "SN-0001"]);
    assert!(shown.status.success(), "{}", transcript(&shown));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("\"redirected\""));
    let recorded: usize = success(tool(
        "psql",
        [
            url.as_str(),
            "-tAc",
            "SELECT COUNT(*) FROM events WHERE kind = 'bootstrap-served'",
        ],
    ))
    .trim()
    .parse()
    .unwrap();
    assert!(
        recorded >= served,
        "{recorded} bootstraps recorded, {served} answered"
    );
}
