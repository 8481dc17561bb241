//! Abusive clients of the device port, for the exhaustion test and the mixed-load bench: each
//! connects from a chosen loopback source address, misbehaves in one way, and reports when (and
//! whether) the server closed its connection.
//!
//! - [`Kind::IdleTls`]: completes the TLS handshake with a device certificate, then says
//!   nothing.
//! - [`Kind::BareTcp`]: connects and sends nothing, not even a ClientHello.
//! - [`Kind::Slowloris`]: completes the handshake, then trickles a request head a byte at a
//!   time.
//! - [`Kind::Garbage`]: connects and sends bytes that are no TLS.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

/// How a client misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Handshake, then silence.
    IdleTls,
    /// TCP only, then silence.
    BareTcp,
    /// Handshake, then a request head a byte at a time.
    Slowloris,
    /// Bytes that are no TLS.
    Garbage,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::IdleTls, Self::BareTcp, Self::Slowloris, Self::Garbage];
}

/// What happened to one abusive client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The connection could not be made.
    NotConnected,
    /// The server closed the connection this long after it was made (before the handshake
    /// ended, for the TLS kinds, when it was closed at accept).
    Closed(Duration),
    /// The connection was still open when the client gave up waiting.
    StillOpen,
}

/// A device's TLS client configuration from a PKI directory in ztp's development layout: the
/// server trusted by the manufacturer root, the client certificate of device `serial`, HTTP/1.1.
pub fn device_tls(pki: &Path, serial: &str) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(pki.join("manufacturer/root-ca.pem")).expect("the root reads")
    {
        roots.add(cert.expect("root PEM")).expect("a root");
    }
    let device = pki.join("devices").join(serial);
    let chain = CertificateDer::pem_file_iter(device.join("idevid.pem"))
        .expect("the IDevID reads")
        .collect::<Result<Vec<_>, _>>()
        .expect("IDevID PEM");
    let key = PrivateKeyDer::from_pem_file(device.join("idevid.key")).expect("the key reads");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("a client certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Connects from `source` to `server`.
pub async fn connect_from(source: IpAddr, server: SocketAddr) -> io::Result<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(server).await
}

/// Runs one abusive client of `kind` from `source` against the device port at `server`, and
/// waits at most `patience` for the server to close it.
pub async fn abuse(
    kind: Kind,
    source: IpAddr,
    server: SocketAddr,
    tls: Arc<ClientConfig>,
    patience: Duration,
) -> Fate {
    let Ok(tcp) = connect_from(source, server).await else {
        return Fate::NotConnected;
    };
    let start = Instant::now();
    let closed = tokio::time::timeout(patience, misbehave(kind, tcp, tls)).await;
    match closed {
        Ok(()) => Fate::Closed(start.elapsed()),
        Err(_) => Fate::StillOpen,
    }
}

/// Like [`abuse`], again and again until `until`: a client the server closes comes straight
/// back. Returns the fate of each connection.
pub async fn abuse_until(
    kind: Kind,
    source: IpAddr,
    server: SocketAddr,
    tls: Arc<ClientConfig>,
    patience: Duration,
    until: Instant,
) -> Vec<Fate> {
    let mut fates = Vec::new();
    while Instant::now() < until {
        let fate = abuse(kind, source, server, tls.clone(), patience).await;
        fates.push(fate);
        // Closed at once (beyond its source's share) or not connected: back in 50 ms, a flood
        // of twenty connections a second per client rather than a spin that would measure the
        // client machine.
        if matches!(fate, Fate::NotConnected)
            || matches!(fate, Fate::Closed(after) if after < Duration::from_millis(50))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    fates
}

/// Misbehaves until the server closes the connection.
async fn misbehave(kind: Kind, mut tcp: TcpStream, tls: Arc<ClientConfig>) {
    match kind {
        Kind::BareTcp => until_closed(&mut tcp).await,
        Kind::Garbage => {
            // Not a TLS record: the server's handshake fails on the first bytes.
            if tcp
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .is_ok()
            {
                until_closed(&mut tcp).await;
            }
        }
        Kind::IdleTls | Kind::Slowloris => {
            let name = ServerName::IpAddress(
                tcp.peer_addr()
                    .map(|a| a.ip())
                    .unwrap_or(IpAddr::from([127, 0, 0, 1]))
                    .into(),
            );
            let Ok(mut stream) = TlsConnector::from(tls).connect(name, tcp).await else {
                return;
            };
            if kind == Kind::IdleTls {
                return until_closed(&mut stream).await;
            }
            let head = b"POST /restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data HTTP/1.1\r\nHost: ztp\r\nContent-Type: application/yang-data+json\r\n";
            for byte in head.iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                let mut buf = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await
                {
                    // Data: an error answer; the server closes next.
                    Ok(Ok(n)) if n > 0 => {}
                    Ok(_) => return,
                    Err(_) => {}
                }
            }
        }
    }
}

/// Reads (and drops) whatever comes until end of stream or an error.
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

/// The number of sockets process `pid` holds open (Linux): its listeners and connections, not
/// its database files, whose number follows the connection pool.
pub fn open_sockets(pid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}
