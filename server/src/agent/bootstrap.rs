//! The device's bootstrap flow (RFC 8572 §5.2–5.6, one pass): for each bootstrap server in
//! order, call `get-bootstrapping-data` with the IDevID as TLS client certificate, verify the
//! answer ([`verify_response`]), report progress, and stop at the first verified answer.
//!
//! The agent stops at the verified conveyed information: it does not follow redirects or
//! install images; it returns them as a [`BootstrapOutcome`] for the caller to act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::{Cert, DeviceIdentity, IdentityError, PkiError, Serial, SerialSource};
use ztp_yang::{
    DecodeError, Document, Encoding, GetBootstrappingDataInput, GetBootstrappingDataOutput, Nonce,
    ProgressType, ReportProgressInput, RestconfErrors, SshHostKey, ValidationError,
};

use super::client::{
    Client, ClientError, GET_BOOTSTRAPPING_DATA, MAX_BODY, REPORT_PROGRESS, Response, ServerUrl,
};
use super::tls::{self, ClientIdentity, ServerTrust, TlsConfigError};
use super::verify::{DeviceTrust, RefusedResponse, VerifiedResponse, verify_response};
use crate::dhcp::colon_hex;

/// Why bootstrapping failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The IDevID certificate file cannot be read.
    #[error("IDevID certificate: {0}")]
    Certificate(#[from] PkiError),
    /// The IDevID does not name the device where the serial source says.
    #[error("IDevID serial: {0}")]
    Identity(#[from] IdentityError),
    /// The TLS configuration cannot be built.
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] TlsConfigError),
    /// No bootstrap server was given.
    #[error("no bootstrap server to contact")]
    NoServer,
    /// The nonce cannot be made or is invalid.
    #[error("nonce: {0}")]
    Nonce(String),
    /// Transport: connecting, TLS, HTTP, timeouts.
    #[error(transparent)]
    Transport(#[from] ClientError),
    /// The server answered with an error status.
    #[error("server answered {status}{}{}", retry_hint(.retry_after), detail_suffix(.detail))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The RESTCONF error tags and messages, or an excerpt of a non-RESTCONF body.
        detail: String,
        /// The `Retry-After` value, when the server sent one.
        retry_after: Option<String>,
    },
    /// A 200 response whose body is not a `get-bootstrapping-data` output.
    #[error("malformed response: {0}")]
    Malformed(#[from] DecodeError),
    /// The response did not pass the device's checks (RFC 8572 §5.4).
    #[error("refused: {0}")]
    Refused(#[from] RefusedResponse),
    /// Every bootstrap server of a list failed.
    #[error("no bootstrap server gave a verified answer: {}", list_failures(.0))]
    AllServersFailed(Vec<ServerFailure>),
}

/// One server's failure in a list of several.
#[derive(Debug)]
pub struct ServerFailure {
    /// The server.
    pub server: ServerUrl,
    /// What went wrong.
    pub error: AgentError,
}

fn retry_hint(retry_after: &Option<String>) -> String {
    retry_after
        .as_ref()
        .map(|r| format!(" (retry after {r})"))
        .unwrap_or_default()
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" {detail}")
    }
}

fn list_failures(failures: &[ServerFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.server, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The device: its IDevID chain and key, and the serial its certificate names.
#[derive(Debug)]
pub struct DeviceCredentials {
    identity: ClientIdentity,
    serial: Serial,
}

impl DeviceCredentials {
    /// Reads the IDevID chain (leaf first, PEM), its key (PEM), and the device's serial from
    /// the leaf at `source`.
    pub fn from_pem(
        chain_pem: &str,
        key_pem: &str,
        source: SerialSource,
    ) -> Result<Self, AgentError> {
        let chain = Cert::chain_from_pem(chain_pem)?;
        let leaf = chain.first().ok_or(TlsConfigError::NoCertificate)?;
        let serial = DeviceIdentity::from_certificate(leaf, source)?.serial;
        Ok(Self {
            identity: ClientIdentity::new(&chain, key_pem)?,
            serial,
        })
    }

    /// The device's serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }
}

/// Whether and which nonce the device sends (RFC 8572 §5.2: it asks for a voucher bound to it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NonceChoice {
    /// No nonce.
    #[default]
    None,
    /// A fresh random 32-octet nonce per request.
    Random,
    /// This nonce.
    Fixed(Nonce),
}

impl NonceChoice {
    /// The nonce to send in one request.
    pub fn draw(&self) -> Result<Option<Nonce>, AgentError> {
        match self {
            Self::None => Ok(None),
            Self::Fixed(nonce) => Ok(Some(nonce.clone())),
            Self::Random => {
                let mut bytes = vec![0; Nonce::MAX_LEN];
                aws_lc_rs::rand::fill(&mut bytes)
                    .map_err(|_| AgentError::Nonce("the random generator failed".into()))?;
                Nonce::new(bytes)
                    .map(Some)
                    .map_err(|e: ValidationError| AgentError::Nonce(e.to_string()))
            }
        }
    }
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// Request and response encoding.
    pub encoding: Encoding,
    /// `hw-model`.
    pub hw_model: Option<String>,
    /// `os-name`.
    pub os_name: Option<String>,
    /// `os-version`.
    pub os_version: Option<String>,
    /// Send `signed-data-preferred` even to a trusted server (always sent to untrusted ones).
    pub signed_data_preferred: bool,
    /// The nonce to send.
    pub nonce: NonceChoice,
}

impl Default for RequestOptions {
    /// JSON, nothing optional.
    fn default() -> Self {
        Self {
            encoding: Encoding::Json,
            hw_model: None,
            os_name: None,
            os_version: None,
            signed_data_preferred: false,
            nonce: NonceChoice::None,
        }
    }
}

/// What to report to the server that answered.
#[derive(Debug, Clone, Default)]
pub struct Reporting {
    /// Send `report-progress` messages at all.
    pub enabled: bool,
    /// After a verified answer, also report `bootstrap-complete` carrying these host keys.
    pub complete: Option<Vec<SshHostKey>>,
}

/// Everything a bootstrap run needs.
#[derive(Debug)]
pub struct BootstrapOptions {
    /// The bootstrap servers, tried in order, each once.
    pub servers: Vec<ServerUrl>,
    /// The device's identity.
    pub credentials: DeviceCredentials,
    /// Trust anchors of ownership vouchers.
    pub manufacturer_anchors: Vec<Cert>,
    /// TLS trust anchors of the bootstrap servers; empty means provisional TLS (untrusted).
    pub server_anchors: Vec<Cert>,
    /// The request.
    pub request: RequestOptions,
    /// Progress reports.
    pub reporting: Reporting,
    /// Limit on connecting and on each request.
    pub timeout: Duration,
}

impl BootstrapOptions {
    fn server_trust(&self) -> ServerTrust<'_> {
        if self.server_anchors.is_empty() {
            ServerTrust::Provisional
        } else {
            ServerTrust::Anchors(&self.server_anchors)
        }
    }
}

/// A verified answer.
#[derive(Debug, Clone)]
pub struct BootstrapOutcome {
    /// The device's serial.
    pub serial: Serial,
    /// The server that answered.
    pub server: ServerUrl,
    /// The encoding of the exchange.
    pub encoding: Encoding,
    /// Whether the server was authenticated by a trust anchor.
    pub server_authenticated: bool,
    /// The verified response.
    pub verified: VerifiedResponse,
    /// Whether the response carried a license bundle.
    pub license_bundle_present: bool,
}

impl BootstrapOutcome {
    /// The outcome as the JSON object `ztp device bootstrap` prints.
    pub fn to_json(&self) -> Value {
        let information = self.verified.information.to_json();
        let conveyed = serde_json::from_str(&information).unwrap_or(Value::String(information));
        let (voucher, owner) = match &self.verified.ownership {
            Some((voucher, owner)) => (
                json!({
                    "serial-number": voucher.serial_number,
                    "created-on": rfc3339(voucher.created_on),
                    "expires-on": voucher.expires_on.map(rfc3339),
                    "nonce": voucher.nonce.as_deref().map(hex),
                    "pinned-domain-cert": voucher.pinned_domain_cert().ok().map(|c| c.subject()),
                }),
                Value::String(owner.subject()),
            ),
            None => (Value::Null, Value::Null),
        };
        json!({
            "serial": self.serial.as_str(),
            "server": self.server.as_str(),
            "encoding": encoding_name(self.encoding),
            "server-authenticated": self.server_authenticated,
            "signed": self.verified.ownership.is_some(),
            "voucher": strip_nulls(voucher),
            "owner-certificate": owner,
            "conveyed-information": conveyed,
            "license-bundle-present": self.license_bundle_present,
        })
    }
}

/// The command-line name of an encoding.
pub fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Json => "json",
        Encoding::Xml => "xml",
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn hex(bytes: &[u8]) -> String {
    colon_hex(bytes).replace(':', "")
}

/// Drops the members of an object whose value is null (optional voucher leaves).
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// Runs the bootstrap flow: each server in order until one gives a verified answer.
pub async fn bootstrap(options: &BootstrapOptions) -> Result<BootstrapOutcome, AgentError> {
    let trust = options.server_trust();
    let config = tls::client_config(&options.credentials.identity, trust)?;
    let mut failures = Vec::new();
    for server in &options.servers {
        match attempt(options, server, config.clone()).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) => {
                if options.servers.len() > 1 {
                    tracing::warn!(%server, %error, "bootstrap server failed; trying the next");
                }
                failures.push(ServerFailure {
                    server: server.clone(),
                    error,
                });
            }
        }
    }
    match failures.len() {
        0 => Err(AgentError::NoServer),
        1 => Err(failures.remove(0).error),
        _ => Err(AgentError::AllServersFailed(failures)),
    }
}

/// One server: request, verify, report.
async fn attempt(
    options: &BootstrapOptions,
    server: &ServerUrl,
    config: Arc<ClientConfig>,
) -> Result<BootstrapOutcome, AgentError> {
    let trust = options.server_trust();
    let encoding = options.request.encoding;
    let nonce = options.request.nonce.draw()?;
    let input = request_input(&options.request, trust.authenticates(), nonce);
    let mut client = Client::connect(server, config, options.timeout).await?;
    tracing::debug!(%server, version = ?client.version(), "connected");
    let response = client
        .post(GET_BOOTSTRAPPING_DATA, encoding, input.encode(encoding))
        .await?;
    if response.status != http::StatusCode::OK {
        return Err(server_error(&response));
    }
    let reporter = Reporter {
        enabled: options.reporting.enabled,
        encoding,
    };
    reporter
        .send(
            &mut client,
            ReportProgressInput::new(ProgressType::BootstrapInitiated),
        )
        .await;
    let anchors = &options.manufacturer_anchors;
    let checked = decode_output(&response, encoding).and_then(|output| {
        let device = DeviceTrust {
            manufacturer_anchors: anchors,
            server_authenticated: trust.authenticates(),
            at: OffsetDateTime::now_utc(),
        };
        let serial = options.credentials.serial.as_str();
        let sent = input.nonce.as_ref().map(Nonce::as_bytes);
        let verified = verify_response(&output, serial, sent, &device)?;
        Ok((verified, output.license_bundle.is_some()))
    });
    let (verified, license_bundle_present) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let mut report = ReportProgressInput::new(ProgressType::ParsingError);
            report.message = Some(error.to_string());
            reporter.send(&mut client, report).await;
            return Err(error);
        }
    };
    reporter
        .send(
            &mut client,
            ReportProgressInput::new(ProgressType::ParsingComplete),
        )
        .await;
    if let Some(keys) = &options.reporting.complete {
        let mut report = ReportProgressInput::new(ProgressType::BootstrapComplete);
        report.ssh_host_keys = keys.clone();
        reporter.send(&mut client, report).await;
    }
    Ok(BootstrapOutcome {
        serial: options.credentials.serial.clone(),
        server: server.clone(),
        encoding,
        server_authenticated: trust.authenticates(),
        verified,
        license_bundle_present,
    })
}

/// The `get-bootstrapping-data` input: `signed-data-preferred` whenever the server is not
/// authenticated (RFC 8572 §5.2), or when asked.
pub fn request_input(
    request: &RequestOptions,
    server_authenticated: bool,
    nonce: Option<Nonce>,
) -> GetBootstrappingDataInput {
    GetBootstrappingDataInput {
        signed_data_preferred: request.signed_data_preferred || !server_authenticated,
        hw_model: request.hw_model.clone(),
        os_name: request.os_name.clone(),
        os_version: request.os_version.clone(),
        nonce,
    }
}

/// Decodes a 200 body, in the encoding its Content-Type names (else the one asked for).
fn decode_output(
    response: &Response,
    asked: Encoding,
) -> Result<GetBootstrappingDataOutput, AgentError> {
    let encoding = response
        .content_type
        .as_deref()
        .and_then(Encoding::from_media_type)
        .unwrap_or(asked);
    Ok(GetBootstrappingDataOutput::decode_limited(
        encoding,
        &response.body,
        MAX_BODY,
    )?)
}

/// The error for a non-200 answer, with the RESTCONF errors it carries.
fn server_error(response: &Response) -> AgentError {
    AgentError::Server {
        status: response.status.as_u16(),
        detail: error_detail(response),
        retry_after: response.retry_after.clone(),
    }
}

/// `tag: message` for each RESTCONF error in the body, or an excerpt of any other body.
fn error_detail(response: &Response) -> String {
    let declared = response
        .content_type
        .as_deref()
        .and_then(Encoding::from_media_type);
    let encodings = match declared {
        Some(e) => vec![e],
        None => vec![Encoding::Json, Encoding::Xml],
    };
    let errors = encodings
        .into_iter()
        .find_map(|e| RestconfErrors::decode(e, &response.body).ok());
    match errors {
        Some(errors) if !errors.errors.is_empty() => errors
            .errors
            .iter()
            .map(|e| match &e.error_message {
                Some(m) => format!("{}: {m}", e.error_tag.as_str()),
                None => e.error_tag.as_str().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => excerpt(&response.body),
    }
}

/// The start of a body as one printable line, quoted; empty for an empty body.
fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    if body.is_empty() {
        return String::new();
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(LIMIT)
        .collect();
    format!("(body: {:?})", text.trim())
}

/// Sends progress reports; a failing report is logged, never fatal.
struct Reporter {
    enabled: bool,
    encoding: Encoding,
}

impl Reporter {
    async fn send(&self, client: &mut Client, report: ReportProgressInput) {
        if !self.enabled {
            return;
        }
        let progress = report.progress_type;
        let result = client
            .post(REPORT_PROGRESS, self.encoding, report.encode(self.encoding))
            .await;
        match result {
            Ok(response) if response.status.is_success() => {
                tracing::debug!(%progress, "progress reported");
            }
            Ok(response) => {
                let error = server_error(&response);
                tracing::warn!(%progress, %error, "progress report not accepted");
            }
            Err(error) => tracing::warn!(%progress, %error, "progress report failed"),
        }
    }
}
