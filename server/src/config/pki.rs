//! `[manufacturer]` and `[dev_pki]`: the manufacturer's PKI (device trust, CRLs, the voucher
//! and license signers) and the development PKI that stands in for it.
//!
//! Owns those two sections; imports [`crate::auth`] for the default size of the signature
//! cache.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ztp_certs::SerialSource;

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
    /// How often to look for changed CRL files, in seconds.
    pub crl_refresh_secs: u64,
    /// Where device certificates carry the serial number.
    pub serial_source: SerialSource,
    /// Signature verifications of device chains remembered per generation (two are kept), so
    /// that a device calling again costs none; 0 remembers none.
    pub remembered_signatures: usize,
    /// The voucher-signing (MASA) certificate chain (PEM).
    pub masa_certificate: PathBuf,
    /// The voucher-signing key (PEM, or sealed by `ztp secrets seal-keys`).
    pub masa_key: PathBuf,
    /// Lifetime of vouchers issued without a nonce, in days.
    pub voucher_validity_days: u32,
    /// The license-signing certificate chain (PEM).
    pub license_certificate: PathBuf,
    /// The license-signing key (PEM, or sealed by `ztp secrets seal-keys`).
    pub license_key: PathBuf,
}

impl Default for ManufacturerConfig {
    fn default() -> Self {
        Self {
            // The IDevID CA, not the root: the root also anchors the voucher, license and TLS
            // CAs, whose keys must never pass for a device's.
            trust_anchors: vec![PathBuf::from("pki/manufacturer/idevid-ca.pem")],
            intermediates: Vec::new(),
            crls: vec![PathBuf::from("pki/manufacturer/idevid-ca.crl.pem")],
            crl_refresh_secs: 30,
            serial_source: SerialSource::SubjectSerialNumber,
            remembered_signatures: crate::auth::device::signatures::DEFAULT_CAPACITY,
            masa_certificate: PathBuf::from("pki/manufacturer/masa.pem"),
            masa_key: PathBuf::from("pki/manufacturer/masa.key"),
            voucher_validity_days: 30,
            license_certificate: PathBuf::from("pki/manufacturer/license-signing.pem"),
            license_key: PathBuf::from("pki/manufacturer/license-signing.key"),
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
