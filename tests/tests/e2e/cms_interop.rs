//! CMS made by certs/ over documents made by yang/ verifies in OpenSSL, and CMS made by
//! OpenSSL verifies in certs/.

use std::fs;
use std::path::Path;

use time::OffsetDateTime;
use ztp_certs::cms::{self, TrustPolicy};
use ztp_certs::oid;
use ztp_tests::{openssl_cms_print, openssl_cms_verify, success, temp_dir, tool};
use ztp_yang::{BootstrapServer, ConveyedInformation, Document, Encoding, RedirectInformation};

use super::{OWNER, cert, dev_pki, owner_signer};

fn redirect(pki: &Path) -> ConveyedInformation {
    let owner_ca = cert(pki, &format!("{OWNER}/owner-ca.pem"));
    let mut server = BootstrapServer::new("nms.customer.example");
    server.port = 8443;
    server.trust_anchor = Some(cms::certificates_only(&[owner_ca]).unwrap());
    ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![server],
    })
}

#[test]
fn signed_conveyed_information_verifies_in_openssl_and_fails_when_tampered() {
    let dir = temp_dir();
    let pki = dir.path();
    dev_pki(pki);
    let owner = owner_signer(pki);
    let owner_ca = pki.join(format!("{OWNER}/owner-ca.pem"));
    for (encoding, content_type) in [
        (Encoding::Xml, oid::ID_CT_SZTP_CONVEYED_INFO_XML),
        (Encoding::Json, oid::ID_CT_SZTP_CONVEYED_INFO_JSON),
    ] {
        let document = redirect(pki).encode_checked(encoding).unwrap();
        let der = cms::sign(content_type, document.as_bytes(), &owner).unwrap();
        let (signed, out) = (pki.join("conveyed.cms"), pki.join("conveyed.out"));
        fs::write(&signed, &der).unwrap();

        success(openssl_cms_verify(&signed, &owner_ca, &out));
        assert_eq!(
            fs::read(&out).unwrap(),
            document.as_bytes(),
            "{encoding:?}: content changed"
        );
        let printed = openssl_cms_print(&signed);
        assert!(
            printed.contains(&content_type.to_string()),
            "{encoding:?}: {printed}"
        );

        // One changed byte of content and OpenSSL refuses it.
        let at = der
            .windows(document.len())
            .position(|w| w == document.as_bytes())
            .unwrap();
        let mut tampered = der.clone();
        tampered[at + document.len() / 2] ^= 0x01;
        fs::write(&signed, &tampered).unwrap();
        let refused = openssl_cms_verify(&signed, &owner_ca, &out);
        assert!(
            !refused.status.success(),
            "{encoding:?}: tampered CMS verified"
        );
    }
}

#[test]
fn openssl_signed_conveyed_information_verifies_in_certs() {
    let dir = temp_dir();
    let pki = dir.path();
    dev_pki(pki);
    let document = redirect(pki).encode_checked(Encoding::Json).unwrap();
    let (input, signed) = (pki.join("conveyed.json"), pki.join("conveyed.cms"));
    fs::write(&input, &document).unwrap();
    let p = |rel: &str| pki.join(rel).display().to_string();
    success(tool(
        "openssl",
        [
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-md",
            "sha256",
            "-outform",
            "DER",
            "-econtent_type",
            "1.2.840.113549.1.9.16.1.43",
            "-signer",
            &p(&format!("{OWNER}/owner-signing.pem")),
            "-inkey",
            &p(&format!("{OWNER}/owner-signing.key")),
            "-in",
            &input.display().to_string(),
            "-out",
            &signed.display().to_string(),
        ],
    ));
    let anchors = [cert(pki, &format!("{OWNER}/owner-ca.pem"))];
    let policy = TrustPolicy {
        anchors: &anchors,
        extra_certificates: &[],
        at: OffsetDateTime::now_utc(),
    };
    let verified = cms::verify(
        &fs::read(&signed).unwrap(),
        &[oid::ID_CT_SZTP_CONVEYED_INFO_JSON],
        &policy,
    )
    .unwrap();
    assert_eq!(verified.content, document.as_bytes());
    let decoded = ConveyedInformation::decode(Encoding::Json, &verified.content).unwrap();
    assert_eq!(decoded, redirect(pki));
}

#[test]
fn owner_certificate_bags_read_in_openssl() {
    let dir = temp_dir();
    let pki = dir.path();
    dev_pki(pki);
    let owner = owner_signer(pki);
    let owner_ca = cert(pki, &format!("{OWNER}/owner-ca.pem"));
    let bag = cms::certificates_only(&[owner.cert().clone(), owner_ca]).unwrap();
    let file = pki.join("owner-certificate.cms");
    fs::write(&file, bag).unwrap();
    let printed = success(tool(
        "openssl",
        [
            "pkcs7",
            "-inform",
            "DER",
            "-print_certs",
            "-noout",
            "-in",
            &file.display().to_string(),
        ],
    ));
    assert!(
        printed.contains("example-customer Owner Signing"),
        "{printed}"
    );
    assert!(printed.contains("example-customer Owner CA"), "{printed}");
}
