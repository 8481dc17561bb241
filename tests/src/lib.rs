//! Harness for ztp's end-to-end tests: ztp's server (in this process, or the real `ztp`
//! binary where the process itself is under test), the `ztp` command line, and the independent
//! tools that check what ztp makes (`openssl` for certificates and CMS, `yanglint` for YANG
//! documents).
//!
//! Every helper fails the test with a message that says what to install when a tool is
//! missing: `scripts/test` installs them, and a test that silently skips proves nothing.
#![forbid(unsafe_code)]

pub mod abuse;
pub mod admin_http;
pub mod balancer;
pub mod database;
pub mod device_http;
pub mod faults;
mod in_process;
pub mod sshd;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

/// The `ztp` binary of this build: `$ZTP_BIN` if set, else `ztp` beside the test executable's
/// `deps/` directory (where `cargo build --workspace --bins` puts it).
pub fn ztp_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ZTP_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir.join(format!("ztp{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Runs `ztp` with `args` and returns what it did.
pub fn ztp<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(ztp_bin())
        .args(args)
        .output()
        .expect("ztp runs")
}

/// Runs an external tool, failing the test with an install hint if it is not there.
pub fn tool<I, S>(program: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (scripts/test installs what tests need)")
        })
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Both streams, for failure messages.
pub fn transcript(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the command succeeded and returns its standard output.
pub fn success(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed:\n{}",
        transcript(&output)
    );
    stdout(&output)
}

/// Polls `done` every 100 ms for at most `limit`; panics with `what` and the last state `done`
/// reported.
pub fn wait_until(
    what: &str,
    limit: std::time::Duration,
    mut done: impl FnMut() -> Result<(), String>,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match done() {
            Ok(()) => return,
            Err(state) if std::time::Instant::now() >= deadline => {
                panic!("{what}: not within {limit:?}; last: {state}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// `yang/modules`: the YANG modules ztp ships.
pub fn yang_modules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../yang/modules")
}

/// `yang/tests/shadow`: test-only copies of modules whose `rc:yang-data` structures are
/// re-declared as containers, so yanglint can validate instances of them.
pub fn yang_shadow_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../yang/tests/shadow")
}

/// A self-signed P-256 certificate for `subject` (`/CN=…`), valid for two days, and its key, made
/// with the openssl CLI.
pub fn self_signed(subject: &str, cert: &Path, key: &Path) {
    success(tool(
        "openssl",
        [
            "req".as_ref(),
            "-x509".as_ref(),
            "-newkey".as_ref(),
            "ec".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:P-256".as_ref(),
            "-nodes".as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            cert.as_os_str(),
            "-days".as_ref(),
            "2".as_ref(),
            "-subj".as_ref(),
            subject.as_ref(),
        ] as [&OsStr; 15],
    ));
}

/// `openssl cms -verify` of a DER SignedData against `ca_file`, writing the content to `out`.
/// OpenSSL is an independent implementation: ztp's CMS is checked by it, not by itself.
pub fn openssl_cms_verify(cms: &Path, ca_file: &Path, out: &Path) -> Output {
    tool(
        "openssl",
        [
            "cms".as_ref(),
            "-verify".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-binary".as_ref(),
            "-in".as_ref(),
            cms.as_os_str(),
            "-CAfile".as_ref(),
            ca_file.as_os_str(),
            "-out".as_ref(),
            out.as_os_str(),
        ],
    )
}

/// `openssl cms -cmsout -print` of a DER CMS structure: its parse, as text.
pub fn openssl_cms_print(cms: &Path) -> String {
    success(tool(
        "openssl",
        [
            "cms".as_ref(),
            "-cmsout".as_ref(),
            "-print".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            cms.as_os_str(),
        ],
    ))
}

/// A directory with ztp's YANG modules, the shadow modules written over them (see
/// [`yang_shadow_dir`]), ready for `yanglint -p`.
pub fn yang_schema_dir() -> tempfile::TempDir {
    let dir = temp_dir();
    for source in [yang_modules_dir(), yang_shadow_dir()] {
        for entry in std::fs::read_dir(&source).expect("module directory") {
            let entry = entry.expect("module file");
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy module");
        }
    }
    dir
}

/// Validates `document` (XML or JSON, by extension) with yanglint against `modules` (file names
/// in [`yang_schema_dir`]); `kind` is yanglint's `-t` (`rpc`, `reply`) or `None` for data.
/// Returns yanglint's output on failure.
pub fn yanglint(kind: Option<&str>, modules: &[&str], document: &Path) -> Result<(), String> {
    let schemas = yang_schema_dir();
    let mut args: Vec<std::ffi::OsString> = vec!["-p".into(), schemas.path().into()];
    if let Some(kind) = kind {
        args.extend(["-t".into(), kind.into()]);
    }
    args.extend(
        modules
            .iter()
            .map(|m| schemas.path().join(m).into_os_string()),
    );
    args.push(document.into());
    let output = tool("yanglint", &args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && !text.contains("err") {
        Ok(())
    } else {
        Err(text)
    }
}

/// `ztp serve` on `data_dir`, listening on loopback ports chosen by the system.
pub fn serve_command(data_dir: &Path) -> Command {
    let mut command = data_command(data_dir);
    command.args(serve_args(data_dir));
    command
}

/// The `ztp` binary, to run a command on `data_dir` whose database it opens (`serve`,
/// `secrets`, `migrate`): on this run's database ([`database::variables`]).
pub fn data_command(data_dir: &Path) -> Command {
    let mut command = Command::new(ztp_bin());
    command.envs(database::variables(data_dir));
    command
}

fn serve_args(data_dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(data_dir.into());
    args
}

/// A running ztp server on loopback ports chosen by the system, with its data directory:
/// [`ztp::startup::App`] in this process ([`Server::start`]), or a `ztp serve` process
/// ([`Server::process`]) for tests of the process itself (signals, SIGKILL, its log on
/// standard error, `ulimit -n`). Stopped when dropped (a process: SIGTERM, then killed if it
/// lingers).
pub struct Server {
    running: Option<Running>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// `https://127.0.0.1:<port>`: the device API.
    pub device_url: String,
    /// `http://127.0.0.1:<port>`: the admin API.
    pub admin_url: String,
    /// `http://127.0.0.1:<port>`: the device API for a load balancer, when
    /// `[device_api.proxy]` configures it.
    pub proxy_url: Option<String>,
}

/// The variable listing where NMS hosts may have non-public addresses.
pub const NMS_ALLOWED_PRIVATE_NETWORKS: &str = "ZTP_NMS__ALLOWED_PRIVATE_NETWORKS";

/// Loopback, where the tests' sshd listens: what a [`Server`] allows NMS hosts to be unless
/// told otherwise.
pub const LOOPBACK_NETWORKS: &str = r#"["127.0.0.0/8","::1/128"]"#;

/// How a [`Server`] runs.
#[derive(Debug)]
enum Running {
    /// In this process.
    InProcess(in_process::InProcess),
    /// As a `ztp serve` process.
    Process(std::process::Child),
}

/// What every server of the harness is told beside a test's own variables: CRL changes show
/// within a second (so revocation tests need not wait long), and NMS hosts may be on loopback,
/// where the tests' sshd is.
const HARNESS_VARIABLES: [(&str, &str); 2] = [
    ("ZTP_MANUFACTURER__CRL_REFRESH_SECS", "1"),
    (NMS_ALLOWED_PRIVATE_NETWORKS, LOOPBACK_NETWORKS),
];

impl Server {
    /// Starts ztp's server in this process on `data_dir` (created with a development PKI and
    /// sample inventory on first start) and returns once it listens. NMS hosts may be on
    /// loopback ([`LOOPBACK_NETWORKS`]), where the tests' sshd is.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Like [`Server::start`], but on ztp's own NMS host policy: no loopback or other
    /// non-public NMS host allowed.
    pub fn start_strict(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[(NMS_ALLOWED_PRIVATE_NETWORKS, "[]")])
    }

    /// Like [`Server::start`], with extra `ZTP_*` configuration variables (which win over the
    /// harness's own, such as [`NMS_ALLOWED_PRIVATE_NETWORKS`]), given to the server as a child
    /// process would get them in its environment.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with_clock(data_dir, env, Arc::new(ztp::domain::clock::SystemClock))
    }

    /// [`Server::start_with`] on `clock`, which the server's outbox, couriers and admin
    /// tokens' expiry read: a test steps a [`ztp::domain::clock::ManualClock`] instead of
    /// waiting for time to pass.
    pub fn start_with_clock(
        data_dir: &Path,
        env: &[(&str, &str)],
        clock: Arc<dyn ztp::domain::clock::Clock>,
    ) -> Self {
        std::fs::create_dir_all(data_dir).expect("data directory");
        let database = database::variables(data_dir);
        let variables: Vec<(&str, &str)> = HARNESS_VARIABLES
            .iter()
            .copied()
            .chain(database.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .chain(env.iter().copied())
            .collect();
        let started = in_process::InProcess::start(data_dir, &variables, clock)
            .unwrap_or_else(|error| panic!("ztp did not start in-process: {error}"));
        Self {
            running: Some(Running::InProcess(started.server)),
            data_dir: data_dir.to_owned(),
            device_url: format!("https://{}", started.device),
            admin_url: format!("http://{}", started.admin),
            proxy_url: started.proxy.map(|proxy| format!("http://{proxy}")),
        }
    }

    /// Starts the real `ztp serve` on `data_dir` and waits until it announces its listeners:
    /// for tests of the process (signals, SIGKILL, its log, its limits). Otherwise as
    /// [`Server::start`].
    pub fn process(data_dir: &Path) -> Self {
        Self::process_with(data_dir, &[])
    }

    /// Like [`Server::process`], with extra environment variables (which win over the
    /// harness's own).
    pub fn process_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, env, serve_command(data_dir))
    }

    /// Like [`Server::start_with`], with the process allowed at most `open_files` file
    /// descriptors (`ulimit -n` in a shell that then becomes `ztp serve`, so that
    /// [`Server::pid`] is the server's own).
    pub fn start_with_open_files(data_dir: &Path, env: &[(&str, &str)], open_files: u32) -> Self {
        let serve = serve_command(data_dir);
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
            .arg(serve.get_program())
            .args(serve.get_args());
        Self::spawn(data_dir, env, command)
    }

    fn spawn(data_dir: &Path, env: &[(&str, &str)], mut command: Command) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;

        std::fs::create_dir_all(data_dir).expect("data directory");
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))
            .expect("server log");
        let mut child = command
            .envs(HARNESS_VARIABLES)
            .envs(database::variables(data_dir))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start ztp serve");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                // Keep draining after the announcement: a closed pipe would fail the server's
                // later writes to standard output.
                let _ = lines.send(line);
            }
        });
        let (mut device_url, mut admin_url, mut proxy_url) = (None, None, None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while device_url.is_none() || admin_url.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = received.recv_timeout(left).unwrap_or_else(|_| {
                let log = std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
                panic!("ztp serve did not announce its listeners; its log:\n{log}")
            });
            if let Some(url) = line.strip_prefix("device API: ") {
                device_url = Some(url.to_owned());
            } else if let Some(url) = line.strip_prefix("admin API: ") {
                admin_url = Some(url.to_owned());
            } else if let Some(rest) = line.strip_prefix("device API behind a proxy: ") {
                proxy_url = rest.split_whitespace().next().map(str::to_owned);
            }
        }
        Self {
            running: Some(Running::Process(child)),
            data_dir: data_dir.to_owned(),
            device_url: device_url.unwrap_or_default(),
            admin_url: admin_url.unwrap_or_default(),
            proxy_url,
        }
    }

    /// The server's process id, while it runs as a process ([`Server::process`]); `None`
    /// in-process.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Some(Running::Process(child)) => Some(child.id()),
            _ => None,
        }
    }

    /// The background workers (NMS courier, webhook dispatcher, CRL refresher) of a server
    /// running in-process, for a test to drive; `None` for a process or a stopped server.
    pub fn workers(&self) -> Option<&ztp::startup::Workers> {
        match &self.running {
            Some(Running::InProcess(server)) => Some(server.workers()),
            _ => None,
        }
    }

    /// Runs one round of the NMS courier of a server running in-process, to its end (every
    /// registration it claimed settled), beside the courier's own rounds: what the round did.
    pub fn courier_round(&self) -> ztp::domain::delivery::Outcome {
        let Some(Running::InProcess(server)) = &self.running else {
            panic!("courier_round drives an in-process server's courier: use Server::start");
        };
        server.drive(server.workers().courier.run_once())
    }

    /// Issues one more IDevID (model uCPE-100) from the server's development PKI.
    pub fn issue_device(&self, serial: &str) {
        self.issue_device_with(serial, &[]);
    }

    /// [`Server::issue_device`] with more `ztp pki issue-device` arguments (`--key-type`).
    pub fn issue_device_with(&self, serial: &str, extra: &[&str]) {
        let pki = self.pki();
        let mut args: Vec<&OsStr> = vec![
            "pki".as_ref(),
            "issue-device".as_ref(),
            "--pki".as_ref(),
            pki.as_os_str(),
            "--serial".as_ref(),
            serial.as_ref(),
            "--model".as_ref(),
            "uCPE-100".as_ref(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        success(ztp(args));
    }

    /// Revokes the IDevID of `serial` in the server's development PKI (its CRL file; the server
    /// reads it at its next CRL refresh).
    pub fn revoke_device(&self, serial: &str) {
        let pki = self.pki();
        success(ztp([
            "pki".as_ref(),
            "revoke".as_ref(),
            "--pki".as_ref(),
            pki.as_os_str(),
            "--serial".as_ref(),
            serial.as_ref(),
        ] as [&OsStr; 6]));
    }

    /// Issues an IDevID and imports the device (model uCPE-100) for `customer`.
    pub fn new_device(&self, serial: &str, customer: &str) {
        self.issue_device(serial);
        self.add_device(serial, "uCPE-100", customer);
    }

    /// Imports the device `serial` of `model` for `customer` (`ztp device add`).
    pub fn add_device(&self, serial: &str, model: &str, customer: &str) {
        success(self.admin([
            "device",
            "add",
            serial,
            "--model",
            model,
            "--customer",
            customer,
        ]));
    }

    /// The development PKI directory.
    pub fn pki(&self) -> PathBuf {
        self.data_dir.join("pki")
    }

    /// The server's log so far: what `ztp serve` wrote on standard error. Only a process has
    /// one ([`Server::process`]): an in-process server's logs go to the test's subscriber.
    pub fn log(&self) -> String {
        assert!(
            !matches!(self.running, Some(Running::InProcess(_))),
            "an in-process server writes no log: start it with Server::process"
        );
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// One request to this server's admin API with the bootstrap token (`body` as JSON): its
    /// status and body as sent.
    pub fn admin_request(&self, method: &str, path: &str, body: &str) -> admin_http::Answer {
        let token = std::fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("the data directory's admin token");
        admin_http::request(
            &self.admin_url,
            Some(token.trim()),
            method,
            path,
            body.as_bytes(),
            false,
        )
    }

    /// Runs a `ztp` inventory command against this server's admin API, with the bootstrap token.
    pub fn admin<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let token = std::fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("the admin token file");
        self.admin_as(token.trim(), args)
    }

    /// Runs a `ztp` admin command as `token` (instead of the bootstrap token).
    pub fn admin_as<I, S>(&self, token: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Command::new(ztp_bin())
            .args(args)
            .env("ZTP_ADMIN_URL", &self.admin_url)
            .env("ZTP_ADMIN_TOKEN", token)
            .output()
            .expect("ztp runs")
    }

    /// Runs `ztp device bootstrap` as device `serial` of the development PKI, trusting the
    /// server's TLS certificate (the root), vouchers from the voucher CA and licenses from the
    /// license CA, with `extra` arguments.
    pub fn bootstrap(&self, serial: &str, extra: &[&str]) -> Output {
        self.bootstrap_at(&self.device_url, serial, extra)
    }

    /// [`Server::bootstrap`] at `url`: the server behind a proxy that presents its TLS
    /// certificate.
    pub fn bootstrap_at(&self, url: &str, serial: &str, extra: &[&str]) -> Output {
        let device = self.pki().join("devices").join(serial);
        let voucher_ca = self.pki().join("manufacturer/voucher-ca.pem");
        self.bootstrap_as(
            url,
            (&device.join("idevid.pem"), &device.join("idevid.key")),
            &voucher_ca,
            extra,
        )
    }

    /// `ztp device bootstrap` at `url` as the device whose IDevID chain and key are `idevid`,
    /// trusting the server's TLS certificate (the development PKI's root), vouchers from
    /// `voucher_ca` and licenses from the license CA, with `extra` arguments.
    pub fn bootstrap_as(
        &self,
        url: &str,
        idevid: (&Path, &Path),
        voucher_ca: &Path,
        extra: &[&str],
    ) -> Output {
        let manufacturer = self.pki().join("manufacturer");
        Command::new(ztp_bin())
            .args(["device", "bootstrap", "--url", url])
            .arg("--cert")
            .arg(idevid.0)
            .arg("--key")
            .arg(idevid.1)
            .arg("--server-ca")
            .arg(manufacturer.join("root-ca.pem"))
            .arg("--voucher-ca")
            .arg(voucher_ca)
            .arg("--license-ca")
            .arg(manufacturer.join("license-ca.pem"))
            .args(extra)
            .output()
            .expect("ztp device bootstrap runs")
    }

    /// POSTs the JSON `body` to the RESTCONF operation `operation` (e.g. `report-progress`) as
    /// device `serial` of the development PKI, over curl with `extra` curl arguments: what a
    /// device's own client sends. Returns curl's output.
    pub fn device_post(&self, serial: &str, operation: &str, body: &str, extra: &[&str]) -> Output {
        let device = self.pki().join("devices").join(serial);
        let url = format!(
            "{}/restconf/operations/ietf-sztp-bootstrap-server:{operation}",
            self.device_url
        );
        let mut args: Vec<std::ffi::OsString> = vec![
            "--cacert".into(),
            self.pki().join("manufacturer/root-ca.pem").into(),
            "--cert".into(),
            device.join("idevid.pem").into(),
            "--key".into(),
            device.join("idevid.key").into(),
            "-H".into(),
            "Content-Type: application/yang-data+json".into(),
            "-d".into(),
            body.into(),
        ];
        args.extend(extra.iter().map(Into::into));
        args.push(url.into());
        curl(args)
    }

    /// `openssl s_client -quiet` connected to the device port as device `serial` of the
    /// development PKI (its IDevID as client certificate, the manufacturer root as the server's
    /// anchor): a raw TLS client whose standard input and output the caller sets up.
    pub fn s_client(&self, serial: &str) -> Command {
        let device = self.pki().join("devices").join(serial);
        let mut command = Command::new("openssl");
        command
            .args(["s_client", "-quiet", "-connect"])
            .arg(self.device_url.trim_start_matches("https://"))
            .arg("-CAfile")
            .arg(self.pki().join("manufacturer/root-ca.pem"))
            .arg("-cert")
            .arg(device.join("idevid.pem"))
            .arg("-key")
            .arg(device.join("idevid.key"));
        command
    }

    /// Sends a `report-progress` of `progress` (with the OpenSSH public host key in
    /// `ssh_host_key`, if any) as device `serial`: what a device that reports the progress of
    /// redirect information sends (the reference agent reports only onboarding information
    /// from a trusted server). Returns curl's output, whose standard output is the HTTP status.
    pub fn report(&self, serial: &str, progress: &str, ssh_host_key: Option<&Path>) -> Output {
        let keys = ssh_host_key.map(|path| {
            let line = std::fs::read_to_string(path).expect("the host key file reads");
            let mut fields = line.split_whitespace();
            let (algorithm, data) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            format!(
                r#","ssh-host-keys":{{"ssh-host-key":[{{"algorithm":"{algorithm}","key-data":"{data}"}}]}}"#
            )
        });
        let body = format!(
            r#"{{"ietf-sztp-bootstrap-server:input":{{"progress-type":"{progress}"{}}}}}"#,
            keys.unwrap_or_default()
        );
        self.device_post(
            serial,
            "report-progress",
            &body,
            &["-o", "/dev/null", "-w", "%{http_code}"],
        )
    }

    /// Kills the server at once (SIGKILL): no shutdown work of any kind, as in a crash. Only
    /// a process can be killed ([`Server::process`]).
    pub fn kill(&mut self) {
        match self.running.take() {
            Some(Running::Process(mut child)) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Some(Running::InProcess(_)) => {
                panic!("an in-process server cannot be killed: start it with Server::process")
            }
            None => {}
        }
    }

    /// Stops the server and waits for it: in-process, the shutdown `ztp serve` does on
    /// SIGTERM; a process gets SIGTERM and is killed after 20 seconds.
    pub fn stop(&mut self) {
        let mut child = match self.running.take() {
            Some(Running::Process(child)) => child,
            Some(Running::InProcess(mut server)) => return server.stop(),
            None => return,
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let process = matches!(self.running, Some(Running::Process(_)));
        self.stop();
        if process && std::thread::panicking() {
            // The test failed: show what the server said, for CI logs.
            eprintln!(
                "--- ztp serve log ({})\n{}",
                self.data_dir.display(),
                self.log()
            );
        }
    }
}

/// Runs `curl` with `args`, adding `--silent --show-error`; returns the output. The response
/// status is printed last on its own line when `-w '\n%{http_code}'` is among the arguments.
pub fn curl<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut all: Vec<std::ffi::OsString> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--max-time".into(),
        "30".into(),
    ];
    all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
    tool("curl", all)
}

/// Runs `command` (a `ztp serve` expected to refuse its configuration) and returns what it
/// wrote on standard error once it exited with a failure; panics if it succeeds, or if it is
/// still running after a minute (then it is killed).
pub fn refused_start(mut command: Command) -> String {
    use std::process::Stdio;
    let mut serve = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ztp serve runs");
    let stderr = serve.stderr.take().expect("stderr is piped");
    let pid = serve.id();
    let (said, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        let _ = said.send((text, serve.wait()));
    });
    let Ok((text, status)) = exit.recv_timeout(std::time::Duration::from_secs(60)) else {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        panic!("ztp serve did not exit: it started with a configuration it should refuse");
    };
    assert!(!status.expect("ztp serve exits").success(), "{text}");
    text
}
