//! Who a device is: its IDevID chain verified against the manufacturer CAs and their CRLs,
//! and its serial read from the certificate (never from the request body).
//!
//! The TLS layer only checks that the client holds the key of the certificate it presents
//! (see [`crate::tls`]); the chain is judged here, so that a refused device gets a RESTCONF
//! error document with status 401 and the refusal is recorded, instead of a bare handshake
//! alert nobody can see.

mod legacy;
mod recent;
pub mod refresher;
pub mod signatures;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;
use std::time::SystemTime;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList};
use ztp_certs::{Cert, DeviceIdentity, Fingerprint, IdentityError, PkiError, Serial, SerialSource};

use legacy::LegacySha1;
use recent::Recent;

/// Loading the manufacturer trust material failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate file does not hold certificates.
    #[error("{path}: {source}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PkiError,
    },
    /// A certificate cannot be a trust anchor.
    #[error("{path}: not usable as a trust anchor: {source}")]
    Anchor {
        /// The file.
        path: PathBuf,
        /// Why.
        source: webpki::Error,
    },
    /// A CRL does not parse.
    #[error("{path}: not a CRL: {reason}")]
    Crl {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No trust anchor was configured.
    #[error("no manufacturer trust anchor is configured")]
    NoAnchors,
    /// A configured CA is signed with SHA-1 and the operator did not opt in for it.
    #[error(
        "{path}: {subject} is signed with SHA-1 (sha1WithRSAEncryption), which device chains \
         may use only by an opt-in per CA: add \"{path}\" to manufacturer.legacy_sha1 to \
         accept SHA-1 signatures by the CAs of this file (docs/devices.md)",
        path = path.display()
    )]
    Sha1WithoutOptIn {
        /// The file.
        path: PathBuf,
        /// The certificate's subject.
        subject: String,
    },
    /// A file opted in to SHA-1 is neither a trust anchor nor an intermediate.
    #[error(
        "manufacturer.legacy_sha1 names {path}, which is neither in manufacturer.trust_anchors \
         nor in manufacturer.intermediates",
        path = path.display()
    )]
    LegacyNotConfigured {
        /// The file.
        path: PathBuf,
    },
}

/// The files of the manufacturer's device trust.
#[derive(Debug, Clone, Default)]
pub struct TrustFiles {
    /// Trust anchors (PEM).
    pub anchors: Vec<PathBuf>,
    /// Intermediate CAs (PEM), for devices that present only their leaf.
    pub intermediates: Vec<PathBuf>,
    /// CRLs (PEM or DER).
    pub crls: Vec<PathBuf>,
    /// Files among the anchors and intermediates whose CAs may sign device chains with SHA-1.
    pub legacy_sha1: Vec<PathBuf>,
}

/// Why a device is not let in.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// It presented no certificate.
    #[error("no client certificate was presented")]
    NoCertificate,
    /// Its certificate is on a CRL.
    #[error("the certificate of {serial} is revoked")]
    Revoked {
        /// The serial the (otherwise valid) certificate names.
        serial: String,
    },
    /// Its certificate does not chain to a manufacturer CA, or is outside its validity.
    #[error("the certificate ({subject}) is not trusted: {reason}")]
    Untrusted {
        /// The certificate's subject, for the record.
        subject: String,
        /// Why.
        reason: String,
    },
    /// The certificate is valid but names no usable serial.
    #[error("the certificate names no usable serial number: {0}")]
    Identity(IdentityError),
    /// The certificate does not parse.
    #[error("the certificate is malformed: {0}")]
    Malformed(String),
    /// A request on the load balancer's listener came from another source than a configured
    /// proxy (what it forwards is not read).
    #[error("{0} is not a configured proxy (device_api.proxy.trusted_proxies)")]
    NotAProxy(std::net::IpAddr),
    /// What the load balancer forwarded does not parse.
    #[error("the proxy forwarded no usable certificate: {0}")]
    Forwarded(String),
}

impl AuthFailure {
    /// The serial to file the refusal under, when the certificate is the manufacturer's own.
    pub fn serial(&self) -> Option<&str> {
        match self {
            Self::Revoked { serial } => Some(serial),
            _ => None,
        }
    }
}

/// A device whose certificate verified.
#[derive(Debug, Clone)]
pub struct AuthenticatedDevice {
    /// Its identity, from the certificate.
    pub identity: DeviceIdentity,
    /// Its IDevID certificate, as it presented it (DER).
    pub certificate: CertificateDer<'static>,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: Fingerprint,
    /// Whether its chain holds a SHA-1 signature, accepted by the opt-in of the CA that made
    /// it (`manufacturer.legacy_sha1`).
    pub legacy_chain: bool,
    /// Whether it has no IDevID and its activation code alone authenticated it (then
    /// `certificate` is empty).
    pub code_only: bool,
}

impl AuthenticatedDevice {
    /// A device without an IDevID that its activation code alone authenticated: no
    /// certificate, and a fingerprint of its serial (what caches key devices by), never that
    /// of a certificate.
    pub fn by_activation_code(serial: Serial) -> Self {
        let fingerprint =
            Fingerprint::of(format!("activation-code:{}", serial.as_str()).as_bytes());
        Self {
            identity: DeviceIdentity {
                serial,
                product_id: None,
            },
            certificate: CertificateDer::from(Vec::new()),
            fingerprint,
            legacy_chain: false,
            code_only: true,
        }
    }

    /// The serial number.
    pub fn serial(&self) -> &Serial {
        &self.identity.serial
    }
}

/// What a re-read of the CRL files did.
#[derive(Debug, Default)]
pub struct CrlReload {
    /// The files that changed and were read anew.
    pub reloaded: Vec<PathBuf>,
    /// The files that changed but no longer parse: their previous lists stay in force.
    pub failed: Vec<TrustError>,
}

struct CrlFile {
    path: PathBuf,
    modified: Option<SystemTime>,
    list: CertRevocationList<'static>,
    /// Its thisUpdate and nextUpdate.
    validity: (SystemTime, Option<SystemTime>),
}

/// When a CRL in force was issued and is next updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlValidity {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its thisUpdate.
    pub this_update: SystemTime,
    /// Its nextUpdate, when it names one.
    pub next_update: Option<SystemTime>,
}

/// The verifier in force, which a reload of the manufacturer's trust material replaces: a
/// connection's verdict is made by the verifier current at its first request.
pub type CurrentVerifier = Arc<ArcSwap<DeviceVerifier>>;

/// `verifier` as the one in force.
pub fn current(verifier: DeviceVerifier) -> CurrentVerifier {
    Arc::new(ArcSwap::from_pointee(verifier))
}

/// Verifies device certificates.
///
/// Signature verifications by the configured CAs that succeeded are remembered (see
/// [`signatures`]): a device that calls again costs no signature verification in its chain;
/// every other check of the path and the CRLs still run on every connection.
///
/// A CRL's signature is checked when the CRL is read, against the configured anchor or
/// intermediate that issued it (a CRL no configured CA signed is refused); a device's chain is
/// then checked against the lists by issuer and serial, every certificate of the path but the
/// anchor. That is what webpki's revocation check does, less its verification of the CRL's
/// signature on every connection. A CA without a CRL does not make its devices' status
/// unknown (they are let in), and an overdue CRL still lists what it lists: refusing every
/// device because a CRL was not refreshed in time would stop a whole fleet.
pub struct DeviceVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    /// The anchors' and intermediates' certificates: who may sign CRLs.
    issuers: Vec<Cert>,
    algorithms: Vec<signatures::Remembering>,
    /// SHA-1 for the CAs opted in, if any.
    legacy: Option<LegacySha1>,
    crls: RwLock<Vec<CrlFile>>,
    serial_source: SerialSource,
    /// The identities read from device certificates that verified, by fingerprint.
    identities: Mutex<Recent<DeviceIdentity>>,
}

/// Identities of device certificates kept per generation (two are kept): a device calling
/// again (a retry, its progress report on a new connection) is not parsed again. Each entry
/// is a fingerprint, a serial and a product id.
const IDENTITIES: usize = 16_384;

impl std::fmt::Debug for DeviceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceVerifier")
            .field("anchors", &self.anchors.len())
            .field("intermediates", &self.intermediates.len())
            .field("serial_source", &self.serial_source)
            .finish_non_exhaustive()
    }
}

impl DeviceVerifier {
    /// Loads trust anchors, intermediates and CRLs from PEM (CRLs also DER) files; remembers
    /// [`signatures::DEFAULT_CAPACITY`] verifications per generation.
    ///
    /// A configured CA signed with SHA-1 is refused unless its file is opted in
    /// (`files.legacy_sha1`); the CAs of an opted-in file may sign device chains with SHA-1,
    /// which is logged as a warning.
    pub fn load(files: &TrustFiles, serial_source: SerialSource) -> Result<Self, TrustError> {
        for path in &files.legacy_sha1 {
            if !files.anchors.contains(path) && !files.intermediates.contains(path) {
                return Err(TrustError::LegacyNotConfigured { path: path.clone() });
            }
        }
        let mut trust = Vec::new();
        let mut issuers = Vec::new();
        let mut legacy = Vec::new();
        for path in &files.anchors {
            for cert in legacy::read_cas(path, files, &mut legacy)? {
                let anchor = webpki::anchor_from_trusted_cert(cert.as_certificate_der()).map_err(
                    |source| TrustError::Anchor {
                        path: path.clone(),
                        source,
                    },
                )?;
                trust.push(anchor.to_owned());
                issuers.push(cert);
            }
        }
        if trust.is_empty() {
            return Err(TrustError::NoAnchors);
        }
        let mut chain = Vec::new();
        for path in &files.intermediates {
            for cert in legacy::read_cas(path, files, &mut legacy)? {
                chain.push(cert.as_certificate_der().clone());
                issuers.push(cert);
            }
        }
        let crls = files
            .crls
            .iter()
            .map(|p| read_crl(p, &issuers))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            algorithms: signatures::remembering(
                signatures::DEFAULT_CAPACITY,
                issuers.iter().map(public_key).collect(),
            ),
            legacy: LegacySha1::for_cas(&legacy),
            anchors: trust,
            intermediates: chain,
            issuers,
            crls: RwLock::new(crls),
            serial_source,
            identities: Mutex::new(Recent::new(IDENTITIES)),
        })
    }

    /// Remembers up to `capacity` signature verifications per generation (0: none), instead
    /// of the default.
    pub fn remembering(mut self, capacity: usize) -> Self {
        let signers = self.issuers.iter().map(public_key).collect();
        self.algorithms = signatures::remembering(capacity, signers);
        self
    }

    /// Re-reads the CRL files that changed since they were read. A file that no longer parses
    /// keeps its previous list (and the error is returned for the log).
    pub fn refresh_crls(&self) -> Vec<TrustError> {
        self.reload_crls().failed
    }

    /// When each CRL in force was issued and is next updated, in the configured order.
    pub fn crl_validity(&self) -> Vec<CrlValidity> {
        self.crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|crl| CrlValidity {
                path: crl.path.clone(),
                this_update: crl.validity.0,
                next_update: crl.validity.1,
            })
            .collect()
    }

    /// [`refresh_crls`](Self::refresh_crls), saying also which files were reloaded.
    pub fn reload_crls(&self) -> CrlReload {
        let stale: Vec<PathBuf> = {
            let crls = self.crls.read().unwrap_or_else(|p| p.into_inner());
            crls.iter()
                .filter(|c| modified(&c.path) != c.modified)
                .map(|c| c.path.clone())
                .collect()
        };
        let mut reload = CrlReload::default();
        for path in stale {
            match read_crl(&path, &self.issuers) {
                Ok(fresh) => {
                    let mut crls = self.crls.write().unwrap_or_else(|p| p.into_inner());
                    if let Some(slot) = crls.iter_mut().find(|c| c.path == path) {
                        *slot = fresh;
                    }
                    tracing::info!(path = %path.display(), "reloaded CRL");
                    reload.reloaded.push(path);
                }
                Err(e) => reload.failed.push(e),
            }
        }
        reload
    }

    /// Where a device certificate names the serial (`manufacturer.serial_source`).
    pub fn serial_source(&self) -> SerialSource {
        self.serial_source
    }

    /// Verifies the chain a client presented (leaf first) at `now`.
    pub fn authenticate(
        &self,
        chain: &[CertificateDer<'static>],
        now: SystemTime,
    ) -> Result<AuthenticatedDevice, AuthFailure> {
        let Some((leaf, presented)) = chain.split_first() else {
            return Err(AuthFailure::NoCertificate);
        };
        let fingerprint = Fingerprint::of(leaf);
        // What a certificate says is a function of its bytes: a certificate that verified
        // before is not parsed again (its chain is verified all the same).
        let known = self.known_identities().get(fingerprint.as_bytes()).cloned();
        let (identity, parsed) = match known {
            Some(identity) => (Ok(identity), None),
            None => {
                let cert = Cert::from_der(leaf.to_vec())
                    .map_err(|e| AuthFailure::Malformed(e.to_string()))?;
                (
                    DeviceIdentity::from_certificate(&cert, self.serial_source),
                    Some(cert),
                )
            }
        };
        let ee =
            EndEntityCert::try_from(leaf).map_err(|e| AuthFailure::Malformed(e.to_string()))?;
        let verified = self.verify_path(&ee, presented, now);
        // A SHA-1 signature by a CA not opted in: webpki knows no such algorithm.
        // A refused certificate's subject, for the refusal.
        let subject = || match &parsed {
            Some(cert) => cert.subject(),
            None => Cert::from_der(leaf.to_vec())
                .map(|cert| cert.subject())
                .unwrap_or_default(),
        };
        let legacy_chain = match verified {
            Ok(legacy) => legacy,
            Err(webpki::Error::CertRevoked) => {
                return Err(AuthFailure::Revoked {
                    serial: identity
                        .map(|i| i.serial.as_str().to_owned())
                        .unwrap_or_else(|_| subject()),
                });
            }
            Err(e) => {
                return Err(AuthFailure::Untrusted {
                    subject: subject(),
                    reason: legacy::untrusted_reason(&e, chain),
                });
            }
        };
        let identity = identity.map_err(AuthFailure::Identity)?;
        if parsed.is_some() {
            self.known_identities()
                .insert(*fingerprint.as_bytes(), identity.clone());
        }
        Ok(AuthenticatedDevice {
            identity,
            certificate: leaf.clone(),
            fingerprint,
            legacy_chain,
            code_only: false,
        })
    }

    /// Verifies `ee`'s path to an anchor at `now` (through the `presented` and the configured
    /// intermediates), and that no certificate of the path but the anchor is on a checked CRL;
    /// says whether a certificate of the path is signed with SHA-1 (by an opted-in CA).
    fn verify_path(
        &self,
        ee: &EndEntityCert<'_>,
        presented: &[CertificateDer<'static>],
        now: SystemTime,
    ) -> Result<bool, webpki::Error> {
        let mut intermediates = presented.to_vec();
        intermediates.extend(self.intermediates.iter().cloned());
        let time = UnixTime::since_unix_epoch(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );

        let algorithms: Vec<&dyn SignatureVerificationAlgorithm> = self
            .algorithms
            .iter()
            .map(|a| a as &dyn SignatureVerificationAlgorithm)
            .chain(
                self.legacy
                    .iter()
                    .map(|a| a as &dyn SignatureVerificationAlgorithm),
            )
            .collect();
        ee.verify_for_usage(
            &algorithms,
            &self.anchors,
            &intermediates,
            time,
            KeyUsage::client_auth(),
            None,
            None,
        )
        .and_then(|path| {
            // Every certificate of the path but the anchor, against the checked CRLs.
            let crls = self.crls.read().unwrap_or_else(|p| p.into_inner());
            let certs =
                std::iter::once(&**path.end_entity()).chain(path.intermediate_certificates());
            let mut legacy = false;
            for cert in certs {
                if is_revoked(&crls, cert)? {
                    return Err(webpki::Error::CertRevoked);
                }
                legacy |= self.legacy.is_some() && legacy::is_sha1_signed(&cert.der());
            }
            Ok(legacy)
        })
    }

    fn known_identities(&self) -> std::sync::MutexGuard<'_, Recent<DeviceIdentity>> {
        self.identities.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A certificate's public key as signatures are verified with it (its subjectPublicKey).
fn public_key(cert: &Cert) -> Vec<u8> {
    let info = &cert.x509().tbs_certificate.subject_public_key_info;
    info.subject_public_key.raw_bytes().to_vec()
}

fn read(path: &Path) -> Result<Vec<u8>, TrustError> {
    fs::read(path).map_err(|source| TrustError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_certificates(path: &Path) -> Result<Vec<Cert>, TrustError> {
    let bytes = read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    Cert::chain_from_pem(&text).map_err(|source| TrustError::Certificate {
        path: path.to_owned(),
        source,
    })
}

/// Whether `cert` is on a CRL of its issuer.
fn is_revoked(crls: &[CrlFile], cert: &webpki::Cert<'_>) -> Result<bool, webpki::Error> {
    for crl in crls.iter().filter(|c| c.list.issuer() == cert.issuer()) {
        if crl.list.find_serial(cert.serial())?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads the CRL at `path` and checks that one of `issuers` signed it.
fn read_crl(path: &Path, issuers: &[Cert]) -> Result<CrlFile, TrustError> {
    let modified = modified(path);
    let bytes = read(path)?;
    let bad = |reason: String| TrustError::Crl {
        path: path.to_owned(),
        reason,
    };
    let der = if bytes.starts_with(b"-----BEGIN") {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&bytes)
            .map_err(|e| bad(e.to_string()))?
            .to_vec()
    } else {
        bytes
    };
    let list = OwnedCertRevocationList::from_der(&der).map_err(|e| bad(format!("{e:?}")))?;
    if !issuers
        .iter()
        .any(|ca| ztp_certs::crl::check_signed_by(&der, ca).is_ok())
    {
        return Err(bad(
            "not signed by a configured manufacturer CA (trust anchor or intermediate)".into(),
        ));
    }
    let validity = ztp_certs::crl::validity(&der).map_err(|e| bad(e.to_string()))?;
    Ok(CrlFile {
        path: path.to_owned(),
        modified,
        list: CertRevocationList::from(list),
        validity,
    })
}

#[cfg(test)]
mod tests;
