//! `[manufacturer]` and `[dev_pki]`: the manufacturer's PKI (device trust, CRLs, the voucher
//! and license signers) and the development PKI that stands in for it.
//!
//! Owns those two sections and [`KeyLocation`], where a signing key is (a file or a PKCS#11
//! token); imports [`crate::auth`] for the default size of the signature cache.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ztp_certs::{Pkcs11Uri, SerialSource};

/// `[manufacturer]`: the manufacturer's PKI as files: what device chains must anchor at, their
/// CRLs, and the voucher- and license-signing keys and chains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManufacturerConfig {
    /// Trust anchors (PEM) that device IDevID certificates must chain to.
    pub trust_anchors: Vec<PathBuf>,
    /// Intermediate CA certificates (PEM), for devices that present only their leaf.
    pub intermediates: Vec<PathBuf>,
    /// CRLs (PEM or DER) of the IDevID CAs; re-read when they change.
    pub crls: Vec<PathBuf>,
    /// Files among `trust_anchors` and `intermediates` whose CAs may sign device chains with
    /// SHA-1 (RSA PKCS#1 v1.5, `sha1WithRSAEncryption`), as older IDevID hierarchies do: an
    /// opt-in per CA, warned about at start. A CA signed with SHA-1 that is not listed here is
    /// refused at start. Never used for anything but device chains.
    pub legacy_sha1: Vec<PathBuf>,
    /// How often to look for changed CRL files, in seconds.
    pub crl_refresh_secs: u64,
    /// Where device certificates carry the serial number.
    pub serial_source: SerialSource,
    /// Signature verifications of device chains remembered per generation (two are kept), so
    /// that a device calling again costs none; 0 remembers none.
    pub remembered_signatures: usize,
    /// The voucher-signing (MASA) certificate chain (PEM).
    pub masa_certificate: PathBuf,
    /// The voucher-signing key: a file (PEM, or sealed by `ztp secrets seal-keys`) or a
    /// `pkcs11:` URI naming it on an HSM.
    pub masa_key: KeyLocation,
    /// The CAs of other parties' voucher signers (a vendor's MASA, or the manufacturer's when
    /// an owner runs ztp as its own bootstrap server): vouchers they signed may be imported per
    /// device (`PUT /api/v1/devices/{serial}/voucher`) and are then served as they are. Empty:
    /// no voucher can be imported.
    pub voucher_import_anchors: Vec<PathBuf>,
    /// Lifetime of vouchers issued without a nonce, in days.
    pub voucher_validity_days: u32,
    /// The license-signing certificate chain (PEM).
    pub license_certificate: PathBuf,
    /// The license-signing key: a file (PEM, or sealed by `ztp secrets seal-keys`) or a
    /// `pkcs11:` URI naming it on an HSM.
    pub license_key: KeyLocation,
    /// The PKCS#11 modules (libraries) owners' signing keys may be on: an owner key given as a
    /// `pkcs11:` URI names one of these, or is refused (an administrator must not have ztp
    /// load a library of their choosing).
    pub owner_key_modules: Vec<PathBuf>,
}

impl Default for ManufacturerConfig {
    fn default() -> Self {
        Self {
            // The IDevID CA, not the root: the root also anchors the voucher, license and TLS
            // CAs, whose keys must never pass for a device's.
            trust_anchors: vec![PathBuf::from("pki/manufacturer/idevid-ca.pem")],
            intermediates: Vec::new(),
            crls: vec![PathBuf::from("pki/manufacturer/idevid-ca.crl.pem")],
            legacy_sha1: Vec::new(),
            crl_refresh_secs: 30,
            serial_source: SerialSource::SubjectSerialNumber,
            remembered_signatures: crate::auth::device::signatures::DEFAULT_CAPACITY,
            masa_certificate: PathBuf::from("pki/manufacturer/masa.pem"),
            masa_key: KeyLocation::File(PathBuf::from("pki/manufacturer/masa.key")),
            voucher_import_anchors: Vec::new(),
            voucher_validity_days: 30,
            license_certificate: PathBuf::from("pki/manufacturer/license-signing.pem"),
            license_key: KeyLocation::File(PathBuf::from("pki/manufacturer/license-signing.key")),
            owner_key_modules: Vec::new(),
        }
    }
}

/// Where a signing key is: a file (the default) or an HSM. In the configuration, one string: a
/// path, or an RFC 7512 URI when it starts with `pkcs11:`
/// (`pkcs11:token=ztp;object=masa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/ztp/hsm-pin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// A PEM file, possibly sealed under the master key; relative to the data directory.
    File(PathBuf),
    /// A private key on a PKCS#11 token; the certificate beside it supplies the public key.
    Pkcs11(Pkcs11Uri),
}

impl KeyLocation {
    /// The file, if the key is in one.
    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            Self::File(path) => Some(path),
            Self::Pkcs11(_) => None,
        }
    }
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => path.display().fmt(f),
            // Without the PIN.
            Self::Pkcs11(uri) => uri.fmt(f),
        }
    }
}

impl Serialize for KeyLocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::File(path) => path.serialize(serializer),
            // Shown without a `pin-value`: configuration is printed, never written back.
            Self::Pkcs11(uri) => serializer.collect_str(uri),
        }
    }
}

impl<'de> Deserialize<'de> for KeyLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if Pkcs11Uri::is_uri(&text) {
            text.parse()
                .map(Self::Pkcs11)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(Self::File(PathBuf::from(text)))
        }
    }
}

/// `[dev_pki]`: whether a development PKI (with a sample customer and devices) stands in for
/// the manufacturer's, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevPkiConfig {
    /// Generate a development PKI in `dir` when it holds none, and put its sample customer and
    /// devices into an empty inventory. Switch off in production.
    pub enabled: bool,
    /// Where the development PKI lives.
    pub dir: PathBuf,
}

impl Default for DevPkiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("pki"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_location_is_a_path_or_a_pkcs11_uri_shown_without_its_pin() {
        let file: KeyLocation = serde_json::from_str(r#""pki/manufacturer/masa.key""#).unwrap();
        assert_eq!(
            file.file(),
            Some(&PathBuf::from("pki/manufacturer/masa.key"))
        );
        let hsm: KeyLocation = serde_json::from_str(
            r#""pkcs11:token=ztp;object=masa?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234""#,
        )
        .unwrap();
        assert!(matches!(hsm, KeyLocation::Pkcs11(_)));
        let shown = serde_json::to_string(&hsm).unwrap();
        assert!(
            shown.contains("object=masa") && !shown.contains("1234"),
            "{shown}"
        );
        let bad = serde_json::from_str::<KeyLocation>(r#""pkcs11:token=ztp;object=masa""#);
        assert!(bad.unwrap_err().to_string().contains("module-path"));
    }
}
