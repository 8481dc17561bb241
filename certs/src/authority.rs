//! Certificate authorities and the certificate profiles ztp issues.
//!
//! The manufacturer's hierarchy is a root CA with an IDevID issuing CA below it (devices'
//! birth certificates), plus end-entity signers for ownership vouchers (the MASA), for licenses
//! and for the TLS server. Each owner (customer) has its own CA, the voucher's
//! pinned-domain-cert, with an owner signing certificate below it.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::cert::Cert;
use crate::error::PkiError;
use crate::identity::{ProductId, Serial, hardware_module_name_san};
use crate::key::{KeyAlgorithm, SigningKey};

/// The `hwType` ztp's development IDevIDs put in a hardwareModuleName: an arc under the
/// enterprise number RFC 5612 reserves for documentation. A manufacturer uses its own.
pub const DEV_HW_TYPE: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1.1");

/// How long CA certificates ztp generates are valid.
const CA_VALIDITY: Duration = Duration::days(20 * 365);
/// How long end-entity certificates ztp generates (other than IDevIDs) are valid.
const EE_VALIDITY: Duration = Duration::days(5 * 365);
/// Backdating of `notBefore`, so that clocks a little behind still accept a new certificate.
const BACKDATE: Duration = Duration::hours(1);

/// A CA: its certificate and the key that signs with it.
pub struct CertificateAuthority {
    cert: Cert,
    issuer: Issuer<'static, SigningKey>,
}

/// What to put in a device's IDevID.
#[derive(Debug, Clone)]
pub struct IdevidSpec {
    /// The device serial number.
    pub serial: Serial,
    /// The hardware model (product id).
    pub model: ProductId,
    /// Where the serial goes in the subject.
    pub placement: SerialPlacement,
    /// Also name the device in a subjectAltName hardwareModuleName (RFC 4108).
    pub hardware_module_name: bool,
    /// The device key type.
    pub key_algorithm: KeyAlgorithm,
}

/// Where an IDevID's subject carries the serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerialPlacement {
    /// `serialNumber=<serial>` (and `CN=<serial>`).
    #[default]
    SerialNumber,
    /// `serialNumber=PID:<model> SN:<serial>`, as Cisco SUDI certificates carry it.
    Udi,
    /// `CN=<serial>` only.
    CommonName,
}

/// A certificate to list on a CRL.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// The revoked certificate's serial number (big-endian bytes).
    pub serial_number: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
}

impl CertificateAuthority {
    /// Creates a self-signed root CA.
    pub fn new_root(
        common_name: &str,
        organization: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<Self, PkiError> {
        let key = SigningKey::generate(algorithm)?;
        let params = ca_params(common_name, organization, BasicConstraints::Unconstrained)?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert: Cert::from_der(cert.der().to_vec())?,
            issuer: Issuer::new(params, key),
        })
    }

    /// Creates a CA below this one that may issue end-entity certificates only.
    pub fn new_subordinate(
        &self,
        common_name: &str,
        organization: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<Self, PkiError> {
        let key = SigningKey::generate(algorithm)?;
        let params = ca_params(common_name, organization, BasicConstraints::Constrained(0))?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Self {
            cert: Cert::from_der(cert.der().to_vec())?,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads an existing CA from its certificate and key.
    pub fn load(cert: Cert, key: SigningKey) -> Result<Self, PkiError> {
        if !cert.is_ca() {
            return Err(PkiError::InvalidField {
                field: "CA certificate",
                reason: format!(
                    "{} is not a CA (basicConstraints cA is not set)",
                    cert.subject()
                ),
            });
        }
        if cert.public_key_der()? != key.public_key_der() {
            return Err(PkiError::Key(format!(
                "the key does not belong to {}",
                cert.subject()
            )));
        }
        let issuer = Issuer::from_ca_cert_der(cert.as_certificate_der(), key)?;
        Ok(Self { cert, issuer })
    }

    /// The CA certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }

    /// The CA key.
    pub fn key(&self) -> &SigningKey {
        self.issuer.key()
    }

    /// Issues a device IDevID (IEEE 802.1AR): client authentication, no expiry
    /// (`99991231235959Z`, as 802.1AR asks of birth certificates).
    pub fn issue_idevid(&self, spec: &IdevidSpec) -> Result<(Cert, SigningKey), PkiError> {
        let key = SigningKey::generate(spec.key_algorithm)?;
        let mut params = ee_params(spec.serial.as_str())?;
        params.not_after = rcgen::date_time_ymd(9999, 12, 31) + Duration::seconds(86_399);
        match spec.placement {
            SerialPlacement::SerialNumber => {
                push_printable(&mut params.distinguished_name, spec.serial.as_str())?
            }
            SerialPlacement::Udi => push_printable(
                &mut params.distinguished_name,
                &format!("PID:{} SN:{}", spec.model, spec.serial),
            )?,
            SerialPlacement::CommonName => {}
        }
        if let Some(org) = self.organization() {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if spec.hardware_module_name {
            let san = hardware_module_name_san(DEV_HW_TYPE, &spec.serial).map_err(|e| {
                PkiError::InvalidField {
                    field: "hardwareModuleName",
                    reason: e.to_string(),
                }
            })?;
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(&[2, 5, 29, 17], san));
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((Cert::from_der(cert.der().to_vec())?, key))
    }

    /// A customer's (device owner's) credentials: a root CA named after it, which vouchers pin,
    /// and a signing certificate under it for conveyed information. Returns the CA, the
    /// signing certificate and its key.
    pub fn new_owner(
        name: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<(Self, Cert, SigningKey), PkiError> {
        let ca = Self::new_root(&format!("{name} Owner CA"), name, algorithm)?;
        let (cert, key) = ca.issue_signer(&format!("{name} Owner Signing"), name, algorithm)?;
        Ok((ca, cert, key))
    }

    /// Issues a signing certificate: digital signatures only, for vouchers, licenses or an
    /// owner's conveyed information.
    pub fn issue_signer(
        &self,
        common_name: &str,
        organization: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<(Cert, SigningKey), PkiError> {
        let key = SigningKey::generate(algorithm)?;
        let mut params = ee_params(common_name)?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((Cert::from_der(cert.der().to_vec())?, key))
    }

    /// Issues a TLS server certificate for `names` (DNS names or IP addresses).
    pub fn issue_tls_server(
        &self,
        names: &[String],
        algorithm: KeyAlgorithm,
    ) -> Result<(Cert, SigningKey), PkiError> {
        let first = names.first().ok_or_else(|| PkiError::InvalidField {
            field: "TLS server names",
            reason: "at least one DNS name or IP address is needed".into(),
        })?;
        let key = SigningKey::generate(algorithm)?;
        let mut params = CertificateParams::new(names.to_vec())?;
        set_common(&mut params, first, EE_VALIDITY)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if algorithm == KeyAlgorithm::Rsa2048 {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((Cert::from_der(cert.der().to_vec())?, key))
    }

    /// Signs a CRL listing `revoked`, valid from `this_update` to `next_update`.
    pub fn crl(
        &self,
        revoked: &[Revocation],
        crl_number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<String, PkiError> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial_number),
                    revocation_time: r.revoked_at,
                    reason_code: Some(RevocationReason::Unspecified),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    fn organization(&self) -> Option<String> {
        self.cert
            .x509()
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find_map(|atv| {
                (atv.oid == const_oid::db::rfc4519::O)
                    .then(|| {
                        std::str::from_utf8(atv.value.value())
                            .ok()
                            .map(str::to_owned)
                    })
                    .flatten()
            })
    }
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

fn ca_params(
    common_name: &str,
    organization: &str,
    constraints: BasicConstraints,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    set_common(&mut params, common_name, CA_VALIDITY)?;
    params
        .distinguished_name
        .push(DnType::OrganizationName, organization);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn ee_params(common_name: &str) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    set_common(&mut params, common_name, EE_VALIDITY)?;
    Ok(params)
}

fn set_common(
    params: &mut CertificateParams,
    common_name: &str,
    validity: Duration,
) -> Result<(), PkiError> {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial()?);
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    Ok(())
}

/// X.520 serialNumber is a PrintableString.
fn push_printable(dn: &mut DistinguishedName, value: &str) -> Result<(), PkiError> {
    let printable = value
        .to_owned()
        .try_into()
        .map_err(|_| PkiError::InvalidField {
            field: "subject serialNumber",
            reason: format!("{value:?} is not a PrintableString"),
        })?;
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        DnValue::PrintableString(printable),
    );
    Ok(())
}

/// A random positive 128-bit serial number (RFC 5280 allows up to 20 octets).
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PkiError::Key("no randomness".into()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DeviceIdentity, SerialSource};

    fn idevid_ca() -> CertificateAuthority {
        let root = CertificateAuthority::new_root("Root", "Acme", KeyAlgorithm::EcdsaP256).unwrap();
        root.new_subordinate("IDevID CA", "Acme", KeyAlgorithm::EcdsaP256)
            .unwrap()
    }

    fn spec(placement: SerialPlacement, hmn: bool, alg: KeyAlgorithm) -> IdevidSpec {
        IdevidSpec {
            serial: Serial::parse("SN-0001").unwrap(),
            model: ProductId::parse("uCPE-100").unwrap(),
            placement,
            hardware_module_name: hmn,
            key_algorithm: alg,
        }
    }

    #[test]
    fn idevid_identity_reads_back_from_every_placement() {
        let ca = idevid_ca();
        for alg in KeyAlgorithm::ALL {
            let (cert, _) = ca
                .issue_idevid(&spec(SerialPlacement::SerialNumber, true, alg))
                .unwrap();
            for source in [
                SerialSource::SubjectSerialNumber,
                SerialSource::CommonName,
                SerialSource::HardwareModuleName,
            ] {
                let id = DeviceIdentity::from_certificate(&cert, source).unwrap();
                assert_eq!(id.serial.as_str(), "SN-0001", "{alg} {source}");
            }
        }
        let (cert, _) = ca
            .issue_idevid(&spec(SerialPlacement::Udi, false, KeyAlgorithm::EcdsaP256))
            .unwrap();
        let id =
            DeviceIdentity::from_certificate(&cert, SerialSource::SubjectSerialNumber).unwrap();
        assert_eq!(
            (id.serial.as_str(), id.product_id.unwrap().as_str()),
            ("SN-0001", "uCPE-100")
        );
        assert!(DeviceIdentity::from_certificate(&cert, SerialSource::HardwareModuleName).is_err());
    }

    #[test]
    fn a_loaded_ca_issues_certificates_that_chain_to_it() {
        let ca = idevid_ca();
        let key = SigningKey::from_pem(&ca.key().to_pem()).unwrap();
        let loaded = CertificateAuthority::load(ca.cert().clone(), key).unwrap();
        let (cert, _) = loaded
            .issue_idevid(&spec(
                SerialPlacement::SerialNumber,
                false,
                KeyAlgorithm::EcdsaP256,
            ))
            .unwrap();
        assert_eq!(
            cert.x509().tbs_certificate.issuer,
            ca.cert().x509().tbs_certificate.subject
        );
    }

    #[test]
    fn loading_refuses_a_foreign_key_or_a_non_ca() {
        let ca = idevid_ca();
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert!(CertificateAuthority::load(ca.cert().clone(), other).is_err());
        let (ee, ee_key) = ca
            .issue_signer("x", "Acme", KeyAlgorithm::EcdsaP256)
            .unwrap();
        assert!(CertificateAuthority::load(ee, ee_key).is_err());
    }
}
