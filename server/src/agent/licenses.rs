//! The device's check of the license bundle conveyed beside its bootstrapping data: signed by
//! a license signer (an end entity under the manufacturer's license anchor, which anchors no
//! other role, and no TLS certificate), and then, license by license,
//! locked to this device (serial and product id) and valid now. A bundle that fails the
//! signature check is refused whole; a license that fails its own check is refused alone.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ztp_certs::cms::{self, TrustPolicy};
use ztp_certs::role::{self, Role};
use ztp_certs::{Cert, oid};
use ztp_yang::{Document, Encoding, License, LicenseBundle};

/// What the device made of its license bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedLicenses {
    /// Licenses the device accepts.
    pub accepted: Vec<License>,
    /// Licenses refused, with the reason (`*` for the whole bundle).
    pub refused: Vec<(String, String)>,
}

/// What the device knows about itself.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    /// Its serial number.
    pub serial: &'a str,
    /// Its product id, from its certificate or its configuration.
    pub product_id: Option<&'a str>,
    /// Its clock.
    pub at: OffsetDateTime,
}

/// Checks `bundle` (CMS SignedData, content in `encoding`) against the license anchors
/// `anchors`.
pub fn check_licenses(
    bundle: &[u8],
    encoding: Encoding,
    anchors: &[Cert],
    holder: Holder<'_>,
) -> CheckedLicenses {
    let policy = TrustPolicy {
        anchors,
        extra_certificates: &[],
        at: holder.at,
    };
    let refuse_all = |reason: String| CheckedLicenses {
        accepted: Vec::new(),
        refused: vec![("*".into(), reason)],
    };
    if anchors.is_empty() {
        return refuse_all("the device has no license trust anchor".into());
    }
    let verified = match cms::verify(bundle, &[oid::ID_DATA], &policy) {
        Ok(verified) => verified,
        Err(e) => return refuse_all(format!("the bundle's signature does not verify: {e}")),
    };
    if let Err(e) = role::check_signer(&verified.signer, Role::LicenseSigner) {
        return refuse_all(format!("the bundle's signer is not a license signer: {e}"));
    }
    let content = verified.content;
    let licenses = match LicenseBundle::decode(encoding, &content) {
        Ok(bundle) => bundle.licenses,
        Err(e) => return refuse_all(format!("the bundle does not decode: {e}")),
    };
    let mut checked = CheckedLicenses::default();
    for license in licenses {
        match refusal(&license, holder) {
            None => checked.accepted.push(license),
            Some(reason) => checked.refused.push((license.id.clone(), reason)),
        }
    }
    checked
}

fn refusal(license: &License, holder: Holder<'_>) -> Option<String> {
    let lock = &license.node_lock;
    if lock.serial_number != holder.serial {
        return Some(format!("locked to serial {}", lock.serial_number));
    }
    match holder.product_id {
        None => return Some("the device does not know its product id".into()),
        Some(product) if product != lock.product_id => {
            return Some(format!("locked to product {}", lock.product_id));
        }
        Some(_) => {}
    }
    if holder.at < license.not_before {
        return Some(format!("not valid before {}", rfc3339(license.not_before)));
    }
    match license.not_after {
        Some(end) if holder.at >= end => Some(format!("expired at {}", rfc3339(end))),
        _ => None,
    }
}

impl CheckedLicenses {
    /// The accepted licenses as JSON.
    pub fn accepted_json(&self) -> Value {
        self.accepted
            .iter()
            .map(|l| {
                json!({
                    "license-id": l.id,
                    "feature": l.feature,
                    "type": l.license_type.as_str(),
                    "product-id": l.node_lock.product_id,
                    "serial-number": l.node_lock.serial_number,
                    "not-before": rfc3339(l.not_before),
                    "not-after": l.not_after.map(rfc3339),
                })
            })
            .collect()
    }

    /// The refused licenses as JSON.
    pub fn refused_json(&self) -> Value {
        self.refused
            .iter()
            .map(|(id, reason)| json!({"license-id": id, "reason": reason}))
            .collect()
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use ztp_certs::{CertificateAuthority, KeyAlgorithm, Signer};
    use ztp_yang::{LicenseType, NodeLock};

    use super::*;

    fn license(
        id: &str,
        serial: &str,
        product: &str,
        not_after: Option<OffsetDateTime>,
    ) -> License {
        License {
            id: id.into(),
            feature: "ESS-ED-100G-SIA3".into(),
            license_type: if not_after.is_some() {
                LicenseType::Subscription
            } else {
                LicenseType::Perpetual
            },
            count: None,
            node_lock: NodeLock {
                product_id: product.into(),
                serial_number: serial.into(),
            },
            issued_at: datetime!(2026-01-01 0:00 UTC),
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after,
        }
    }

    fn signed(licenses: Vec<License>, signer: &Signer) -> Vec<u8> {
        let content = LicenseBundle { licenses }.to_json();
        cms::sign(oid::ID_DATA, content.as_bytes(), signer).unwrap()
    }

    #[test]
    fn only_valid_licenses_for_this_device_from_the_manufacturer_are_accepted() {
        let root = CertificateAuthority::new_root("Root", "Mfg", KeyAlgorithm::EcdsaP256).unwrap();
        let (cert, key) = root
            .issue_signer("License Signing", "Mfg", KeyAlgorithm::EcdsaP256)
            .unwrap();
        let signer = Signer::new(key, vec![cert]).unwrap();
        let holder = Holder {
            serial: "SN-1",
            product_id: Some("uCPE-100"),
            // The test certificates are valid from now on.
            at: OffsetDateTime::now_utc(),
        };
        let bundle = signed(
            vec![
                license("LIC-OK", "SN-1", "uCPE-100", None),
                license("LIC-OTHER-SERIAL", "SN-2", "uCPE-100", None),
                license("LIC-OTHER-PRODUCT", "SN-1", "uCPE-200", None),
                license(
                    "LIC-EXPIRED",
                    "SN-1",
                    "uCPE-100",
                    Some(datetime!(2026-06-01 0:00 UTC)),
                ),
            ],
            &signer,
        );
        let anchors = [root.cert().clone()];
        let checked = check_licenses(&bundle, Encoding::Json, &anchors, holder);
        let accepted: Vec<&str> = checked.accepted.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(accepted, ["LIC-OK"]);
        let refused: Vec<&str> = checked.refused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            refused,
            ["LIC-OTHER-SERIAL", "LIC-OTHER-PRODUCT", "LIC-EXPIRED"]
        );

        // Another manufacturer's anchor: the whole bundle is refused.
        let other =
            CertificateAuthority::new_root("Other", "Else", KeyAlgorithm::EcdsaP256).unwrap();
        let checked = check_licenses(&bundle, Encoding::Json, &[other.cert().clone()], holder);
        assert!(checked.accepted.is_empty());
        assert!(checked.refused[0].1.contains("signature"), "{checked:?}");

        // A TLS server certificate under the same anchor signs no licenses.
        let (cert, key) = root
            .issue_tls_server(&["localhost".into()], KeyAlgorithm::EcdsaP256)
            .unwrap();
        let tls = Signer::new(key, vec![cert]).unwrap();
        let by_tls = signed(vec![license("LIC-OK", "SN-1", "uCPE-100", None)], &tls);
        let checked = check_licenses(&by_tls, Encoding::Json, &anchors, holder);
        assert!(checked.accepted.is_empty());
        assert!(
            checked.refused[0].1.contains("not a license signer"),
            "{checked:?}"
        );

        // No license anchor, no licenses.
        let checked = check_licenses(&bundle, Encoding::Json, &[], holder);
        assert!(checked.accepted.is_empty());
        assert!(
            checked.refused[0].1.contains("no license trust anchor"),
            "{checked:?}"
        );

        // A device that does not know its product id accepts nothing locked to one.
        let unknown = Holder {
            product_id: None,
            ..holder
        };
        assert!(
            check_licenses(&bundle, Encoding::Json, &anchors, unknown)
                .accepted
                .is_empty()
        );
    }
}
