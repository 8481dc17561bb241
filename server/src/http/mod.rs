//! HTTP plumbing shared by the device and admin listeners: the accept loop (TLS optional,
//! HTTP/1.1 and HTTP/2), limits on heads and bodies, graceful shutdown.
//!
//! - [`strikes`]: per-source budgets of failed handshakes and refusals, and the bench.
//! - [`early_errors`]: request heads hyper would refuse, answered by the handler instead.
//! - `slots`, `idle`: connection slots per listener and source; deadlines of idle connections.
//!
//! What the device port bounds, and why, is in docs/device-port.md.
//!
//! May import: `auth` (a connection's device verdict) and `telemetry`; nothing of the APIs it
//! carries.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use crate::auth::device::{AuthFailure, AuthenticatedDevice};
pub use crate::telemetry::OpenConnections;
use crate::telemetry::metrics::{HandshakeFailure, ListenerMetrics};

pub mod early_errors;
mod idle;
pub mod open_files;
pub(crate) mod slots;
pub mod strikes;

pub use early_errors::EarlyError;
pub use strikes::{Budget, Strike, Strikes};

/// A listener's TLS configuration, which a reload may replace while it serves.
pub type Tls = Arc<arc_swap::ArcSwap<rustls::ServerConfig>>;

/// The response body type of every handler.
pub type Body = Full<Bytes>;

/// What is known about a connection.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The certificate chain the client presented (TLS listeners only; or as a proxy forwarded
    /// it), leaf first.
    pub client_chain: Vec<CertificateDer<'static>>,
    /// The device API's verdict on that chain: computed by the first request, reused by the
    /// connection's later ones (the chain cannot change within a connection).
    pub device: OnceLock<Result<AuthenticatedDevice, AuthFailure>>,
}

impl ConnectionInfo {
    fn new(peer: SocketAddr, client_chain: Vec<CertificateDer<'static>>) -> Self {
        Self {
            peer,
            client_chain,
            device: OnceLock::new(),
        }
    }

    /// One request a TLS-terminating proxy forwarded, standing for a connection of its own:
    /// the device's address and certificate chain as the proxy forwarded them.
    pub fn forwarded(peer: SocketAddr, client_chain: Vec<CertificateDer<'static>>) -> Self {
        Self::new(peer, client_chain)
    }
}

/// Answers requests on a listener.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Arc<ConnectionInfo>,
    ) -> impl Future<Output = Response<Body>> + Send;

    /// Answers a request refused before it reached [`Handler::handle`] (see [`early_errors`]);
    /// the connection closes after it. By default a bare status.
    fn early_error(&self, error: &EarlyError, connection: &ConnectionInfo) -> Response<Body> {
        let _ = connection;
        empty(error.status)
    }
}

/// What a listener holds against the sources that misbehave: a source benched by either is
/// closed as soon as it is accepted, before its handshake (see [`strikes`]).
#[derive(Debug, Clone, Default)]
pub struct Penalties {
    /// Failed or abandoned TLS handshakes, struck by the accept loop.
    pub handshakes: Option<Arc<Strikes>>,
    /// Refused requests, struck by the handler.
    pub refusals: Option<Arc<Strikes>>,
}

impl Penalties {
    fn benched(&self, peer: std::net::IpAddr) -> bool {
        [&self.handshakes, &self.refusals]
            .into_iter()
            .flatten()
            .any(|strikes| strikes.benched(peer))
    }
}

/// What a listener tells about itself: its connections open, its failed handshakes.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Its name in the metrics (`device`, `device_proxy`, `admin`).
    pub listener: &'static str,
    /// Its connections open now.
    pub open: OpenConnections,
    /// Where its failed handshakes are counted.
    pub metrics: ListenerMetrics,
}

/// Limits applied to every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request head, in bytes.
    pub max_header_bytes: usize,
    /// Time for the TLS handshake, for the first request to begin after it, and for a
    /// request head.
    pub read_timeout: Duration,
    /// Time a connection may wait between an answer and its next request.
    pub idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one source (an IPv4 address, an IPv6 /64).
    pub max_connections_per_source: usize,
    /// TLS handshakes in progress at once; a connection beyond waits for its turn within its
    /// handshake deadline (`read_timeout`), then is closed.
    pub max_handshakes: usize,
    /// Time allowed for graceful shutdown before connections are dropped.
    pub drain_timeout: Duration,
}

/// Accepts connections on `listener` until `shutdown` completes, then lets open requests
/// finish (for at most `limits.drain_timeout`); counts them and their failed handshakes in
/// `watch`; closes the connections of sources `penalties` has benched as soon as they are
/// accepted.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Option<Tls>,
    handler: Arc<H>,
    limits: Limits,
    watch: Watch,
    penalties: Penalties,
    shutdown: impl Future<Output = ()>,
) {
    let open = watch.open.clone();
    let graceful = GracefulShutdown::new();
    let shared = Arc::new(Shared {
        tls,
        handler,
        builder: builder(&limits),
        // Handshakes are CPU: a flood of them must leave the runtime to the requests of the
        // devices already connected.
        handshakes: Semaphore::new(limits.max_handshakes.max(1)),
        penalties,
        limits,
        watch,
    });
    let slots = slots::Slots::new(limits.max_connections, limits.max_connections_per_source);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if shared.penalties.benched(peer.ip()) {
            // Benched for its failed handshakes or its refusals: closed before it costs CPU or
            // a database write; at debug level, so that it costs no log volume either.
            tracing::debug!(%peer, "benched source: closed at once");
            drop(tcp);
            continue;
        }
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(full) => {
                // Closed at once, before a handshake costs anything; logged at debug level
                // only, so that a flood costs no log volume either.
                tracing::debug!(%peer, ?full, "no connection slot: closed at once");
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (shared, watcher, counted) = (Arc::clone(&shared), graceful.watcher(), open.open());
        tokio::spawn(async move {
            let _counted = counted;
            let _slot = slot;
            shared.connection(tcp, peer, watcher).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout were dropped");
    }
}

/// HTTP/1.1 and HTTP/2 as `limits` bound them.
fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        // A client that closes its sending side still gets its answers; and a request head
        // refused by `early_errors` (which ends hyper's stream) comes after the answers to the
        // requests before it instead of cutting them off.
        .half_close(true)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(30));
    builder
}

/// What the connections of one listener share.
struct Shared<H> {
    tls: Option<Tls>,
    handler: Arc<H>,
    builder: Builder<TokioExecutor>,
    /// Permits of concurrent TLS handshakes.
    handshakes: Semaphore,
    penalties: Penalties,
    limits: Limits,
    watch: Watch,
}

impl<H: Handler> Shared<H> {
    /// Serves one accepted connection (after its TLS handshake, on a TLS listener) until it
    /// closes or the drain `watcher` ends it.
    async fn connection(&self, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let handler = Arc::clone(&self.handler);
        let served = match &self.tls {
            Some(tls) => {
                let stream = handshake(tls, tcp, peer, &self.handshakes, self.limits).await;
                let stream = match stream {
                    Ok(stream) => stream,
                    Err(Some((reason, failure))) => {
                        self.watch
                            .metrics
                            .handshake_failed(self.watch.listener, reason);
                        strike(peer, &self.penalties, &failure);
                        return;
                    }
                    Err(None) => return,
                };
                let client_chain = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
                    .unwrap_or_default();
                let info = ConnectionInfo::new(peer, client_chain);
                serve_connection(stream, info, handler, &self.builder, watcher, self.limits).await
            }
            None => {
                let info = ConnectionInfo::new(peer, Vec::new());
                serve_connection(tcp, info, handler, &self.builder, watcher, self.limits).await
            }
        };
        if let Err(error) = served {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// The TLS handshake of the connection from `peer`: its ClientHello, then (once a permit of
/// `handshakes` is free) the rest, all within the handshake deadline. A handshake that fails
/// or runs out of time gives why (a strike against the source); one that found no permit in
/// time gives `None` (no strike: the server was busy, not the client). The ClientHello is awaited without a permit, so that clients
/// that connect and say nothing, or trickle their hello, wait out their own deadline without
/// holding the permits that devices' handshakes need.
async fn handshake(
    tls: &Tls,
    tcp: TcpStream,
    peer: SocketAddr,
    handshakes: &Semaphore,
    limits: Limits,
) -> Result<TlsStream<TcpStream>, Option<(HandshakeFailure, String)>> {
    let deadline = tokio::time::Instant::now() + limits.read_timeout;
    let hello = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let timed_out = |what: &str| Some((HandshakeFailure::Timeout, what.to_owned()));
    let start = match tokio::time::timeout_at(deadline, hello).await {
        Ok(Ok(start)) => start,
        Ok(Err(error)) => return Err(Some((failure_of(&error), error.to_string()))),
        Err(_) => return Err(timed_out("timed out before its ClientHello")),
    };
    let _permit = match handshakes.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            tracing::debug!(%peer, "waiting for a TLS handshake permit");
            let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, handshakes.acquire()).await
            else {
                tracing::debug!(%peer, "no TLS handshake permit in time: closed");
                return Err(None);
            };
            permit
        }
    };
    // The configuration current now: a reload meanwhile applies from the next handshake.
    let rest = start.into_stream(tls.load_full());
    match tokio::time::timeout_at(deadline, rest).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(Some((failure_of(&error), error.to_string()))),
        Err(_) => Err(timed_out("timed out")),
    }
}

/// Why a handshake failed with `error`, as the metrics count it.
fn failure_of(error: &std::io::Error) -> HandshakeFailure {
    use std::io::ErrorKind;
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::NoCertificatesPresented) => HandshakeFailure::NoCertificate,
        Some(rustls::Error::InvalidCertificate(_)) => HandshakeFailure::BadCertificate,
        Some(_) => HandshakeFailure::Protocol,
        None => match error.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                HandshakeFailure::Closed
            }
            ErrorKind::InvalidData => HandshakeFailure::Protocol,
            _ => HandshakeFailure::Other,
        },
    }
}

/// Strikes `peer`'s source for a failed handshake (`failure`), warning when that benches it.
fn strike(peer: SocketAddr, penalties: &Penalties, failure: &str) {
    let strike = penalties.handshakes.as_ref().map(|s| s.strike(peer.ip()));
    tracing::debug!(%peer, ?strike, "TLS handshake failed: {failure}");
    if strike == Some(Strike::Benched) {
        tracing::warn!(
            source = %peer.ip(),
            "benched after too many failed TLS handshakes: its connections are closed at once \
             for the cool-down"
        );
    }
}

/// Serves the requests of one connection with `handler` until it closes, shutdown drains it,
/// or it asks nothing for its deadline (see `idle`).
async fn serve_connection<H, I>(
    io: I,
    info: ConnectionInfo,
    handler: Arc<H>,
    builder: &Builder<TokioExecutor>,
    watcher: Watcher,
    limits: Limits,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    H: Handler,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer;
    let info = Arc::new(info);
    let render: early_errors::Render = {
        let (handler, info) = (Arc::clone(&handler), Arc::clone(&info));
        Box::new(move |error| handler.early_error(error, &info))
    };
    let io = early_errors::Screened::new(io, limits.max_header_bytes, render);
    let activity = idle::Activity::new();
    let requests = Arc::clone(&activity);
    let service = service_fn(move |req| {
        let (handler, info) = (Arc::clone(&handler), Arc::clone(&info));
        let in_flight = requests.request();
        async move {
            let response = handler.handle(req, info).await;
            drop(in_flight);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    let connection = watcher.watch(connection);
    tokio::pin!(connection);
    loop {
        let due = activity.deadline(limits.read_timeout, limits.idle_timeout);
        // With a request in flight, look again later: its own deadlines bound it.
        let wake = due.unwrap_or_else(|| tokio::time::Instant::now() + limits.read_timeout);
        tokio::select! {
            served = &mut connection => return served,
            () = tokio::time::sleep_until(wake) => {}
        }
        if let Some(due) = activity.deadline(limits.read_timeout, limits.idle_timeout)
            && due <= tokio::time::Instant::now()
        {
            // Dropping the connection closes it.
            tracing::debug!(%peer, "closed a connection that asked nothing in time");
            return Ok(());
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than allowed.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Not complete in time.
    #[error("the request body did not arrive in time")]
    Timeout,
    /// The connection failed.
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

/// Reads a whole request body of at most `limit` bytes within `timeout`.
pub async fn read_body(
    request: Request<Incoming>,
    limit: usize,
    timeout: Duration,
) -> Result<(http::request::Parts, Bytes), BodyError> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| BodyError::Timeout)?;
    match collected {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge(limit))
        }
        Err(error) => Err(BodyError::Broken(error.to_string())),
    }
}

/// A response with `status`, a content type and `body`.
pub fn response(
    status: http::StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// An empty response with `status`.
pub fn empty(status: http::StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
