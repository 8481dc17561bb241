//! The reload of the device TLS certificate and the manufacturer's trust material while the
//! server runs: on SIGHUP (`ztp serve`) and `POST /api/v1/reload`. The files the configuration
//! names are read again (the TLS certificate and key, the IDevID anchors, intermediates and
//! CRLs, the voucher and license signers' keys and chains), checked as at start (each loads; no
//! role's key can pass for another's), and put in force together; when one does not load,
//! nothing changes. The configuration file itself is not read again: a changed key takes a
//! restart.
//!
//! May import: everything (part of the composition root).

use std::sync::{Arc, Mutex, PoisonError};

use super::StartupError;
use super::trust;
use crate::admin::{Reload, Reloaded};
use crate::auth::device::CurrentVerifier;
use crate::commands::secrets::secret_box;
use crate::config::Config;
use crate::http::Tls;
use crate::restconf::DeviceApi;

/// What a reload replaces.
pub struct Reloader {
    config: Config,
    verifier: CurrentVerifier,
    tls: Tls,
    /// The admin listener's, when it speaks HTTPS.
    admin_tls: Option<Tls>,
    /// Whose voucher and license signers a reload replaces.
    device: Arc<DeviceApi>,
    /// One reload at a time.
    running: Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader of what `config` names into `verifier`, the device and admin listeners'
    /// `tls`, and `device`'s signers.
    pub(super) fn new(
        config: Config,
        verifier: CurrentVerifier,
        tls: (Tls, Option<Tls>),
        device: Arc<DeviceApi>,
    ) -> Self {
        let (tls, admin_tls) = tls;
        Self {
            config,
            verifier,
            tls,
            admin_tls,
            device,
            running: Mutex::new(()),
        }
    }

    /// Reads the trust material again and puts it in force; on an error, what was in force
    /// stays.
    pub fn run(&self) -> Result<Reloaded, StartupError> {
        let _one = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let config = &self.config;
        let secrets = secret_box(config).map_err(|e| StartupError::Secrets(e.into()))?;
        let keys = trust::private_keys(config, &secrets)?;
        let fresh = trust::load(config, &keys)?;
        let tls = fresh.tls.load_full();
        // The chain just loaded into `tls` (which parsed it: it has a first certificate).
        let served = ztp_certs::Cert::chain_from_pem(&ztp_certs::dev_pki::read(
            &config.path(&config.device_api.tls_certificate),
        )?)?;
        let leaf = served.first();
        let verifier = fresh.verifier.load_full();
        let admin_tls = match (&self.admin_tls, super::admin::tls(config)?) {
            (Some(current), Some(fresh)) => Some((current, fresh.load_full())),
            _ => None,
        };
        let m = &config.manufacturer;
        let reloaded = Reloaded {
            tls_subject: leaf.map(ztp_certs::Cert::subject).unwrap_or_default(),
            tls_fingerprint: leaf
                .map(|cert| cert.fingerprint().to_hex())
                .unwrap_or_default(),
            tls_not_after: leaf
                .and_then(|cert| {
                    cert.not_after()
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
            voucher_signer: fresh.masa.cert().subject(),
            license_signer: fresh.license.cert().subject(),
            trust_anchors: m.trust_anchors.len(),
            intermediates: m.intermediates.len(),
            crls: verifier.crl_validity().len(),
        };
        self.tls.store(tls);
        if let Some((current, fresh)) = admin_tls {
            current.store(fresh);
        }
        self.verifier.store(verifier);
        self.device
            .bootstrapper()
            .replace_signers(fresh.masa, fresh.license);
        tracing::info!(
            tls = reloaded.tls_subject,
            fingerprint = reloaded.tls_fingerprint,
            voucher_signer = reloaded.voucher_signer,
            license_signer = reloaded.license_signer,
            crls = reloaded.crls,
            "reloaded the device TLS certificate, trust anchors, CRLs and signers"
        );
        Ok(reloaded)
    }
}

impl Reload for Reloader {
    fn reload(&self) -> Result<Reloaded, String> {
        self.run().map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("reload refused, nothing changed: {message}");
            message
        })
    }
}
