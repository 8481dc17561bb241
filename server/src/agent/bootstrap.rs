//! The device's bootstrap flow (RFC 8572 §5.2–5.6, one pass): for each bootstrap server in
//! order, call `get-bootstrapping-data` with the IDevID as TLS client certificate, verify the
//! answer ([`verify_response`]), report progress, and stop at the first verified answer.
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
//! The agent stops at the verified conveyed information: it does not follow redirects or
//! install images; it returns them as a [`BootstrapOutcome`] for the caller to act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::role::{self, Role, RoleError};
use ztp_certs::{Cert, DeviceIdentity, IdentityError, PkiError, Serial, SerialSource};
use ztp_yang::{
    ConveyedInformation, DecodeError, Document, Encoding, GetBootstrappingDataInput,
    GetBootstrappingDataOutput, Nonce, ProgressType, ReportProgressInput, RestconfErrors,
    SshHostKey, ValidationError,
};

use super::client::{
    Client, ClientError, GET_BOOTSTRAPPING_DATA, MAX_BODY, REPORT_PROGRESS, Response, ServerUrl,
};
use super::licenses::{CheckedLicenses, Holder, check_licenses};
use super::tls::{self, ClientIdentity, ServerTrust, TlsConfigError};
use super::verify::{DeviceTrust, RefusedResponse, VerifiedResponse, verify_response};

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
    /// The trust anchors would let one role's key pass for another's.
    #[error("trust anchors: {0}")]
    Anchors(#[from] RoleError),
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
        .map(|r| format!(" (retry after {})", printable(r)))
        .unwrap_or_default()
}

/// Text a server chose, made safe to print on a terminal: control characters (ESC, BEL, CR,
/// …) and the invisible ones that reorder or hide text (bidirectional overrides, zero-width
/// marks) are written as `\u{…}` escapes, and the text is cut at 200 characters. A hostile
/// server must not be able to move the cursor, rewrite a line or hide a word.
pub fn printable(text: &str) -> String {
    const LIMIT: usize = 200;
    let mut out = String::with_capacity(text.len().min(LIMIT));
    for (i, c) in text.chars().enumerate() {
        if i == LIMIT {
            out.push('…');
            break;
        }
        let hidden = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || hidden {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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
        .map(|f| format!("{}: {}", printable(&f.server.to_string()), f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The device: its IDevID chain and key, and the serial its certificate names.
#[derive(Debug)]
pub struct DeviceCredentials {
    identity: ClientIdentity,
    chain: Vec<Cert>,
    serial: Serial,
    product_id: Option<String>,
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
        let identity = DeviceIdentity::from_certificate(leaf, source)?;
        Ok(Self {
            identity: ClientIdentity::new(&chain, key_pem)?,
            serial: identity.serial,
            chain,
            product_id: identity.product_id.map(|p| p.as_str().to_owned()),
        })
    }

    /// The device's serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    /// The IDevID leaf.
    fn leaf(&self) -> &Cert {
        // `from_pem` refuses an empty chain.
        &self.chain[0]
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
    /// Checks that no anchor serves two roles and that the device's own IDevID chains to
    /// neither the voucher nor the license anchors (else any device's key would sign for
    /// them).
    pub fn check(
        &self,
        idevid: &Cert,
        idevid_chain: &[Cert],
        at: OffsetDateTime,
    ) -> Result<(), RoleError> {
        role::distinct_anchors(&[
            (Role::TlsServer, &self.servers),
            (Role::VoucherSigner, &self.vouchers),
            (Role::LicenseSigner, &self.licenses),
        ])?;
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
    fn server_trust(&self) -> ServerTrust<'_> {
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

/// Runs the bootstrap flow: each server in order until one gives a verified answer.
pub async fn bootstrap(options: &BootstrapOptions) -> Result<BootstrapOutcome, AgentError> {
    let credentials = &options.credentials;
    options.anchors.check(
        credentials.leaf(),
        &credentials.chain[1..],
        OffsetDateTime::now_utc(),
    )?;
    let trust = options.server_trust();
    let config = tls::client_config(&options.credentials.identity, trust)?;
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
    let idevid_issuer = options.credentials.leaf().authority_key_identifier();
    let checked = decode_output(&response, encoding).and_then(|output| {
        let device = DeviceTrust {
            voucher_anchors: &options.anchors.vouchers,
            idevid_issuer: idevid_issuer.as_deref(),
            server_authenticated: trust.authenticates(),
            at: OffsetDateTime::now_utc(),
        };
        let serial = options.credentials.serial.as_str();
        let sent = input.nonce.as_ref().map(Nonce::as_bytes);
        let verified = verify_response(&output, serial, sent, &device)?;
        // The device's product id: its certificate's UDI, else its configured model.
        let product_id = options
            .credentials
            .product_id
            .as_deref()
            .or(options.request.hw_model.as_deref());
        let licenses = output.license_bundle.as_deref().map(|bundle| {
            check_licenses(
                bundle,
                encoding,
                &options.anchors.licenses,
                Holder {
                    serial,
                    product_id,
                    at: device.at,
                },
            )
        });
        Ok((verified, licenses))
    });
    // Reports only to a server authenticated by TLS, and only about onboarding information:
    // a refusal's reason would teach an untrusted server how to forge, and bootstrap-complete
    // carries the device's host keys.
    let reporter = Reporter {
        enabled: options.reporting.enabled && trust.authenticates(),
        encoding,
    };
    let onboarding = match &checked {
        Ok((verified, _)) => matches!(verified.information, ConveyedInformation::Onboarding(_)),
        Err(_) => true,
    };
    if onboarding {
        reporter
            .send(
                &mut client,
                ReportProgressInput::new(ProgressType::BootstrapInitiated),
            )
            .await;
    }
    let (verified, licenses) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let mut report = ReportProgressInput::new(ProgressType::ParsingError);
            report.message = Some(error.to_string());
            reporter.send(&mut client, report).await;
            return Err(error);
        }
    };
    if onboarding {
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
    }
    Ok(BootstrapOutcome {
        serial: options.credentials.serial.clone(),
        server: server.clone(),
        encoding,
        server_authenticated: trust.authenticates(),
        verified,
        licenses,
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
                Some(m) => format!("{}: {}", e.error_tag.as_str(), printable(m)),
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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use http::{Request, StatusCode, Version};
    use http_body_util::{BodyExt, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use rustls::ServerConfig;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use rustls::server::WebPkiClientVerifier;
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;
    use ztp_certs::{
        CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId, SerialPlacement, Signer,
    };
    use ztp_yang::{
        BootstrapServer, ConveyedInformation, ErrorTag, ErrorType, OnboardingInformation,
        Ownership, RedirectInformation, RestconfError,
    };

    use super::*;
    use crate::agent::client::ClientError;
    use crate::artifacts::{self, OwnerCredentials};
    use ztp_certs::VoucherError;

    const P256: KeyAlgorithm = KeyAlgorithm::EcdsaP256;

    /// The manufacturer (an IDevID CA, a voucher CA and its MASA, a license CA and its
    /// signer), one device, an owner, a TLS server CA, and the keys a hostile server might
    /// hold: the device's own, a TLS key under the voucher CA.
    struct World {
        mfg: CertificateAuthority,
        voucher_ca: CertificateAuthority,
        masa: Signer,
        license_ca: CertificateAuthority,
        license_signer: Signer,
        owner: OwnerCredentials,
        device_chain: String,
        device_key: String,
        device_signer: Signer,
        tls_under_voucher_ca: Signer,
        tls_ca: CertificateAuthority,
    }

    fn world() -> World {
        let mfg = CertificateAuthority::new_root("Mfg", "Mfg", P256).unwrap();
        let voucher_ca = CertificateAuthority::new_root("Voucher CA", "Mfg", P256).unwrap();
        let (masa_cert, masa_key) = voucher_ca.issue_signer("MASA", "Mfg", P256).unwrap();
        let license_ca = CertificateAuthority::new_root("License CA", "Mfg", P256).unwrap();
        let (license_cert, license_key) = license_ca.issue_signer("Licenses", "Mfg", P256).unwrap();
        let (tls_cert, tls_key) = voucher_ca
            .issue_tls_server(&["127.0.0.1".to_owned()], P256)
            .unwrap();
        let spec = IdevidSpec {
            serial: Serial::parse("SN-1").unwrap(),
            model: ProductId::parse("uCPE-100").unwrap(),
            placement: SerialPlacement::SerialNumber,
            hardware_module_name: false,
            key_algorithm: P256,
        };
        let (idevid, key) = mfg.issue_idevid(&spec).unwrap();
        let owner_ca = CertificateAuthority::new_root("Owner", "Owner", P256).unwrap();
        let (signer_cert, signer_key) = owner_ca.issue_signer("signer", "Owner", P256).unwrap();
        let owner = OwnerCredentials::new(
            owner_ca.cert().clone(),
            Signer::new(signer_key, vec![signer_cert]).unwrap(),
        )
        .unwrap();
        World {
            masa: Signer::new(masa_key, vec![masa_cert]).unwrap(),
            license_signer: Signer::new(license_key, vec![license_cert]).unwrap(),
            owner,
            device_chain: format!("{}{}", idevid.pem(), mfg.cert().pem()),
            device_key: key.to_pem(),
            device_signer: Signer::new(key, vec![idevid, mfg.cert().clone()]).unwrap(),
            tls_under_voucher_ca: Signer::new(tls_key, vec![tls_cert]).unwrap(),
            tls_ca: CertificateAuthority::new_root("TLS", "Mfg", P256).unwrap(),
            voucher_ca,
            license_ca,
            mfg,
        }
    }

    /// Which key a (hostile) server signs with.
    #[derive(Clone, Copy, Debug)]
    enum Key {
        Masa,
        License,
        Device,
        TlsUnderVoucherCa,
    }

    impl World {
        fn signer(&self, key: Key) -> &Signer {
            match key {
                Key::Masa => &self.masa,
                Key::License => &self.license_signer,
                Key::Device => &self.device_signer,
                Key::TlsUnderVoucherCa => &self.tls_under_voucher_ca,
            }
        }

        /// A license bundle for the device, signed by `key`.
        fn license_bundle(&self, key: Key, encoding: Encoding) -> Vec<u8> {
            let now = OffsetDateTime::now_utc();
            let license = ztp_yang::License {
                id: "LIC-1".into(),
                feature: "ESS".into(),
                license_type: ztp_yang::LicenseType::Perpetual,
                count: None,
                node_lock: ztp_yang::NodeLock {
                    product_id: "uCPE-100".into(),
                    serial_number: "SN-1".into(),
                },
                issued_at: now,
                not_before: now - time::Duration::hours(1),
                not_after: None,
            };
            let content = ztp_yang::LicenseBundle {
                licenses: vec![license],
            }
            .encode(encoding);
            ztp_certs::cms::sign(
                ztp_certs::oid::ID_DATA,
                content.as_bytes(),
                self.signer(key),
            )
            .unwrap()
        }
    }

    /// What the test server answers to get-bootstrapping-data.
    #[derive(Clone, Copy, Debug)]
    enum Answer {
        AccessDenied,
        UnsignedRedirect,
        UnsignedOnboarding,
        SignedRedirect,
        /// A signed redirect whose voucher `.0` signs, with a license bundle `.1` signs.
        SignedBy(Key, Option<Key>),
        /// A signed redirect whose voucher names an IDevID issuer (`true`: the device's).
        NamingIssuer(bool),
    }

    /// What the test server saw: each request's path, HTTP version and body, and the client
    /// certificate of each connection.
    #[derive(Default)]
    struct Seen {
        requests: Vec<(String, Version, Vec<u8>)>,
        client_certs: Vec<Vec<u8>>,
    }

    impl Seen {
        fn input(&self) -> GetBootstrappingDataInput {
            let (_, _, body) = &self.requests[0];
            GetBootstrappingDataInput::decode(sniff(body), body).unwrap()
        }

        fn reports(&self) -> Vec<ProgressType> {
            self.requests[1..]
                .iter()
                .map(|(path, _, body)| {
                    assert_eq!(path, REPORT_PROGRESS);
                    ReportProgressInput::decode(sniff(body), body)
                        .unwrap()
                        .progress_type
                })
                .collect()
        }
    }

    /// The encoding of a request body (the test server needs no Content-Type to tell).
    fn sniff(body: &[u8]) -> Encoding {
        if body.starts_with(b"<") {
            Encoding::Xml
        } else {
            Encoding::Json
        }
    }

    fn redirect() -> ConveyedInformation {
        ConveyedInformation::Redirect(RedirectInformation {
            bootstrap_servers: vec![BootstrapServer::new("nms.example.net")],
        })
    }

    fn answer(w: &World, answer: Answer, input: &[u8]) -> (StatusCode, String, Encoding) {
        let encoding = sniff(input);
        let output = |info: &ConveyedInformation, signed: bool| GetBootstrappingDataOutput {
            conveyed_information: artifacts::conveyed_information(
                info,
                encoding,
                signed.then(|| w.owner.signer()),
            )
            .unwrap()
            .into(),
            ..Default::default()
        };
        let ok = |out: GetBootstrappingDataOutput| (StatusCode::OK, out.encode(encoding), encoding);
        match answer {
            Answer::AccessDenied => {
                let errors = RestconfErrors::single(RestconfError::new(
                    ErrorType::Protocol,
                    ErrorTag::AccessDenied,
                    "unknown device",
                ));
                (StatusCode::UNAUTHORIZED, errors.encode(encoding), encoding)
            }
            Answer::UnsignedRedirect => ok(output(&redirect(), false)),
            Answer::UnsignedOnboarding => ok(output(
                &ConveyedInformation::Onboarding(OnboardingInformation {
                    pre_configuration_script: Some(b"#!/bin/sh\n".to_vec()),
                    ..Default::default()
                }),
                false,
            )),
            Answer::SignedRedirect => signed(w, Key::Masa, None, None, input),
            Answer::SignedBy(voucher, licenses) => signed(w, voucher, licenses, None, input),
            Answer::NamingIssuer(device) => {
                let idevid = &w.device_signer.chain()[0];
                let issuer = match device {
                    true => idevid.authority_key_identifier().unwrap(),
                    false => vec![0x5a; 20],
                };
                signed(w, Key::Masa, None, Some(issuer), input)
            }
        }
    }

    /// A signed redirect: the voucher signed by `voucher` (naming `idevid_issuer`), licenses
    /// signed by `licenses`.
    fn signed(
        w: &World,
        voucher: Key,
        licenses: Option<Key>,
        idevid_issuer: Option<Vec<u8>>,
        input: &[u8],
    ) -> (StatusCode, String, Encoding) {
        let encoding = sniff(input);
        let request = GetBootstrappingDataInput::decode(encoding, input).unwrap();
        let now = OffsetDateTime::now_utc();
        let mut document = ztp_certs::Voucher::new(
            "SN-1",
            w.owner.ca(),
            now,
            now + time::Duration::days(1),
            request.nonce.as_ref().map(Nonce::as_bytes),
        );
        document.idevid_issuer = idevid_issuer;
        let out = GetBootstrappingDataOutput {
            conveyed_information: artifacts::conveyed_information(
                &redirect(),
                encoding,
                Some(w.owner.signer()),
            )
            .unwrap()
            .into(),
            ownership: Some(Ownership {
                owner_certificate: w.owner.owner_certificate().clone(),
                ownership_voucher: document.sign(w.signer(voucher)).unwrap().into(),
            }),
            license_bundle: licenses.map(|key| w.license_bundle(key, encoding).into()),
            ..Default::default()
        };
        (StatusCode::OK, out.encode(encoding), encoding)
    }

    /// A bootstrap server on 127.0.0.1 that requires a client certificate from the
    /// manufacturer, speaks only `alpn`, and answers `answer`.
    async fn spawn_server(
        w: Arc<World>,
        alpn: &'static [u8],
        reply: Answer,
    ) -> (SocketAddr, Arc<Mutex<Seen>>) {
        let provider = crate::tls::provider();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(w.mfg.cert().as_certificate_der().clone())
            .unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let (cert, key) = w
            .tls_ca
            .issue_tls_server(&["127.0.0.1".to_owned()], P256)
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.to_pem().as_bytes()).unwrap();
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.as_certificate_der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![alpn.to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen_by_server = seen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                if let Some(certs) = tls.get_ref().1.peer_certificates() {
                    seen_by_server
                        .lock()
                        .unwrap()
                        .client_certs
                        .push(certs[0].to_vec());
                }
                let (w, seen) = (w.clone(), seen_by_server.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (w, seen) = (w.clone(), seen.clone());
                    async move {
                        let (path, version) = (req.uri().path().to_owned(), req.version());
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        seen.lock()
                            .unwrap()
                            .requests
                            .push((path.clone(), version, body.clone()));
                        let response = if path == REPORT_PROGRESS {
                            http::Response::builder()
                                .status(StatusCode::NO_CONTENT)
                                .body(Full::new(Bytes::new()))
                        } else {
                            let (status, text, encoding) = answer(&w, reply, &body);
                            http::Response::builder()
                                .status(status)
                                .header(http::header::CONTENT_TYPE, encoding.media_type())
                                .body(Full::new(Bytes::from(text)))
                        };
                        Ok::<_, Infallible>(response.unwrap())
                    }
                });
                tokio::spawn(
                    auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .into_owned(),
                );
            }
        });
        (addr, seen)
    }

    fn options(w: &World, addrs: &[SocketAddr], trusted: bool) -> BootstrapOptions {
        BootstrapOptions {
            servers: addrs
                .iter()
                .map(|a| ServerUrl::parse(&format!("https://{a}")).unwrap())
                .collect(),
            credentials: DeviceCredentials::from_pem(
                &w.device_chain,
                &w.device_key,
                SerialSource::SubjectSerialNumber,
            )
            .unwrap(),
            anchors: Anchors {
                servers: if trusted {
                    vec![w.tls_ca.cert().clone()]
                } else {
                    Vec::new()
                },
                vouchers: vec![w.voucher_ca.cert().clone()],
                licenses: vec![w.license_ca.cert().clone()],
            },
            request: RequestOptions::default(),
            reporting: Reporting {
                enabled: true,
                complete: None,
            },
            timeout: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn an_unsigned_redirect_from_a_trusted_server_over_h2() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
        let outcome = bootstrap(&options(&w, &[addr], true)).await.unwrap();
        assert_eq!(outcome.verified.information, redirect());
        let json = outcome.to_json();
        assert_eq!(json["serial"], "SN-1");
        assert_eq!(json["server"], format!("https://{addr}"));
        assert_eq!(json["signed"], false);
        assert_eq!(json["voucher"], Value::Null);
        assert_eq!(
            json["conveyed-information"]["ietf-sztp-conveyed-info:redirect-information"]["bootstrap-server"]
                [0]["address"],
            "nms.example.net"
        );
        let seen = seen.lock().unwrap();
        assert!(seen.requests.iter().all(|(_, v, _)| *v == Version::HTTP_2));
        assert_eq!(
            seen.client_certs.len(),
            1,
            "one connection, with the IDevID"
        );
        assert!(!seen.input().signed_data_preferred);
        assert_eq!(
            seen.reports(),
            [],
            "redirect information is not reported, even to a trusted server"
        );
    }

    #[test]
    fn server_text_reaches_the_terminal_escaped() {
        assert_eq!(
            printable("No responses configured."),
            "No responses configured."
        );
        let hostile = "ok\u{1b}[2K\rsigned: true\u{7}\u{202e}gnp.exe";
        let shown = printable(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{shown}"
        );
        assert!(
            shown.contains("\\u{1b}") && shown.contains("\\u{202e}"),
            "{shown}"
        );
        assert_eq!(printable(&"x".repeat(500)).chars().count(), 201);
        let json = r#"{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"data-missing","error-message":"\u001b[31mgone\u0007"}]}}"#;
        let mut answer = response(404, Some("application/yang-data+json"), json);
        answer.retry_after = Some("1\r\n".into());
        let err = server_error(&answer).to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
    }

    #[tokio::test]
    async fn a_restconf_error_over_http1_names_tag_and_message() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"http/1.1", Answer::AccessDenied).await;
        let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "server answered 401 access-denied: unknown device"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.requests.len(), 1, "no progress report after an error");
        assert_eq!(seen.requests[0].1, Version::HTTP_11);
        assert!(
            seen.input().signed_data_preferred,
            "an untrusted server is always asked for signed data"
        );
    }

    #[tokio::test]
    async fn unsigned_onboarding_from_an_untrusted_server_is_refused_and_not_reported() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
        let mut opts = options(&w, &[addr], false);
        opts.request.encoding = Encoding::Xml;
        let err = bootstrap(&opts).await.unwrap_err();
        assert!(
            matches!(
                err,
                AgentError::Refused(RefusedResponse::UnsignedOnboarding)
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with("refused: "), "{err}");
        assert_eq!(
            seen.lock().unwrap().reports(),
            [],
            "an untrusted server learns nothing of why it was refused"
        );
    }

    #[tokio::test]
    async fn a_trusted_server_hears_the_progress_of_onboarding_information() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
        let mut opts = options(&w, &[addr], true);
        opts.reporting.complete = Some(vec![SshHostKey {
            algorithm: "ssh-ed25519".into(),
            key_data: vec![1, 2, 3],
        }]);
        bootstrap(&opts).await.unwrap();
        assert_eq!(
            seen.lock().unwrap().reports(),
            [
                ProgressType::BootstrapInitiated,
                ProgressType::ParsingComplete,
                ProgressType::BootstrapComplete
            ]
        );
        // A refusal is reported to a trusted server, with its reason.
        let (addr, seen) =
            spawn_server(w.clone(), b"h2", Answer::SignedBy(Key::Device, None)).await;
        bootstrap(&options(&w, &[addr], true)).await.unwrap_err();
        assert_eq!(
            seen.lock().unwrap().reports(),
            [ProgressType::BootstrapInitiated, ProgressType::ParsingError]
        );
    }

    #[tokio::test]
    async fn a_voucher_signed_by_any_key_but_a_voucher_signers_is_refused() {
        let w = Arc::new(world());
        for key in [Key::Device, Key::License, Key::TlsUnderVoucherCa] {
            let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedBy(key, None)).await;
            let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
            assert!(
                matches!(err, AgentError::Refused(RefusedResponse::Voucher(_))),
                "{key:?}: {err}"
            );
            assert_eq!(seen.lock().unwrap().reports(), [], "{key:?}");
        }
        let err = {
            let (addr, _) = spawn_server(
                w.clone(),
                b"h2",
                Answer::SignedBy(Key::TlsUnderVoucherCa, None),
            )
            .await;
            bootstrap(&options(&w, &[addr], false)).await.unwrap_err()
        };
        assert!(
            matches!(
                err,
                AgentError::Refused(RefusedResponse::Voucher(VoucherError::Signer(
                    RoleError::TlsCertificate { .. }
                )))
            ),
            "a TLS key under the voucher CA is caught by its purpose: {err}"
        );
    }

    #[tokio::test]
    async fn licenses_signed_by_any_key_but_a_license_signers_are_refused_whole() {
        let w = Arc::new(world());
        let (addr, _) = spawn_server(
            w.clone(),
            b"h2",
            Answer::SignedBy(Key::Masa, Some(Key::License)),
        )
        .await;
        // The test IDevID names no model: the device knows it from its configuration.
        let options = |addr| BootstrapOptions {
            request: RequestOptions {
                hw_model: Some("uCPE-100".into()),
                ..Default::default()
            },
            ..options(&w, &[addr], false)
        };
        let outcome = bootstrap(&options(addr)).await.unwrap();
        let licenses = outcome.licenses.unwrap();
        assert_eq!(licenses.accepted.len(), 1, "{licenses:?}");
        for key in [Key::Masa, Key::Device, Key::TlsUnderVoucherCa] {
            let (addr, _) =
                spawn_server(w.clone(), b"h2", Answer::SignedBy(Key::Masa, Some(key))).await;
            let outcome = bootstrap(&options(addr)).await.unwrap();
            let licenses = outcome.licenses.unwrap();
            assert!(licenses.accepted.is_empty(), "{key:?}: {licenses:?}");
            assert_eq!(licenses.refused[0].0, "*", "{key:?}");
        }
    }

    #[tokio::test]
    async fn a_voucher_naming_another_idevid_issuer_is_refused() {
        let w = Arc::new(world());
        let (addr, _) = spawn_server(w.clone(), b"h2", Answer::NamingIssuer(true)).await;
        bootstrap(&options(&w, &[addr], false)).await.unwrap();
        let (addr, _) = spawn_server(w.clone(), b"h2", Answer::NamingIssuer(false)).await;
        let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
        assert!(
            matches!(
                err,
                AgentError::Refused(RefusedResponse::Voucher(VoucherError::IdevidIssuerMismatch))
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn anchors_that_let_one_roles_key_pass_for_another_are_refused_before_connecting() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedRedirect).await;
        let base = options(&w, &[addr], true);
        let (mfg, tls, vouchers) = (
            vec![w.mfg.cert().clone()],
            base.anchors.servers.clone(),
            base.anchors.vouchers.clone(),
        );
        let cases = [
            // The device's own IDevID (so any device's) under the voucher anchor.
            Anchors {
                vouchers: mfg.clone(),
                ..base.anchors.clone()
            },
            Anchors {
                licenses: mfg,
                ..base.anchors.clone()
            },
            // One CA for the server's TLS and the vouchers, or for vouchers and licenses.
            Anchors {
                vouchers: tls,
                ..base.anchors.clone()
            },
            Anchors {
                licenses: vouchers,
                ..base.anchors.clone()
            },
        ];
        for anchors in cases {
            let opts = BootstrapOptions {
                anchors: anchors.clone(),
                servers: base.servers.clone(),
                ..options(&w, &[addr], true)
            };
            let err = bootstrap(&opts).await.unwrap_err();
            assert!(matches!(err, AgentError::Anchors(_)), "{anchors:?}: {err}");
        }
        assert!(seen.lock().unwrap().requests.is_empty());
    }

    #[tokio::test]
    async fn a_signed_redirect_carries_the_nonce_sent_and_completes() {
        let w = Arc::new(world());
        let (addr, seen) = spawn_server(w.clone(), b"http/1.1", Answer::SignedRedirect).await;
        let mut opts = options(&w, &[addr], false);
        opts.request.nonce = NonceChoice::Random;
        opts.reporting.complete = Some(vec![SshHostKey {
            algorithm: "ssh-ed25519".into(),
            key_data: vec![1, 2, 3],
        }]);
        let outcome = bootstrap(&opts).await.unwrap();
        let json = outcome.to_json();
        let seen = seen.lock().unwrap();
        let sent = seen.input().nonce.unwrap();
        assert_eq!(json["signed"], true);
        assert_eq!(json["voucher"]["serial-number"], "SN-1");
        assert_eq!(json["voucher"]["nonce"], hex(sent.as_bytes()));
        assert_eq!(
            json["voucher"]["pinned-domain-cert"],
            w.owner.ca().subject()
        );
        assert!(
            json["owner-certificate"]
                .as_str()
                .unwrap()
                .contains("signer")
        );
        assert_eq!(
            seen.reports(),
            [],
            "an untrusted server gets no reports, and not the host keys"
        );
    }

    #[tokio::test]
    async fn a_server_outside_the_trust_anchors_fails_the_handshake() {
        let w = Arc::new(world());
        let (addr, _) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
        let mut opts = options(&w, &[addr], true);
        opts.anchors.servers = vec![w.mfg.cert().clone()];
        let err = bootstrap(&opts).await.unwrap_err();
        assert!(
            matches!(err, AgentError::Transport(ClientError::Tls { .. })),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_next_server_is_tried_after_a_failure() {
        let w = Arc::new(world());
        let (good, _) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
        let (denied, _) = spawn_server(w.clone(), b"h2", Answer::AccessDenied).await;
        let outcome = bootstrap(&options(&w, &[denied, good], true))
            .await
            .unwrap();
        assert_eq!(outcome.server.to_string(), format!("https://{good}"));
        let err = bootstrap(&options(&w, &[denied, denied], true))
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::AllServersFailed(ref f) if f.len() == 2));
    }

    #[tokio::test]
    async fn a_key_that_does_not_match_the_idevid_is_refused_before_connecting() {
        let w = world();
        let mut opts = options(&w, &[], true);
        let other = ztp_certs::SigningKey::generate(P256).unwrap();
        opts.credentials = DeviceCredentials::from_pem(
            &w.device_chain,
            &other.to_pem(),
            SerialSource::SubjectSerialNumber,
        )
        .unwrap();
        let err = bootstrap(&opts).await.unwrap_err();
        assert!(matches!(err, AgentError::TlsConfig(_)), "{err}");
    }

    #[test]
    fn untrusted_servers_are_always_asked_for_signed_data() {
        let request = RequestOptions {
            hw_model: Some("uCPE-100".into()),
            ..Default::default()
        };
        let untrusted = request_input(&request, false, None);
        assert!(untrusted.signed_data_preferred);
        assert_eq!(untrusted.hw_model.as_deref(), Some("uCPE-100"));
        assert!(!request_input(&request, true, None).signed_data_preferred);
        let asked = RequestOptions {
            signed_data_preferred: true,
            ..Default::default()
        };
        assert!(request_input(&asked, true, None).signed_data_preferred);
    }

    #[test]
    fn nonces_are_fresh_32_octets_or_as_given() {
        let (a, b) = (
            NonceChoice::Random.draw().unwrap().unwrap(),
            NonceChoice::Random.draw().unwrap().unwrap(),
        );
        assert_eq!(a.as_bytes().len(), 32);
        assert_ne!(a, b);
        let fixed = Nonce::new(vec![7; 16]).unwrap();
        assert_eq!(
            NonceChoice::Fixed(fixed.clone()).draw().unwrap(),
            Some(fixed)
        );
        assert_eq!(NonceChoice::None.draw().unwrap(), None);
    }

    fn response(status: u16, content_type: Option<&str>, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: content_type.map(str::to_owned),
            retry_after: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn server_errors_show_restconf_errors_or_a_body_excerpt() {
        let json = r#"{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"data-missing","error-message":"No responses configured."}]}}"#;
        let err = server_error(&response(404, Some("application/yang-data+json"), json));
        assert_eq!(
            err.to_string(),
            "server answered 404 data-missing: No responses configured."
        );
        let xml = r#"<errors xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><error><error-type>protocol</error-type><error-tag>access-denied</error-tag></error></errors>"#;
        let err = server_error(&response(401, None, xml));
        assert_eq!(err.to_string(), "server answered 401 access-denied");
        let err = server_error(&response(502, Some("text/html"), "<h1>Bad\ngateway</h1>"));
        assert_eq!(
            err.to_string(),
            r#"server answered 502 (body: "<h1>Bad gateway</h1>")"#
        );
        let mut busy = response(503, None, "");
        busy.retry_after = Some("30".into());
        assert_eq!(
            server_error(&busy).to_string(),
            "server answered 503 (retry after 30)"
        );
    }
}
