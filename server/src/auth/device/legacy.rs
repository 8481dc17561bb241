//! SHA-1 in device chains, where the operator opted in for the CA that signs with it.
//!
//! Installed IDevID hierarchies older than the device's newest chip (Cisco's Root CA 2048 and
//! ACT2 SUDI CA among them) sign with RSA PKCS#1 v1.5 over SHA-1, which webpki does not verify.
//! [`LegacySha1`] verifies such a signature when, and only when, it was made with the key of a
//! configured CA the operator named in `manufacturer.legacy_sha1`: a chain of a client's own
//! making gets no SHA-1 signature accepted, and nothing but device chains ever uses this
//! algorithm (the TLS handshake's signatures and CMS are verified elsewhere, without it).
//!
//! [`read_cas`] reads a configured CA file under that rule (a SHA-1-signed CA without the
//! opt-in is refused, naming the setting), and [`untrusted_reason`] says so when a device's
//! chain fails on a SHA-1 signature by a CA that is not opted in.
//!
//! Legacy verifications are not remembered (see [`super::signatures`]): an RSA verification is
//! cheap beside the handshake, and a legacy chain should cost what it costs.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, UnparsedPublicKey};
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use std::path::Path;

use rustls_pki_types::CertificateDer;
use ztp_certs::Cert;

use super::{TrustError, TrustFiles};

/// `sha1WithRSAEncryption` with its NULL parameters, as webpki matches a certificate's
/// signatureAlgorithm (the AlgorithmIdentifier's contents, without its SEQUENCE header).
const SHA1_WITH_RSA: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
]);

/// RSA PKCS#1 v1.5 with SHA-1, verified only for the opted-in CAs' keys.
#[derive(Debug)]
pub(super) struct LegacySha1 {
    /// The subjectPublicKeys of the CAs opted in.
    signers: Vec<Vec<u8>>,
}

impl LegacySha1 {
    /// The algorithm for the CAs `opted_in` (their certificates); `None` when there are none.
    pub(super) fn for_cas(opted_in: &[Cert]) -> Option<Self> {
        (!opted_in.is_empty()).then(|| Self {
            signers: opted_in.iter().map(super::public_key).collect(),
        })
    }
}

impl SignatureVerificationAlgorithm for LegacySha1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        if !self.signers.iter().any(|key| key == public_key) {
            return Err(InvalidSignature);
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls_pki_types::alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        SHA1_WITH_RSA
    }

    fn fips(&self) -> bool {
        false
    }
}

/// Whether the certificate `der` is signed with SHA-1 (a certificate that does not parse is
/// not: it is refused elsewhere).
pub(super) fn is_sha1_signed(der: &[u8]) -> bool {
    Cert::from_der(der.to_vec()).is_ok_and(|cert| cert.is_signed_with_sha1())
}

/// The CA certificates of `path`: those signed with SHA-1 are refused unless `files` opts the
/// file in; every certificate of an opted-in file is added to `legacy` (its key may sign with
/// SHA-1), with a warning.
pub(super) fn read_cas(
    path: &Path,
    files: &TrustFiles,
    legacy: &mut Vec<Cert>,
) -> Result<Vec<Cert>, TrustError> {
    let certs = super::read_certificates(path)?;
    let opted_in = files.legacy_sha1.iter().any(|p| p == path);
    for cert in &certs {
        if opted_in {
            tracing::warn!(
                ca = cert.subject(),
                path = %path.display(),
                signed_with_sha1 = cert.is_signed_with_sha1(),
                "device chains may carry SHA-1 signatures by this CA (manufacturer.legacy_sha1)"
            );
            legacy.push(cert.clone());
        } else if cert.is_signed_with_sha1() {
            return Err(TrustError::Sha1WithoutOptIn {
                path: path.to_owned(),
                subject: cert.subject(),
            });
        }
    }
    Ok(certs)
}

/// Why a chain that did not verify is not trusted: webpki's error, and what it means for a
/// chain signed with SHA-1.
pub(super) fn untrusted_reason(error: &webpki::Error, chain: &[CertificateDer<'static>]) -> String {
    let unsupported = matches!(
        error,
        webpki::Error::UnsupportedSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            | webpki::Error::InvalidSignatureForPublicKey
    );
    if unsupported && chain.iter().any(|cert| is_sha1_signed(cert)) {
        format!(
            "{error:?}: the chain is signed with SHA-1 by a CA that is not opted in \
             (manufacturer.legacy_sha1)"
        )
    } else {
        format!("{error:?}")
    }
}
