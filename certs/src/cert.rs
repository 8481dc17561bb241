//! A parsed X.509 certificate with the facts ztp shows and checks.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
};

use crate::error::PkiError;

/// An X.509 certificate: its DER bytes and their parse.
///
/// The DER is kept verbatim, so that what ztp sends on (in a voucher's pinned-domain-cert, a
/// CMS certificate set, a registration document) is byte-for-byte what it was given.
#[derive(Clone)]
pub struct Cert {
    der: CertificateDer<'static>,
    parsed: Certificate,
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Self, PkiError> {
        let der = der.into();
        let parsed = Certificate::from_der(&der).map_err(PkiError::Certificate)?;
        Ok(Self {
            der: CertificateDer::from(der),
            parsed,
        })
    }

    /// Parses the first certificate of a PEM document.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::chain_from_pem(pem)?
            .into_iter()
            .next()
            .ok_or(PkiError::NoPemObject {
                expected: "CERTIFICATE",
            })
    }

    /// Parses every certificate of a PEM document, in order (a chain, leaf first).
    pub fn chain_from_pem(pem: &str) -> Result<Vec<Self>, PkiError> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|der| {
                let der = der.map_err(|e| PkiError::Pem(e.to_string()))?;
                Self::from_der(der.to_vec())
            })
            .collect()
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER encoding in the type rustls and webpki take.
    pub fn as_certificate_der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The PEM encoding.
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &Certificate {
        &self.parsed
    }

    /// The subject distinguished name in RFC 4514 form.
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate.subject.to_string()
    }

    /// The issuer distinguished name in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.parsed.tbs_certificate.issuer.to_string()
    }

    /// The certificate serial number as colon-separated hex, as OpenSSL prints it.
    pub fn serial_number_hex(&self) -> String {
        colon_hex(self.parsed.tbs_certificate.serial_number.as_bytes())
    }

    /// The certificate serial number's big-endian bytes.
    pub fn serial_number(&self) -> &[u8] {
        self.parsed.tbs_certificate.serial_number.as_bytes()
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> OffsetDateTime {
        to_offset(
            self.parsed
                .tbs_certificate
                .validity
                .not_before
                .to_unix_duration(),
        )
    }

    /// End of the validity period.
    pub fn not_after(&self) -> OffsetDateTime {
        to_offset(
            self.parsed
                .tbs_certificate
                .validity
                .not_after
                .to_unix_duration(),
        )
    }

    /// Whether the certificate is valid at `at`.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// Whether basic constraints mark the certificate as a CA.
    pub fn is_ca(&self) -> bool {
        matches!(self.parsed.tbs_certificate.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
    }

    /// Whether the key usage extension lets the key sign data (digitalSignature): true when
    /// the extension is absent (RFC 5280 §4.2.1.3: no restriction), false when it cannot be
    /// read.
    pub fn may_sign_data(&self) -> bool {
        match self.parsed.tbs_certificate.get::<KeyUsage>() {
            Ok(None) => true,
            Ok(Some((_, usage))) => usage.0.contains(KeyUsages::DigitalSignature),
            Err(_) => false,
        }
    }

    /// The extended key usages the certificate names (empty when it has no such extension;
    /// `None` when the extension cannot be read).
    pub fn extended_key_usages(&self) -> Option<Vec<ObjectIdentifier>> {
        match self.parsed.tbs_certificate.get::<ExtendedKeyUsage>() {
            Ok(None) => Some(Vec::new()),
            Ok(Some((_, usages))) => Some(usages.0),
            Err(_) => None,
        }
    }

    /// The key identifier of the authority key identifier extension (RFC 5280 §4.2.1.1): what
    /// names the issuer's key, and what a voucher's `idevid-issuer` carries.
    pub fn authority_key_identifier(&self) -> Option<Vec<u8>> {
        match self.parsed.tbs_certificate.get::<AuthorityKeyIdentifier>() {
            Ok(Some((_, aki))) => aki.key_identifier.map(|id| id.as_bytes().to_vec()),
            _ => None,
        }
    }

    /// Whether subject and issuer are the same name (a root or other self-issued certificate).
    pub fn is_self_issued(&self) -> bool {
        self.parsed.tbs_certificate.subject == self.parsed.tbs_certificate.issuer
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Result<Vec<u8>, PkiError> {
        self.parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(PkiError::Certificate)
    }

    /// The DER TBSCertificate: the part the issuer's signature covers.
    pub fn signed_part_der(&self) -> Result<Vec<u8>, PkiError> {
        self.parsed
            .tbs_certificate
            .to_der()
            .map_err(PkiError::Certificate)
    }

    /// The algorithm its issuer signed it with.
    pub fn signature_algorithm(&self) -> ObjectIdentifier {
        self.parsed.signature_algorithm.oid
    }

    /// Whether its issuer signed it with SHA-1 (`sha1WithRSAEncryption`).
    pub fn is_signed_with_sha1(&self) -> bool {
        self.signature_algorithm() == crate::oid::SHA1_WITH_RSA
    }

    /// The SHA-256 fingerprint of the DER encoding.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.der)
    }
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Cert {}

impl fmt::Debug for Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cert")
            .field("subject", &self.subject())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// A SHA-256 fingerprint of a certificate's DER, as `openssl x509 -fingerprint -sha256` prints
/// it (upper-case hex pairs separated by colons).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `der`.
    pub fn of(der: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex without separators, the form ztp stores.
    pub fn to_hex(&self) -> String {
        hex(&self.0, None)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&colon_hex(&self.0).to_uppercase())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = PkiError;

    /// Accepts 64 hex digits, with or without colons, in either case, optionally prefixed
    /// `sha256:` (as operators paste them from different tools).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| PkiError::InvalidField {
            field: "certificate fingerprint",
            reason: reason.to_owned(),
        };
        let s = s.trim();
        let s = s
            .strip_prefix("sha256:")
            .or_else(|| s.strip_prefix("SHA256:"))
            .unwrap_or(s);
        let hex: String = s.chars().filter(|c| *c != ':').collect();
        if hex.len() != 64 {
            return Err(invalid("expected 32 bytes of hex (64 digits)"));
        }
        let mut bytes = [0; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = hex
                .get(2 * i..2 * i + 2)
                .ok_or_else(|| invalid("not hex"))?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid("not hex"))?;
        }
        Ok(Self(bytes))
    }
}

/// Octets as lower-case hex pairs separated by colons, as OpenSSL, ISC dhcpd and dnsmasq write
/// them.
pub fn colon_hex(bytes: &[u8]) -> String {
    hex(bytes, Some(':'))
}

/// Lower-case hex of `bytes`, pairs separated by `separator` (one string, no allocation per
/// byte: devices' fingerprints are formatted on every request).
fn hex(bytes: &[u8], separator: Option<char>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if let Some(separator) = separator.filter(|_| i > 0) {
            out.push(separator);
        }
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn to_offset(since_epoch: std::time::Duration) -> OffsetDateTime {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parses_every_common_spelling() {
        let fp = Fingerprint::of(b"abc");
        for text in [
            fp.to_string(),
            fp.to_hex(),
            format!("sha256:{}", fp.to_hex().to_uppercase()),
        ] {
            assert_eq!(text.parse::<Fingerprint>().unwrap(), fp, "{text}");
        }
        assert!("abcd".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
        assert!("é".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn fingerprints_print_as_openssl_and_the_store_spell_them() {
        // SHA-256("abc"), FIPS 180-2's example.
        let fp = Fingerprint::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(fp.to_hex(), hex);
        assert_eq!(fp.to_string(), colon_hex(fp.as_bytes()).to_uppercase());
        assert!(fp.to_string().starts_with("BA:78:16:BF:"));
        assert_eq!(fp.to_string().len(), 32 * 3 - 1);
        assert_eq!(colon_hex(&[0x00, 0x0f, 0xf0]), "00:0f:f0");
        assert_eq!(colon_hex(&[]), "");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(Cert::from_der(vec![0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(matches!(
            Cert::from_pem("hello"),
            Err(PkiError::NoPemObject { .. })
        ));
    }
}
