//! RFC 8366 ownership vouchers: the manufacturer's (MASA's) signed statement that a device,
//! by serial number, belongs to the owner whose certificate it pins.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cert::Cert;
use crate::cms::{self, Signer, TrustPolicy};
use crate::error::{PkiError, VoucherError};
use crate::oid;
use crate::role::{self, Role};

/// Shortest and longest voucher nonce (ietf-voucher: `length "8..32"`).
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 8..=32;

/// How the MASA came to assert ownership (ietf-voucher `assertion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assertion {
    /// Ownership was verified by the MASA (the manufacturer knows whom it sold the device to).
    Verified,
    /// The voucher was issued and logged, without verification.
    Logged,
    /// The registrar was proven to be near the pledge.
    Proximity,
}

impl Assertion {
    /// The YANG enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Logged => "logged",
            Self::Proximity => "proximity",
        }
    }
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Assertion {
    type Err = VoucherError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Verified, Self::Logged, Self::Proximity]
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| VoucherError::Invalid(format!("unknown assertion {s:?}")))
    }
}

/// An ownership voucher (ietf-voucher@2018-05-09, `voucher-artifact`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    /// When the voucher was made.
    pub created_on: OffsetDateTime,
    /// When it stops being valid; absent for a nonce-bound voucher.
    pub expires_on: Option<OffsetDateTime>,
    /// The basis of the assertion.
    pub assertion: Assertion,
    /// The device's serial number.
    pub serial_number: String,
    /// The authority key identifier of the device's IDevID, where serials are not unique.
    pub idevid_issuer: Option<Vec<u8>>,
    /// The owner's certificate (DER) the device is to trust: its domain CA.
    pub pinned_domain_cert: Vec<u8>,
    /// Whether the device must (true) or must not (false) check the domain certificate's
    /// revocation status.
    pub domain_cert_revocation_checks: Option<bool>,
    /// The nonce the device sent, for a voucher made on request.
    pub nonce: Option<Vec<u8>>,
    /// When the voucher was last renewed (informational; needs `expires_on`).
    pub last_renewal_date: Option<OffsetDateTime>,
}

/// The JSON shape (RFC 7951): module-qualified top level, binary as base64, times as text.
#[derive(Serialize, Deserialize)]
struct Document {
    #[serde(rename = "ietf-voucher:voucher")]
    voucher: Wire,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Wire {
    created_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_on: Option<String>,
    assertion: String,
    serial_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    idevid_issuer: Option<String>,
    pinned_domain_cert: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_cert_revocation_checks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_renewal_date: Option<String>,
}

impl Voucher {
    /// A voucher for `serial_number` pinning `owner_ca`, valid until `expires_on` — or, when
    /// the device sent a `nonce`, bound to that nonce instead (RFC 8366 allows one or the
    /// other, for devices without a trustworthy clock).
    pub fn new(
        serial_number: &str,
        owner_ca: &Cert,
        now: OffsetDateTime,
        expires_on: OffsetDateTime,
        nonce: Option<&[u8]>,
    ) -> Self {
        Self {
            created_on: now,
            expires_on: nonce.is_none().then_some(expires_on),
            assertion: Assertion::Verified,
            serial_number: serial_number.to_owned(),
            idevid_issuer: None,
            pinned_domain_cert: owner_ca.der().to_vec(),
            domain_cert_revocation_checks: Some(false),
            nonce: nonce.map(<[u8]>::to_vec),
            last_renewal_date: None,
        }
    }

    /// Checks the rules of the ietf-voucher module that types alone do not.
    pub fn validate(&self) -> Result<(), VoucherError> {
        let invalid = |m: &str| Err(VoucherError::Invalid(m.to_owned()));
        if self.serial_number.is_empty() {
            return invalid("serial-number is empty");
        }
        if self.pinned_domain_cert.is_empty() {
            return invalid("pinned-domain-cert is empty");
        }
        if let Some(nonce) = &self.nonce {
            if !NONCE_LEN.contains(&nonce.len()) {
                return invalid("nonce must be 8 to 32 bytes long");
            }
            if self.expires_on.is_some() {
                return invalid("a voucher cannot carry both nonce and expires-on");
            }
        }
        if self.last_renewal_date.is_some() && self.expires_on.is_none() {
            return invalid("last-renewal-date requires expires-on");
        }
        Ok(())
    }

    /// The RFC 7951 JSON encoding.
    pub fn to_json(&self) -> Result<String, VoucherError> {
        self.validate()?;
        let wire = Wire {
            created_on: format_time(self.created_on)?,
            expires_on: self.expires_on.map(format_time).transpose()?,
            assertion: self.assertion.as_str().to_owned(),
            serial_number: self.serial_number.clone(),
            idevid_issuer: self.idevid_issuer.as_deref().map(|b| BASE64.encode(b)),
            pinned_domain_cert: BASE64.encode(&self.pinned_domain_cert),
            domain_cert_revocation_checks: self.domain_cert_revocation_checks,
            nonce: self.nonce.as_deref().map(|b| BASE64.encode(b)),
            last_renewal_date: self.last_renewal_date.map(format_time).transpose()?,
        };
        Ok(serde_json::to_string(&Document { voucher: wire })?)
    }

    /// Parses and validates the RFC 7951 JSON encoding.
    pub fn from_json(json: &[u8]) -> Result<Self, VoucherError> {
        let wire = serde_json::from_slice::<Document>(json)?.voucher;
        let voucher = Self {
            created_on: parse_time("created-on", &wire.created_on)?,
            expires_on: wire
                .expires_on
                .as_deref()
                .map(|t| parse_time("expires-on", t))
                .transpose()?,
            assertion: wire.assertion.parse()?,
            serial_number: wire.serial_number,
            idevid_issuer: wire
                .idevid_issuer
                .as_deref()
                .map(|b| decode("idevid-issuer", b))
                .transpose()?,
            pinned_domain_cert: decode("pinned-domain-cert", &wire.pinned_domain_cert)?,
            domain_cert_revocation_checks: wire.domain_cert_revocation_checks,
            nonce: wire
                .nonce
                .as_deref()
                .map(|b| decode("nonce", b))
                .transpose()?,
            last_renewal_date: wire
                .last_renewal_date
                .as_deref()
                .map(|t| parse_time("last-renewal-date", t))
                .transpose()?,
        };
        voucher.validate()?;
        Ok(voucher)
    }

    /// The pinned domain certificate, parsed.
    pub fn pinned_domain_cert(&self) -> Result<Cert, PkiError> {
        Cert::from_der(self.pinned_domain_cert.clone())
    }

    /// Signs the voucher in CMS (`id-ct-animaJSONVoucher`) with the MASA's key.
    pub fn sign(&self, masa: &Signer) -> Result<Vec<u8>, VoucherError> {
        Ok(cms::sign(
            oid::ID_CT_ANIMA_JSON_VOUCHER,
            self.to_json()?.as_bytes(),
            masa,
        )?)
    }

    /// Verifies a signed voucher against the manufacturer's trust anchors and parses it. This
    /// is step one of RFC 8572 §5.4; [`Voucher::check_applies`] is step two.
    pub fn verify(
        der: &[u8],
        masa_anchors: &[Cert],
        at: OffsetDateTime,
    ) -> Result<Self, VoucherError> {
        Self::verify_signed(der, masa_anchors, at).map(|(voucher, _)| voucher)
    }

    /// [`Voucher::verify`], also returning the certificate of the MASA key that signed it.
    pub fn verify_signed(
        der: &[u8],
        masa_anchors: &[Cert],
        at: OffsetDateTime,
    ) -> Result<(Self, Cert), VoucherError> {
        let policy = TrustPolicy {
            anchors: masa_anchors,
            extra_certificates: &[],
            at,
        };
        let verified = cms::verify(der, &[oid::ID_CT_ANIMA_JSON_VOUCHER, oid::ID_DATA], &policy)?;
        role::check_signer(&verified.signer, Role::VoucherSigner)?;
        Ok((Self::from_json(&verified.content)?, verified.signer))
    }

    /// Checks that a voucher another party's MASA signed can be imported for the device
    /// `serial` and served on its later calls: its serial, not expired at `at`, and no nonce
    /// (a nonce voucher answers the one request that sent the nonce).
    pub fn check_importable(&self, serial: &str, at: OffsetDateTime) -> Result<(), VoucherError> {
        if self.nonce.is_some() {
            return Err(VoucherError::Invalid(
                "it is bound to the nonce of one request: import a voucher without nonce".into(),
            ));
        }
        self.check_applies(serial, self.idevid_issuer.as_deref(), None, at)
    }

    /// Checks that the voucher is for this device: same serial, issued under the same CA when
    /// it names one (`idevid_issuer`: the authority key identifier of the device's IDevID, if
    /// it has one), not expired, and carrying the nonce the device sent, if it sent one.
    pub fn check_applies(
        &self,
        serial: &str,
        idevid_issuer: Option<&[u8]>,
        sent_nonce: Option<&[u8]>,
        at: OffsetDateTime,
    ) -> Result<(), VoucherError> {
        if self.serial_number != serial {
            return Err(VoucherError::SerialMismatch {
                voucher: self.serial_number.clone(),
                device: serial.to_owned(),
            });
        }
        if let Some(named) = self.idevid_issuer.as_deref()
            && idevid_issuer != Some(named)
        {
            return Err(VoucherError::IdevidIssuerMismatch);
        }
        if let Some(expires) = self.expires_on
            && expires < at
        {
            return Err(VoucherError::Expired(format_time(expires)?));
        }
        match (sent_nonce, self.nonce.as_deref()) {
            (Some(sent), Some(carried)) if carried != sent => Err(VoucherError::NonceMismatch),
            // ietf-voucher compares a nonce only when the voucher carries one: one without
            // (checked by its expiry, above) is what a bootstrap server that could obtain no
            // fresh voucher serves, an imported one among them.
            // ietf-voucher: a voucher with a nonce the device did not send must not be
            // processed. It answered another request (and never expires): replayed after a
            // resale or an RMA, it would hand the device to a former owner.
            (None, Some(_)) => Err(VoucherError::UnsolicitedNonce),
            _ => Ok(()),
        }
    }
}

fn format_time(t: OffsetDateTime) -> Result<String, VoucherError> {
    t.format(&Rfc3339)
        .map_err(|e| VoucherError::Invalid(format!("unrepresentable time: {e}")))
}

fn parse_time(field: &str, text: &str) -> Result<OffsetDateTime, VoucherError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| VoucherError::Invalid(format!("{field} is not a date-and-time: {e}")))
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, VoucherError> {
    BASE64
        .decode(text)
        .map_err(|e| VoucherError::Invalid(format!("{field} is not base64: {e}")))
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::authority::CertificateAuthority;
    use crate::key::KeyAlgorithm;
    use crate::role::RoleError;

    struct Masa {
        root: CertificateAuthority,
        signer: Signer,
    }

    fn masa() -> Masa {
        let root =
            CertificateAuthority::new_root("Mfg Root", "Mfg", KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, key) = root
            .issue_signer("MASA", "Mfg", KeyAlgorithm::EcdsaP256)
            .unwrap();
        Masa {
            signer: Signer::new(key, vec![cert]).unwrap(),
            root,
        }
    }

    fn owner_ca() -> Cert {
        CertificateAuthority::new_root("Owner", "Cust", KeyAlgorithm::EcdsaP256)
            .unwrap()
            .cert()
            .clone()
    }

    #[test]
    fn a_signed_voucher_verifies_and_names_the_device() {
        let (m, pdc, now) = (masa(), owner_ca(), OffsetDateTime::now_utc());
        let voucher = Voucher::new("SN-0001", &pdc, now, now + Duration::days(30), None);
        let der = voucher.sign(&m.signer).unwrap();
        let back = Voucher::verify(&der, &[m.root.cert().clone()], now).unwrap();
        assert_eq!(back.serial_number, "SN-0001");
        assert_eq!(back.pinned_domain_cert().unwrap(), pdc);
        back.check_applies("SN-0001", None, None, now).unwrap();
        assert!(matches!(
            back.check_applies("SN-0002", None, None, now),
            Err(VoucherError::SerialMismatch { .. })
        ));
        assert!(matches!(
            back.check_applies("SN-0001", None, None, now + Duration::days(31)),
            Err(VoucherError::Expired(_))
        ));
    }

    #[test]
    fn a_nonce_voucher_has_no_expiry_and_must_match_the_nonce() {
        let (pdc, now) = (owner_ca(), OffsetDateTime::now_utc());
        let nonce = [7u8; 16];
        let voucher = Voucher::new("SN-1", &pdc, now, now, Some(&nonce));
        assert_eq!(voucher.expires_on, None);
        let back = Voucher::from_json(voucher.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(
            back.created_on.unix_timestamp(),
            voucher.created_on.unix_timestamp()
        );
        back.check_applies("SN-1", None, Some(&nonce), now + Duration::days(3650))
            .unwrap();
        assert!(matches!(
            back.check_applies("SN-1", None, Some(&[8u8; 16]), now),
            Err(VoucherError::NonceMismatch)
        ));
        assert!(
            matches!(
                back.check_applies("SN-1", None, None, now),
                Err(VoucherError::UnsolicitedNonce)
            ),
            "a nonce voucher answers the request that sent the nonce, no other"
        );
        // A device that sent a nonce and got a voucher without one checks its expiry.
        let expiring = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None);
        expiring
            .check_applies("SN-1", None, Some(&nonce), now)
            .unwrap();
        assert!(matches!(
            expiring.check_applies("SN-1", None, Some(&nonce), now + Duration::days(2)),
            Err(VoucherError::Expired(_))
        ));
    }

    #[test]
    fn a_voucher_naming_an_idevid_issuer_applies_only_to_idevids_of_that_issuer() {
        let (pdc, now) = (owner_ca(), OffsetDateTime::now_utc());
        let mut voucher = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None);
        voucher.idevid_issuer = Some(vec![1, 2, 3]);
        let back = Voucher::from_json(voucher.to_json().unwrap().as_bytes()).unwrap();
        back.check_applies("SN-1", Some(&[1, 2, 3]), None, now)
            .unwrap();
        for other in [Some(&[9u8, 9, 9][..]), None] {
            assert!(
                matches!(
                    back.check_applies("SN-1", other, None, now),
                    Err(VoucherError::IdevidIssuerMismatch)
                ),
                "{other:?}"
            );
        }
        // Without idevid-issuer, the serial alone decides (RFC 8366: it is optional).
        let plain = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None);
        plain
            .check_applies("SN-1", Some(&[9, 9, 9]), None, now)
            .unwrap();
    }

    #[test]
    fn a_voucher_signed_by_a_tls_key_under_the_anchor_is_refused() {
        let (m, pdc, now) = (masa(), owner_ca(), OffsetDateTime::now_utc());
        let (cert, key) = m
            .root
            .issue_tls_server(&["localhost".into()], KeyAlgorithm::EcdsaP256)
            .unwrap();
        let tls = Signer::new(key, vec![cert]).unwrap();
        let der = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None)
            .sign(&tls)
            .unwrap();
        assert!(matches!(
            Voucher::verify(&der, &[m.root.cert().clone()], now),
            Err(VoucherError::Signer(RoleError::TlsCertificate { .. }))
        ));
    }

    #[test]
    fn json_follows_rfc_7951_and_the_module_rules() {
        let (pdc, now) = (owner_ca(), OffsetDateTime::now_utc());
        let json = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None)
            .to_json()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let inner = &v["ietf-voucher:voucher"];
        assert_eq!(inner["serial-number"], "SN-1");
        assert_eq!(inner["assertion"], "verified");
        assert!(inner.get("nonce").is_none());
        for bad in [
            r#"{"ietf-voucher:voucher":{"created-on":"x","assertion":"verified","serial-number":"a","pinned-domain-cert":"AA=="}}"#,
            r#"{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"maybe","serial-number":"a","pinned-domain-cert":"AA=="}}"#,
            r#"{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"verified","serial-number":"a","pinned-domain-cert":"AA==","nonce":"AAAA"}}"#,
            r#"{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"verified","serial-number":"a","pinned-domain-cert":"AA==","extra":1}}"#,
            r#"{"voucher":{}}"#,
        ] {
            assert!(Voucher::from_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_voucher_from_another_manufacturer_is_refused() {
        let (m, other, pdc, now) = (masa(), masa(), owner_ca(), OffsetDateTime::now_utc());
        let der = Voucher::new("SN-1", &pdc, now, now + Duration::days(1), None)
            .sign(&other.signer)
            .unwrap();
        assert!(matches!(
            Voucher::verify(&der, &[m.root.cert().clone()], now),
            Err(VoucherError::Cms(_))
        ));
    }
}
