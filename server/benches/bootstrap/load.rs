//! The load generator: simulated devices at first power-on. Each bootstrap is a new TCP
//! connection and TLS handshake with the device's IDevID as client certificate, then
//! get-bootstrapping-data and report-progress over HTTP/1.1 on that connection. The same
//! generator drives ztp, the baseline and any other RFC 8572 server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::{CONTENT_TYPE, HOST};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;

use ztp::agent::client::{GET_BOOTSTRAPPING_DATA, REPORT_PROGRESS};

/// A device of the load: its serial and TLS configuration (its IDevID chain and key).
pub(crate) struct Device {
    /// Serial number.
    pub(crate) serial: String,
    /// Client configuration offering its IDevID.
    pub(crate) tls: Arc<ClientConfig>,
}

/// A server under load.
#[derive(Clone)]
pub(crate) struct Target {
    /// Where it listens: one address, or those of its instances (behind a load balancer, as
    /// it were), taken in turn by the bootstraps.
    pub(crate) addresses: Vec<SocketAddr>,
    /// The bootstraps started, for taking the addresses in turn.
    pub(crate) started: Arc<AtomicUsize>,
    /// The name its certificate must carry.
    pub(crate) server_name: ServerName<'static>,
    /// The `Host` header.
    pub(crate) authority: String,
    /// The hw-model devices send.
    pub(crate) model: String,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RunResult {
    /// Completed bootstraps.
    pub(crate) bootstraps: usize,
    /// Failed ones (with the first error).
    pub(crate) failures: usize,
    /// The first error seen.
    pub(crate) first_error: Option<String>,
    /// Wall time of the run, seconds.
    pub(crate) seconds: f64,
    /// Bootstraps per second.
    pub(crate) per_second: f64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub(crate) max_ms: f64,
}

fn result(
    latencies: &mut [Duration],
    failures: usize,
    error: Option<String>,
    wall: Duration,
) -> RunResult {
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    RunResult {
        bootstraps: latencies.len(),
        failures,
        first_error: error,
        seconds: wall.as_secs_f64(),
        per_second: latencies.len() as f64 / wall.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// One device's first power-on: connect, handshake, get-bootstrapping-data, report-progress.
/// Returns the answer's size.
pub(crate) async fn bootstrap(target: &Target, device: &Device) -> Result<usize, String> {
    let turn = target.started.fetch_add(1, Ordering::Relaxed);
    let tcp = TcpStream::connect(target.addresses[turn % target.addresses.len()])
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let tls = TlsConnector::from(Arc::clone(&device.tls))
        .connect(target.server_name.clone(), tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(connection);
    let input = format!(
        r#"{{"ietf-sztp-bootstrap-server:input":{{"hw-model":"{}"}}}}"#,
        target.model
    );
    let answer = post(&mut sender, target, GET_BOOTSTRAPPING_DATA, input).await?;
    let report = r#"{"ietf-sztp-bootstrap-server:input":{"progress-type":"bootstrap-complete"}}"#;
    post(&mut sender, target, REPORT_PROGRESS, report.to_owned()).await?;
    Ok(answer)
}

async fn post(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    target: &Target,
    path: &str,
    body: String,
) -> Result<usize, String> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, &target.authority)
        .header(CONTENT_TYPE, "application/yang-data+json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    // The connection takes the next request only once it is done with the previous one.
    sender
        .ready()
        .await
        .map_err(|e| format!("{path}: connection: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{path}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{path}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(body.len())
}

/// How long a closed loop runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Span {
    /// This long, taking the devices in turn again and again.
    For(Duration),
    /// Until every device has bootstrapped once.
    EachDeviceOnce,
}

/// `concurrency` devices bootstrapping back to back (closed loop) for `span`, taking devices
/// in turn from `devices`.
pub(crate) async fn closed_loop(
    target: &Target,
    devices: &Arc<Vec<Device>>,
    concurrency: usize,
    span: Span,
) -> RunResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (target, devices, next) = (target.clone(), Arc::clone(devices), Arc::clone(&next));
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let (mut failures, mut error) = (0, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let device = match span {
                    Span::For(duration) if started.elapsed() < duration => {
                        &devices[i % devices.len()]
                    }
                    Span::EachDeviceOnce if i < devices.len() => &devices[i],
                    _ => break,
                };
                let began = Instant::now();
                match bootstrap(&target, device).await {
                    Ok(_) => latencies.push(began.elapsed()),
                    Err(e) => {
                        failures += 1;
                        error.get_or_insert_with(|| format!("{}: {e}", device.serial));
                    }
                }
            }
            (latencies, failures, error)
        });
    }
    let mut latencies = Vec::new();
    let (mut failures, mut error) = (0, None);
    while let Some(joined) = workers.join_next().await {
        let (l, f, e) = joined.expect("a load worker");
        latencies.extend(l);
        failures += f;
        if error.is_none() {
            error = e;
        }
    }
    result(&mut latencies, failures, error, started.elapsed())
}

/// Bootstraps started at a fixed `rate` for `duration` (open loop: latency counts from the
/// scheduled start, so a slow server cannot hide its queue), at most `cap` at once.
pub(crate) async fn open_loop(
    target: &Target,
    devices: &Arc<Vec<Device>>,
    rate: f64,
    duration: Duration,
    cap: usize,
) -> RunResult {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let slots = Arc::new(Semaphore::new(cap));
    let started = Instant::now();
    let total = (duration.as_secs_f64() * rate) as usize;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let (target, devices) = (target.clone(), Arc::clone(devices));
        tasks.spawn(async move {
            let device = &devices[i % devices.len()];
            let outcome = bootstrap(&target, device).await;
            drop(slot);
            outcome.map(|_| scheduled.elapsed())
        });
    }
    let mut latencies = Vec::new();
    let (mut failures, mut error) = (0, None);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("a load task") {
            Ok(latency) => latencies.push(latency),
            Err(e) => {
                failures += 1;
                error.get_or_insert(e);
            }
        }
    }
    result(&mut latencies, failures, error, started.elapsed())
}

/// `count` bootstraps of `device`, one after another: their latencies, milliseconds.
pub(crate) async fn sequential(target: &Target, device: &Device, count: usize) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        bootstrap(target, device).await.expect("a bootstrap");
        latencies.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    latencies
}
