//! Error types, one per concern, each variant named for what happened.

use const_oid::ObjectIdentifier;

/// Generating, issuing, loading or storing keys and certificates failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen refused a key or certificate operation.
    #[error("key or certificate generation failed: {0}")]
    Generation(#[from] rcgen::Error),
    /// A PEM document held no object of the expected kind.
    #[error("no {expected} found in PEM input")]
    NoPemObject {
        /// What was looked for, e.g. "CERTIFICATE".
        expected: &'static str,
    },
    /// PEM text could not be decoded.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// A certificate's DER could not be parsed.
    #[error("malformed certificate: {0}")]
    Certificate(der::Error),
    /// A private key could not be loaded.
    #[error("unusable private key: {0}")]
    Key(String),
    /// The key algorithm is not one ztp issues or signs with.
    #[error("unsupported key algorithm {0}")]
    UnsupportedKeyAlgorithm(String),
    /// A value given for a certificate field is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Reading or writing a PKI file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A certificate does not name an acceptable device identity.
///
/// The values come from certificates a device presents, so every variant is a refusal of
/// possibly hostile input, never a reason to crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The configured source of the serial is absent from the certificate.
    #[error("certificate has no {0}")]
    Missing(&'static str),
    /// The attribute is present but not a string type ztp reads.
    #[error("certificate {0} is not a printable, IA5 or UTF-8 string")]
    NotAString(&'static str),
    /// The value is empty.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// The value is longer than ztp accepts.
    #[error("{what} is {len} bytes long, more than the {max} allowed")]
    TooLong {
        /// Which value.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The value contains a character ztp does not accept there.
    #[error("{what} contains the forbidden character {ch:?}")]
    ForbiddenCharacter {
        /// Which value.
        what: &'static str,
        /// The first offending character.
        ch: char,
    },
    /// The value must begin with a letter or digit.
    #[error("{0} must begin with a letter or a digit")]
    BadStart(&'static str),
    /// A `PID:… SN:…` value is not well formed.
    #[error("malformed UDI {0:?}: expected \"PID:<product> SN:<serial>\"")]
    MalformedUdi(String),
    /// The certificate's extensions could not be decoded.
    #[error("malformed certificate extension: {0}")]
    MalformedExtension(String),
}

/// A CMS structure could not be built, or does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The DER is not a well-formed CMS structure.
    #[error("malformed CMS structure: {0}")]
    Malformed(der::Error),
    /// The outer content type is not the one expected.
    #[error("CMS content type is {got}, expected {expected}")]
    UnexpectedContentType {
        /// What the caller required.
        expected: ObjectIdentifier,
        /// What the structure carries.
        got: ObjectIdentifier,
    },
    /// The SignedData encapsulates no content.
    #[error("SignedData carries no content")]
    NoContent,
    /// The SignedData has no signer, or more than one.
    #[error("SignedData has {0} signers, expected exactly one")]
    SignerCount(usize),
    /// The SignedData carries more certificates than any honest signer needs.
    #[error("SignedData carries {count} certificates; at most {max} are accepted")]
    TooManyCertificates {
        /// How many it carries.
        count: usize,
        /// The most accepted.
        max: usize,
    },
    /// The signer's certificate is not among those the SignedData carries.
    #[error("the signer's certificate is not included in the SignedData")]
    SignerCertificateMissing,
    /// The signer left out the signed attributes RFC 5652 requires when the content type is
    /// not id-data.
    #[error("signer info has no signed attributes")]
    NoSignedAttributes,
    /// A required signed attribute is missing or malformed.
    #[error("signed attribute {0} is missing or malformed")]
    BadSignedAttribute(&'static str),
    /// The content-type attribute disagrees with the encapsulated content type.
    #[error("content-type attribute does not match the encapsulated content type")]
    ContentTypeMismatch,
    /// The message digest does not match the content: the content was changed.
    #[error("message digest does not match the content")]
    DigestMismatch,
    /// A digest or signature algorithm ztp does not accept.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(ObjectIdentifier),
    /// The signature does not verify with the signer's public key.
    #[error("signature does not verify")]
    BadSignature,
    /// The signer's certificate is itself the trust anchor but is not valid at the time of
    /// verification.
    #[error("signer certificate is not valid at the time of verification")]
    SignerNotValidNow,
    /// The signer's certificate does not chain to a trust anchor (or is not valid now).
    #[error("signer certificate is not trusted: {0}")]
    Untrusted(webpki::Error),
    /// A certificate inside the structure could not be parsed.
    #[error("malformed certificate in CMS: {0}")]
    Certificate(#[from] PkiError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        Self::Malformed(e)
    }
}

/// An ownership voucher is malformed, does not verify or does not apply to this device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoucherError {
    /// The voucher's JSON does not follow ietf-voucher.
    #[error("malformed voucher JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field breaks a rule of the ietf-voucher module.
    #[error("invalid voucher: {0}")]
    Invalid(String),
    /// The CMS around the voucher does not verify.
    #[error("voucher signature: {0}")]
    Cms(#[from] CmsError),
    /// The voucher's signer is not a voucher signer.
    #[error("voucher signer: {0}")]
    Signer(#[from] crate::role::RoleError),
    /// The voucher names another device.
    #[error("voucher is for serial {voucher:?}, not {device:?}")]
    SerialMismatch {
        /// The serial in the voucher.
        voucher: String,
        /// The device's own serial.
        device: String,
    },
    /// The voucher has expired.
    #[error("voucher expired at {0}")]
    Expired(String),
    /// The voucher's nonce is not the one the device sent (or is missing).
    #[error("voucher nonce does not match the nonce the device sent")]
    NonceMismatch,
    /// The voucher carries a nonce, but the device sent none: it answers another request.
    #[error("voucher carries a nonce the device did not send: it answers another request")]
    UnsolicitedNonce,
    /// The voucher names the issuer of another IDevID (`idevid-issuer`, RFC 8366): it is for
    /// a device of the same serial under another CA.
    #[error("voucher is for a device whose IDevID another CA issued (idevid-issuer)")]
    IdevidIssuerMismatch,
}
