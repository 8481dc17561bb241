//! Devices as they exist in the field, against the real server: a device family's quirks
//! shape the answer whatever the customer's profile (an IOS-XE switch gets signed JSON
//! conveyed information in an XML reply, checked by openssl), the YANG library the RESTCONF
//! root advertises is served (checked by yanglint), trust anchors a device reports are checked
//! before they are kept, and a refused certificate's serial files the refusal in the device's
//! timeline, said to be claimed when the certificate is not trusted.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ztp_certs::{Cert, cms, oid};
use ztp_tests::device_http::{DeviceRequest, device_request};
use ztp_tests::{
    Server, openssl_cms_print, openssl_cms_verify, success, temp_dir, transcript, yanglint,
};

const GET_BOOTSTRAPPING_DATA: &str =
    "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";
const YANG_LIBRARY: &str = "/restconf/data/ietf-yang-library:yang-library";
const MODULES_STATE: &str = "/restconf/data/ietf-yang-library:modules-state";
const JSON: &str = "application/yang-data+json";
const XML: &str = "application/yang-data+xml";

/// One HTTPS exchange made with curl: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// `method` on `path` of the device API, as the device whose IDevID and key are `identity`
/// (none: no client certificate), with headers and a body.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    identity: Option<(&Path, &Path)>,
    headers: &[&str],
    body: Option<&str>,
) -> Answer {
    let answer = device_request(
        server,
        &DeviceRequest {
            method,
            path,
            identity,
            headers,
            body: body.map(str::as_bytes),
            http1: false,
        },
    );
    Answer {
        status: answer.status,
        body: answer.text(),
        content_type: answer.content_type,
    }
}

/// The IDevID and key of a device of the server's development PKI.
fn device(server: &Server, serial: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = server.pki().join("devices").join(serial);
    (dir.join("idevid.pem"), dir.join("idevid.key"))
}

/// get-bootstrapping-data in XML as `serial`, sending `hw-model`.
fn xml_bootstrap(server: &Server, serial: &str, hw_model: &str) -> Answer {
    let (cert, key) = device(server, serial);
    let input = format!(
        "<input xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server\">\
         <hw-model>{hw_model}</hw-model></input>"
    );
    call(
        server,
        "POST",
        GET_BOOTSTRAPPING_DATA,
        Some((&cert, &key)),
        &[&format!("Content-Type: {XML}")],
        Some(&input),
    )
}

/// The text of the first `<name>` element of an XML document.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

fn events(server: &Server) -> Vec<Value> {
    serde_json::from_str(&success(server.admin(["events", "--limit", "200"]))).unwrap()
}

/// The events of `kind` whose detail contains `detail`.
fn events_like(server: &Server, kind: &str, detail: &str) -> Vec<Value> {
    events(server)
        .into_iter()
        .filter(|e| e["kind"] == kind && e["detail"].as_str().unwrap_or("").contains(detail))
        .collect()
}

#[test]
fn an_ios_xe_switch_of_a_default_profile_customer_gets_signed_json_in_an_xml_reply() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    // The customer is on the default profile and does not even sign: only the family can make
    // this answer signed JSON.
    success(server.admin(["customer", "set", "example-customer", "--sign", "false"]));

    let answer = xml_bootstrap(&server, "SN-0001", "C9300-24T");
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, XML),
        "{}",
        answer.body
    );
    let work = temp_dir();
    let reply = work.path().join("reply.xml");
    // yanglint validates an RPC reply under the RPC's name.
    let text = answer
        .body
        .replacen("<output ", "<get-bootstrapping-data ", 1)
        .replacen("</output>", "</get-bootstrapping-data>", 1);
    fs::write(&reply, text).unwrap();
    yanglint(
        Some("reply"),
        &["ietf-sztp-bootstrap-server@2019-04-30.yang"],
        &reply,
    )
    .unwrap_or_else(|e| panic!("yanglint: {e}"));
    assert!(
        element(&answer.body, "ownership-voucher").is_some(),
        "{}",
        answer.body
    );
    assert!(
        !answer.body.contains("license-bundle"),
        "core fields only: {}",
        answer.body
    );

    // The conveyed information is CMS signed by the owner, of the JSON content type.
    let conveyed = BASE64
        .decode(
            element(&answer.body, "conveyed-information")
                .unwrap()
                .trim(),
        )
        .unwrap();
    let (cms_file, content) = (
        work.path().join("conveyed.cms"),
        work.path().join("conveyed"),
    );
    fs::write(&cms_file, &conveyed).unwrap();
    let owner_ca = work.path().join("owner-ca.pem");
    fs::write(
        &owner_ca,
        success(server.admin(["customer", "owner-ca", "example-customer"])),
    )
    .unwrap();
    let verified = openssl_cms_verify(&cms_file, &owner_ca, &content);
    assert!(
        verified.status.success(),
        "openssl: {}",
        transcript(&verified)
    );
    let printed = openssl_cms_print(&cms_file);
    assert!(
        printed.contains(&oid::ID_CT_SZTP_CONVEYED_INFO_JSON.to_string()),
        "not id-ct-sztpConveyedInfoJSON: {printed}"
    );
    let json: Value = serde_json::from_slice(&fs::read(&content).unwrap()).unwrap();
    assert!(
        json["ietf-sztp-conveyed-info:redirect-information"].is_object(),
        "{json}"
    );
    assert_eq!(
        events_like(&server, "bootstrap-served", "device family ios-xe").len(),
        1,
        "the family that shaped the answer is recorded"
    );

    // A device of no family, same customer: the profile alone, so unsigned and in XML.
    let answer = xml_bootstrap(&server, "SN-0001", "uCPE-100");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        element(&answer.body, "ownership-voucher").is_none(),
        "{}",
        answer.body
    );
    assert_eq!(
        events_like(&server, "bootstrap-served", "device family").len(),
        1
    );

    // A switch that sends no hw-model is known by the product id its SUDI-style IDevID names
    // (serialNumber=PID:C9300-48P SN:…).
    success(ztp_tests::ztp([
        "pki".as_ref(),
        "issue-device".as_ref(),
        "--pki".as_ref(),
        server.pki().as_os_str(),
        "--serial".as_ref(),
        "FOC2231X0AB".as_ref(),
        "--model".as_ref(),
        "C9300-48P".as_ref(),
        "--placement".as_ref(),
        "udi".as_ref(),
    ] as [&std::ffi::OsStr; 10]));
    success(server.admin([
        "device",
        "add",
        "FOC2231X0AB",
        "--model",
        "C9300-48P",
        "--customer",
        "example-customer",
    ]));
    let (cert, key) = device(&server, "FOC2231X0AB");
    let answer = call(
        &server,
        "POST",
        GET_BOOTSTRAPPING_DATA,
        Some((&cert, &key)),
        &[&format!("Content-Type: {XML}")],
        Some("<input xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server\"/>"),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        element(&answer.body, "ownership-voucher").is_some(),
        "{}",
        answer.body
    );
    let served = events_like(&server, "bootstrap-served", "device family ios-xe");
    assert!(
        served.iter().any(|e| e["serial"] == "FOC2231X0AB"),
        "{served:#?}"
    );
}

#[test]
fn the_operator_adds_families_and_switches_built_in_ones_off() {
    let dir = temp_dir();
    let families = r#"[{name="ios-xe",models=[]},
        {name="white-box",models=["uCPE-*"],always_signed=true},
        {name="opi-sztp",models=["S2600*"]}]"#;
    let server = Server::start_with(dir.path(), &[("ZTP_DEVICE_FAMILIES", families)]);

    // The OPI agent decodes with unknown fields disallowed, and its output holds only
    // conveyed-information: a customer who signs still sends it nothing else.
    let (cert, key) = device(&server, "SN-0001");
    let answer = call(
        &server,
        "POST",
        GET_BOOTSTRAPPING_DATA,
        Some((&cert, &key)),
        &[&format!("Content-Type: {JSON}")],
        Some(r#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"S2600WF"}}"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let output: Value = serde_json::from_str(&answer.body).unwrap();
    let output = output["ietf-sztp-bootstrap-server:output"]
        .as_object()
        .unwrap();
    assert_eq!(
        output.keys().collect::<Vec<_>>(),
        ["conveyed-information"],
        "{output:?}"
    );
    assert_eq!(
        events_like(&server, "bootstrap-served", "device family opi-sztp").len(),
        1
    );

    success(server.admin(["customer", "set", "example-customer", "--sign", "false"]));

    let answer = xml_bootstrap(&server, "SN-0001", "C9300-24T");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        element(&answer.body, "ownership-voucher").is_none(),
        "ios-xe is off: {}",
        answer.body
    );
    let answer = xml_bootstrap(&server, "SN-0001", "uCPE-100");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        element(&answer.body, "ownership-voucher").is_some(),
        "{}",
        answer.body
    );
    assert_eq!(
        events_like(&server, "bootstrap-served", "device family white-box").len(),
        1
    );
}

#[test]
fn the_yang_library_the_root_advertises_is_served_in_both_encodings() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    let json = call(
        &server,
        "GET",
        YANG_LIBRARY,
        None,
        &[&format!("Accept: {JSON}")],
        None,
    );
    assert_eq!(
        (json.status, json.content_type.as_str()),
        (200, JSON),
        "{}",
        json.body
    );
    let library: Value = serde_json::from_str(&json.body).unwrap();
    let library = &library["ietf-yang-library:yang-library"];
    let modules = library["module-set"][0]["module"].as_array().unwrap();
    assert!(
        modules
            .iter()
            .any(|m| m["name"] == "ietf-sztp-bootstrap-server" && m["revision"] == "2019-04-30"),
        "{library:#}"
    );
    assert!(
        library["content-id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let xml = call(
        &server,
        "GET",
        YANG_LIBRARY,
        None,
        &[&format!("Accept: {XML}")],
        None,
    );
    assert_eq!(
        (xml.status, xml.content_type.as_str()),
        (200, XML),
        "{}",
        xml.body
    );
    let state = call(
        &server,
        "GET",
        MODULES_STATE,
        None,
        &[&format!("Accept: {XML}")],
        None,
    );
    assert_eq!(
        (state.status, state.content_type.as_str()),
        (200, XML),
        "{}",
        state.body
    );
    let id = library["content-id"].as_str().unwrap();
    assert!(
        xml.body.contains(id) && state.body.contains(id),
        "one digest"
    );
    // The two trees, as the operational datastore holds them: yanglint validates a whole
    // datastore (every mandatory node, leafref and identity).
    let work = temp_dir();
    let document = work.path().join("yang-library.xml");
    fs::write(&document, format!("{}\n{}", xml.body, state.body)).unwrap();
    let modules = [
        "ietf-yang-library@2019-01-04.yang",
        "ietf-datastores@2018-02-14.yang",
    ];
    yanglint(None, &modules, &document)
        .unwrap_or_else(|e| panic!("yanglint: {e}\n{}\n{}", xml.body, state.body));
    // And it does refuse a library that breaks the module: a datastore of no schema.
    let broken = xml
        .body
        .replace("<schema>ztp-device-api</schema>", "<schema>x</schema>");
    assert_ne!(broken, xml.body);
    fs::write(&document, format!("{broken}\n{}", state.body)).unwrap();
    assert!(yanglint(None, &modules, &document).is_err());

    // Read-only, and only in the YANG media types.
    let delete = call(&server, "DELETE", YANG_LIBRARY, None, &[], None);
    assert_eq!(delete.status, 405, "{}", delete.body);
    assert!(
        delete.body.contains("operation-not-supported"),
        "{}",
        delete.body
    );
    let text = call(
        &server,
        "GET",
        YANG_LIBRARY,
        None,
        &["Accept: text/html"],
        None,
    );
    assert_eq!(text.status, 406, "{}", text.body);
}

/// A report-progress of bootstrap-complete as `serial` with these trust anchors (DER).
fn complete_with_anchors(server: &Server, serial: &str, anchors: &[Vec<u8>]) -> Answer {
    let (cert, key) = device(server, serial);
    let anchors: Vec<Value> = anchors.iter().map(|a| BASE64.encode(a).into()).collect();
    let body = serde_json::json!({"ietf-sztp-bootstrap-server:input": {
        "progress-type": "bootstrap-complete",
        "trust-anchor-certs": {"trust-anchor-cert": anchors}}});
    call(
        server,
        "POST",
        "/restconf/operations/ietf-sztp-bootstrap-server:report-progress",
        Some((&cert, &key)),
        &[&format!("Content-Type: {JSON}")],
        Some(&body.to_string()),
    )
}

#[test]
fn reported_trust_anchors_must_be_certificates_only_cms_of_ca_certificates() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let owner_ca = Cert::from_pem(&success(server.admin([
        "customer",
        "owner-ca",
        "example-customer",
    ])))
    .unwrap();
    let (idevid, _) = device(&server, "SN-0001");
    let leaf = Cert::from_pem(&fs::read_to_string(idevid).unwrap()).unwrap();

    // A device certificate is no trust anchor: refused, named, recorded, nothing kept.
    let bad = cms::certificates_only(&[owner_ca.clone(), leaf]).unwrap();
    let answer = complete_with_anchors(&server, "SN-0001", &[bad]);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("invalid-value"), "{}", answer.body);
    assert!(
        answer.body.contains("is not a CA certificate"),
        "{}",
        answer.body
    );
    let refused = events_like(&server, "progress-refused", "is not a CA certificate");
    assert_eq!(refused.len(), 1, "{:#?}", events(&server));
    assert_eq!(refused[0]["serial"], "SN-0001");
    assert!(events_like(&server, "progress-reported", "bootstrap-complete").is_empty());

    // Bytes that are no CMS at all.
    let answer = complete_with_anchors(&server, "SN-0001", &[b"\x30\x03\x02\x01\x01".to_vec()]);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("not a CMS structure"),
        "{}",
        answer.body
    );

    // The owner's CA as a certificates-only structure is what RFC 8572 asks for.
    let good = cms::certificates_only(&[owner_ca]).unwrap();
    let answer = complete_with_anchors(&server, "SN-0001", &[good]);
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(
        events_like(&server, "progress-reported", "bootstrap-complete").len(),
        1
    );
}

#[test]
fn a_refused_certificate_files_the_refusal_under_its_serial_claimed_when_untrusted() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let work = temp_dir();
    let (cert, key) = (
        work.path().join("forged.pem"),
        work.path().join("forged.key"),
    );
    ztp_tests::self_signed("/CN=forger/serialNumber=SN-0001", &cert, &key);
    let answer = call(
        &server,
        "POST",
        GET_BOOTSTRAPPING_DATA,
        Some((&cert, &key)),
        &[&format!("Content-Type: {JSON}")],
        Some("{}"),
    );
    assert_eq!(answer.status, 401, "{}", answer.body);
    let refused = events_like(
        &server,
        "bootstrap-refused",
        "serial SN-0001 claimed by an untrusted certificate",
    );
    assert_eq!(refused.len(), 1, "{:#?}", events(&server));
    assert_eq!(refused[0]["serial"], "SN-0001", "in the device's timeline");

    // The device's own certificate, refused after authentication (an unknown encoding), is
    // filed under its serial without the word "claimed".
    let (cert, key) = device(&server, "SN-0001");
    let answer = call(
        &server,
        "POST",
        GET_BOOTSTRAPPING_DATA,
        Some((&cert, &key)),
        &["Content-Type: text/plain"],
        Some("hello"),
    );
    assert_eq!(answer.status, 415, "{}", answer.body);
    let refused: Vec<Value> = events(&server)
        .into_iter()
        .filter(|e| e["kind"] == "bootstrap-refused" && e["status"] == 415)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["serial"], "SN-0001");
    assert!(!refused[0]["detail"].as_str().unwrap().contains("claimed"));
}
