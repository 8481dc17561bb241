//! Fixtures from RFC 8572 and from real agents decode as expected.

use std::fs;

use ztp_yang::*;

fn data(name: &str) -> Vec<u8> {
    fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

#[test]
fn rfc8572_redirect_example() {
    let doc = ConveyedInformation::from_xml(&data("rfc8572-redirect-information.xml")).unwrap();
    let ConveyedInformation::Redirect(redirect) = doc else {
        panic!("redirect expected")
    };
    let addresses: Vec<_> = redirect
        .bootstrap_servers
        .iter()
        .map(|s| (s.address.as_str(), s.port))
        .collect();
    assert_eq!(
        addresses,
        [
            ("sztp1.example.com", 8443),
            ("sztp2.example.com", 8443),
            ("sztp3.example.com", 8443)
        ]
    );
    assert!(
        redirect
            .bootstrap_servers
            .iter()
            .all(|s| s.trust_anchor.is_some())
    );
}

#[test]
fn rfc8572_onboarding_example() {
    let doc = ConveyedInformation::from_xml(&data("rfc8572-onboarding-information.xml")).unwrap();
    let ConveyedInformation::Onboarding(onboarding) = doc else {
        panic!("onboarding expected")
    };
    let image = onboarding.boot_image.expect("boot image");
    assert_eq!(image.os_name.as_deref(), Some("VendorOS"));
    assert_eq!(
        image.download_uris,
        ["https://example.com/path/to/image/file"]
    );
    assert_eq!(
        image.image_verification[0].hash_algorithm,
        HashAlgorithm::Sha256
    );
    assert_eq!(image.image_verification[0].hash_value[..2], [0xba, 0xec]);
    assert_eq!(
        onboarding.configuration.map(|c| c.handling),
        Some(ConfigurationHandling::Merge)
    );
}

#[test]
fn opi_agent_requests() {
    let input =
        GetBootstrappingDataInput::from_json(&data("opi-get-bootstrapping-data.json")).unwrap();
    assert_eq!(input.nonce, None);
    assert_eq!(input.os_version.as_deref(), Some("22.04"));
    let report = ReportProgressInput::from_json(&data("opi-report-progress.json")).unwrap();
    assert!(report.progress_type.is_complete());
    assert_eq!(report.ssh_host_keys[0].algorithm, "ssh-ed25519");
    assert_eq!(report.trust_anchor_certs, [b"mysshpass".to_vec()]);
}

#[test]
fn xml_output_shape() {
    let xml = crate::fixtures::redirect().to_xml();
    assert!(xml.starts_with(
        "<redirect-information xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info\">\n  <bootstrap-server>\n    <address>nms.customer.example</address>\n    <port>443</port>"
    ), "{xml}");
    let xml = crate::fixtures::onboarding().to_xml();
    assert!(xml.contains("<hash-algorithm xmlns:ietf-sztp-conveyed-info=\"urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info\">ietf-sztp-conveyed-info:sha-256</hash-algorithm>"), "{xml}");
    assert!(xml.contains("<hash-value>00:01:02:03:"), "{xml}");
    let json = crate::fixtures::onboarding().to_json();
    assert!(
        json.contains(r#""hash-algorithm":"ietf-sztp-conveyed-info:sha-256""#),
        "{json}"
    );
}
