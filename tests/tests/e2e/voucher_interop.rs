//! Ownership vouchers made by certs/ verify in OpenSSL against the manufacturer's trust anchor.

use std::fs;

use time::{Duration, OffsetDateTime};
use ztp_certs::Voucher;
use ztp_certs::dev_pki::layout;
use ztp_tests::{openssl_cms_print, openssl_cms_verify, success, temp_dir, tool};

use super::{cert, dev_pki, masa};

#[test]
fn a_voucher_verifies_with_openssl_and_carries_the_device_serial() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let owner_ca = cert(dir.path(), "customers/example-customer/owner-ca.pem");
    let now = OffsetDateTime::now_utc();
    let voucher = Voucher::new("SN-0001", &owner_ca, now, now + Duration::days(7), None);
    let der = voucher.sign(&masa(dir.path())).unwrap();
    let cms = dir.path().join("voucher.cms");
    fs::write(&cms, &der).unwrap();
    let out = dir.path().join("voucher.json");
    let anchor = dir.path().join(layout::ROOT_CA);
    success(openssl_cms_verify(&cms, &anchor, &out));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["ietf-voucher:voucher"]["serial-number"], "SN-0001");
    let printed = openssl_cms_print(&cms);
    assert!(
        printed.contains("1.2.840.113549.1.9.16.1.40"),
        "eContentType: {printed}"
    );

    // Against another manufacturer's anchor, OpenSSL refuses it.
    let other = temp_dir();
    dev_pki(other.path());
    let refused = openssl_cms_verify(&cms, &other.path().join(layout::ROOT_CA), &out);
    assert!(!refused.status.success());
}

#[test]
fn voucher_json_validates_against_ietf_voucher_with_yanglint() {
    let dir = temp_dir();
    dev_pki(dir.path());
    let owner_ca = cert(dir.path(), "customers/example-customer/owner-ca.pem");
    let now = OffsetDateTime::now_utc();
    let schemas = dir.path().join("yang");
    fs::create_dir_all(&schemas).unwrap();
    ztp_yang::modules::write_all(&schemas).unwrap();
    // ietf-voucher declares the voucher as rc:yang-data, which yanglint cannot validate as
    // data; the shadow module declares the same nodes as plain data in the same namespace.
    let module = ztp_yang::modules::VOUCHER.file_name();
    fs::copy(
        ztp_tests::yang_shadow_dir().join(&module),
        schemas.join(&module),
    )
    .unwrap();
    let lint = |name: &str, json: &str| {
        let file = dir.path().join(name);
        fs::write(&file, json).unwrap();
        tool(
            "yanglint",
            [
                "-p".as_ref(),
                schemas.as_os_str(),
                schemas.join(&module).as_os_str(),
                file.as_os_str(),
            ],
        )
    };
    let nonce = [9u8; 16];
    for (name, voucher) in [
        (
            "expiring.json",
            Voucher::new("SN-0001", &owner_ca, now, now + Duration::days(7), None),
        ),
        (
            "nonce.json",
            Voucher::new("SN-0001", &owner_ca, now, now, Some(&nonce)),
        ),
    ] {
        let out = lint(name, &voucher.to_json().unwrap());
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}",
            ztp_tests::transcript(&out)
        );
    }
    // The validator can say no: a voucher with both nonce and expires-on breaks a must.
    let mut both = Voucher::new("SN-0001", &owner_ca, now, now + Duration::days(7), None);
    both.nonce = Some(nonce.to_vec());
    let json = serde_json::json!({"ietf-voucher:voucher": {
        "created-on": "2026-11-23T00:00:00Z", "expires-on": "2026-12-23T00:00:00Z",
        "assertion": "verified", "serial-number": "SN-0001",
        "pinned-domain-cert": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, owner_ca.der()),
        "nonce": "CQkJCQkJCQkJCQkJCQkJCQ==",
    }});
    assert!(both.to_json().is_err(), "certs/ must refuse it too");
    let out = lint("both.json", &json.to_string());
    assert!(
        !out.status.success() || !out.stderr.is_empty(),
        "yanglint accepted nonce + expires-on"
    );
}
