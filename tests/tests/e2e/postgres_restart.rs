//! ztp on a PostgreSQL server that restarts under it: while the database is down, devices are
//! told to come back (503, a RESTCONF error, Retry-After) and administrators what is wrong;
//! when it is back, ztp recovers by itself, and nothing it acknowledged is lost.
//!
//! The test runs a PostgreSQL server of its own (Debian's binaries, `initdb` and `pg_ctl` as
//! the `postgres` user, on a free loopback port), so that stopping it disturbs no other test.
//! It runs in the suite's PostgreSQL pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ztp_tests::{Server, temp_dir, transcript};

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

#[test]
fn while_postgresql_restarts_devices_are_told_to_retry_and_ztp_recovers_by_itself() {
    if !ztp_tests::database::on_postgres() {
        return;
    }
    let dir = temp_dir();
    let cluster = Cluster::create(&dir.path().join("postgres"));
    let url = cluster.url();
    let server = Server::process_with(
        &dir.path().join("data"),
        &[("ZTP_DATABASE__URL", url.as_str())],
    );
    let answered = call(&server, "SN-0001");
    assert_eq!(status(&answered), "200", "{answered}");

    cluster.stop();
    let refused = call(&server, "SN-0002");
    assert_eq!(status(&refused), "503", "{refused}");
    let head = refused.to_ascii_lowercase();
    assert!(head.contains("retry-after:"), "{refused}");
    assert!(refused.contains("ietf-restconf:errors"), "{refused}");
    let admin = server.admin(["device", "show", "SN-0001"]);
    assert!(!admin.status.success());

    cluster.start();
    // ztp reconnects by itself: the next calls are answered (a bounded wait for the pool to
    // notice the server is back).
    let mut again = call(&server, "SN-0002");
    for _ in 0..100 {
        if status(&again) == "200" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        again = call(&server, "SN-0002");
    }
    assert_eq!(status(&again), "200", "{again}");
    // What was acknowledged before the restart is there.
    let shown = server.admin(["device", "show", "SN-0001"]);
    assert!(shown.status.success(), "{}", transcript(&shown));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("\"redirected\""));
    let served = server.admin(["events", "--kind", "bootstrap-served"]);
    let served = String::from_utf8_lossy(&served.stdout).into_owned();
    assert!(
        served.contains("SN-0001") && served.contains("SN-0002"),
        "{served}"
    );
}
