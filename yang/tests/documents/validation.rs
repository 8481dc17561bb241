//! Every document ztp emits validates with yanglint against its module, in both encodings; and
//! broken documents are refused (so these checks can fail).

use ztp_yang::{Document, Encoding, GetBootstrappingDataInput, GetBootstrappingDataOutput};

use crate::fixtures;
use crate::support::{Schemas, as_operation};

const ENCODINGS: [(Encoding, &str); 2] = [(Encoding::Xml, "xml"), (Encoding::Json, "json")];
const SVR: &str = "ietf-sztp-bootstrap-server";

fn assert_valid(result: Result<String, String>) {
    if let Err(e) = result {
        panic!("yanglint refused a document ztp emits:\n{e}");
    }
}

fn assert_refused(result: Result<String, String>, needle: &str) {
    match result {
        Ok(_) => panic!("yanglint accepted a broken document"),
        Err(e) => assert!(e.contains(needle), "expected {needle:?} in:\n{e}"),
    }
}

#[test]
fn get_bootstrapping_data_input() {
    let schemas = Schemas::real();
    for doc in [fixtures::input(), GetBootstrappingDataInput::default()] {
        for (encoding, ext) in ENCODINGS {
            let text = as_operation(&doc.encode(encoding), "input", "get-bootstrapping-data");
            assert_valid(schemas.validate(Some("rpc"), &[SVR], &text, ext));
        }
    }
}

#[test]
fn get_bootstrapping_data_output() {
    let schemas = Schemas::real();
    let minimal = GetBootstrappingDataOutput {
        conveyed_information: vec![1].into(),
        ..Default::default()
    };
    for doc in [fixtures::output(), minimal] {
        for (encoding, ext) in ENCODINGS {
            let text = as_operation(&doc.encode(encoding), "output", "get-bootstrapping-data");
            assert_valid(schemas.validate(Some("reply"), &[SVR, "ztp-licenses"], &text, ext));
        }
    }
}

#[test]
fn report_progress_input() {
    let schemas = Schemas::real();
    let minimal = ztp_yang::ReportProgressInput::new(ztp_yang::ProgressType::BootstrapInitiated);
    for doc in [fixtures::progress(), minimal] {
        for (encoding, ext) in ENCODINGS {
            let text = as_operation(&doc.encode(encoding), "input", "report-progress");
            assert_valid(schemas.validate(Some("rpc"), &[SVR], &text, ext));
        }
    }
}

#[test]
fn conveyed_information_via_shadow_module() {
    let schemas = Schemas::shadowed();
    for doc in [fixtures::redirect(), fixtures::onboarding()] {
        for (encoding, ext) in ENCODINGS {
            let text = doc.encode(encoding);
            assert_valid(schemas.validate(None, &["ietf-sztp-conveyed-info"], &text, ext));
        }
    }
}

#[test]
fn registration_and_licenses() {
    let schemas = Schemas::real();
    for (encoding, ext) in ENCODINGS {
        let text = fixtures::registration().encode(encoding);
        assert_valid(schemas.validate(None, &["ztp-device-registration"], &text, ext));
        let text = fixtures::licenses().encode(encoding);
        assert_valid(schemas.validate(None, &["ztp-licenses"], &text, ext));
    }
}

#[test]
fn restconf_errors_via_shadow_module() {
    let schemas = Schemas::shadowed();
    for (encoding, ext) in ENCODINGS {
        let text = fixtures::errors().encode(encoding);
        assert_valid(schemas.validate(None, &["ietf-restconf"], &text, ext));
    }
}

#[test]
fn yanglint_refuses_an_out_of_range_port() {
    let schemas = Schemas::shadowed();
    let xml = fixtures::redirect()
        .to_xml()
        .replacen("<port>443</port>", "<port>99999</port>", 1);
    assert_refused(
        schemas.validate(None, &["ietf-sztp-conveyed-info"], &xml, "xml"),
        "uint16",
    );
    let json = fixtures::redirect()
        .to_json()
        .replacen("\"port\":443", "\"port\":99999", 1);
    assert_refused(
        schemas.validate(None, &["ietf-sztp-conveyed-info"], &json, "json"),
        "uint16",
    );
}

#[test]
fn yanglint_refuses_broken_documents() {
    let schemas = Schemas::real();
    // An owner certificate without its voucher.
    let json = fixtures::output()
        .to_json()
        .replacen(",\"ownership-voucher\":\"BAUG\"", "", 1);
    assert!(!json.contains("ownership-voucher"));
    let text = as_operation(&json, "output", "get-bootstrapping-data");
    assert_refused(
        schemas.validate(Some("reply"), &[SVR, "ztp-licenses"], &text, "json"),
        "ownership-voucher",
    );
    // A 15-byte nonce.
    let json =
        fixtures::input()
            .to_json()
            .replacen("BwcHBwcHBwcHBwcHBwcHBw==", "BwcHBwcHBwcHBwcHBwcH", 1);
    let text = as_operation(&json, "input", "get-bootstrapping-data");
    assert_refused(
        schemas.validate(Some("rpc"), &[SVR], &text, "json"),
        "length",
    );
    // A subscription license without an end date.
    let xml = fixtures::licenses().to_xml().replacen(
        "<not-after>2029-11-23T00:00:00+01:00</not-after>",
        "",
        1,
    );
    assert_refused(
        schemas.validate(None, &["ztp-licenses"], &xml, "xml"),
        "not-after",
    );
    // A registration without a serial number.
    let xml = fixtures::registration().to_xml().replacen(
        "<serial-number>FOC1234X0AB</serial-number>",
        "",
        1,
    );
    assert_refused(
        schemas.validate(None, &["ztp-device-registration"], &xml, "xml"),
        "serial-number",
    );
}
