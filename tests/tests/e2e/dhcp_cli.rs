//! `ztp dhcp-option`: the value it prints is the one deploy/dhcp/ ships, and it decodes back.

use ztp_tests::{success, transcript, ztp};

const HEX: &str =
    "00:1c:68:74:74:70:73:3a:2f:2f:7a:74:70:2e:65:78:61:6d:70:6c:65:2e:63:6f:6d:3a:38:34:34:33";

#[test]
fn encodes_the_deploy_snippets_value_and_decodes_it_back() {
    let printed = success(ztp(["dhcp-option", "https://ztp.example.com:8443"]));
    assert!(
        printed.contains(&format!("option sztp-redirect-urls {HEX};")),
        "{printed}"
    );
    let snippet = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dhcp/dhcpd.conf"),
    )
    .unwrap();
    assert!(
        snippet.contains(HEX),
        "deploy/dhcp/dhcpd.conf is out of date"
    );
    let decoded = success(ztp(["dhcp-option", "--decode", HEX]));
    assert_eq!(decoded.trim(), "https://ztp.example.com:8443");
}

#[test]
fn refuses_uris_with_a_path_and_truncated_values() {
    for args in [
        vec!["dhcp-option", "https://ztp.example.com/restconf"],
        vec!["dhcp-option", "http://ztp.example.com"],
        vec!["dhcp-option", "--decode", "00:1c:68"],
    ] {
        let out = ztp(&args);
        assert!(
            !out.status.success(),
            "{args:?} accepted:\n{}",
            transcript(&out)
        );
    }
}
