//! ztp's own LDevID CA, one per customer: generated when the customer opts in, kept in the
//! database beside the customer's owner credentials (the key sealed under the master key).
//!
//! It is a CA of its own rather than the owner CA: the owner CA is the voucher's
//! pinned-domain-cert, which devices trust to verify conveyed information, so an LDevID issued
//! under it would let a device's key pass for the owner's signer. And ztp holds no owner CA
//! key anyway (only the owner signer's).

use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use ztp_certs::{Cert, CertificateAuthority, KeyAlgorithm, SigningKey};

use super::issuer::{IssueError, IssueRequest, Issuer};

/// How long an LDevID ztp issues is valid.
pub const VALIDITY: Duration = Duration::days(2 * 365);
/// Backdating of `notBefore`, for device clocks a little behind.
const BACKDATE: Duration = Duration::hours(1);
const NAME: &str = "ztp CA";

/// A customer's LDevID CA with its key.
pub struct ZtpCa {
    cert: Cert,
    issuer: rcgen::Issuer<'static, SigningKey>,
    organization: String,
}

impl std::fmt::Debug for ZtpCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZtpCa")
            .field("cert", &self.cert.subject())
            .finish_non_exhaustive()
    }
}

impl ZtpCa {
    /// A new CA for `customer`: its certificate and key, as PEM.
    pub fn generate(customer: &str) -> Result<(String, String), IssueError> {
        let ca = CertificateAuthority::new_root(
            &format!("{customer} LDevID CA"),
            customer,
            KeyAlgorithm::EcdsaP256,
        )
        .map_err(failed)?;
        Ok((ca.cert().pem(), ca.key().to_pem()))
    }

    /// The CA of `customer` from its stored certificate and key.
    pub fn load(customer: &str, cert_pem: &str, key_pem: &str) -> Result<Self, IssueError> {
        let cert = Cert::from_pem(cert_pem).map_err(failed)?;
        let key = SigningKey::from_pem(key_pem).map_err(failed)?;
        // Checks that it is a CA and that the key is its own.
        CertificateAuthority::load(cert.clone(), SigningKey::from_pem(key_pem).map_err(failed)?)
            .map_err(failed)?;
        let issuer =
            rcgen::Issuer::from_ca_cert_der(cert.as_certificate_der(), key).map_err(failed)?;
        Ok(Self {
            cert,
            issuer,
            organization: customer.to_owned(),
        })
    }

    /// The CA certificate: what a customer's systems trust LDevIDs by.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    fn params(&self, request: IssueRequest<'_>) -> Result<CertificateParams, IssueError> {
        let serial = request.serial.as_str();
        let mut params = CertificateParams::default();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + VALIDITY;
        params.serial_number = Some(random_serial()?);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, serial);
        // X.520 serialNumber is a PrintableString (a serial ztp accepted is one).
        let printable = serial
            .to_owned()
            .try_into()
            .map_err(|_| failed(format!("serial {serial:?} is not a PrintableString")))?;
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(printable),
        );
        dn.push(DnType::OrganizationName, self.organization.as_str());
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if request.csr.algorithm() == "RSA" {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        // A device's LDevID authenticates it as a TLS client (RESTCONF, an EST server) and as
        // a TLS server (NETCONF/RESTCONF call home, where the device is the TLS server).
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

impl Issuer for ZtpCa {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn issue(&self, request: IssueRequest<'_>) -> Result<Vec<Cert>, IssueError> {
        let params = self.params(request)?;
        let cert = params
            .signed_by(request.csr.public_key(), &self.issuer)
            .map_err(failed)?;
        let leaf = Cert::from_der(cert.der().to_vec()).map_err(failed)?;
        Ok(vec![leaf, self.cert.clone()])
    }
}

fn failed(e: impl std::fmt::Display) -> IssueError {
    IssueError::Failed {
        issuer: NAME,
        reason: e.to_string(),
    }
}

/// A positive random serial of 16 bytes (RFC 5280 allows up to 20).
fn random_serial() -> Result<rcgen::SerialNumber, IssueError> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| failed("no randomness for a serial number"))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(rcgen::SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldevid::csr::VerifiedCsr;
    use crate::ldevid::csr::tests::csr;
    use crate::ldevid::issuer::check_issued;
    use ztp_certs::Serial;

    #[tokio::test]
    async fn issues_for_the_csr_key_named_by_the_serial_not_the_csr_subject() {
        let (cert_pem, key_pem) = ZtpCa::generate("acme").unwrap();
        let ca = ZtpCa::load("acme", &cert_pem, &key_pem).unwrap();
        let csr = VerifiedCsr::verify(&csr(&rcgen::PKCS_ECDSA_P256_SHA256, "admin")).unwrap();
        let serial = Serial::parse("SN-42").unwrap();
        let request = IssueRequest {
            serial: &serial,
            customer: "acme",
            csr: &csr,
        };
        let chain = ca.issue(request).await.unwrap();
        check_issued(NAME, request, &chain).unwrap();
        let leaf = &chain[0];
        assert!(leaf.subject().contains("SN-42"), "{}", leaf.subject());
        assert!(!leaf.subject().contains("admin"), "{}", leaf.subject());
        assert_eq!(chain[1], *ca.cert());
        // Another serial is not what this certificate names.
        let other = Serial::parse("SN-43").unwrap();
        let wrong = IssueRequest {
            serial: &other,
            ..request
        };
        assert!(matches!(
            check_issued(NAME, wrong, &chain),
            Err(IssueError::Unusable { .. })
        ));
    }

    #[tokio::test]
    async fn issues_for_every_key_algorithm_it_accepts() {
        let (cert_pem, key_pem) = ZtpCa::generate("acme").unwrap();
        let ca = ZtpCa::load("acme", &cert_pem, &key_pem).unwrap();
        let serial = Serial::parse("SN-42").unwrap();
        for alg in [&rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
            let csr = VerifiedCsr::verify(&csr(alg, "x")).unwrap();
            let request = IssueRequest {
                serial: &serial,
                customer: "acme",
                csr: &csr,
            };
            let chain = ca.issue(request).await.unwrap();
            check_issued(NAME, request, &chain).unwrap();
        }
    }

    #[test]
    fn a_key_that_is_not_the_cas_is_refused() {
        let (cert_pem, _) = ZtpCa::generate("acme").unwrap();
        let (_, other_key) = ZtpCa::generate("acme").unwrap();
        assert!(ZtpCa::load("acme", &cert_pem, &other_key).is_err());
    }
}
