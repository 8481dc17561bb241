//! Why the agent failed: per server and in all, with the server's own words (RESTCONF errors
//! or an excerpt of its body) made printable, so a hostile server cannot write to the
//! terminal.

use ztp_certs::role::RoleError;
use ztp_certs::{IdentityError, PkiError};
use ztp_yang::{DecodeError, Document, Encoding, RestconfErrors};

use super::activation::ActivationCodeError;
use super::client::{ClientError, Response, ServerUrl};
use super::credentials::CodeUse;
use super::tls::TlsConfigError;
use super::verify::RefusedResponse;

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
    /// The activation code cannot be read or used.
    #[error(transparent)]
    ActivationCode(#[from] ActivationCodeError),
    /// A device whose activation code is its only factor would contact a server it did not
    /// authenticate: the code is not sent to it, and the device has nothing else to show.
    #[error(
        "{server} is not authenticated (provisional TLS): the activation code, this device's \
         only factor, is never sent to a server the device did not authenticate; give the \
         server's TLS trust anchor (--server-ca)"
    )]
    CodeOnlyToAuthenticated {
        /// The server, made printable.
        server: String,
    },
    /// The server asks for an activation code (401 with a Basic challenge) and the device
    /// has none.
    #[error(
        "the server asks for the device's activation code (401, WWW-Authenticate: Basic{}): \
         give it with --activation-code-file",
        detail_suffix_colon(.detail)
    )]
    CodeRequired {
        /// The RESTCONF errors of the answer.
        detail: String,
    },
    /// The server asks for an activation code the device withheld: it did not authenticate
    /// the server.
    #[error(
        "the server asks for the device's activation code (401, WWW-Authenticate: Basic), \
         which is never sent to a server the device did not authenticate (provisional TLS); \
         give the server's TLS trust anchor (--server-ca)"
    )]
    CodeWithheld,
    /// The server refused the activation code the device sent.
    #[error("the server refused the activation code (401){}", detail_suffix_colon(.detail))]
    CodeRefused {
        /// The RESTCONF errors of the answer.
        detail: String,
    },
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

fn detail_suffix_colon(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn list_failures(failures: &[ServerFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", printable(&f.server.to_string()), f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The error for a non-200 answer, with the RESTCONF errors it carries.
pub(super) fn server_error(response: &Response) -> AgentError {
    AgentError::Server {
        status: response.status.as_u16(),
        detail: error_detail(response),
        retry_after: response.retry_after.clone(),
    }
}

/// The error for a non-200 answer to `get-bootstrapping-data`: a 401 with a Basic challenge
/// says what to do about the activation code (`code`: whether it was sent).
pub(super) fn answer_error(response: &Response, code: CodeUse) -> AgentError {
    let challenged = response.status == http::StatusCode::UNAUTHORIZED
        && response
            .www_authenticate
            .as_deref()
            .is_some_and(offers_basic);
    if !challenged {
        return server_error(response);
    }
    let detail = error_detail(response);
    match code {
        CodeUse::NoCode => AgentError::CodeRequired { detail },
        CodeUse::Withheld => AgentError::CodeWithheld,
        CodeUse::Sent => AgentError::CodeRefused { detail },
    }
}

/// Whether a `WWW-Authenticate` value offers the Basic scheme (RFC 7617), among others.
fn offers_basic(challenges: &str) -> bool {
    // Each challenge starts a comma-separated item with its scheme; parameters follow it.
    challenges.split(',').any(|item| {
        item.trim_start()
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"))
    })
}

/// `tag: message` for each RESTCONF error in the body, or an excerpt of any other body.
pub(super) fn error_detail(response: &Response) -> String {
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
