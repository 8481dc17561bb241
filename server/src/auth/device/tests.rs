use time::{Duration, OffsetDateTime};
use ztp_certs::{
    CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId, Revocation, Serial, SerialPlacement,
};

use super::*;

/// A verifier of these files, none opted in to SHA-1.
fn load(
    anchors: &[PathBuf],
    intermediates: &[PathBuf],
    crls: &[PathBuf],
    source: SerialSource,
) -> Result<DeviceVerifier, TrustError> {
    let files = TrustFiles {
        anchors: anchors.to_vec(),
        intermediates: intermediates.to_vec(),
        crls: crls.to_vec(),
        legacy_sha1: Vec::new(),
    };
    DeviceVerifier::load(&files, source)
}

struct Pki {
    dir: tempfile::TempDir,
    root: CertificateAuthority,
    idevid_ca: CertificateAuthority,
}

impl Pki {
    fn new() -> Self {
        let root = CertificateAuthority::new_root("root", "mfg", KeyAlgorithm::EcdsaP256).unwrap();
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
        load(
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
    assert_eq!(device.serial().as_str(), "SN-0001");
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
    let refused = load(
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
    let verifier = load(
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
    assert_eq!(again.serial().as_str(), "SN-0008");
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
    let missing = load(&[pki.path("nope.pem")], &[], &[], SerialSource::default());
    assert!(matches!(missing, Err(TrustError::Io { .. })));
    assert!(matches!(
        load(&[], &[], &[], SerialSource::default()),
        Err(TrustError::NoAnchors)
    ));
}

#[test]
fn the_refresher_reports_what_each_look_reloaded() {
    use super::refresher::CrlRefresher;

    let pki = Pki::new();
    let verifier = current(pki.verifier());
    let refresher = CrlRefresher::new(Arc::clone(&verifier), std::time::Duration::ZERO);
    let idle = refresher.run_once();
    assert_eq!((idle.reloaded, idle.failed), (0, 0), "nothing changed");

    let chain = pki.device("SN-0004");
    pki.revoke(&[&Cert::from_der(chain[0].to_vec()).unwrap()]);
    pki.touch("idevid.crl.pem");
    let reloaded = refresher.run_once();
    assert_eq!((reloaded.reloaded, reloaded.failed), (1, 0));
    assert!(matches!(
        verifier.load().authenticate(&chain, SystemTime::now()),
        Err(AuthFailure::Revoked { .. })
    ));

    pki.write("idevid.crl.pem", "garbage");
    pki.touch("idevid.crl.pem");
    let broken = refresher.run_once();
    assert_eq!((broken.reloaded, broken.failed), (0, 1));
}
