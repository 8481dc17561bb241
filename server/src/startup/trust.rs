//! The manufacturer's trust material as `ztp serve` loads it: the verifier of device chains
//! (anchors, intermediates, CRLs), the voucher and license signers, the device listener's TLS
//! configuration, and the check that no role's key can pass for another's.
//!
//! Owns the reading of those files named by the configuration; imports auth (the verifier),
//! tls (the listener's configuration) and the configuration.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use ztp_certs::role::ManufacturerRoles;
use ztp_certs::{Cert, Pkcs11Uri, Signer, SigningKey, dev_pki};

use super::StartupError;
use crate::auth::device::{CurrentVerifier, DeviceVerifier, TrustFiles};
use crate::commands::secrets::{KeyFile, key_files};
use crate::config::{Config, KeyLocation, TlsVersion};
use crate::http::Tls;
use crate::tls::ServerKey;

/// The private keys `ztp serve` signs and serves with, opened (they may be sealed under the
/// master key on disk) or named on an HSM.
#[derive(Debug)]
pub(super) struct PrivateKeys {
    /// The voucher-signing (MASA) key.
    pub(super) masa: SignerSource,
    /// The license-signing key.
    pub(super) license: SignerSource,
    /// The device listener's TLS key, PEM, and the file it came from (for messages).
    pub(super) tls: (String, PathBuf),
    /// Its alternative TLS key, likewise, when one is configured.
    pub(super) alternative_tls: Option<(String, PathBuf)>,
}

/// Where a signer's key comes from: its file's PEM, or a PKCS#11 URI (opened with the
/// certificate, in [`load`]).
#[derive(Debug)]
pub(super) enum SignerSource {
    /// The key file's PEM (opened if it was sealed).
    Pem(String),
    /// The key on an HSM.
    Pkcs11(Pkcs11Uri),
}

impl SignerSource {
    /// The signer for `chain` with this key; an HSM key must sign a probe the chain's leaf
    /// verifies.
    fn signer(&self, chain: Vec<Cert>) -> Result<Signer, ztp_certs::PkiError> {
        match self {
            Self::Pem(pem) => Signer::new(SigningKey::from_pem(pem)?, chain),
            Self::Pkcs11(uri) => Signer::pkcs11(uri, chain),
        }
    }
}

/// The private keys `config` names: files opened with `secrets` (each may be sealed), HSM keys
/// by URI.
pub(super) fn private_keys(
    config: &Config,
    secrets: &crate::secrets::SecretBox,
) -> Result<PrivateKeys, StartupError> {
    let read = |file: &KeyFile| {
        file.read(secrets)
            .map_err(|e| StartupError::Secrets(e.into()))
    };
    let mut files = key_files(config).into_iter();
    let mut source = |location: &KeyLocation| match location {
        KeyLocation::Pkcs11(uri) => Ok(SignerSource::Pkcs11(uri.clone())),
        // `key_files` lists the file keys in this order: MASA, license, TLS, alternative TLS.
        KeyLocation::File(_) => {
            read(&files.next().expect("key_files lists each file key")).map(SignerSource::Pem)
        }
    };
    let m = &config.manufacturer;
    let masa = source(&m.masa_key)?;
    let license = source(&m.license_key)?;
    let tls = files.next().expect("key_files lists the TLS key");
    let alternative_tls = match files.next() {
        Some(file) => Some((read(&file)?, file.path)),
        None => None,
    };
    Ok(PrivateKeys {
        masa,
        license,
        tls: (read(&tls)?, tls.path),
        alternative_tls,
    })
}

/// What the device side verifies and signs with.
pub(super) struct Trust {
    /// Verifies device chains against the manufacturer's anchors and CRLs.
    pub(super) verifier: CurrentVerifier,
    /// Signs vouchers.
    pub(super) masa: Signer,
    /// Signs licenses.
    pub(super) license: Signer,
    /// The device listener's TLS configuration (client certificates checked by the verifier
    /// later, per request).
    pub(super) tls: Tls,
}

/// Loads the trust material `config` names, with the opened `keys`, and refuses a PKI in
/// which one role's key could pass for another's.
pub(super) fn load(config: &Config, keys: &PrivateKeys) -> Result<Trust, StartupError> {
    let m = &config.manufacturer;
    let verifier = verifier(config)?;
    let masa = keys
        .masa
        .signer(Cert::chain_from_pem(&dev_pki::read(
            &config.path(&m.masa_certificate),
        )?)?)
        .map_err(StartupError::MasaSigner)?;
    let tls = tls(config, keys)?;
    let license = keys
        .license
        .signer(Cert::chain_from_pem(&dev_pki::read(
            &config.path(&m.license_certificate),
        )?)?)
        .map_err(StartupError::LicenseSigner)?;
    check_roles(config, masa.chain(), license.chain())?;
    Ok(Trust {
        verifier: crate::auth::device::current(verifier),
        masa,
        license,
        tls: Arc::new(ArcSwap::from_pointee(tls)),
    })
}

/// The verifier of device chains: the anchors, intermediates and CRLs `config` names.
pub(super) fn verifier(config: &Config) -> Result<DeviceVerifier, StartupError> {
    let m = &config.manufacturer;
    let paths = |list: &[PathBuf]| list.iter().map(|p| config.path(p)).collect::<Vec<_>>();
    let files = TrustFiles {
        anchors: paths(&m.trust_anchors),
        intermediates: paths(&m.intermediates),
        crls: paths(&m.crls),
        legacy_sha1: paths(&m.legacy_sha1),
    };
    Ok(DeviceVerifier::load(&files, m.serial_source)
        .map_err(StartupError::DeviceTrust)?
        .remembering(m.remembered_signatures))
}

/// The device listener's TLS configuration: the certificate chains `config` names, with their
/// opened `keys`, and the protocol versions it allows.
pub(super) fn tls(config: &Config, keys: &PrivateKeys) -> Result<ServerConfig, StartupError> {
    let d = &config.device_api;
    let certificate = config.path(&d.tls_certificate);
    let alternative = d
        .alternative_tls_certificate
        .as_ref()
        .map(|p| config.path(p));
    let mut served = vec![ServerKey {
        certificate: &certificate,
        key: &keys.tls.1,
        key_pem: &keys.tls.0,
    }];
    if let (Some(certificate), Some((key_pem, key))) = (&alternative, &keys.alternative_tls) {
        served.push(ServerKey {
            certificate,
            key,
            key_pem,
        });
    }
    let versions: Vec<_> = d
        .tls_versions
        .iter()
        .map(|version| match version {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    crate::tls::server_config(&served, &versions).map_err(StartupError::Tls)
}

/// Refuses a manufacturer PKI in which one role's key could pass for another's (see
/// `ztp_certs::role`): a device anchoring vouchers at a CA that also issues IDevIDs or the
/// TLS certificate would take a voucher from any holder of those keys.
pub(super) fn check_roles(
    config: &Config,
    voucher: &[Cert],
    license: &[Cert],
) -> Result<(), StartupError> {
    let m = &config.manufacturer;
    let certs = |paths: &[PathBuf]| -> Result<Vec<Cert>, StartupError> {
        let mut certs = Vec::new();
        for path in paths {
            let path = config.path(path);
            let chain = Cert::chain_from_pem(&dev_pki::read(&path)?)
                .map_err(|source| StartupError::Certificate { path, source })?;
            certs.extend(chain);
        }
        Ok(certs)
    };
    let (device_anchors, device_intermediates) =
        (certs(&m.trust_anchors)?, certs(&m.intermediates)?);
    // Each TLS certificate served, against the other roles.
    let d = &config.device_api;
    for tls in std::iter::once(&d.tls_certificate).chain(&d.alternative_tls_certificate) {
        ManufacturerRoles {
            device_anchors: &device_anchors,
            device_intermediates: &device_intermediates,
            voucher_signer: voucher,
            license_signer: license,
            tls_server: &certs(std::slice::from_ref(tls))?,
        }
        .check(time::OffsetDateTime::now_utc())
        .map_err(StartupError::Roles)?;
    }
    Ok(())
}
