//! Abusive clients of a TLS port, for the exhaustion test and the mixed-load bench: clients
//! that hold connections and ask nothing, from source addresses of their own (127.0.0.2,
//! 127.0.0.3… on loopback), so that a server's per-source bounds see several sources.
//!
//! Each abuser connects, behaves after its [`Kind`] until the server closes the connection,
//! pauses, and connects again, until [`Abuse::stop`]; then its last connection is left open
//! until the server closes it, and the [`Report`] says, per kind, how many connections the
//! server closed and how many it left open. An abuser never closes a connection itself: every
//! close is the server's.
//!
//! Runs on the caller's tokio runtime ([`Abuse::start`] spawns a task per abuser).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

/// How an abuser behaves on each of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// TCP only: connects and says nothing.
    BareTcp,
    /// Sends bytes that are not TLS, then waits.
    Garbage,
    /// Completes a TLS handshake without a client certificate, then says nothing.
    IdleTls,
    /// Completes a TLS handshake with a device's certificate, then says nothing.
    IdleTlsWithCertificate,
    /// Completes a TLS handshake with a device's certificate, then sends a request head that
    /// never ends, a byte at a time.
    Slowloris,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::BareTcp,
        Self::Garbage,
        Self::IdleTls,
        Self::IdleTlsWithCertificate,
        Self::Slowloris,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::BareTcp => "bare TCP",
            Self::Garbage => "garbage",
            Self::IdleTls => "idle TLS",
            Self::IdleTlsWithCertificate => "idle TLS + cert",
            Self::Slowloris => "slowloris",
        }
    }
}

/// Abusers of each kind, per source address.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mix {
    /// [`Kind::BareTcp`] abusers.
    pub bare_tcp: usize,
    /// [`Kind::Garbage`] abusers.
    pub garbage: usize,
    /// [`Kind::IdleTls`] abusers.
    pub idle_tls: usize,
    /// [`Kind::IdleTlsWithCertificate`] abusers.
    pub idle_tls_with_certificate: usize,
    /// [`Kind::Slowloris`] abusers.
    pub slowloris: usize,
}

impl Mix {
    /// `n` abusers per source, in the proportions of the exhaustion test: a quarter each idle
    /// TLS with and without a certificate and bare TCP, an eighth each slowloris and garbage.
    pub fn of(n: usize) -> Self {
        let (quarter, eighth) = (n / 4, n / 8);
        Self {
            bare_tcp: n - 2 * quarter - 2 * eighth,
            garbage: eighth,
            idle_tls: quarter,
            idle_tls_with_certificate: quarter,
            slowloris: eighth,
        }
    }

    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::BareTcp => self.bare_tcp,
            Kind::Garbage => self.garbage,
            Kind::IdleTls => self.idle_tls,
            Kind::IdleTlsWithCertificate => self.idle_tls_with_certificate,
            Kind::Slowloris => self.slowloris,
        }
    }

    /// Abusers per source, all kinds.
    pub fn total(&self) -> usize {
        Kind::ALL.iter().map(|&k| self.count(k)).sum()
    }
}

/// What to abuse, from where, and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The port under abuse.
    pub target: SocketAddr,
    /// The name the server's certificate carries.
    pub server_name: ServerName<'static>,
    /// The source addresses, each with its own abusers.
    pub sources: Vec<Ipv4Addr>,
    /// Abusers per source.
    pub mix: Mix,
    /// TLS without a client certificate ([`Kind::IdleTls`]).
    pub anonymous: Arc<ClientConfig>,
    /// TLS with a device's certificate ([`Kind::IdleTlsWithCertificate`], [`Kind::Slowloris`]).
    pub device: Arc<ClientConfig>,
    /// Time between a slowloris client's bytes.
    pub drip: Duration,
    /// Time an abuser waits after the server closed its connection before the next one (so
    /// that connections refused at once do not spin the machine).
    pub pause: Duration,
}

/// `127.0.0.<first>`, `127.0.0.<first + 1>`…: `n` loopback source addresses.
pub fn loopback_sources(first: u8, n: usize) -> Vec<Ipv4Addr> {
    (0..n)
        .map(|i| Ipv4Addr::new(127, 0, 0, first.saturating_add(i as u8)))
        .collect()
}

/// A TLS client configuration trusting the PEM certificates of `root_ca`, offering HTTP/1.1,
/// with the certificate chain and key of `identity` (PEM files) if given.
pub fn client_config(root_ca: &Path, identity: Option<(&[&Path], &Path)>) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root_ca).expect("the root CA file") {
        roots
            .add(cert.expect("a root CA"))
            .expect("a usable root CA");
    }
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let mut config = match identity {
        Some((chain, key)) => {
            let chain: Vec<CertificateDer<'static>> = chain
                .iter()
                .flat_map(|file| {
                    CertificateDer::pem_file_iter(file)
                        .expect("a certificate file")
                        .map(|cert| cert.expect("a certificate"))
                })
                .collect();
            let key = PrivateKeyDer::from_pem_file(key).expect("a private key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("a usable identity")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The TLS client configuration of device `serial` of a development PKI at `pki` (its IDevID,
/// then the IDevID CA), trusting the PKI's manufacturer root.
pub fn device_config(pki: &Path, serial: &str) -> Arc<ClientConfig> {
    let device = pki.join("devices").join(serial);
    let idevid = device.join("idevid.pem");
    let idevid_ca = pki.join("manufacturer/idevid-ca.pem");
    let single = CertificateDer::pem_file_iter(&idevid)
        .map(Iterator::count)
        .unwrap_or(0)
        == 1;
    let mut chain = vec![idevid.as_path()];
    if single && idevid_ca.is_file() {
        chain.push(idevid_ca.as_path());
    }
    client_config(
        &pki.join("manufacturer/root-ca.pem"),
        Some((&chain, &device.join("idevid.key"))),
    )
}

/// The TLS client configuration of a client without a certificate, trusting the manufacturer
/// root of the development PKI at `pki`.
pub fn anonymous_config(pki: &Path) -> Arc<ClientConfig> {
    client_config(&pki.join("manufacturer/root-ca.pem"), None)
}

/// What the abusers of one kind saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Connections made.
    pub connections: usize,
    /// Connections that reached their abusive state: connected (bare TCP, garbage) or through
    /// their TLS handshake (the others).
    pub established: usize,
    /// Connections the server closed (end of stream, reset, or a handshake it ended).
    pub closed_by_server: usize,
    /// Connection attempts that failed before a connection existed (the error, not a close).
    pub connect_failures: usize,
    /// Connections still open when the report was taken: the server never closed them.
    pub still_open: usize,
    /// The longest time the server let one connection live.
    pub longest: Duration,
}

/// What every kind saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per kind.
    pub kinds: BTreeMap<Kind, Tally>,
    /// The first error of a failed connection attempt, if any.
    pub first_connect_error: Option<String>,
}

impl Report {
    /// All kinds together.
    pub fn total(&self) -> Tally {
        self.kinds.values().fold(Tally::default(), |a, t| Tally {
            connections: a.connections + t.connections,
            established: a.established + t.established,
            closed_by_server: a.closed_by_server + t.closed_by_server,
            connect_failures: a.connect_failures + t.connect_failures,
            still_open: a.still_open + t.still_open,
            longest: a.longest.max(t.longest),
        })
    }

    /// One line per kind, for the test's output and the bench's.
    pub fn table(&self) -> String {
        let mut text = String::from(
            "kind              connections  established  closed by server  connect failures  \
             still open  longest\n",
        );
        for (kind, t) in &self.kinds {
            text.push_str(&format!(
                "{:<17} {:>11}  {:>11}  {:>16}  {:>16}  {:>10}  {:>6.1} s\n",
                kind.name(),
                t.connections,
                t.established,
                t.closed_by_server,
                t.connect_failures,
                t.still_open,
                t.longest.as_secs_f64()
            ));
        }
        text
    }
}

/// Shared by the abusers of one kind.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicUsize,
    established: AtomicUsize,
    closed_by_server: AtomicUsize,
    connect_failures: AtomicUsize,
    open: AtomicUsize,
    longest_ms: AtomicUsize,
}

/// Abusers at work; see the module documentation.
#[derive(Debug)]
pub struct Abuse {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    counters: BTreeMap<Kind, Arc<Counters>>,
    first_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl Abuse {
    /// Starts the abusers of `plan` on the current tokio runtime.
    pub fn start(plan: Plan) -> Self {
        let plan = Arc::new(plan);
        let stop = Arc::new(AtomicBool::new(false));
        let first_error = Arc::new(std::sync::Mutex::new(None));
        let counters: BTreeMap<Kind, Arc<Counters>> = Kind::ALL
            .iter()
            .map(|&k| (k, Arc::new(Counters::default())))
            .collect();
        let mut tasks = JoinSet::new();
        let mut seed = 0x9e37_79b9_u32;
        for &source in &plan.sources {
            for kind in Kind::ALL {
                for _ in 0..plan.mix.count(kind) {
                    seed = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
                    let abuser = Abuser {
                        plan: Arc::clone(&plan),
                        source,
                        kind,
                        counters: Arc::clone(&counters[&kind]),
                        stop: Arc::clone(&stop),
                        first_error: Arc::clone(&first_error),
                        seed: seed | 1,
                    };
                    tasks.spawn(abuser.run());
                }
            }
        }
        Self {
            stop,
            tasks,
            counters,
            first_error,
        }
    }

    /// Connections open now, all kinds.
    pub fn open(&self) -> usize {
        self.counters
            .values()
            .map(|c| c.open.load(Ordering::Relaxed))
            .sum()
    }

    /// Connections made so far, all kinds.
    pub fn connections(&self) -> usize {
        self.counters
            .values()
            .map(|c| c.connections.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops connecting again, waits up to `drain` for the server to close the connections
    /// still open, and reports; connections the server has not closed by then count as
    /// [`Tally::still_open`] and are dropped.
    pub async fn stop(mut self, drain: Duration) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + drain;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(joined)) => joined.expect("an abuser"),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        let report = self.report();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        report
    }

    fn report(&self) -> Report {
        Report {
            kinds: self
                .counters
                .iter()
                .map(|(&kind, c)| {
                    let tally = Tally {
                        connections: c.connections.load(Ordering::Relaxed),
                        established: c.established.load(Ordering::Relaxed),
                        closed_by_server: c.closed_by_server.load(Ordering::Relaxed),
                        connect_failures: c.connect_failures.load(Ordering::Relaxed),
                        still_open: c.open.load(Ordering::Relaxed),
                        longest: Duration::from_millis(c.longest_ms.load(Ordering::Relaxed) as u64),
                    };
                    (kind, tally)
                })
                .collect(),
            first_connect_error: self
                .first_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

/// One abusive client, connecting again and again.
struct Abuser {
    plan: Arc<Plan>,
    source: Ipv4Addr,
    kind: Kind,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    first_error: Arc<std::sync::Mutex<Option<String>>>,
    seed: u32,
}

impl Abuser {
    async fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            let tcp = match self.connect().await {
                Ok(tcp) => tcp,
                Err(error) => {
                    self.counters
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    self.first_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert_with(|| {
                            format!("{} from {}: {error}", self.kind.name(), self.source)
                        });
                    tokio::time::sleep(self.plan.pause).await;
                    continue;
                }
            };
            self.counters.connections.fetch_add(1, Ordering::Relaxed);
            self.counters.open.fetch_add(1, Ordering::Relaxed);
            let began = Instant::now();
            self.abuse(tcp).await;
            let held = usize::try_from(began.elapsed().as_millis()).unwrap_or(usize::MAX);
            self.counters.longest_ms.fetch_max(held, Ordering::Relaxed);
            self.counters
                .closed_by_server
                .fetch_add(1, Ordering::Relaxed);
            self.counters.open.fetch_sub(1, Ordering::Relaxed);
            tokio::time::sleep(self.plan.pause).await;
        }
    }

    async fn connect(&self) -> io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(self.source), 0))?;
        socket.connect(self.plan.target).await
    }

    /// Behaves after its kind on `tcp` until the server closes it.
    async fn abuse(&mut self, tcp: TcpStream) {
        let config = match self.kind {
            Kind::BareTcp => {
                self.counters.established.fetch_add(1, Ordering::Relaxed);
                return until_closed(tcp).await;
            }
            Kind::Garbage => {
                self.counters.established.fetch_add(1, Ordering::Relaxed);
                let mut tcp = tcp;
                let junk = self.junk(512);
                if tcp.write_all(&junk).await.is_ok() {
                    until_closed(tcp).await;
                }
                return;
            }
            Kind::IdleTls => &self.plan.anonymous,
            Kind::IdleTlsWithCertificate | Kind::Slowloris => &self.plan.device,
        };
        let connector = TlsConnector::from(Arc::clone(config));
        // A handshake that fails is one the server ended (it refused or closed the connection).
        let Ok(tls) = connector.connect(self.plan.server_name.clone(), tcp).await else {
            return;
        };
        self.counters.established.fetch_add(1, Ordering::Relaxed);
        match self.kind {
            Kind::Slowloris => slowloris(tls, self.plan.target, self.plan.drip).await,
            _ => until_closed(tls).await,
        }
    }

    /// `n` bytes that are not TLS (a record type no TLS version defines comes first).
    fn junk(&mut self, n: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(n);
        bytes.push(0x7f);
        while bytes.len() < n {
            // xorshift32: reproducible junk without a random-number crate.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 17;
            self.seed ^= self.seed << 5;
            bytes.extend_from_slice(&self.seed.to_le_bytes());
        }
        bytes.truncate(n);
        bytes
    }
}

/// Reads (and discards) until the peer closes the stream or resets it.
async fn until_closed(mut stream: impl AsyncRead + Unpin) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
    }
}

/// Sends a request head a byte every `drip`, a header line after another, never ending it;
/// returns once the server closed the connection.
async fn slowloris<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    target: SocketAddr,
    drip: Duration,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let head = format!(
        "POST /restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data HTTP/1.1\r\n\
         Host: {target}\r\nContent-Type: application/yang-data+json\r\n"
    );
    let closed = until_closed(&mut reader);
    tokio::pin!(closed);
    let mut bytes = head.into_bytes().into_iter().chain(
        std::iter::repeat(b"X-Padding: slow\r\n".as_slice()).flat_map(|line| line.iter().copied()),
    );
    loop {
        tokio::select! {
            () = &mut closed => return,
            () = tokio::time::sleep(drip) => {}
        }
        let Some(byte) = bytes.next() else { return };
        if writer.write_all(&[byte]).await.is_err() {
            // The server is gone; its close is read above, or the write says so.
            return;
        }
    }
}
