//! RESTCONF error documents (`ietf-restconf:errors`, RFC 8040 §7.1).
//!
//! XML root `<errors xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">`; JSON
//! `{"ietf-restconf:errors": {"error": [...]}}`. `error-info` (anydata) holds what ztp
//! knows to put there ([`ErrorInfo`]: RFC 9646's `csr-request`); other content is skipped when
//! decoding.

use crate::csr::CsrRequest;
use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::{RESTCONF as RC, SZTP_CSR};
use crate::tree::{Members, Node, Out, Scalar, expect_root, push_opt_string};
use crate::types::{check_string, read_enum, read_string};

/// A RESTCONF `errors` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestconfErrors {
    /// The `error` entries (at least one).
    pub errors: Vec<RestconfError>,
}

impl RestconfErrors {
    /// A document with one error.
    pub fn single(error: RestconfError) -> Self {
        Self {
            errors: vec![error],
        }
    }
}

/// One `error` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestconfError {
    /// `error-type`.
    pub error_type: ErrorType,
    /// `error-tag`.
    pub error_tag: ErrorTag,
    /// `error-app-tag`.
    pub error_app_tag: Option<String>,
    /// `error-path` (`instance-identifier`) in the JSON form with module-name prefixes, e.g.
    /// `/ietf-sztp-bootstrap-server:get-bootstrapping-data`. In XML the prefixes of modules ztp
    /// ships are declared on the element; decoded XML keeps the sender's text.
    pub error_path: Option<String>,
    /// `error-message`: human-readable text.
    pub error_message: Option<String>,
    /// `error-info`: structured details.
    pub error_info: Option<ErrorInfo>,
}

/// What an `error-info` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorInfo {
    /// `ietf-sztp-csr:csr-request` (RFC 9646): the CSR the server wants.
    CsrRequest(CsrRequest),
}

impl RestconfError {
    /// An error with a message.
    pub fn new(error_type: ErrorType, error_tag: ErrorTag, message: impl Into<String>) -> Self {
        Self {
            error_type,
            error_tag,
            error_app_tag: None,
            error_path: None,
            error_message: Some(message.into()),
            error_info: None,
        }
    }
}

/// `error-type`: the protocol layer where the error occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `transport`.
    Transport,
    /// `rpc`.
    Rpc,
    /// `protocol`.
    Protocol,
    /// `application`.
    Application,
}

impl ErrorType {
    /// The YANG enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Rpc => "rpc",
            Self::Protocol => "protocol",
            Self::Application => "application",
        }
    }

    /// Parses the YANG enum name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "transport" => Some(Self::Transport),
            "rpc" => Some(Self::Rpc),
            "protocol" => Some(Self::Protocol),
            "application" => Some(Self::Application),
            _ => None,
        }
    }
}

macro_rules! error_tags {
    ($($variant:ident => $name:literal, $status:literal;)*) => {
        /// `error-tag`: the RFC 8040 §7 tags, or another string (the leaf is a `string`).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorTag {
            $(
                #[doc = concat!("`", $name, "` (HTTP ", stringify!($status), ").")]
                $variant,
            )*
            /// A tag RFC 8040 does not list; never one of the listed names (use
            /// [`ErrorTag::parse`] to build from text).
            Other(String),
        }

        impl ErrorTag {
            /// The tag text.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Other(s) => s,
                }
            }

            /// The tag for `s`: a listed variant when it is one, else [`ErrorTag::Other`].
            pub fn parse(s: &str) -> Self {
                match s {
                    $($name => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The HTTP status RFC 8040 §7 lists first for this tag (500 for others).
            pub fn http_status(&self) -> u16 {
                match self {
                    $(Self::$variant => $status,)*
                    Self::Other(_) => 500,
                }
            }
        }
    };
}

error_tags! {
    InUse => "in-use", 409;
    InvalidValue => "invalid-value", 400;
    TooBig => "too-big", 413;
    MissingAttribute => "missing-attribute", 400;
    BadAttribute => "bad-attribute", 400;
    UnknownAttribute => "unknown-attribute", 400;
    MissingElement => "missing-element", 400;
    BadElement => "bad-element", 400;
    UnknownElement => "unknown-element", 400;
    UnknownNamespace => "unknown-namespace", 400;
    AccessDenied => "access-denied", 401;
    LockDenied => "lock-denied", 409;
    ResourceDenied => "resource-denied", 409;
    RollbackFailed => "rollback-failed", 500;
    DataExists => "data-exists", 409;
    DataMissing => "data-missing", 409;
    OperationNotSupported => "operation-not-supported", 501;
    OperationFailed => "operation-failed", 500;
    PartialOperation => "partial-operation", 500;
    MalformedMessage => "malformed-message", 400;
}

impl RestconfErrors {
    fn check(&self) -> Result<(), ValidationError> {
        if self.errors.is_empty() {
            return Err(ValidationError::NoErrors);
        }
        for e in &self.errors {
            check_string("error-tag", e.error_tag.as_str(), 1, usize::MAX)?;
            for (leaf, value) in [
                ("error-app-tag", &e.error_app_tag),
                ("error-path", &e.error_path),
                ("error-message", &e.error_message),
            ] {
                if let Some(v) = value {
                    check_string(leaf, v, 0, usize::MAX)?;
                }
            }
        }
        Ok(())
    }
}

impl Model for RestconfErrors {
    fn to_tree(&self) -> Out {
        let errors = self
            .errors
            .iter()
            .map(|e| {
                let mut c = vec![
                    Out::string(&RC, "error-type", e.error_type.as_str()),
                    Out::string(&RC, "error-tag", e.error_tag.as_str()),
                ];
                push_opt_string(&mut c, &RC, "error-app-tag", e.error_app_tag.as_deref());
                if let Some(path) = &e.error_path {
                    c.push(Out::leaf(
                        &RC,
                        "error-path",
                        Scalar::InstanceId(path.clone()),
                    ));
                }
                push_opt_string(&mut c, &RC, "error-message", e.error_message.as_deref());
                if let Some(ErrorInfo::CsrRequest(request)) = &e.error_info {
                    c.push(Out::container(&RC, "error-info", vec![request.to_tree()]));
                }
                Out::entry(&RC, "error", c)
            })
            .collect();
        Out::container(&RC, "errors", errors)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &RC, "errors")?;
        let mut m = Members::of(root)?;
        let errors = m
            .many(&RC, "error")?
            .into_iter()
            .map(|entry| {
                let mut e = Members::of(entry)?;
                let error_info = read_error_info(e.optional(&RC, "error-info")?)?;
                let error = RestconfError {
                    error_type: read_enum(e.required(&RC, "error-type")?, ErrorType::parse)?,
                    error_tag: ErrorTag::parse(&read_string(e.required(&RC, "error-tag")?)?),
                    error_app_tag: e
                        .optional(&RC, "error-app-tag")?
                        .map(read_string)
                        .transpose()?,
                    error_path: e
                        .optional(&RC, "error-path")?
                        .map(read_string)
                        .transpose()?,
                    error_message: e
                        .optional(&RC, "error-message")?
                        .map(read_string)
                        .transpose()?,
                    error_info,
                };
                e.finish()?;
                Ok(error)
            })
            .collect::<Result<_, DecodeError>>()?;
        m.finish()?;
        Ok(Self { errors })
    }
}

document!(RestconfErrors);

/// Reads the `error-info` ztp knows (a `csr-request`); anything else in it (anydata) is
/// skipped.
fn read_error_info(node: Option<&Node>) -> Result<Option<ErrorInfo>, DecodeError> {
    let Some(node) = node else {
        return Ok(None);
    };
    let Ok(children) = node.children() else {
        return Ok(None);
    };
    children
        .iter()
        .find(|c| c.name == "csr-request" && c.ns == SZTP_CSR.namespace)
        .map(|c| CsrRequest::from_tree(c).map(ErrorInfo::CsrRequest))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Document;

    #[test]
    fn notes_example_json() {
        let doc = RestconfErrors::single(RestconfError::new(
            ErrorType::Protocol,
            ErrorTag::AccessDenied,
            "...",
        ));
        assert_eq!(
            doc.to_json(),
            r#"{"ietf-restconf:errors":{"error":[{"error-type":"protocol","error-tag":"access-denied","error-message":"..."}]}}"#
        );
        assert_eq!(RestconfErrors::from_json(doc.to_json().as_bytes()), Ok(doc));
    }

    #[test]
    fn tags() {
        assert_eq!(ErrorTag::parse("access-denied"), ErrorTag::AccessDenied);
        assert_eq!(
            ErrorTag::parse("x-custom"),
            ErrorTag::Other("x-custom".into())
        );
        assert_eq!(ErrorTag::MalformedMessage.http_status(), 400);
        assert_eq!(ErrorTag::DataMissing.as_str(), "data-missing");
    }

    #[test]
    fn error_path_prefixes_declared_in_xml() {
        let mut e = RestconfError::new(ErrorType::Protocol, ErrorTag::InvalidValue, "bad nonce");
        e.error_path = Some("/ietf-sztp-bootstrap-server:get-bootstrapping-data/nonce".into());
        let xml = RestconfErrors::single(e).to_xml();
        assert!(xml.contains(r#"<error-path xmlns:ietf-sztp-bootstrap-server="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server">/ietf-sztp-bootstrap-server:get-bootstrapping-data/nonce</error-path>"#), "{xml}");
    }

    #[test]
    fn error_info_is_skipped() {
        let json = br#"{"ietf-restconf:errors":{"error":[{"error-type":"protocol","error-tag":"missing-attribute","error-info":{"ietf-sztp-bootstrap-server:x":1}}]}}"#;
        let doc = RestconfErrors::from_json(json).unwrap();
        assert_eq!(doc.errors[0].error_tag, ErrorTag::MissingAttribute);
    }
}
