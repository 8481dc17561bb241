//! Vouchers ztp did not sign: a vendor's MASA (its own development PKI here) signs a voucher
//! for a device, the manufacturer imports it, and the real `ztp serve` serves it as it is to a
//! device that anchors vouchers at the vendor's voucher CA, and only to it.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use ztp_certs::{Cert, Serial, Signer};
use ztp_tests::{Server, success, temp_dir, transcript};

use super::{OWNER, cert, dev_pki, masa};

/// A voucher for `serial` signed by `signer`, pinning `owner_ca`, made at `now` and valid for
/// `validity` (bound to `nonce` instead, when given): base64 of its CMS.
fn voucher(
    signer: &Signer,
    serial: &str,
    owner_ca: &Cert,
    now: OffsetDateTime,
    validity: Duration,
    nonce: Option<&[u8]>,
) -> String {
    let nonce = nonce.map(|n| ztp_yang::Nonce::new(n.to_vec()).unwrap());
    let cms = ztp::artifacts::ownership_voucher(
        signer,
        &Serial::parse(serial).unwrap(),
        None,
        owner_ca,
        now,
        validity,
        nonce.as_ref(),
    )
    .unwrap();
    STANDARD.encode(cms)
}

fn import(server: &Server, serial: &str, voucher: &str) -> ztp_tests::admin_http::Answer {
    let body = serde_json::json!({ "voucher": voucher }).to_string();
    server.admin_request("PUT", &format!("/api/v1/devices/{serial}/voucher"), &body)
}

/// `ztp device bootstrap` as `serial`, anchoring vouchers at `voucher_ca`.
fn bootstrap_trusting(server: &Server, serial: &str, voucher_ca: &Path, extra: &[&str]) -> bool {
    let device = server.pki().join("devices").join(serial);
    let (cert, key) = (device.join("idevid.pem"), device.join("idevid.key"));
    let output = server.bootstrap_as(&server.device_url, (&cert, &key), voucher_ca, extra);
    if !output.status.success() {
        eprintln!("{}", transcript(&output));
    }
    output.status.success()
}

#[test]
fn a_vendor_voucher_is_checked_when_imported_and_served_as_it_is() {
    let dir = temp_dir();
    let vendor = dir.path().join("vendor");
    dev_pki(&vendor);
    let vendor_ca = vendor.join("manufacturer/voucher-ca.pem");
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &[(
            "ZTP_MANUFACTURER__VOUCHER_IMPORT_ANCHORS",
            &serde_json::to_string(&[&vendor_ca]).unwrap(),
        )],
    );
    let owner_ca = cert(&server.pki(), &format!("{OWNER}/owner-ca.pem"));
    let (vendor_masa, now) = (masa(&vendor), OffsetDateTime::now_utc());
    let valid = |serial: &str| {
        voucher(
            &vendor_masa,
            serial,
            &owner_ca,
            now,
            Duration::days(7),
            None,
        )
    };
    let ztp_vouchers = server.pki().join("manufacturer/voucher-ca.pem");

    // Before the import, the device gets ztp's own voucher: one the vendor's CA did not sign.
    assert!(bootstrap_trusting(&server, "SN-0001", &ztp_vouchers, &[]));
    assert!(!bootstrap_trusting(&server, "SN-0001", &vendor_ca, &[]));

    // Refused, each with its reason, and nothing stored.
    let refusals = [
        (
            "for another serial",
            import(&server, "SN-0001", &valid("SN-0002")).body,
        ),
        (
            "signed by ztp's own MASA, not under the import anchors",
            import(
                &server,
                "SN-0001",
                &voucher(
                    &masa(&server.pki()),
                    "SN-0001",
                    &owner_ca,
                    now,
                    Duration::days(7),
                    None,
                ),
            )
            .body,
        ),
        (
            "expired",
            import(
                &server,
                "SN-0001",
                &voucher(
                    &vendor_masa,
                    "SN-0001",
                    &owner_ca,
                    now - Duration::days(3),
                    Duration::days(1),
                    None,
                ),
            )
            .body,
        ),
        (
            "bound to a nonce",
            import(
                &server,
                "SN-0001",
                &voucher(
                    &vendor_masa,
                    "SN-0001",
                    &owner_ca,
                    now,
                    Duration::days(7),
                    Some(&[9; 16]),
                ),
            )
            .body,
        ),
        (
            "pinning another owner",
            import(
                &server,
                "SN-0001",
                &voucher(
                    &vendor_masa,
                    "SN-0001",
                    &cert(&vendor, &format!("{OWNER}/owner-ca.pem")),
                    now,
                    Duration::days(7),
                    None,
                ),
            )
            .body,
        ),
    ];
    let garbage = import(&server, "SN-0001", "%%%");
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    for (what, body) in &refusals {
        assert!(body.contains("\"voucher: "), "{what}: {body}");
    }
    assert!(refusals[0].1.contains("SN-0002"), "{}", refusals[0].1);
    assert!(refusals[3].1.contains("nonce"), "{}", refusals[3].1);
    assert!(
        refusals[4].1.contains("does not chain"),
        "{}",
        refusals[4].1
    );
    success(server.admin(["device", "add", "SN-0100", "--model", "uCPE-100"]));
    let ownerless = import(&server, "SN-0100", &valid("SN-0100"));
    assert_eq!(ownerless.status, 409, "{}", ownerless.body);
    assert!(
        ownerless.body.contains("has no owner"),
        "{}",
        ownerless.body
    );
    let none = server.admin_request("GET", "/api/v1/devices/SN-0001/voucher", "");
    assert_eq!(none.status, 404, "{}", none.body);

    // Imported: shown, and served as it is (the device verifies it against the vendor's CA),
    // also to a device asking for a nonce (no voucher with it can be had: it checks the expiry).
    // Imported from the command line, as the DER file a vendor hands over.
    let file = dir.path().join("SN-0001.vcj");
    std::fs::write(&file, STANDARD.decode(valid("SN-0001")).unwrap()).unwrap();
    success(server.admin([
        "device",
        "voucher",
        "import",
        "SN-0001",
        file.to_str().unwrap(),
    ]));
    let shown: Value = serde_json::from_str(
        &server
            .admin_request("GET", "/api/v1/devices/SN-0001/voucher", "")
            .body,
    )
    .unwrap();
    assert_eq!(shown["voucher"], valid_base64(&shown));
    assert!(shown["masa"].as_str().unwrap().contains("Voucher Signing"));
    assert!(bootstrap_trusting(&server, "SN-0001", &vendor_ca, &[]));
    assert!(bootstrap_trusting(
        &server,
        "SN-0001",
        &vendor_ca,
        &["--nonce"]
    ));
    assert!(!bootstrap_trusting(&server, "SN-0001", &ztp_vouchers, &[]));
    // Other devices still get ztp's.
    assert!(bootstrap_trusting(&server, "SN-0002", &ztp_vouchers, &[]));

    // A new owner drops it (it pins the former owner's certificate).
    success(server.admin(["customer", "add", "other-customer"]));
    let moved = server.admin_request(
        "PATCH",
        "/api/v1/devices/SN-0001",
        r#"{"customer":"other-customer"}"#,
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let gone = server.admin_request("GET", "/api/v1/devices/SN-0001/voucher", "");
    assert_eq!(gone.status, 404, "{}", gone.body);

    // Removed: ztp signs the device's vouchers again.
    let back = server.admin_request(
        "PATCH",
        "/api/v1/devices/SN-0001",
        r#"{"customer":"example-customer"}"#,
    );
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(import(&server, "SN-0001", &valid("SN-0001")).status, 200);
    let removed = server.admin_request("DELETE", "/api/v1/devices/SN-0001/voucher", "");
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(bootstrap_trusting(&server, "SN-0001", &ztp_vouchers, &[]));
}

/// The stored voucher is the imported one, byte for byte.
fn valid_base64(shown: &Value) -> Value {
    let text = shown["voucher"].as_str().unwrap();
    let der = STANDARD.decode(text).unwrap();
    assert!(matches!(
        ztp_certs::cms::open(&der),
        Ok(ztp_certs::cms::Envelope::Signed { .. })
    ));
    Value::String(text.to_owned())
}

#[test]
fn no_voucher_is_imported_without_an_anchor_or_for_a_device_without_owner() {
    let dir = temp_dir();
    let vendor = dir.path().join("vendor");
    dev_pki(&vendor);
    let server = Server::start(&dir.path().join("data"));
    let owner_ca = cert(&server.pki(), &format!("{OWNER}/owner-ca.pem"));
    let body = voucher(
        &masa(&vendor),
        "SN-0001",
        &owner_ca,
        OffsetDateTime::now_utc(),
        Duration::days(7),
        None,
    );
    let refused = import(&server, "SN-0001", &body);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("voucher_import_anchors"),
        "{}",
        refused.body
    );
    let unknown = import(&server, "SN-9999", &body);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}
