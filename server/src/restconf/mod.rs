//! The resources devices call (RFC 8572 §7, RFC 8040): host-meta discovery, the RESTCONF root,
//! and the two RPCs. Every RPC passes, in order: device authentication (401), the concurrency
//! limit (503), body size and time limits (413, 408), media types (415, 406), input decoding
//! (400), and only then the bootstrapper. Every answer is recorded, and every refusal: the
//! first of a kind at once, its repeats as one summary a window (see `refusals`). A refusal
//! with a 4xx status is also a strike against its source (see [`crate::http::strikes`]).
//!
//! May import: `domain`, `store`, `auth`, `bootstrap`, `licensing`, `nms`, `http`, `telemetry`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tracing::Instrument;
use ztp_certs::Serial;
use ztp_yang::{Document, Encoding, ErrorTag, ErrorType, InputWithCsr, ReportProgressInput};

use crate::auth::activation::{ActivationCodes, BasicCredentials};
use crate::auth::device::{AuthenticatedDevice, CurrentVerifier};
use crate::bootstrap::{BootstrapError, Bootstrapper, Call};
use crate::http::{
    Body, BodyError, ConnectionInfo, EarlyError, Handler, Strike, Strikes, empty, read_body,
    response,
};
use crate::store::{EventKind, NewEvent};
use crate::telemetry::metrics::{DeviceMetrics, Outcome, Refusal};
use crate::telemetry::request::RequestId;
use media::{Problem, request_encoding, response_encoding};
use refusals::{Note, Refusals};

mod authentication;
mod csr;
mod discovery;
pub mod forwarded;
pub mod media;
mod problems;
mod refusals;

/// The get-bootstrapping-data operation resource.
pub const GET_BOOTSTRAPPING_DATA: &str =
    "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";
/// The header that answers each device call with its id (see [`crate::telemetry::request`]).
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The report-progress operation resource.
pub const REPORT_PROGRESS: &str = "/restconf/operations/ietf-sztp-bootstrap-server:report-progress";

/// Limits of the device API.
#[derive(Debug, Clone, Copy)]
pub struct DeviceLimits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Time for the body to arrive.
    pub read_timeout: Duration,
    /// Retry-After of a 503.
    pub retry_after_secs: u64,
    /// Requests handled at once.
    pub max_concurrent_requests: usize,
    /// The window of refusal summaries (zero: every refusal recorded).
    pub refusal_summary_window: Duration,
    /// Refusal windows open at once.
    pub max_refusal_windows: usize,
}

/// The device API.
#[derive(Debug)]
pub struct DeviceApi {
    bootstrapper: Bootstrapper,
    verifier: CurrentVerifier,
    limits: DeviceLimits,
    permits: Arc<Semaphore>,
    /// Strikes for refused requests, shared with the listener that benches their sources.
    strikes: Arc<Strikes>,
    refusals: Refusals,
    metrics: DeviceMetrics,
    /// Devices' activation codes, when `device_api.activation_codes` is on.
    codes: Option<ActivationCodes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    GetBootstrappingData,
    ReportProgress,
}

impl Rpc {
    fn refused(self) -> EventKind {
        match self {
            Self::GetBootstrappingData => EventKind::BootstrapRefused,
            Self::ReportProgress => EventKind::ProgressRefused,
        }
    }

    /// Its name in the metrics.
    fn label(self) -> &'static str {
        match self {
            Self::GetBootstrappingData => "get_bootstrapping_data",
            Self::ReportProgress => "report_progress",
        }
    }
}

impl Handler for DeviceApi {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Arc<ConnectionInfo>,
    ) -> Response<Body> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let encoding = response_encoding(request.headers(), None).unwrap_or(Encoding::Json);
        match (method, path.as_str()) {
            (Method::GET | Method::HEAD, "/.well-known/host-meta") => {
                response(StatusCode::OK, "application/xrd+xml", discovery::HOST_META)
            }
            (Method::GET | Method::HEAD, "/restconf" | "/restconf/") => {
                discovery::restconf_root(encoding)
            }
            (Method::GET | Method::HEAD, "/restconf/yang-library-version") => {
                discovery::yang_library_version(encoding)
            }
            (Method::GET | Method::HEAD, discovery::YANG_LIBRARY | discovery::MODULES_STATE) => {
                match response_encoding(request.headers(), None) {
                    Ok(encoding) => discovery::yang_library(&path, encoding),
                    Err(error) => Problem::media(&error).into_response(encoding),
                }
            }
            (_, discovery::YANG_LIBRARY | discovery::MODULES_STATE) => {
                let mut response = Problem::method_not_allowed("the YANG library is read-only")
                    .into_response(encoding);
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
            (Method::POST, GET_BOOTSTRAPPING_DATA) => {
                self.measured(Rpc::GetBootstrappingData, request, &connection)
                    .await
            }
            (Method::POST, REPORT_PROGRESS) => {
                self.measured(Rpc::ReportProgress, request, &connection)
                    .await
            }
            (_, GET_BOOTSTRAPPING_DATA | REPORT_PROGRESS) => {
                let mut response =
                    Problem::method_not_allowed("operation resources accept only POST")
                        .into_response(encoding);
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
                response
            }
            (_, p) if p.starts_with("/restconf/operations/") => {
                Problem::not_found(format!("unknown operation {p}")).into_response(encoding)
            }
            (_, p) => Problem::not_found(format!("no resource at {p}")).into_response(encoding),
        }
    }

    fn early_error(&self, error: &EarlyError, connection: &ConnectionInfo) -> Response<Body> {
        // A malformed request is a strike, not an event: it names no device, and a flood of
        // them must cost no database write.
        self.strike(connection.peer);
        media::early_problem(error)
    }
}

impl DeviceApi {
    /// The device API answering with `bootstrapper`, letting in devices `verifier` accepts,
    /// striking the sources of refused requests in `strikes`.
    pub fn new(
        bootstrapper: Bootstrapper,
        verifier: CurrentVerifier,
        limits: DeviceLimits,
        strikes: Arc<Strikes>,
    ) -> Self {
        Self {
            bootstrapper,
            verifier,
            permits: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
            refusals: Refusals::new(limits.refusal_summary_window, limits.max_refusal_windows),
            strikes,
            limits,
            metrics: DeviceMetrics::default(),
            codes: None,
        }
    }

    /// Devices may (or, those that have one, must) present their activation `codes`.
    #[must_use]
    pub fn with_activation_codes(mut self, codes: ActivationCodes) -> Self {
        self.codes = Some(codes);
        self
    }

    /// What answers the devices.
    pub fn bootstrapper(&self) -> &Bootstrapper {
        &self.bootstrapper
    }

    /// What the device API counts: calls, refusals, latency.
    pub fn metrics(&self) -> &DeviceMetrics {
        &self.metrics
    }

    /// Records the summaries of repeated refusals as their windows close, until `stop`
    /// completes; then records those of the windows still open.
    pub async fn summarize_refusals(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let idle = tokio::time::Instant::now() + self.limits.refusal_summary_window;
            let wake = self.refusals.next_close().unwrap_or(idle);
            let all = tokio::select! {
                () = tokio::time::sleep_until(wake) => false,
                () = &mut stop => true,
            };
            for summary in self.refusals.close(all) {
                tracing::info!(
                    kind = summary.kind.as_str(),
                    serial = summary.serial.as_ref().map(Serial::as_str),
                    status = summary.status,
                    peer = summary.peer.as_deref(),
                    "{}",
                    summary.detail
                );
                if let Err(error) = self.bootstrapper.journal().record(summary).await {
                    tracing::error!(%error, "could not record an event");
                }
            }
            if all {
                return;
            }
        }
    }

    /// A strike against `peer`'s source for a refused request.
    fn strike(&self, peer: SocketAddr) {
        if self.strikes.strike(peer.ip()) == Strike::Benched {
            tracing::warn!(
                source = %peer.ip(),
                "benched after too many refused requests: its connections are closed at once \
                 for the cool-down"
            );
        }
    }

    /// [`DeviceApi::rpc`], timed; a get-bootstrapping-data call not served counted by its
    /// outcome (one served is counted with its profile where it is served).
    async fn measured(
        &self,
        rpc: Rpc,
        request: Request<Incoming>,
        connection: &ConnectionInfo,
    ) -> Response<Body> {
        let start = Instant::now();
        let id = RequestId::new();
        let header = HeaderValue::from_str(id.as_str()).ok();
        let span = tracing::info_span!("request", id = %id);
        let mut response = id
            .scope(self.rpc(rpc, request, connection))
            .instrument(span)
            .await;
        if let Some(header) = header {
            response.headers_mut().insert(REQUEST_ID, header);
        }
        self.metrics.answered(rpc.label(), start.elapsed());
        let status = response.status().as_u16();
        if rpc == Rpc::GetBootstrappingData && status != 200 {
            self.metrics.bootstrap(Outcome::of_status(status), None);
        }
        response
    }

    async fn rpc(
        &self,
        rpc: Rpc,
        request: Request<Incoming>,
        connection: &ConnectionInfo,
    ) -> Response<Body> {
        // Until the body's own type is known, errors follow Accept (or the declared type).
        let declared = request_encoding(request.headers(), false).ok().flatten();
        let error_encoding =
            response_encoding(request.headers(), declared).unwrap_or(Encoding::Json);
        let basic = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| BasicCredentials::from_header(value.as_bytes()));
        let Some(device) = self.authenticated(rpc, connection, basic.as_ref()).await else {
            return self.unauthenticated(error_encoding);
        };
        let device = device.as_ref();
        let serial = Some(device.serial().clone());
        let Ok(_permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            tracing::warn!(serial = %device.serial(), "busy: concurrency limit reached");
            self.metrics.refused(rpc.label(), Refusal::Busy);
            return Problem::busy(
                "the server is busy; retry later",
                self.limits.retry_after_secs,
            )
            .into_response(error_encoding);
        };
        let refuse = |(problem, detail): (Problem, String)| async move {
            self.record(
                rpc,
                problems::input_refusal(problem.status),
                serial.clone(),
                problem.status.as_u16(),
                connection,
                detail,
            )
            .await;
            problem.into_response(error_encoding)
        };
        let (input_encoding, encoding, body) = match self.input(request).await {
            Ok(input) => input,
            Err(refusal) => return refuse(refusal).await,
        };
        match rpc {
            Rpc::GetBootstrappingData => match self.bootstrapping_input(input_encoding, &body) {
                Ok(input) => {
                    self.get_bootstrapping_data(device, &input, connection, encoding)
                        .await
                }
                Err(refusal) => refuse(refusal).await,
            },
            Rpc::ReportProgress => match self.progress_input(input_encoding, &body) {
                Ok(report) => {
                    self.report_progress(device, &report, connection, encoding)
                        .await
                }
                Err(refusal) => refuse(refusal).await,
            },
        }
    }

    /// The request's body within the limits, the encoding of its input (`None`: no body) and
    /// the encoding of the answer; or the problem to refuse it with, and why.
    async fn input(
        &self,
        request: Request<Incoming>,
    ) -> Result<(Option<Encoding>, Encoding, Bytes), (Problem, String)> {
        let (parts, body) = read_body(
            request,
            self.limits.max_body_bytes,
            self.limits.read_timeout,
        )
        .await
        .map_err(|error| {
            let problem = match &error {
                BodyError::TooLarge(_) => Problem::too_big(error.to_string()),
                BodyError::Timeout => Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorType::Transport,
                    ErrorTag::OperationFailed,
                    error.to_string(),
                ),
                BodyError::Broken(_) => Problem::malformed(error.to_string()),
            };
            (problem, error.to_string())
        })?;
        let input = request_encoding(&parts.headers, !body.is_empty())
            .map_err(|error| (Problem::media(&error), error.to_string()))?;
        let answer = response_encoding(&parts.headers, input)
            .map_err(|error| (Problem::media(&error), error.to_string()))?;
        Ok((input, answer, body))
    }

    /// The get-bootstrapping-data input. Every input is optional: an empty body is an empty
    /// input, with a YANG media type as without one (RFC 8040 §3.6.1).
    fn bootstrapping_input(
        &self,
        encoding: Option<Encoding>,
        body: &[u8],
    ) -> Result<InputWithCsr, (Problem, String)> {
        let empty = body.iter().all(u8::is_ascii_whitespace);
        match encoding {
            None => Ok(InputWithCsr::default()),
            Some(_) if empty => Ok(InputWithCsr::default()),
            Some(encoding) => {
                InputWithCsr::decode_limited(encoding, body, self.limits.max_body_bytes).map_err(
                    |error| {
                        (
                            problems::decode_problem(&error),
                            format!("bad input: {error}"),
                        )
                    },
                )
            }
        }
    }

    /// The report-progress input, which must name a progress type.
    fn progress_input(
        &self,
        encoding: Option<Encoding>,
        body: &[u8],
    ) -> Result<ReportProgressInput, (Problem, String)> {
        let Some(encoding) = encoding else {
            return Err((
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    ErrorType::Protocol,
                    ErrorTag::MissingElement,
                    "report-progress needs an input with a progress-type",
                ),
                "empty report".into(),
            ));
        };
        ReportProgressInput::decode_limited(encoding, body, self.limits.max_body_bytes).map_err(
            |error| {
                (
                    problems::decode_problem(&error),
                    format!("bad report: {error}"),
                )
            },
        )
    }

    async fn get_bootstrapping_data(
        &self,
        device: &AuthenticatedDevice,
        input: &InputWithCsr,
        connection: &ConnectionInfo,
        encoding: Encoding,
    ) -> Response<Body> {
        let peer = connection.peer.to_string();
        let call = Call {
            device,
            input: &input.input,
            csr: input.csr.as_ref(),
            source: connection.peer.ip(),
            peer: &peer,
            encoding,
        };
        let serial = Some(device.serial().clone());
        match self.bootstrapper.get_bootstrapping_data(call).await {
            Ok(served) => {
                self.metrics
                    .bootstrap(Outcome::Served, Some(served.plan.profile.as_str()));
                // The bootstrapper recorded the event with the device's new state.
                tracing::info!(
                    kind = EventKind::BootstrapServed.as_str(),
                    serial = %device.serial(),
                    status = 200,
                    peer,
                    family = served.family.as_deref(),
                    "{}",
                    served.describe()
                );
                response(
                    StatusCode::OK,
                    encoding.media_type(),
                    served.output.encode(encoding),
                )
            }
            Err(BootstrapError::CsrWanted { request, .. }) => {
                self.ask_for_csr(device, request, connection, encoding)
                    .await
            }
            Err(error) => {
                self.refused(
                    Rpc::GetBootstrappingData,
                    serial,
                    connection,
                    &error,
                    encoding,
                )
                .await
            }
        }
    }

    async fn report_progress(
        &self,
        device: &AuthenticatedDevice,
        report: &ReportProgressInput,
        connection: &ConnectionInfo,
        encoding: Encoding,
    ) -> Response<Body> {
        let peer = connection.peer.to_string();
        let serial = Some(device.serial().clone());
        match self
            .bootstrapper
            .report_progress(device, report, &peer)
            .await
        {
            Ok(state) => {
                tracing::info!(
                    kind = EventKind::ProgressReported.as_str(),
                    serial = %device.serial(),
                    status = 204,
                    peer,
                    "{} (now {state})",
                    report.progress_type.as_str()
                );
                empty(StatusCode::NO_CONTENT)
            }
            Err(error) => {
                self.refused(Rpc::ReportProgress, serial, connection, &error, encoding)
                    .await
            }
        }
    }

    /// Records why the bootstrapper refused and answers with the matching RESTCONF error.
    async fn refused(
        &self,
        rpc: Rpc,
        serial: Option<Serial>,
        connection: &ConnectionInfo,
        error: &BootstrapError,
        encoding: Encoding,
    ) -> Response<Body> {
        let (problem, reason) = problems::bootstrap_problem(error, self.limits.retry_after_secs);
        self.record(
            rpc,
            reason,
            serial,
            problem.status.as_u16(),
            connection,
            error.to_string(),
        )
        .await;
        problem.into_response(encoding)
    }

    /// Counts a refusal of a call to `rpc` for `reason` and records it (the first of its kind
    /// in its window; a repeat is counted toward the window's summary), and strikes its source
    /// when the fault is the client's (4xx).
    async fn record(
        &self,
        rpc: Rpc,
        reason: Refusal,
        serial: Option<Serial>,
        status: u16,
        connection: &ConnectionInfo,
        detail: String,
    ) {
        self.metrics.refused(rpc.label(), reason);
        let kind = rpc.refused();
        let peer = connection.peer;
        if (400..500).contains(&status) {
            self.strike(peer);
        }
        let event = NewEvent {
            serial,
            kind,
            status: Some(status),
            peer: Some(peer.to_string()),
            detail,
            notice: None,
            request_id: None,
        };
        let note = self.refusals.note(
            &event,
            peer,
            connection.client_chain.first().map(|c| c.as_ref()),
        );
        let (kind, serial) = (kind.as_str(), event.serial.as_ref().map(Serial::as_str));
        if note == Note::Repeat {
            tracing::debug!(kind, serial, status, %peer, "{} (a repeat)", event.detail);
            return;
        }
        tracing::info!(kind, serial, status, %peer, "{}", event.detail);
        if let Err(error) = self.bootstrapper.journal().record(event).await {
            tracing::error!(%error, "could not record an event");
        }
    }
}
