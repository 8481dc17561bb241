//! Certificate revocation lists: whether a CRL was signed by a given CA, so that a verifier
//! can check a CRL's signature once, when it reads the list, instead of on every lookup; and
//! when a CRL was issued and is next updated, so that an operator sees one going stale.

use std::time::{SystemTime, UNIX_EPOCH};

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;

use crate::cms::check_signed;
use crate::{Cert, CmsError};

/// Checks that the DER CRL `crl` names `issuer` as its issuer and carries its signature.
pub fn check_signed_by(crl: &[u8], issuer: &Cert) -> Result<(), CmsError> {
    let list = CertificateList::from_der(crl)?;
    if list.tbs_cert_list.issuer != issuer.x509().tbs_certificate.subject {
        return Err(CmsError::BadSignature);
    }
    let algorithm = list.signature_algorithm.oid;
    check_signed(
        issuer,
        (algorithm, algorithm),
        &list.tbs_cert_list.to_der()?,
        list.signature.raw_bytes(),
    )
}

/// When the DER CRL `crl` was issued (thisUpdate), and when its issuer promises the next one
/// (nextUpdate, optional in X.509).
pub fn validity(crl: &[u8]) -> Result<(SystemTime, Option<SystemTime>), CmsError> {
    let tbs = CertificateList::from_der(crl)?.tbs_cert_list;
    let time = |t: x509_cert::time::Time| UNIX_EPOCH + t.to_unix_duration();
    Ok((time(tbs.this_update), tbs.next_update.map(time)))
}

#[cfg(test)]
mod tests {
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::{CertificateAuthority, KeyAlgorithm, Revocation};

    #[test]
    fn a_crl_verifies_against_its_issuer_only() {
        for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
            let ca = CertificateAuthority::new_root("CA", "Mfg", algorithm).unwrap();
            let other = CertificateAuthority::new_root("CA", "Mfg", algorithm).unwrap();
            let now = OffsetDateTime::now_utc();
            let revoked = [Revocation {
                serial_number: vec![0x10, 0x01],
                revoked_at: now,
            }];
            let pem = ca.crl(&revoked, 1, now, now + Duration::days(1)).unwrap();
            let der = <rustls_pki_types::CertificateRevocationListDer<'_> as rustls_pki_types::pem::PemObject>::from_pem_slice(pem.as_bytes()).unwrap();
            check_signed_by(&der, ca.cert()).unwrap();
            let (this_update, next_update) = validity(&der).unwrap();
            let at = |t: OffsetDateTime| {
                UNIX_EPOCH + std::time::Duration::from_secs(t.unix_timestamp() as u64)
            };
            assert_eq!(
                (this_update, next_update),
                (at(now), Some(at(now + Duration::days(1))))
            );
            // Same name, another key: the signature does not verify.
            assert!(matches!(
                check_signed_by(&der, other.cert()),
                Err(CmsError::BadSignature)
            ));
            let mut tampered = der.to_vec();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert!(check_signed_by(&tampered, ca.cert()).is_err());
        }
    }
}
