//! Debian's nginx and HAProxy as the TLS-terminating load balancer in front of ztp's proxy
//! listener, each on its snippet in `deploy/load-balancer/` itself (the snippet's addresses and
//! paths replaced by the test's): it takes the devices' handshakes on loopback with ztp's own
//! TLS certificate and forwards their requests, their certificate and their address in
//! headers, from a source address of its own.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sshd::free_port;

const NGINX: &str = "/usr/sbin/nginx";
const HAPROXY: &str = "/usr/sbin/haproxy";

/// A balancer process serving one configuration until dropped.
pub struct Balancer {
    child: Option<Child>,
    /// Its log.
    log: PathBuf,
    /// `https://127.0.0.1:<port>`: where devices call it.
    pub url: String,
}

/// How the balancer checks client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Any certificate, or none, is forwarded (nginx's `ssl_verify_client optional_no_ca`):
    /// ztp's own verification is all there is.
    ForwardAny,
    /// Only certificates chaining to the device CAs are let through, as the snippet says.
    Verify,
}

/// What a balancer is started with.
pub struct Setup<'a> {
    /// Its configuration, logs and temporary files.
    pub root: &'a Path,
    /// ztp's TLS certificate and key (PEM files).
    pub tls: (&'a Path, &'a Path),
    /// The device CAs, up to their self-signed root (PEM).
    pub device_cas: &'a Path,
    /// How client certificates are checked.
    pub clients: ClientCertificates,
    /// ztp's proxy listener (`127.0.0.1:port`).
    pub upstream: &'a str,
    /// ztp's admin listener, whose `/readyz` a health check may ask (`127.0.0.1:port`).
    pub admin: &'a str,
    /// The balancer's own source address towards ztp.
    pub source: &'a str,
}

impl Balancer {
    /// nginx on `deploy/load-balancer/nginx.conf`, on a free loopback port.
    pub fn nginx(setup: &Setup<'_>) -> Self {
        require(NGINX, "nginx-light");
        let (root, port) = (setup.root, free_port());
        fs::create_dir_all(root).unwrap();
        let verify = match setup.clients {
            ClientCertificates::ForwardAny => "optional_no_ca",
            ClientCertificates::Verify => "on",
        };
        let site = snippet(
            "nginx.conf",
            &[
                ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
                ("/etc/ztp/tls.pem", setup.tls.0.display().to_string()),
                ("/etc/ztp/tls.key", setup.tls.1.display().to_string()),
                (
                    "/etc/ztp/device-cas.pem",
                    setup.device_cas.display().to_string(),
                ),
                (
                    "server 10.0.0.11:8080;\n    server 10.0.0.12:8080;",
                    format!("server {};", setup.upstream),
                ),
                (
                    "ssl_verify_client on;",
                    format!("ssl_verify_client {verify};"),
                ),
                (
                    "proxy_pass http://ztp_devices;",
                    format!(
                        "proxy_pass http://ztp_devices;\n        proxy_bind {};",
                        setup.source
                    ),
                ),
            ],
        );
        fs::write(root.join("ztp.conf"), site).unwrap();
        let r = root.display();
        let config = format!(
            "daemon off;\n\
             master_process off;\n\
             pid {r}/nginx.pid;\n\
             error_log {r}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
               access_log {r}/access.log;\n\
               client_body_temp_path {r}/body;\n\
               proxy_temp_path {r}/proxy;\n\
               fastcgi_temp_path {r}/fastcgi;\n\
               uwsgi_temp_path {r}/uwsgi;\n\
               scgi_temp_path {r}/scgi;\n\
               include {r}/ztp.conf;\n\
             }}\n"
        );
        fs::write(root.join("nginx.conf"), config).unwrap();
        let mut command = Command::new(NGINX);
        command
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(root.join("nginx.conf"))
            .arg("-e")
            .arg(root.join("error.log"));
        Self::spawn(command, root.join("error.log"), port)
    }

    /// HAProxy on `deploy/load-balancer/haproxy.cfg`, on a free loopback port; it verifies
    /// client certificates ([`ClientCertificates::Verify`]) and checks ztp's `/readyz`.
    pub fn haproxy(setup: &Setup<'_>) -> Self {
        require(HAPROXY, "haproxy");
        assert_eq!(
            setup.clients,
            ClientCertificates::Verify,
            "as the snippet says"
        );
        let (root, port) = (setup.root, free_port());
        fs::create_dir_all(root).unwrap();
        // HAProxy takes the certificate and its key in one file.
        let crt = root.join("tls.pem");
        let pem = |path: &Path| fs::read_to_string(path).unwrap();
        fs::write(&crt, pem(setup.tls.0) + &pem(setup.tls.1)).unwrap();
        let admin_port = setup.admin.rsplit(':').next().unwrap();
        let sections = snippet(
            "haproxy.cfg",
            &[
                ("bind :443 ", format!("bind 127.0.0.1:{port} ")),
                ("/etc/ztp/tls.pem", crt.display().to_string()),
                (
                    "/etc/ztp/device-cas.pem",
                    setup.device_cas.display().to_string(),
                ),
                (
                    "    server ztp1 10.0.0.11:8080 check port 8444\n    \
                     server ztp2 10.0.0.12:8080 check port 8444",
                    format!(
                        "    server ztp1 {} check port {admin_port} source {}",
                        setup.upstream, setup.source
                    ),
                ),
            ],
        );
        let config = format!(
            "global\n\
             \x20   log stderr format raw local0 info\n\
             defaults\n\
             \x20   log global\n\
             \x20   option httplog\n\
             \x20   timeout connect 5s\n\
             \x20   timeout client 30s\n\
             \x20   timeout server 30s\n\
             {sections}"
        );
        fs::write(root.join("haproxy.cfg"), config).unwrap();
        let mut command = Command::new(HAPROXY);
        command.arg("-db").arg("-f").arg(root.join("haproxy.cfg"));
        let log = root.join("haproxy.log");
        let file = fs::File::create(&log).unwrap();
        command.stderr(file);
        Self::spawn(command, log, port)
    }

    /// Starts `command` and waits, at most 10 s, until `port` accepts.
    fn spawn(mut command: Command, log: PathBuf, port: u16) -> Self {
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut balancer = Self {
            child: Some(child),
            log,
            url: format!("https://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = balancer.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("the balancer exited with {status}:\n{}", balancer.log());
            }
            assert!(
                Instant::now() < deadline,
                "the balancer did not listen within 10 s:\n{}",
                balancer.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        balancer
    }

    /// Its log.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- balancer log ---\n{}", self.log());
        }
    }
}

/// `deploy/load-balancer/<name>` with each `(from, to)` replaced; each `from` must be there.
fn snippet(name: &str, replacements: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/load-balancer")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    replacements.iter().fold(text, |text, (from, to)| {
        assert!(
            text.contains(from),
            "deploy/load-balancer/{name} has no {from:?}"
        );
        text.replace(from, to)
    })
}

fn require(program: &str, package: &str) {
    assert!(
        Path::new(program).exists(),
        "these tests need {program}: apt-get install {package}"
    );
}
