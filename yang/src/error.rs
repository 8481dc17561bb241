//! Errors: why a document could not be decoded, or why a value is not a valid document.

use thiserror::Error;

/// Why bytes could not be decoded into a typed document.
///
/// Decoders are strict: anything the YANG module does not allow, or that ztp does not expect,
/// is an error naming what was wrong. Messages quote at most a short prefix of offending input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is larger than the configured limit; it was not parsed at all.
    #[error("document of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit that applied.
        limit: usize,
    },
    /// The input is not UTF-8 (the only encoding RESTCONF and ztp use).
    #[error("document is not valid UTF-8")]
    NotUtf8,
    /// The input is not well-formed XML.
    #[error("malformed XML: {0}")]
    MalformedXml(String),
    /// The input is not well-formed JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The XML contains a document type declaration; refused so that no entity is ever defined
    /// or resolved (XXE, entity expansion).
    #[error("XML document type declarations (DOCTYPE) are not allowed")]
    DocType,
    /// The XML references an entity other than the five predefined ones or a character reference.
    #[error("XML entity reference `&{0};` is not allowed")]
    UnknownEntity(String),
    /// An XML element carries an attribute other than a namespace declaration.
    #[error("unexpected attribute `{attribute}` on element `{element}`")]
    UnexpectedAttribute {
        /// The element.
        element: String,
        /// The attribute's qualified name.
        attribute: String,
    },
    /// The document nests deeper than any ztp document can.
    #[error("document nests deeper than {limit} levels")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// The top-level element or member is not the one this document type has.
    #[error("expected top-level `{expected}`, found `{found}`")]
    WrongRoot {
        /// The expected `module:name`.
        expected: String,
        /// What was found, as `namespace-or-module:name`.
        found: String,
    },
    /// An element is in a namespace the schema does not put it in.
    #[error("element `{element}` is in namespace `{found}`, expected `{expected}`")]
    WrongNamespace {
        /// The element's local name.
        element: String,
        /// The expected namespace.
        expected: String,
        /// The namespace found (empty when none).
        found: String,
    },
    /// A JSON member name is qualified with a module ztp does not know.
    #[error("unknown YANG module `{0}` in a member name")]
    UnknownModule(String),
    /// A child the schema does not define (or that is in another namespace) was found.
    #[error("unknown element `{element}` in `{parent}`")]
    UnknownElement {
        /// The parent's name.
        parent: String,
        /// The unexpected child, as `namespace-or-module:name` when qualified.
        element: String,
    },
    /// A leaf or container that may occur once occurs more than once.
    #[error("`{0}` occurs more than once")]
    Duplicate(String),
    /// A mandatory node is missing.
    #[error("mandatory `{0}` is missing")]
    Missing(String),
    /// A node has the wrong shape, e.g. a JSON string where a list (array) is required.
    #[error("`{element}` must be {expected}")]
    WrongShape {
        /// The node's name.
        element: String,
        /// What the schema requires, e.g. "a list (JSON array)".
        expected: &'static str,
    },
    /// A `binary` leaf is not valid base64.
    #[error("`{0}` is not valid base64")]
    InvalidBase64(String),
    /// A leaf's value is not valid for its type (number out of range, unknown enum value, bad
    /// date-and-time, ...).
    #[error("invalid value {value:?} for `{element}`: {reason}")]
    InvalidValue {
        /// The leaf's name.
        element: String,
        /// The value (truncated to 64 characters).
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The document parsed but violates a constraint of its schema.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// Why a value is not a valid document (a constraint of the YANG schema that the Rust type
/// alone does not express). Decoders return it inside [`DecodeError::Invalid`]; encoders check
/// it in [`Document::encode_checked`](crate::Document::encode_checked).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A `get-bootstrapping-data` nonce must be 16 to 32 bytes long (RFC 8572).
    #[error("nonce must be 16..32 bytes, got {len}")]
    NonceLength {
        /// The length received.
        len: usize,
    },
    /// Redirect information must name at least one bootstrap server.
    #[error("redirect information needs at least one bootstrap server")]
    NoBootstrapServer,
    /// Two entries of a keyed list have the same key.
    #[error("duplicate key {key:?} in list `{list}`")]
    DuplicateKey {
        /// The list.
        list: &'static str,
        /// The duplicated key (truncated).
        key: String,
    },
    /// `image-verification` is only allowed together with at least one `download-uri`.
    #[error("boot-image image-verification requires a download-uri")]
    ImageVerificationWithoutUri,
    /// A hash value has the wrong length for its algorithm.
    #[error("{algorithm} hash value must be {expected} bytes, got {len}")]
    HashLength {
        /// The algorithm's YANG identity name.
        algorithm: &'static str,
        /// The required length.
        expected: usize,
        /// The length found.
        len: usize,
    },
    /// A bootstrap-server address is neither an IP address nor a domain name (`inet:host`).
    #[error("{0:?} is not an IP address or domain name")]
    InvalidHost(String),
    /// A string leaf holds characters YANG strings may not contain (C0 controls other than tab,
    /// CR and LF; noncharacters), or violates a length restriction.
    #[error("leaf `{leaf}` {reason}")]
    InvalidString {
        /// The leaf.
        leaf: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A feature tag does not match `[A-Za-z0-9][A-Za-z0-9_.-]*` (1..64 characters).
    #[error("{0:?} is not a valid feature tag")]
    InvalidFeatureTag(String),
    /// A subscription or evaluation license has no `not-after`.
    #[error("license {0:?} is not perpetual and needs not-after")]
    MissingNotAfter(String),
    /// A license's `not-after` is before its `not-before`.
    #[error("license {0:?} has not-after before not-before")]
    ValidityOrder(String),
    /// A license count must be at least 1.
    #[error("license {0:?} has a count of 0")]
    ZeroCount(String),
    /// A date-and-time cannot be written as `yang:date-and-time` (year outside 0000..9999 or an
    /// offset with seconds).
    #[error("date-and-time {0} is not representable in RFC 3339")]
    TimeOutOfRange(String),
    /// SSH host keys and trust anchors may only accompany a `bootstrap-complete` report.
    #[error("ssh-host-keys and trust-anchor-certs are only allowed with bootstrap-complete")]
    KeysWithoutBootstrapComplete,
    /// A node is present without another one the schema requires with it (`must` statements:
    /// owner-certificate and ownership-voucher, configuration and configuration-handling).
    #[error("`{present}` requires `{missing}`")]
    Requires {
        /// The node that is present.
        present: &'static str,
        /// The node that is missing.
        missing: &'static str,
    },
    /// A RESTCONF error document must contain at least one error.
    #[error("a RESTCONF errors document needs at least one error")]
    NoErrors,
}
