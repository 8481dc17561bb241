//! A real OpenSSH sshd on 127.0.0.1, standing in for a customer's NMS: its own configuration,
//! keys and directories in a temporary directory; killed (with its connection processes) on
//! drop. Used by the connector's tests and by the end-to-end tests.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use ztp_nms_connector::{Auth, ClientKey, Endpoint, Fingerprint, Timeouts};

const SSHD: &str = "/usr/sbin/sshd";

/// Which host key the server presents.
#[derive(Clone, Copy)]
pub enum HostKeyType {
    Ed25519,
    Rsa,
}

/// A running sshd and its directory.
pub struct Sshd {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    host_fingerprint: Fingerprint,
}

impl Sshd {
    /// Starts an sshd with an ed25519 host key.
    pub fn start() -> Self {
        Self::start_with(HostKeyType::Ed25519)
    }

    /// Starts an sshd with a host key of `key_type`.
    pub fn start_with(key_type: HostKeyType) -> Self {
        require_openssh();
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let host_key = root.join("host_key");
        let (kind, bits): (&str, &[&str]) = match key_type {
            HostKeyType::Ed25519 => ("ed25519", &[]),
            HostKeyType::Rsa => ("rsa", &["-b", "2048"]),
        };
        run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-t", kind])
                .args(bits)
                .args(["-N", "", "-C", "test-host", "-f"])
                .arg(&host_key),
        );
        let host_fingerprint = keygen_fingerprint(&root.join("host_key.pub"));
        fs::write(root.join("authorized_keys"), "").unwrap();
        fs::create_dir(root.join("incoming")).unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {host_key}\n\
             PidFile {pid}\n\
             UsePAM no\n\
             PermitRootLogin yes\n\
             AuthorizedKeysFile {authorized}\n\
             StrictModes no\n\
             PasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\n\
             Subsystem sftp internal-sftp\n\
             LogLevel VERBOSE\n",
            host_key = host_key.display(),
            pid = root.join("sshd.pid").display(),
            authorized = root.join("authorized_keys").display(),
        );
        fs::write(root.join("sshd_config"), config).unwrap();
        let mut sshd = Self {
            dir,
            port,
            child: None,
            host_fingerprint,
        };
        sshd.spawn();
        sshd
    }

    /// The temporary directory holding everything of this server.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The directory uploads go to.
    pub fn incoming(&self) -> PathBuf {
        self.root().join("incoming")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host key fingerprint as `ssh-keygen -lf` printed it.
    pub fn host_fingerprint(&self) -> Fingerprint {
        self.host_fingerprint
    }

    /// Lets `key` log in as root.
    pub fn authorize(&self, key: &ClientKey) {
        let line = key.public_key_line().unwrap();
        let path = self.root().join("authorized_keys");
        let mut keys = fs::read_to_string(&path).unwrap();
        keys.push_str(&line);
        keys.push('\n');
        fs::write(path, keys).unwrap();
    }

    /// An endpoint for root with `auth`, pinned to this server's key, delivering to
    /// [`Sshd::incoming`], with short timeouts.
    pub fn endpoint(&self, auth: Auth) -> Endpoint {
        let mut endpoint = Endpoint::new(
            "127.0.0.1",
            "root",
            auth,
            vec![self.host_fingerprint],
            self.incoming().to_str().unwrap(),
        );
        endpoint.port = self.port;
        endpoint.timeouts = short_timeouts();
        endpoint
    }

    /// A fresh key, authorized, and an endpoint that uses it.
    pub fn key_endpoint(&self) -> Endpoint {
        let key = ztp_nms_connector::generate_client_key().unwrap();
        self.authorize(&key);
        self.endpoint(Auth::Key(key))
    }

    /// What sshd wrote to stderr (`-e`) so far, across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root().join("sshd.log")).unwrap_or_default()
    }

    /// Successful logins so far.
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey for root").count()
            + self.log().matches("Accepted password for root").count()
    }

    /// Files in the upload directory, sorted.
    pub fn incoming_files(&self) -> Vec<String> {
        list(&self.incoming())
    }

    /// Kills the listener and every connection process it forked.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let mut pids = descendants(child.id());
            pids.push(child.id());
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.wait();
        }
    }

    /// Starts sshd again on the same port with the same configuration and keys.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Serves SFTP with `command` (an sshd `Subsystem` command line) from the next start or
    /// [`Sshd::restart`] on; `internal-sftp` is the default.
    pub fn set_sftp_subsystem(&self, command: &str) {
        let path = self.root().join("sshd_config");
        let config: String = fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| {
                if line.starts_with("Subsystem sftp ") {
                    format!("Subsystem sftp {command}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        fs::write(path, config).unwrap();
    }

    fn spawn(&mut self) {
        // A port from `free_port` may be taken again before sshd binds it (another test's
        // sshd): then this one exits, and it is started again on another port.
        for _ in 0..5 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") => {
                    let config = self.root().join("sshd_config");
                    let text = fs::read_to_string(&config).unwrap();
                    let port = free_port();
                    let text = text.replacen(
                        &format!("Port {}\n", self.port),
                        &format!("Port {port}\n"),
                        1,
                    );
                    fs::write(&config, text).unwrap();
                    self.port = port;
                }
                Err(log) => panic!("sshd did not start:\n{log}"),
            }
        }
        panic!("sshd found no free port in 5 tries:\n{}", self.log());
    }

    /// Starts sshd and waits until it says it listens on its port (its own line in its log,
    /// not a connection that another process's listener could answer); or its log, when it
    /// exits first.
    fn try_spawn(&mut self) -> Result<(), String> {
        fs::create_dir_all("/run/sshd").unwrap();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root().join("sshd.log"))
            .unwrap();
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let before = self.log().matches(&listening).count();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.root().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}; install openssh-server"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.log().matches(&listening).count() > before
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                self.child = None;
                return Err(format!("sshd exited with {status}:\n{}", self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on port {} within 10 s:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- sshd log ---\n{}", self.log());
        }
    }
}

/// 2 s to connect, 5 s to log in, 5 s per operation: generous for a loaded 2-core CI machine,
/// short enough that a hang fails fast.
pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        auth: Duration::from_secs(5),
        operation: Duration::from_secs(5),
    }
}

/// All paths below `dir`, relative and sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.strip_prefix(root).unwrap().display().to_string());
        if path.is_dir() {
            walk(root, &path, out);
        }
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn require_openssh() {
    let keygen = Command::new("ssh-keygen")
        .arg("-?")
        .stderr(Stdio::null())
        .status();
    assert!(
        Path::new(SSHD).exists() && keygen.is_ok(),
        "these tests need OpenSSH's {SSHD} and ssh-keygen: install openssh-server \
         (apt-get install openssh-server)"
    );
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The SHA256 fingerprint of a public key file, as `ssh-keygen -lf` prints it.
pub fn keygen_fingerprint(public_key: &Path) -> Fingerprint {
    let output = run_ok(
        Command::new("ssh-keygen")
            .args(["-E", "sha256", "-lf"])
            .arg(public_key),
    );
    let field = output
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected ssh-keygen output {output:?}"));
    Fingerprint::parse(field).unwrap()
}

/// Runs `command`, failing the test unless it succeeds; returns its standard output.
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}; install openssh-server"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Every process below `pid`, found through /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.push((child, ppid));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, ppid) in &parents {
            if ppid == parent && !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

impl Sshd {
    /// A well-formed pin for endpoints whose server never gets as far as presenting a key.
    pub fn any_pin() -> Fingerprint {
        Fingerprint::parse("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s").unwrap()
    }
}
