//! Who a device is: its IDevID chain verified against the manufacturer CAs and their CRLs,
//! and its serial read from the certificate (never from the request body).
//!
//! The TLS layer only checks that the client holds the key of the certificate it presents
//! (see [`crate::tls`]); the chain is judged here, so that a refused device gets a RESTCONF
//! error document with status 401 and the refusal is recorded, instead of a bare handshake
//! alert nobody can see.

mod recent;
pub mod signatures;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList};
use ztp_certs::{Cert, DeviceIdentity, Fingerprint, IdentityError, PkiError, SerialSource};

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
}

impl AuthenticatedDevice {
    /// The serial number.
    pub fn serial(&self) -> &str {
        self.identity.serial.as_str()
    }
}

struct CrlFile {
    path: PathBuf,
    modified: Option<SystemTime>,
    list: CertRevocationList<'static>,
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
    pub fn load(
        anchors: &[PathBuf],
        intermediates: &[PathBuf],
        crls: &[PathBuf],
        serial_source: SerialSource,
    ) -> Result<Self, TrustError> {
        let mut trust = Vec::new();
        let mut issuers = Vec::new();
        for path in anchors {
            for cert in read_certificates(path)? {
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
        for path in intermediates {
            for cert in read_certificates(path)? {
                chain.push(cert.as_certificate_der().clone());
                issuers.push(cert);
            }
        }
        let crls = crls
            .iter()
            .map(|p| read_crl(p, &issuers))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            algorithms: signatures::remembering(
                signatures::DEFAULT_CAPACITY,
                issuers.iter().map(public_key).collect(),
            ),
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
        let stale: Vec<PathBuf> = {
            let crls = self.crls.read().unwrap_or_else(|p| p.into_inner());
            crls.iter()
                .filter(|c| modified(&c.path) != c.modified)
                .map(|c| c.path.clone())
                .collect()
        };
        let mut errors = Vec::new();
        for path in stale {
            match read_crl(&path, &self.issuers) {
                Ok(fresh) => {
                    let mut crls = self.crls.write().unwrap_or_else(|p| p.into_inner());
                    if let Some(slot) = crls.iter_mut().find(|c| c.path == path) {
                        *slot = fresh;
                    }
                    tracing::info!(path = %path.display(), "reloaded CRL");
                }
                Err(e) => errors.push(e),
            }
        }
        errors
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
            .collect();
        let verified = ee
            .verify_for_usage(
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
                for cert in certs {
                    if is_revoked(&crls, cert)? {
                        return Err(webpki::Error::CertRevoked);
                    }
                }
                Ok(())
            });
        // A refused certificate's subject, for the refusal.
        let subject = || match &parsed {
            Some(cert) => cert.subject(),
            None => Cert::from_der(leaf.to_vec())
                .map(|cert| cert.subject())
                .unwrap_or_default(),
        };
        match verified {
            Ok(_) => {}
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
                    reason: format!("{e:?}"),
                });
            }
        }
        let identity = identity.map_err(AuthFailure::Identity)?;
        if parsed.is_some() {
            self.known_identities()
                .insert(*fingerprint.as_bytes(), identity.clone());
        }
        Ok(AuthenticatedDevice {
            identity,
            certificate: leaf.clone(),
            fingerprint,
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
    Ok(CrlFile {
        path: path.to_owned(),
        modified,
        list: CertRevocationList::from(list),
    })
}

#[cfg(test)]
mod tests {
    use time::{Duration, OffsetDateTime};
    use ztp_certs::{
        CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId, Revocation, Serial,
        SerialPlacement,
    };

    use super::*;

    struct Pki {
        dir: tempfile::TempDir,
        root: CertificateAuthority,
        idevid_ca: CertificateAuthority,
    }

    impl Pki {
        fn new() -> Self {
            let root =
                CertificateAuthority::new_root("root", "mfg", KeyAlgorithm::EcdsaP256).unwrap();
            let idevid_ca = root
                .new_subordinate("idevid", "mfg", KeyAlgorithm::EcdsaP256)
                .unwrap();
            let pki = Self {
                dir: tempfile::tempdir().unwrap(),
                root,
                idevid_ca,
            };
            pki.write("root.pem", &pki.root.cert().pem());
            pki.write("idevid.pem", &pki.idevid_ca.cert().pem());
            pki.revoke(&[]);
            pki
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn write(&self, name: &str, text: &str) {
            fs::write(self.path(name), text).unwrap();
        }

        /// Moves a file's modification time forward, as a rewrite on a coarse clock might not.
        fn touch(&self, name: &str) {
            let file = fs::File::options()
                .write(true)
                .open(self.path(name))
                .unwrap();
            file.set_modified(SystemTime::now() + std::time::Duration::from_secs(1))
                .unwrap();
        }

        fn revoke(&self, certs: &[&Cert]) {
            let now = OffsetDateTime::now_utc();
            let revoked: Vec<_> = certs
                .iter()
                .map(|c| Revocation {
                    serial_number: c.serial_number().to_vec(),
                    revoked_at: now - Duration::minutes(1),
                })
                .collect();
            let crl = self
                .idevid_ca
                .crl(
                    &revoked,
                    1 + certs.len() as u64,
                    now - Duration::hours(1),
                    now + Duration::days(1),
                )
                .unwrap();
            self.write("idevid.crl.pem", &crl);
        }

        fn device(&self, serial: &str) -> Vec<CertificateDer<'static>> {
            let (cert, _key) = self
                .idevid_ca
                .issue_idevid(&IdevidSpec {
                    serial: Serial::parse(serial).unwrap(),
                    model: ProductId::parse("uCPE-100").unwrap(),
                    placement: SerialPlacement::SerialNumber,
                    hardware_module_name: true,
                    key_algorithm: KeyAlgorithm::EcdsaP256,
                })
                .unwrap();
            vec![cert.as_certificate_der().clone()]
        }

        fn verifier(&self) -> DeviceVerifier {
            DeviceVerifier::load(
                &[self.path("root.pem")],
                &[self.path("idevid.pem")],
                &[self.path("idevid.crl.pem")],
                SerialSource::SubjectSerialNumber,
            )
            .unwrap()
        }
    }

    #[test]
    fn a_manufacturer_device_is_known_by_its_certificate_serial() {
        let pki = Pki::new();
        let device = pki
            .verifier()
            .authenticate(&pki.device("SN-0001"), SystemTime::now())
            .unwrap();
        assert_eq!(device.serial(), "SN-0001");
    }

    #[test]
    fn a_crl_is_checked_once_against_its_issuer_and_covers_the_whole_path() {
        let pki = Pki::new();
        // A list made by another key under the same name is refused when read.
        let impostor = Pki::new();
        let now = OffsetDateTime::now_utc();
        let forged = impostor
            .idevid_ca
            .crl(&[], 9, now - Duration::hours(1), now + Duration::days(1))
            .unwrap();
        pki.write("forged.crl.pem", &forged);
        let refused = DeviceVerifier::load(
            &[pki.path("root.pem")],
            &[pki.path("idevid.pem")],
            &[pki.path("forged.crl.pem")],
            SerialSource::SubjectSerialNumber,
        );
        assert!(
            matches!(&refused, Err(TrustError::Crl { reason, .. }) if reason.contains("not signed")),
            "{refused:?}"
        );

        // The root's CRL revoking the IDevID CA refuses every device under it.
        let device = pki.device("SN-0007");
        let revoked = [Revocation {
            serial_number: pki.idevid_ca.cert().serial_number().to_vec(),
            revoked_at: now - Duration::minutes(1),
        }];
        let root_crl = pki
            .root
            .crl(
                &revoked,
                2,
                now - Duration::hours(1),
                now + Duration::days(1),
            )
            .unwrap();
        pki.write("root.crl.pem", &root_crl);
        let verifier = DeviceVerifier::load(
            &[pki.path("root.pem")],
            &[pki.path("idevid.pem")],
            &[pki.path("idevid.crl.pem"), pki.path("root.crl.pem")],
            SerialSource::SubjectSerialNumber,
        )
        .unwrap();
        assert!(matches!(
            verifier.authenticate(&device, SystemTime::now()),
            Err(AuthFailure::Revoked { serial }) if serial == "SN-0007"
        ));
    }

    #[test]
    fn strangers_and_empty_handed_clients_are_refused() {
        let pki = Pki::new();
        let other = Pki::new();
        let verifier = pki.verifier();
        assert!(matches!(
            verifier.authenticate(&other.device("SN-0001"), SystemTime::now()),
            Err(AuthFailure::Untrusted { .. })
        ));
        assert!(matches!(
            verifier.authenticate(&[], SystemTime::now()),
            Err(AuthFailure::NoCertificate)
        ));
        assert!(matches!(
            verifier.authenticate(
                &[CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])],
                SystemTime::now()
            ),
            Err(AuthFailure::Malformed(_))
        ));
    }

    #[test]
    fn a_revoked_device_is_refused_once_the_crl_is_reloaded() {
        let pki = Pki::new();
        let verifier = pki.verifier();
        let chain = pki.device("SN-0002");
        assert!(verifier.authenticate(&chain, SystemTime::now()).is_ok());

        let cert = Cert::from_der(chain[0].to_vec()).unwrap();
        pki.revoke(&[&cert]);
        pki.touch("idevid.crl.pem");
        assert!(verifier.refresh_crls().is_empty());
        match verifier.authenticate(&chain, SystemTime::now()) {
            Err(AuthFailure::Revoked { serial }) => assert_eq!(serial, "SN-0002"),
            other => panic!("expected revoked, got {other:?}"),
        }
        assert!(
            verifier
                .authenticate(&pki.device("SN-0003"), SystemTime::now())
                .is_ok()
        );
    }

    #[test]
    fn a_device_whose_signature_is_remembered_is_still_checked_in_full() {
        let pki = Pki::new();
        let verifier = pki.verifier();
        let chain = pki.device("SN-0005");
        for _ in 0..2 {
            assert!(verifier.authenticate(&chain, SystemTime::now()).is_ok());
        }
        // The device's signature by the IDevID CA, and the CA's by the root.
        assert_eq!(verifier.algorithms[0].remembered(), 2);
        // A stranger's chain is refused and adds nothing.
        let stranger = Pki::new();
        let mut theirs = stranger.device("SN-0005");
        theirs.push(stranger.idevid_ca.cert().as_certificate_der().clone());
        assert!(verifier.authenticate(&theirs, SystemTime::now()).is_err());
        assert_eq!(verifier.algorithms[0].remembered(), 2);
        // Outside its validity: refused, though its signatures verified before.
        let long_ago = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400);
        assert!(matches!(
            verifier.authenticate(&chain, long_ago),
            Err(AuthFailure::Untrusted { .. })
        ));
        // The same certificate naming another serial: its signature is not the one remembered.
        let mut altered = chain[0].to_vec();
        let at = altered
            .windows(7)
            .position(|w| w == b"SN-0005")
            .expect("the serial in the certificate");
        altered[at + 6] = b'6';
        assert!(matches!(
            verifier.authenticate(&[CertificateDer::from(altered)], SystemTime::now()),
            Err(AuthFailure::Untrusted { .. })
        ));
        // Remembering nothing verifies the same.
        let forgetful = pki.verifier().remembering(0);
        assert!(forgetful.authenticate(&chain, SystemTime::now()).is_ok());
    }

    #[test]
    fn a_certificate_that_verified_is_read_once_and_still_verified_every_time() {
        let pki = Pki::new();
        let verifier = pki.verifier();
        let chain = pki.device("SN-0008");
        let first = verifier.authenticate(&chain, SystemTime::now()).unwrap();
        let again = verifier.authenticate(&chain, SystemTime::now()).unwrap();
        assert_eq!(verifier.known_identities().len(), 1);
        assert_eq!(again.serial(), "SN-0008");
        assert_eq!(again.fingerprint, first.fingerprint);
        assert_eq!(again.certificate, chain[0]);
        // A stranger's certificate is refused and not kept.
        let stranger = Pki::new();
        assert!(
            verifier
                .authenticate(&stranger.device("SN-0009"), SystemTime::now())
                .is_err()
        );
        assert_eq!(verifier.known_identities().len(), 1);
        // The known certificate outside its validity: refused, its subject read for the reason.
        let long_ago = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400);
        match verifier.authenticate(&chain, long_ago) {
            Err(AuthFailure::Untrusted { subject, .. }) => assert!(subject.contains("SN-0008")),
            other => panic!("expected untrusted, got {other:?}"),
        }
    }

    #[test]
    fn a_broken_crl_keeps_the_previous_list() {
        let pki = Pki::new();
        let verifier = pki.verifier();
        pki.write("idevid.crl.pem", "garbage");
        pki.touch("idevid.crl.pem");
        assert_eq!(verifier.refresh_crls().len(), 1);
        assert!(
            verifier
                .authenticate(&pki.device("SN-0001"), SystemTime::now())
                .is_ok()
        );
    }

    #[test]
    fn missing_trust_material_is_a_clear_error() {
        let pki = Pki::new();
        let missing =
            DeviceVerifier::load(&[pki.path("nope.pem")], &[], &[], SerialSource::default());
        assert!(matches!(missing, Err(TrustError::Io { .. })));
        assert!(matches!(
            DeviceVerifier::load(&[], &[], &[], SerialSource::default()),
            Err(TrustError::NoAnchors)
        ));
    }
}
