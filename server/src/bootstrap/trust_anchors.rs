//! The trust anchors a device reports with `bootstrap-complete` (RFC 8572 §7.3,
//! `trust-anchor-certs/trust-anchor-cert`), checked before ztp keeps them or passes them on.
//!
//! The YANG module says what each one is: "a CMS structure that MUST contain the CA
//! certificates" (a certificates-only SignedData, RFC 8572 §3.1's "degenerate" form). ztp
//! checks exactly that: a ContentInfo of SignedData, encapsulating no content and signed by no
//! one, carrying at least one certificate and only certificates, each of them a CA (basic
//! constraints `cA`). Anything else is refused with the reason, and nothing of the report is
//! kept: an NMS told of a device's trust anchors must be able to use them as such.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};
use ztp_certs::{Cert, oid};

/// Certificates one structure may carry, as for the CMS ztp reads elsewhere.
const MAX_CERTIFICATES: usize = ztp_certs::cms::MAX_CERTIFICATES;

/// Why a reported trust anchor is not what RFC 8572 says it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustAnchorError {
    /// Not DER of a CMS ContentInfo.
    #[error("not a CMS structure: {0}")]
    NotCms(String),
    /// A ContentInfo of another type.
    #[error("a CMS structure of content type {0}, not SignedData")]
    NotSignedData(String),
    /// A SignedData that carries content or signatures.
    #[error(
        "a signed CMS structure, not a certificates-only one (content type {content_type}, {signers} signer(s), content {content})"
    )]
    NotCertificatesOnly {
        /// The encapsulated content type.
        content_type: String,
        /// How many signers.
        signers: usize,
        /// Whether content is encapsulated.
        content: &'static str,
    },
    /// No certificate in it.
    #[error("the CMS structure carries no certificate")]
    Empty,
    /// More certificates than ztp reads.
    #[error("the CMS structure carries {0} certificates, more than {MAX_CERTIFICATES}")]
    TooMany(usize),
    /// Something other than an X.509 certificate (an attribute certificate, other format).
    #[error("certificate {0} of the CMS structure is no X.509 certificate")]
    NotX509(usize),
    /// A certificate that does not parse.
    #[error("certificate {index} of the CMS structure does not parse: {reason}")]
    Malformed {
        /// Its place, from 1.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A certificate that is no CA's.
    #[error("certificate {index} ({subject}) is not a CA certificate")]
    NotCa {
        /// Its place, from 1.
        index: usize,
        /// Its subject.
        subject: String,
    },
}

/// The CA certificates of one reported trust anchor, when it is a certificates-only CMS
/// structure of CA certificates.
pub fn check(der: &[u8]) -> Result<Vec<Cert>, TrustAnchorError> {
    let info = ContentInfo::from_der(der).map_err(|e| TrustAnchorError::NotCms(e.to_string()))?;
    if info.content_type != oid::ID_SIGNED_DATA {
        return Err(TrustAnchorError::NotSignedData(
            info.content_type.to_string(),
        ));
    }
    let signed = info
        .content
        .decode_as::<SignedData>()
        .map_err(|e| TrustAnchorError::NotCms(e.to_string()))?;
    let encapsulated = &signed.encap_content_info;
    let signers = signed.signer_infos.0.len();
    if signers > 0 || encapsulated.econtent.is_some() || encapsulated.econtent_type != oid::ID_DATA
    {
        return Err(TrustAnchorError::NotCertificatesOnly {
            content_type: encapsulated.econtent_type.to_string(),
            signers,
            content: if encapsulated.econtent.is_some() {
                "present"
            } else {
                "absent"
            },
        });
    }
    let choices = signed
        .certificates
        .map(|set| set.0.into_vec())
        .unwrap_or_default();
    if choices.is_empty() {
        return Err(TrustAnchorError::Empty);
    }
    if choices.len() > MAX_CERTIFICATES {
        return Err(TrustAnchorError::TooMany(choices.len()));
    }
    choices
        .iter()
        .enumerate()
        .map(|(i, choice)| {
            let index = i + 1;
            let CertificateChoices::Certificate(cert) = choice else {
                return Err(TrustAnchorError::NotX509(index));
            };
            let malformed = |reason: String| TrustAnchorError::Malformed { index, reason };
            let der = cert.to_der().map_err(|e| malformed(e.to_string()))?;
            let cert = Cert::from_der(der).map_err(|e| malformed(e.to_string()))?;
            if !cert.is_ca() {
                return Err(TrustAnchorError::NotCa {
                    index,
                    subject: cert.subject(),
                });
            }
            Ok(cert)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ztp_certs::{CertificateAuthority, KeyAlgorithm, Signer, cms};

    use super::*;

    fn ca(name: &str) -> CertificateAuthority {
        CertificateAuthority::new_root(name, "owner", KeyAlgorithm::EcdsaP256).unwrap()
    }

    #[test]
    fn a_certificates_only_structure_of_ca_certificates_passes() {
        let (root, sub) = (ca("root"), ca("other"));
        let der = cms::certificates_only(&[root.cert().clone(), sub.cert().clone()]).unwrap();
        let certs = check(&der).unwrap();
        assert_eq!(certs.len(), 2);
        assert!(certs.iter().any(|c| c.der() == root.cert().der()));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let root = ca("root");
        let (signer_cert, key) = root
            .issue_signer("leaf", "owner", KeyAlgorithm::EcdsaP256)
            .unwrap();
        // A leaf certificate is no trust anchor (its place in the set is DER order's).
        let leaf = cms::certificates_only(&[root.cert().clone(), signer_cert.clone()]).unwrap();
        let error = check(&leaf).unwrap_err();
        assert!(
            matches!(&error, TrustAnchorError::NotCa { subject, .. } if subject.contains("leaf")),
            "{error}"
        );
        // Signed data is not a certificates-only structure.
        let signer = Signer::new(key, vec![signer_cert, root.cert().clone()]).unwrap();
        let signed = cms::sign(oid::ID_DATA, b"hello", &signer).unwrap();
        let error = check(&signed).unwrap_err();
        assert!(
            matches!(
                error,
                TrustAnchorError::NotCertificatesOnly { signers: 1, .. }
            ),
            "{error}"
        );
        // Unsigned content, no certificate, a bare certificate, garbage.
        let unsigned = cms::unsigned(oid::ID_DATA, b"hello").unwrap();
        assert!(matches!(
            check(&unsigned),
            Err(TrustAnchorError::NotSignedData(_))
        ));
        let empty = cms::certificates_only(&[]).unwrap();
        assert_eq!(check(&empty), Err(TrustAnchorError::Empty));
        assert!(matches!(
            check(root.cert().der()),
            Err(TrustAnchorError::NotCms(_) | TrustAnchorError::NotSignedData(_))
        ));
        assert!(matches!(
            check(b"\x30\x00"),
            Err(TrustAnchorError::NotCms(_))
        ));
    }
}
