//! A device's PKCS#10 certification request, checked before anything is issued for it: it
//! parses, its signature verifies with the public key it carries (the proof that the device
//! holds the private key), and that key is of an algorithm ztp issues for.
//!
//! Of the request only the public key is used: the subject, extensions and attributes a device
//! asks for are not copied into a certificate (the issuer names the device by the serial its
//! IDevID proved).

use der::{Decode, Encode};
use x509_cert::request::CertReq;

/// The key algorithms ztp's issuers accept, as RFC 9646's `algorithm-identifier` names them
/// (a DER AlgorithmIdentifier of the subject public key), in ztp's order of preference.
pub const ACCEPTED_ALGORITHMS: &[(&str, &[u8])] = &[
    ("ECDSA P-256", EC_P256),
    ("ECDSA P-384", EC_P384),
    ("Ed25519", ED25519),
    ("RSA", RSA),
    ("RSA", RSA_NO_PARAMETERS),
];

/// id-ecPublicKey with namedCurve secp256r1.
pub const EC_P256: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
/// id-ecPublicKey with namedCurve secp384r1.
pub const EC_P384: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];
/// id-Ed25519 (RFC 8410).
pub const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
/// rsaEncryption with NULL parameters (RFC 4055).
pub const RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// rsaEncryption with the parameters left out, as some encoders write it.
const RSA_NO_PARAMETERS: &[u8] = &[
    0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// The name of an accepted algorithm identifier, if ztp accepts it.
pub fn accepted(algorithm_identifier: &[u8]) -> Option<&'static str> {
    ACCEPTED_ALGORITHMS
        .iter()
        .find(|(_, der)| *der == algorithm_identifier)
        .map(|(name, _)| *name)
}

/// Why a CSR is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrError {
    /// Not a DER PKCS#10 CertificationRequest.
    #[error("the CSR is not a PKCS#10 CertificationRequest: {0}")]
    Malformed(String),
    /// The signature does not verify with the request's own public key.
    #[error("the CSR's signature does not verify with its public key (no proof of possession)")]
    BadSignature,
    /// The key or signature algorithm is not one ztp issues for.
    #[error("the CSR's key or signature algorithm is not supported: {0}")]
    UnsupportedAlgorithm(String),
    /// The CSR asks for an extension ztp cannot read.
    #[error("the CSR requests an extension ztp does not support")]
    UnsupportedExtension,
}

/// A certification request whose proof of possession verified.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    der: Vec<u8>,
    spki: Vec<u8>,
    algorithm: &'static str,
    params: rcgen::CertificateSigningRequestParams,
}

impl VerifiedCsr {
    /// Parses `der` and verifies its signature with the public key it carries.
    pub fn verify(der: &[u8]) -> Result<Self, CsrError> {
        let request = CertReq::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
        let spki = request
            .info
            .public_key
            .to_der()
            .map_err(|e| CsrError::Malformed(e.to_string()))?;
        let key_algorithm = request
            .info
            .public_key
            .algorithm
            .to_der()
            .map_err(|e| CsrError::Malformed(e.to_string()))?;
        let algorithm = accepted(&key_algorithm).ok_or_else(|| {
            CsrError::UnsupportedAlgorithm(format!(
                "public key algorithm {}",
                request.info.public_key.algorithm.oid
            ))
        })?;
        let params = rcgen::CertificateSigningRequestParams::from_der(&der.to_vec().into())
            .map_err(|e| match e {
                rcgen::Error::InvalidCertificationRequestSignature => CsrError::BadSignature,
                rcgen::Error::UnsupportedExtension => CsrError::UnsupportedExtension,
                rcgen::Error::UnsupportedSignatureAlgorithm => CsrError::UnsupportedAlgorithm(
                    format!("signature algorithm {}", request.algorithm.oid),
                ),
                other => CsrError::Malformed(other.to_string()),
            })?;
        Ok(Self {
            der: der.to_vec(),
            spki,
            algorithm,
            params,
        })
    }

    /// The request (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The request as PEM (`CERTIFICATE REQUEST`), as `openssl` and CAs read it.
    pub fn pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut pem = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE REQUEST-----\n");
        pem
    }

    /// The public key (DER SubjectPublicKeyInfo).
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The key's algorithm, by name.
    pub fn algorithm(&self) -> &'static str {
        self.algorithm
    }

    /// The public key as rcgen issues for it.
    pub(super) fn public_key(&self) -> &rcgen::PublicKey {
        &self.params.public_key
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CSR for a fresh key of `algorithm`, with `subject` as its common name.
    pub(crate) fn csr(algorithm: &'static rcgen::SignatureAlgorithm, subject: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
        let params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut params = params;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, subject);
        params.serialize_request(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_good_csr_verifies_for_each_algorithm() {
        for (alg, name) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, "ECDSA P-256"),
            (&rcgen::PKCS_ECDSA_P384_SHA384, "ECDSA P-384"),
            (&rcgen::PKCS_ED25519, "Ed25519"),
        ] {
            let der = csr(alg, "x");
            let verified = VerifiedCsr::verify(&der).unwrap();
            assert_eq!(verified.algorithm(), name);
            assert!(
                verified
                    .pem()
                    .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
            );
            assert_eq!(verified.der(), der.as_slice());
        }
    }

    #[test]
    fn a_forged_signature_is_no_proof_of_possession() {
        let mut der = csr(&rcgen::PKCS_ECDSA_P256_SHA256, "x");
        // The signature is the last bytes; flip one inside it.
        let last = der.len() - 5;
        der[last] ^= 0x01;
        assert_eq!(
            VerifiedCsr::verify(&der).unwrap_err(),
            CsrError::BadSignature
        );
    }

    #[test]
    fn a_csr_whose_subject_was_changed_after_signing_is_refused() {
        let good = csr(&rcgen::PKCS_ECDSA_P256_SHA256, "device-A");
        let forged = replace(&good, b"device-A", b"device-B");
        assert_eq!(
            VerifiedCsr::verify(&forged).unwrap_err(),
            CsrError::BadSignature
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            VerifiedCsr::verify(b"\x30\x03\x02\x01\x01"),
            Err(CsrError::Malformed(_))
        ));
        assert!(matches!(
            VerifiedCsr::verify(b""),
            Err(CsrError::Malformed(_))
        ));
    }

    #[test]
    fn algorithm_identifiers() {
        assert_eq!(accepted(EC_P256), Some("ECDSA P-256"));
        assert_eq!(accepted(RSA), Some("RSA"));
        assert_eq!(accepted(&[0x30, 0x00]), None);
    }

    pub(crate) fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = haystack
            .windows(from.len())
            .position(|w| w == from)
            .expect("present");
        let mut out = haystack.to_vec();
        out[at..at + from.len()].copy_from_slice(to);
        out
    }
}
