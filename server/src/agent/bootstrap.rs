//! The device's bootstrap flow (RFC 8572 §5.2–5.6, one pass): for each bootstrap server in
//! order, call `get-bootstrapping-data` with the IDevID as TLS client certificate (and the
//! device's activation code as HTTP Basic credentials, to a server it authenticated: see
//! [`DeviceCredentials`]), verify the answer ([`verify_response`]), report progress, and stop
//! at the first verified answer.
//!
//! Each role the device trusts has anchors of its own ([`Anchors`]): the bootstrap server's TLS
//! certificate, the voucher signer, the license signer. A configuration in which one role's
//! anchor would admit another role's key (the device's own IDevID under the voucher anchor, one
//! CA for two roles) is refused before any connection, as [`AgentError::Anchors`].
//!
//! Progress reports go only to a server the device authenticated by TLS, and only about
//! onboarding information (the `report-progress` description of ietf-sztp-bootstrap-server): an
//! untrusted server learns nothing of why its answer was refused, and no server learns the
//! device's SSH host keys from a redirect.
//!
//! One pass stops at the verified conveyed information: it does not follow redirects or
//! install images; it returns them as a [`BootstrapOutcome`] for the caller to act on
//! (`super::run` follows and installs them).

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::role::{self, Role, RoleError};
use ztp_certs::{Cert, Serial};
use ztp_yang::{
    ConveyedInformation, Document, Encoding, GetBootstrappingDataInput, GetBootstrappingDataOutput,
    Nonce, ProgressType, ReportProgressInput, SshHostKey, ValidationError,
};

use super::client::{
    Client, GET_BOOTSTRAPPING_DATA, MAX_BODY, REPORT_PROGRESS, Response, ServerUrl,
};
pub use super::credentials::{CodeUse, DeviceCredentials};
pub use super::failure::{AgentError, ServerFailure, printable};
use super::failure::{answer_error, server_error};
use super::licenses::{CheckedLicenses, Holder, check_licenses};
use super::tls::{self, ServerTrust};
use super::verify::{DeviceTrust, IdevidIssuer, VerifiedResponse, verify_response};

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
    /// What the device trusts, role by role.
    pub anchors: Anchors,
    /// The request.
    pub request: RequestOptions,
    /// Progress reports.
    pub reporting: Reporting,
    /// Limit on connecting and on each request.
    pub timeout: Duration,
}

/// The device's trust anchors, one set per role; no anchor may serve two roles.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    /// TLS trust anchors of the bootstrap servers; empty means provisional TLS (untrusted).
    pub servers: Vec<Cert>,
    /// Anchors of the manufacturer's voucher signers.
    pub vouchers: Vec<Cert>,
    /// Anchors of the manufacturer's license signers; empty refuses every license bundle.
    pub licenses: Vec<Cert>,
}

impl Anchors {
    /// Checks that no anchor serves two roles and that the device's own IDevID (`idevid`:
    /// its leaf and the CAs after it, when it has one) chains to neither the voucher nor the
    /// license anchors (else any device's key would sign for them).
    pub fn check(
        &self,
        idevid: Option<(&Cert, &[Cert])>,
        at: OffsetDateTime,
    ) -> Result<(), RoleError> {
        role::distinct_anchors(&[
            (Role::TlsServer, &self.servers),
            (Role::VoucherSigner, &self.vouchers),
            (Role::LicenseSigner, &self.licenses),
        ])?;
        let Some((idevid, idevid_chain)) = idevid else {
            return Ok(());
        };
        for (anchored, anchors) in [
            (Role::VoucherSigner, &self.vouchers),
            (Role::LicenseSigner, &self.licenses),
        ] {
            if role::chains_to(idevid, idevid_chain, anchors, at) {
                return Err(RoleError::CrossedRoles {
                    subject: idevid.subject(),
                    role: Role::DeviceIdentity,
                    anchored,
                });
            }
        }
        Ok(())
    }
}

impl BootstrapOptions {
    /// How the configured bootstrap servers are authenticated: by the configured anchors, or
    /// provisionally without them.
    pub(super) fn server_trust(&self) -> ServerTrust<'_> {
        if self.anchors.servers.is_empty() {
            ServerTrust::Provisional
        } else {
            ServerTrust::Anchors(&self.anchors.servers)
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
    /// The license bundle's check, when the response carried one.
    pub licenses: Option<CheckedLicenses>,
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
            "conveyed-encoding": encoding_name(self.verified.encoding),
            "server-authenticated": self.server_authenticated,
            "signed": self.verified.ownership.is_some(),
            "voucher": strip_nulls(voucher),
            "owner-certificate": owner,
            "conveyed-information": conveyed,
            "license-bundle-present": self.licenses.is_some(),
            "licenses": self.licenses.as_ref().map(CheckedLicenses::accepted_json),
            "refused-licenses": self.licenses.as_ref().map(CheckedLicenses::refused_json),
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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Checks the device's anchors against its own IDevID ([`Anchors::check`]).
pub(super) fn check_anchors(options: &BootstrapOptions) -> Result<(), AgentError> {
    options.anchors.check(
        options.credentials.idevid_chain(),
        OffsetDateTime::now_utc(),
    )?;
    Ok(())
}

/// Runs the bootstrap flow: each server in order until one gives a verified answer.
pub async fn bootstrap(options: &BootstrapOptions) -> Result<BootstrapOutcome, AgentError> {
    check_anchors(options)?;
    let trust = options.server_trust();
    let config = tls::device_config(options.credentials.identity(), trust)?;
    let mut failures = Vec::new();
    for server in &options.servers {
        match attempt(options, server, config.clone()).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) => {
                if options.servers.len() > 1 {
                    tracing::warn!(%server, %error, "bootstrap server failed");
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
    let authenticated = options.server_trust().authenticates();
    let complete = options.reporting.complete.as_ref();
    let exchange = exchange(options, server, config, authenticated, complete).await?;
    Ok(BootstrapOutcome {
        serial: options.credentials.serial().clone(),
        server: server.clone(),
        encoding: options.request.encoding,
        server_authenticated: authenticated,
        verified: exchange.verified,
        licenses: exchange.licenses,
    })
}

/// A verified answer and the connection it came on, kept for further progress reports.
#[derive(Debug)]
pub(super) struct Exchange {
    /// The connection to the server.
    pub client: Client,
    /// The verified response.
    pub verified: VerifiedResponse,
    /// The license bundle's check, when the response carried one.
    pub licenses: Option<CheckedLicenses>,
}

/// Connects to `server` with `config` (which `authenticated` says authenticates it or not),
/// asks for bootstrapping data, verifies it and reports how that went (to an authenticated
/// server, about onboarding information; `complete`'s host keys with bootstrap-complete).
pub(super) async fn exchange(
    options: &BootstrapOptions,
    server: &ServerUrl,
    config: Arc<ClientConfig>,
    authenticated: bool,
    complete: Option<&Vec<SshHostKey>>,
) -> Result<Exchange, AgentError> {
    let encoding = options.request.encoding;
    let nonce = options.request.nonce.draw()?;
    let input = request_input(&options.request, authenticated, nonce);
    let (authorization, code) = options.credentials.authorization(server, authenticated)?;
    let mut client = Client::connect(server, config, options.timeout).await?;
    client.set_authorization(authorization);
    tracing::debug!(%server, version = ?client.version(), ?code, "connected");
    let response = client
        .post(GET_BOOTSTRAPPING_DATA, encoding, input.encode(encoding))
        .await?;
    if response.status != http::StatusCode::OK {
        return Err(answer_error(&response, code));
    }
    let checked = decode_output(&response, encoding)
        .and_then(|output| check(options, &output, &input, authenticated));
    // Reports only to a server authenticated by TLS, and only about onboarding information:
    // a refusal's reason would teach an untrusted server how to forge, and bootstrap-complete
    // carries the device's host keys.
    let reporter = Reporter {
        enabled: options.reporting.enabled && authenticated,
        encoding,
    };
    let (verified, licenses) = reporter.outcome(&mut client, checked, complete).await?;
    Ok(Exchange {
        client,
        verified,
        licenses,
    })
}

/// What a verified answer holds: the response, and the license bundle's check when it
/// carried one.
type Checked = (VerifiedResponse, Option<CheckedLicenses>);

/// Verifies `output`, the answer to `input` (RFC 8572 §5.4), and checks its license bundle.
fn check(
    options: &BootstrapOptions,
    output: &GetBootstrappingDataOutput,
    input: &GetBootstrappingDataInput,
    server_authenticated: bool,
) -> Result<Checked, AgentError> {
    let aki = options
        .credentials
        .idevid_chain()
        .map(|(leaf, _)| leaf.authority_key_identifier());
    let device = DeviceTrust {
        voucher_anchors: &options.anchors.vouchers,
        idevid_issuer: match &aki {
            Some(aki) => IdevidIssuer::Of(aki.as_deref()),
            None => IdevidIssuer::NoIdevid,
        },
        server_authenticated,
        at: OffsetDateTime::now_utc(),
    };
    let serial = options.credentials.serial().as_str();
    let sent = input.nonce.as_ref().map(Nonce::as_bytes);
    let verified = verify_response(output, serial, sent, &device)?;
    // The device's product id: its certificate's UDI, else its configured model.
    let product_id = options
        .credentials
        .product_id()
        .or(options.request.hw_model.as_deref());
    let licenses = output.license_bundle.as_deref().map(|bundle| {
        check_licenses(
            bundle,
            options.request.encoding,
            &options.anchors.licenses,
            Holder {
                serial,
                product_id,
                at: device.at,
            },
        )
    });
    Ok((verified, licenses))
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

/// Sends progress reports; a failing report is logged, never fatal.
struct Reporter {
    enabled: bool,
    encoding: Encoding,
}

impl Reporter {
    /// Reports how the check of an answer went (onboarding information only: initiated,
    /// then parsing-error or parsing-complete and, with `complete`'s host keys,
    /// bootstrap-complete) and passes its outcome on.
    async fn outcome(
        &self,
        client: &mut Client,
        checked: Result<Checked, AgentError>,
        complete: Option<&Vec<SshHostKey>>,
    ) -> Result<Checked, AgentError> {
        let onboarding = match &checked {
            Ok((verified, _)) => {
                matches!(verified.information, ConveyedInformation::Onboarding(_))
            }
            Err(_) => true,
        };
        if onboarding {
            let initiated = ReportProgressInput::new(ProgressType::BootstrapInitiated);
            self.send(client, initiated).await;
        }
        let checked = match checked {
            Ok(checked) => checked,
            Err(error) => {
                let mut report = ReportProgressInput::new(ProgressType::ParsingError);
                report.message = Some(error.to_string());
                self.send(client, report).await;
                return Err(error);
            }
        };
        if onboarding {
            let parsed = ReportProgressInput::new(ProgressType::ParsingComplete);
            self.send(client, parsed).await;
            if let Some(keys) = complete {
                let mut report = ReportProgressInput::new(ProgressType::BootstrapComplete);
                report.ssh_host_keys = keys.clone();
                self.send(client, report).await;
            }
        }
        Ok(checked)
    }

    async fn send(&self, client: &mut Client, report: ReportProgressInput) {
        if self.enabled {
            send_report(client, self.encoding, report).await;
        }
    }
}

/// Sends one progress report in `encoding`; a failing report is logged, never fatal.
pub(super) async fn send_report(
    client: &mut Client,
    encoding: Encoding,
    report: ReportProgressInput,
) {
    let progress = report.progress_type;
    let result = client
        .post(REPORT_PROGRESS, encoding, report.encode(encoding))
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

#[cfg(test)]
mod tests;
