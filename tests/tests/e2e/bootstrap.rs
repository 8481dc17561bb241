//! The bootstrap server end to end: the real `ztp serve` on loopback, called by the real device
//! agent and by curl; its answers checked by openssl and yanglint; its refusals checked for
//! status, RESTCONF error body and recorded event.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ztp_tests::device_http::{DeviceAnswer, DeviceRequest, device_request};
use ztp_tests::{
    Server, curl, openssl_cms_verify, success, temp_dir, tool, transcript, yanglint, ztp,
};

const GET_BOOTSTRAPPING_DATA: &str =
    "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";
const REPORT_PROGRESS: &str = "/restconf/operations/ietf-sztp-bootstrap-server:report-progress";
const JSON: &str = "application/yang-data+json";
const XML: &str = "application/yang-data+xml";

/// One HTTPS exchange made with curl, with what these tests check of it.
trait Checked {
    fn json(&self) -> Value;
    /// Asserts a RESTCONF error document with `status` and `tag`.
    fn assert_error(&self, status: u16, tag: &str);
}

impl Checked for DeviceAnswer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn assert_error(&self, status: u16, tag: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        let body = self.text();
        assert!(
            body.contains("ietf-restconf:errors")
                || body.contains("urn:ietf:params:xml:ns:yang:ietf-restconf"),
            "not a RESTCONF error document: {body}"
        );
        assert!(body.contains(tag), "error-tag {tag} missing: {body}");
    }
}

/// A request to the device API.
#[derive(Default)]
struct Req<'a> {
    /// The device whose IDevID authenticates the request (`None`: no client certificate).
    device: Option<&'a Path>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    content_type: Option<&'a str>,
    accept: Option<&'a str>,
    body: Option<Vec<u8>>,
    http1: bool,
}

fn call(server: &Server, req: Req<'_>) -> DeviceAnswer {
    let identity = req
        .device
        .map(|device| (device.join("idevid.pem"), device.join("idevid.key")));
    let mut headers = Vec::new();
    if let Some(content_type) = req.content_type {
        headers.push(format!("Content-Type: {content_type}"));
    }
    if let Some(accept) = req.accept {
        headers.push(format!("Accept: {accept}"));
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    device_request(
        server,
        &DeviceRequest {
            method: req.method.unwrap_or("POST"),
            path: req.path.unwrap_or(GET_BOOTSTRAPPING_DATA),
            identity: identity
                .as_ref()
                .map(|(cert, key)| (cert.as_path(), key.as_path())),
            headers: &headers,
            body: req.body.as_deref(),
            http1: req.http1,
        },
    )
}

fn device(server: &Server, serial: &str) -> PathBuf {
    server.pki().join("devices").join(serial)
}

fn events(server: &Server) -> Vec<Value> {
    let out = success(server.admin(["events", "--limit", "200"]));
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

/// Asserts an event of `kind` with `status` was recorded (optionally for `serial`) whose detail
/// contains `detail`.
fn assert_event(server: &Server, kind: &str, status: u16, serial: Option<&str>, detail: &str) {
    let events = events(server);
    let found = events.iter().any(|e| {
        e["kind"] == kind
            && e["status"] == status
            && serial.is_none_or(|s| e["serial"] == s)
            && e["detail"].as_str().unwrap_or_default().contains(detail)
    });
    assert!(
        found,
        "no {kind} event with status {status} about {detail:?}: {events:#?}"
    );
}

fn agent_json(output: std::process::Output) -> Value {
    serde_json::from_str(&success(output)).unwrap()
}

#[test]
fn a_sample_device_bootstraps_and_every_artifact_verifies_independently() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    // The reference agent: voucher → owner certificate → signature, with a fresh nonce.
    let outcome = agent_json(server.bootstrap("SN-0001", &["--nonce"]));
    assert_eq!(outcome["signed"], true, "{outcome:#}");
    assert_eq!(outcome["voucher"]["serial-number"], "SN-0001");
    assert!(
        outcome["voucher"]["nonce"].is_string(),
        "a nonce yields a voucher that carries it"
    );
    assert_eq!(
        outcome["conveyed-information"]["ietf-sztp-conveyed-info:redirect-information"]["bootstrap-server"]
            [0]["address"],
        "nms.example-customer.example"
    );

    // curl, with the device's key and certificate, gets the same kind of answer...
    let answer = call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0001")),
            content_type: Some(JSON),
            body: Some(br#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"uCPE-100"}}"#.to_vec()),
            ..Req::default()
        },
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.content_type, JSON);
    let output = &answer.json()["ietf-sztp-bootstrap-server:output"];
    let conveyed = BASE64
        .decode(output["conveyed-information"].as_str().unwrap())
        .unwrap();

    // ...whose conveyed information openssl verifies against the owner CA the admin API gives out...
    let work = temp_dir();
    let cms = work.path().join("conveyed.cms");
    fs::write(&cms, &conveyed).unwrap();
    let owner_ca = work.path().join("owner-ca.pem");
    fs::write(
        &owner_ca,
        success(server.admin(["customer", "owner-ca", "example-customer"])),
    )
    .unwrap();
    let content = work.path().join("conveyed.json");
    let verified = openssl_cms_verify(&cms, &owner_ca, &content);
    assert!(
        verified.status.success(),
        "openssl: {}",
        transcript(&verified)
    );

    // ...and that yanglint validates against ietf-sztp-conveyed-info.
    yanglint(None, &["ietf-sztp-conveyed-info@2019-04-30.yang"], &content)
        .unwrap_or_else(|e| panic!("yanglint: {e}\n{}", fs::read_to_string(&content).unwrap()));

    // The voucher verifies against the manufacturer root and names this device.
    let voucher = work.path().join("voucher.cms");
    fs::write(
        &voucher,
        BASE64
            .decode(output["ownership-voucher"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let voucher_json = work.path().join("voucher.json");
    let verified = openssl_cms_verify(
        &voucher,
        &server.pki().join("manufacturer/root-ca.pem"),
        &voucher_json,
    );
    assert!(
        verified.status.success(),
        "openssl: {}",
        transcript(&verified)
    );
    let voucher: Value = serde_json::from_slice(&fs::read(&voucher_json).unwrap()).unwrap();
    assert_eq!(voucher["ietf-voucher:voucher"]["serial-number"], "SN-0001");
    // Bound to the IDevID CA: idevid-issuer is the device certificate's authority key
    // identifier, as openssl reads it.
    let aki = success(tool(
        "openssl",
        [
            "x509",
            "-noout",
            "-ext",
            "authorityKeyIdentifier",
            "-in",
            device(&server, "SN-0001")
                .join("idevid.pem")
                .to_str()
                .unwrap(),
        ],
    ));
    let aki_hex: String = aki
        .lines()
        .last()
        .unwrap()
        .trim()
        .trim_start_matches("keyid:")
        .replace(':', "")
        .to_lowercase();
    let issuer = BASE64
        .decode(
            voucher["ietf-voucher:voucher"]["idevid-issuer"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let issuer_hex: String = issuer.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(issuer_hex, aki_hex, "{aki}");

    assert_event(
        &server,
        "bootstrap-served",
        200,
        Some("SN-0001"),
        "redirect information",
    );
    let newest = &events(&server)[0];
    assert!(
        newest["time"].as_str().is_some_and(|t| t.starts_with("20")),
        "{newest}"
    );
    let shown: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "SN-0001"]))).unwrap();
    assert_eq!(shown["state"], "redirected");
}

#[test]
fn xml_and_json_in_and_out_over_http2_and_http1() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let sn1 = device(&server, "SN-0001");
    let xml_input = br#"<input xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server"><hw-model>uCPE-100</hw-model></input>"#;

    // XML in, no Accept: XML out (RFC 8040: the request's own media type), over HTTP/1.1.
    let answer = call(
        &server,
        Req {
            device: Some(&sn1),
            content_type: Some(XML),
            body: Some(xml_input.to_vec()),
            http1: true,
            ..Req::default()
        },
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.content_type, XML);
    let work = temp_dir();
    let reply = work.path().join("reply.xml");
    // yanglint validates an RPC reply under the RPC's name.
    let text = answer
        .text()
        .replacen("<output ", "<get-bootstrapping-data ", 1)
        .replacen("</output>", "</get-bootstrapping-data>", 1);
    fs::write(&reply, text).unwrap();
    yanglint(
        Some("reply"),
        &["ietf-sztp-bootstrap-server@2019-04-30.yang"],
        &reply,
    )
    .unwrap_or_else(|e| panic!("yanglint: {e}"));

    // An empty body with a YANG media type is an empty input (every input is optional), and
    // the answer comes in that media type.
    for (media, http1) in [(JSON, false), (XML, true)] {
        let answer = call(
            &server,
            Req {
                device: Some(&sn1),
                content_type: Some(media),
                body: Some(Vec::new()),
                http1,
                ..Req::default()
            },
        );
        assert_eq!(answer.status, 200, "{media}: {}", answer.text());
        assert_eq!(answer.content_type, media);
    }

    // XML in, JSON asked for: JSON out. JSON in, XML asked for: XML out.
    let answer = call(
        &server,
        Req {
            device: Some(&sn1),
            content_type: Some(XML),
            accept: Some(JSON),
            body: Some(xml_input.to_vec()),
            ..Req::default()
        },
    );
    assert_eq!((answer.status, answer.content_type.as_str()), (200, JSON));
    let answer = call(
        &server,
        Req {
            device: Some(&sn1),
            content_type: Some("application/yang.data+json"),
            accept: Some(XML),
            body: Some(br#"{"ietf-sztp-bootstrap-server:input":{}}"#.to_vec()),
            ..Req::default()
        },
    );
    assert_eq!((answer.status, answer.content_type.as_str()), (200, XML));

    // No body at all (every input leaf is optional): JSON.
    let answer = call(
        &server,
        Req {
            device: Some(&sn1),
            ..Req::default()
        },
    );
    assert_eq!((answer.status, answer.content_type.as_str()), (200, JSON));

    // report-progress: 204, and an input is required.
    let report = call(
        &server,
        Req {
            device: Some(&sn1),
            path: Some(REPORT_PROGRESS),
            content_type: Some(JSON),
            body: Some(
                br#"{"ietf-sztp-bootstrap-server:input":{"progress-type":"bootstrap-initiated","message":"hello"}}"#
                    .to_vec(),
            ),
            ..Req::default()
        },
    );
    assert_eq!(report.status, 204, "{}", report.text());
    call(
        &server,
        Req {
            device: Some(&sn1),
            path: Some(REPORT_PROGRESS),
            ..Req::default()
        },
    )
    .assert_error(400, "missing-element");
    assert_event(
        &server,
        "progress-reported",
        204,
        Some("SN-0001"),
        "bootstrap-initiated: hello",
    );

    // The agent speaking XML gets XML conveyed information (content type …1.42).
    let outcome = agent_json(server.bootstrap("SN-0001", &["--encoding", "xml"]));
    assert_eq!(outcome["conveyed-encoding"], "xml");

    // Discovery and the RESTCONF root, as devices probe them.
    let meta = call(
        &server,
        Req {
            method: Some("GET"),
            path: Some("/.well-known/host-meta"),
            ..Req::default()
        },
    );
    assert_eq!(meta.status, 200);
    assert!(
        meta.text()
            .contains(r#"<Link rel="restconf" href="/restconf"/>"#)
    );
    let root = call(
        &server,
        Req {
            method: Some("GET"),
            path: Some("/restconf"),
            accept: Some(XML),
            ..Req::default()
        },
    );
    assert_eq!((root.status, root.content_type.as_str()), (200, XML));
    let get = call(
        &server,
        Req {
            method: Some("GET"),
            device: Some(&sn1),
            ..Req::default()
        },
    );
    get.assert_error(405, "operation-not-supported");
}

#[test]
fn refusals_carry_a_status_a_restconf_error_and_an_event() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let sn1 = device(&server, "SN-0001");

    // No client certificate.
    call(&server, Req::default()).assert_error(401, "access-denied");
    assert_event(
        &server,
        "bootstrap-refused",
        401,
        None,
        "no client certificate",
    );

    // A certificate from another manufacturer's CA.
    let other = temp_dir();
    success(ztp([Path::new("pki"), Path::new("init"), other.path()]));
    call(
        &server,
        Req {
            device: Some(&other.path().join("devices/SN-0001")),
            ..Req::default()
        },
    )
    .assert_error(401, "access-denied");
    assert_event(&server, "bootstrap-refused", 401, None, "not trusted");

    // A serial the inventory does not know (a valid IDevID all the same).
    server.issue_device("SN-0999");
    call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0999")),
            ..Req::default()
        },
    )
    .assert_error(401, "access-denied");
    assert_event(
        &server,
        "bootstrap-refused",
        401,
        Some("SN-0999"),
        "not in the inventory",
    );

    // A known device without an owner: nothing configured for it.
    server.issue_device("SN-0100");
    success(server.admin(["device", "add", "SN-0100", "--model", "uCPE-100"]));
    call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0100")),
            ..Req::default()
        },
    )
    .assert_error(404, "data-missing");
    assert_event(
        &server,
        "bootstrap-refused",
        404,
        Some("SN-0100"),
        "has no owner",
    );

    // Malformed XML, malformed JSON, a nonce of the wrong length: 400, never 500.
    let bad = |content_type: &'static str, body: &[u8]| {
        call(
            &server,
            Req {
                device: Some(&sn1),
                content_type: Some(content_type),
                body: Some(body.to_vec()),
                ..Req::default()
            },
        )
    };
    bad(
        XML,
        b"<input xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server\"><hw-model>",
    )
    .assert_error(400, "malformed-message");
    bad(
        JSON,
        b"{\"ietf-sztp-bootstrap-server:input\": {\"hw-model\": ",
    )
    .assert_error(400, "malformed-message");
    bad(
        JSON,
        br#"{"ietf-sztp-bootstrap-server:input":{"nonce":"AAEC"}}"#,
    )
    .assert_error(400, "invalid-value");
    bad(
        XML,
        b"<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><input/>",
    )
    .assert_error(400, "malformed-message");
    assert_event(
        &server,
        "bootstrap-refused",
        400,
        Some("SN-0001"),
        "bad input",
    );

    // A body over the limit (64 KiB by default).
    let mut huge = b"{\"ietf-sztp-bootstrap-server:input\":{\"hw-model\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 70 * 1024));
    huge.extend(b"\"}}");
    // Over HTTP/1.1: curl waits for "100 Continue" before sending the body (see `call`), so
    // the early 413 reaches it cleanly. (Over HTTP/2 the server answers just as early and resets the stream;
    // curl then sometimes reports the reset instead of the answer.)
    call(
        &server,
        Req {
            device: Some(&sn1),
            content_type: Some(JSON),
            body: Some(huge),
            http1: true,
            ..Req::default()
        },
    )
    .assert_error(413, "too-big");
    assert_event(
        &server,
        "bootstrap-refused",
        413,
        Some("SN-0001"),
        "larger than",
    );

    // Media types: an unknown Content-Type is 415, an Accept ztp cannot produce is 406.
    bad("text/plain", b"hello").assert_error(415, "invalid-value");
    assert_event(
        &server,
        "bootstrap-refused",
        415,
        Some("SN-0001"),
        "Content-Type",
    );
    call(
        &server,
        Req {
            device: Some(&sn1),
            accept: Some("text/html"),
            ..Req::default()
        },
    )
    .assert_error(406, "invalid-value");

    // A revoked certificate: refused once the server has re-read the CRL (within a second).
    server.revoke_device("SN-0002");
    let sn2 = device(&server, "SN-0002");
    let mut answer = call(
        &server,
        Req {
            device: Some(&sn2),
            ..Req::default()
        },
    );
    for _ in 0..50 {
        if answer.status == 401 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        answer = call(
            &server,
            Req {
                device: Some(&sn2),
                ..Req::default()
            },
        );
    }
    answer.assert_error(401, "access-denied");
    assert_event(
        &server,
        "bootstrap-refused",
        401,
        Some("SN-0002"),
        "revoked",
    );

    // The agent refuses clearly and exits non-zero.
    let refused = server.bootstrap("SN-0002", &[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        transcript(&refused)
    );

    // Nothing of that reached the inventory: the refused devices are still as they were.
    let listed: Vec<Value> =
        serde_json::from_str(&success(server.admin(["device", "list"]))).unwrap();
    let sn0100 = listed.iter().find(|d| d["serial"] == "SN-0100").unwrap();
    assert_eq!(sn0100["state"], "contacted");
}

#[test]
fn one_device_can_never_obtain_another_devices_data() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    // Whatever the body says, the identity is the certificate's.
    let answer = call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0001")),
            content_type: Some(JSON),
            body: Some(
                br#"{"ietf-sztp-bootstrap-server:input":{"serial-number":"SN-0002"}}"#.to_vec(),
            ),
            ..Req::default()
        },
    );
    answer.assert_error(400, "unknown-element");
    let outcome = agent_json(server.bootstrap("SN-0001", &[]));
    assert_eq!(outcome["voucher"]["serial-number"], "SN-0001");

    // A device pinned to another certificate is refused even with a valid IDevID of its own.
    let sn1_cert = device(&server, "SN-0001").join("idevid.pem");
    success(server.admin([
        "device".as_ref(),
        "set".as_ref(),
        "SN-0002".as_ref(),
        "--pin-certificate".as_ref(),
        sn1_cert.as_os_str(),
    ]));
    call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0002")),
            ..Req::default()
        },
    )
    .assert_error(401, "access-denied");
    assert_event(
        &server,
        "bootstrap-refused",
        401,
        Some("SN-0002"),
        "not the pinned one",
    );

    // Progress from device 1 moves device 1 only.
    agent_json(server.bootstrap("SN-0001", &[]));
    assert_eq!(
        success(server.report("SN-0001", "bootstrap-complete", None)),
        "204"
    );
    let show = |serial: &str| -> Value {
        serde_json::from_str(&success(server.admin(["device", "show", serial]))).unwrap()
    };
    assert_eq!(show("SN-0001")["state"], "completed");
    assert_eq!(show("SN-0003")["state"], "shipped");
}

#[test]
fn profiles_and_rules_shape_the_answer() {
    let dir = temp_dir();
    let server = Server::start(dir.path());

    // Lenient: unsigned JSON, unless the device asks for signed data.
    success(server.admin([
        "customer",
        "set",
        "example-customer",
        "--profile",
        "lenient",
    ]));
    let outcome = agent_json(server.bootstrap("SN-0001", &["--encoding", "xml"]));
    assert_eq!(outcome["signed"], false, "{outcome:#}");
    assert_eq!(outcome["conveyed-encoding"], "json");
    let answer = call(
        &server,
        Req {
            device: Some(&device(&server, "SN-0001")),
            ..Req::default()
        },
    );
    let output = answer.json();
    assert!(
        output["ietf-sztp-bootstrap-server:output"]
            .get("ownership-voucher")
            .is_none()
    );
    let outcome = agent_json(server.bootstrap("SN-0001", &["--signed-data-preferred"]));
    assert_eq!(
        outcome["signed"], true,
        "signed-data-preferred never gets unsigned data"
    );

    // Strict (Cisco IOS-XE): signed JSON conveyed information even in an XML response.
    success(server.admin(["customer", "set", "example-customer", "--profile", "strict"]));
    let outcome = agent_json(server.bootstrap("SN-0001", &["--encoding", "xml"]));
    assert_eq!(
        (
            outcome["signed"].clone(),
            outcome["conveyed-encoding"].clone()
        ),
        (Value::Bool(true), "json".into())
    );

    // Rules: models go to different places.
    success(server.admin([
        "customer",
        "set",
        "example-customer",
        "--profile",
        "standard",
    ]));
    success(server.admin([
        "target",
        "add",
        "example-customer",
        "lab",
        "--address",
        "10.0.0.5",
        "--port",
        "8443",
    ]));
    let rules = dir.path().join("rules.json");
    fs::write(
        &rules,
        r#"[{"name": "lab-boxes", "when": {"hw_model": "LAB-*"}, "redirect": ["lab"]}]"#,
    )
    .unwrap();
    success(server.admin([
        "rules".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        rules.as_os_str(),
    ]));
    let servers = |outcome: &Value| {
        outcome["conveyed-information"]["ietf-sztp-conveyed-info:redirect-information"]["bootstrap-server"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{}:{}", s["address"].as_str().unwrap(), s["port"]))
            .collect::<Vec<_>>()
    };
    let lab = agent_json(server.bootstrap("SN-0001", &["--hw-model", "LAB-7"]));
    assert_eq!(servers(&lab), ["10.0.0.5:8443"]);
    let other = agent_json(server.bootstrap("SN-0001", &["--hw-model", "uCPE-100"]));
    assert_eq!(
        servers(&other),
        ["nms.example-customer.example:443", "10.0.0.5:8443"]
    );

    // A rule naming a target that does not exist is refused, and the rules stay as they were.
    fs::write(&rules, r#"[{"name": "x", "redirect": ["nowhere"]}]"#).unwrap();
    let refused = server.admin([
        "rules".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        rules.as_os_str(),
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("nowhere"),
        "{}",
        transcript(&refused)
    );
    let shown: Value = serde_json::from_str(&success(server.admin([
        "rules",
        "show",
        "example-customer",
    ])))
    .unwrap();
    assert_eq!(shown[0]["name"], "lab-boxes");
}

#[test]
fn a_restart_keeps_inventory_events_and_state() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path());
    let token = fs::read_to_string(dir.path().join("admin-token")).unwrap();
    success(server.admin(["customer", "add", "acme"]));
    success(server.admin(["device", "set", "SN-0003", "--customer", "acme"]));
    let key = dir.path().join("host_ed25519");
    success(tool(
        "ssh-keygen",
        [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "device",
            "-f",
            key.to_str().unwrap(),
        ],
    ));
    let public = format!("{}.pub", key.display());
    agent_json(server.bootstrap("SN-0001", &[]));
    let public = PathBuf::from(public);
    assert_eq!(
        success(server.report("SN-0001", "bootstrap-complete", Some(&public))),
        "204"
    );
    server.stop();

    let server = Server::start(dir.path());
    assert_eq!(
        fs::read_to_string(dir.path().join("admin-token")).unwrap(),
        token
    );
    let device: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "SN-0001"]))).unwrap();
    assert_eq!(device["state"], "completed");
    let moved: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "SN-0003"]))).unwrap();
    assert_eq!(moved["customer"], "acme", "the inventory change survived");
    let progress: Vec<Value> =
        serde_json::from_str(&success(server.admin(["device", "progress", "SN-0001"]))).unwrap();
    let complete = progress
        .iter()
        .find(|p| p["progress_type"] == "bootstrap-complete")
        .unwrap();
    assert_eq!(complete["ssh_host_keys"][0]["algorithm"], "ssh-ed25519");
    assert_event(
        &server,
        "bootstrap-served",
        200,
        Some("SN-0001"),
        "redirect information",
    );
    assert_event(
        &server,
        "progress-reported",
        204,
        Some("SN-0001"),
        "bootstrap-complete",
    );

    // And the device bootstraps again after the restart.
    agent_json(server.bootstrap("SN-0001", &[]));
}

#[test]
fn slow_clients_time_out_and_a_full_server_says_when_to_retry() {
    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__MAX_CONCURRENT_REQUESTS", "1"),
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "3"),
        ],
    );
    let sn1 = device(&server, "SN-0001");
    let work = temp_dir();
    let body = work.path().join("slow.json");
    let mut slow_input = b"{\"ietf-sztp-bootstrap-server:input\":{\"hw-model\":\"".to_vec();
    slow_input.extend(std::iter::repeat_n(b'x', 30 * 1024));
    slow_input.extend(b"\"}}");
    fs::write(&body, slow_input).unwrap();

    // A client that trickles its body (1 KiB/s) holds the only request slot...
    let slow = std::process::Command::new("curl")
        .args([
            "--silent",
            "--max-time",
            "40",
            "--http1.1",
            "--limit-rate",
            "1K",
            "-w",
            "\n%{http_code}",
        ])
        .arg("--cacert")
        .arg(server.pki().join("manufacturer/root-ca.pem"))
        .arg("--cert")
        .arg(sn1.join("idevid.pem"))
        .arg("--key")
        .arg(sn1.join("idevid.key"))
        .args(["-H", &format!("Content-Type: {JSON}")])
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(format!("{}{GET_BOOTSTRAPPING_DATA}", server.device_url))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl runs");
    // Asks must not start before the slow request holds the only slot: an ask holding it when
    // the slow request arrives would have the slow one refused instead.
    std::thread::sleep(std::time::Duration::from_secs(2));

    // ...so another device is told the server is busy, and when to come back. (Polled: the
    // slow request takes its slot once its TLS handshake and head are through.)
    let other = device(&server, "SN-0002");
    let ask = || {
        let answer = curl([
            "-i".to_owned(),
            "--cacert".to_owned(),
            server
                .pki()
                .join("manufacturer/root-ca.pem")
                .display()
                .to_string(),
            "--cert".to_owned(),
            other.join("idevid.pem").display().to_string(),
            "--key".to_owned(),
            other.join("idevid.key").display().to_string(),
            "-X".to_owned(),
            "POST".to_owned(),
            format!("{}{GET_BOOTSTRAPPING_DATA}", server.device_url),
        ]);
        String::from_utf8_lossy(&answer.stdout).to_lowercase()
    };
    let mut busy = ask();
    for _ in 0..40 {
        if busy.lines().next().is_some_and(|l| l.contains(" 503")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        busy = ask();
    }
    assert!(
        busy.lines().next().is_some_and(|l| l.contains(" 503")),
        "{busy}"
    );
    assert!(busy.contains("retry-after: 5"), "{busy}");
    assert!(busy.contains("resource-denied"), "{busy}");

    // The slow body is cut off at the read timeout with 408 and a RESTCONF error.
    let slow = slow.wait_with_output().unwrap();
    let slow = String::from_utf8_lossy(&slow.stdout);
    assert!(slow.ends_with("\n408"), "{slow}");
    assert!(slow.contains("did not arrive in time"), "{slow}");
    assert_event(
        &server,
        "bootstrap-refused",
        408,
        Some("SN-0001"),
        "in time",
    );

    // An oversized request head is refused before any handler runs.
    let big = format!("X-Padding: {}", "y".repeat(40 * 1024));
    let answer = curl([
        "-o".to_owned(),
        "/dev/null".to_owned(),
        "-w".to_owned(),
        "%{http_code}".to_owned(),
        "--http1.1".to_owned(),
        "--cacert".to_owned(),
        server
            .pki()
            .join("manufacturer/root-ca.pem")
            .display()
            .to_string(),
        "-H".to_owned(),
        big,
        format!("{}/.well-known/host-meta", server.device_url),
    ]);
    // hyper answers 431 or, when the head overflows its buffer mid-read, closes the connection.
    let status = String::from_utf8_lossy(&answer.stdout).into_owned();
    assert!(
        status == "431" || status == "000",
        "{status}: {}",
        transcript(&answer)
    );
    let meta = call(
        &server,
        Req {
            method: Some("GET"),
            path: Some("/.well-known/host-meta"),
            ..Req::default()
        },
    );
    assert_eq!(meta.status, 200, "the server goes on serving");
}

#[test]
fn an_owner_can_send_onboarding_information_instead() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let onboarding = dir.path().join("onboarding.json");
    fs::write(
        &onboarding,
        r#"{"ietf-sztp-conveyed-info:onboarding-information": {
            "boot-image": {"os-name": "VendorOS", "os-version": "17.2",
                           "download-uri": ["https://images.example/os-17.2.bin"],
                           "image-verification": [{"hash-algorithm": "ietf-sztp-conveyed-info:sha-256",
                                                   "hash-value": "7b:ca:e7:5d:15:cf:74:a2:44:74:03:ab:44:1a:9f:ab:0b:be:7e:71:8e:e7:0a:b8:53:71:2d:54:1b:ea:35:5c"}]},
            "configuration-handling": "merge",
            "configuration": "aW50ZXJmYWNlIGV0aDAK"}}"#,
    )
    .unwrap();
    success(server.admin([
        "customer".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        "--onboarding".as_ref(),
        onboarding.as_os_str(),
    ]));
    let outcome = agent_json(server.bootstrap("SN-0001", &[]));
    let info = &outcome["conveyed-information"]["ietf-sztp-conveyed-info:onboarding-information"];
    assert_eq!(info["boot-image"]["os-version"], "17.2", "{outcome:#}");
    assert_eq!(outcome["signed"], true);
    let shown: Value =
        serde_json::from_str(&success(server.admin(["device", "show", "SN-0001"]))).unwrap();
    assert_eq!(shown["state"], "onboarding");

    // Unsigned onboarding information only to a device that did not ask for signed data.
    success(server.admin(["customer", "set", "example-customer", "--sign", "false"]));
    let unsigned = agent_json(server.bootstrap("SN-0001", &[]));
    assert_eq!(unsigned["signed"], false);
    let signed = agent_json(server.bootstrap("SN-0001", &["--signed-data-preferred"]));
    assert_eq!(signed["signed"], true);

    // Invalid onboarding information is refused with the reason and changes nothing.
    fs::write(
        &onboarding,
        r#"{"ietf-sztp-conveyed-info:onboarding-information": {"configuration": "!"}}"#,
    )
    .unwrap();
    let refused = server.admin([
        "customer".as_ref(),
        "set".as_ref(),
        "example-customer".as_ref(),
        "--onboarding".as_ref(),
        onboarding.as_os_str(),
    ]);
    assert!(!refused.status.success(), "{}", transcript(&refused));
    let again = agent_json(server.bootstrap("SN-0001", &[]));
    assert!(
        again["conveyed-information"]["ietf-sztp-conveyed-info:onboarding-information"].is_object()
    );
}

#[test]
fn a_burst_of_devices_is_answered_without_losing_any() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let outcomes: Vec<std::process::Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    let serial = format!("SN-000{}", 1 + i % 3);
                    server.bootstrap(&serial, &["--nonce"])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for outcome in outcomes {
        agent_json(outcome);
    }
    let served = events(&server)
        .iter()
        .filter(|e| e["kind"] == "bootstrap-served")
        .count();
    assert_eq!(served, 12, "every answer is recorded");
}

/// Waits for `child` to exit, for at most `limit`; whether it did.
fn exits_within(mut child: std::process::Child, limit: std::time::Duration) -> bool {
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    exited.recv_timeout(limit).is_ok()
}

#[test]
fn connections_that_ask_nothing_are_closed_by_their_deadlines() {
    use std::io::{Read, Write};
    use std::process::Stdio;

    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "1"),
            ("ZTP_DEVICE_API__IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let limit = std::time::Duration::from_secs(20);

    // A device that completes the TLS handshake and then says nothing: openssl s_client keeps
    // its connection until the server closes it (its standard input stays open, unwritten).
    let silent = server
        .s_client("SN-0001")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    assert!(
        exits_within(silent, limit),
        "a silent TLS client was not disconnected"
    );

    // A bare TCP client of the admin listener that sends nothing.
    let admin = server.admin_url.trim_start_matches("http://").to_owned();
    let mut bare = std::net::TcpStream::connect(&admin).unwrap();
    bare.set_read_timeout(Some(limit)).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(bare.read(&mut byte).unwrap(), 0, "closed without a word");

    // A keep-alive client that asked once and then waits: closed after the idle deadline.
    let mut kept = std::net::TcpStream::connect(&admin).unwrap();
    kept.set_read_timeout(Some(limit)).unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {admin}\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = kept.read(&mut chunk).expect("the answer, then the close");
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The server still serves devices.
    assert!(server.bootstrap("SN-0001", &[]).status.success());
}

#[test]
fn one_source_cannot_take_every_connection_slot() {
    use std::io::Read;

    let dir = temp_dir();
    let server = Server::start_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__MAX_CONNECTIONS_PER_SOURCE", "4"),
            // Long deadlines: the held connections stay until the test drops them.
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "60"),
        ],
    );
    let address = server.device_url.trim_start_matches("https://").to_owned();
    // Four idle connections from 127.0.0.1 take its share...
    let held: Vec<std::net::TcpStream> = (0..4)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    // ...so a fifth from it is closed at once (well before any deadline),
    let mut fifth = std::net::TcpStream::connect(&address).unwrap();
    fifth
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(fifth.read(&mut byte).expect("closed, not left hanging"), 0);
    // ...while a device from another address bootstraps as usual.
    let sn1 = device(&server, "SN-0001");
    let answer = curl([
        "-o".to_owned(),
        "/dev/null".to_owned(),
        "-w".to_owned(),
        "%{http_code}".to_owned(),
        "--interface".to_owned(),
        "127.0.0.2".to_owned(),
        "--cacert".to_owned(),
        server
            .pki()
            .join("manufacturer/root-ca.pem")
            .display()
            .to_string(),
        "--cert".to_owned(),
        sn1.join("idevid.pem").display().to_string(),
        "--key".to_owned(),
        sn1.join("idevid.key").display().to_string(),
        "-H".to_owned(),
        format!("Content-Type: {JSON}"),
        "-d".to_owned(),
        r#"{"ietf-sztp-bootstrap-server:input":{}}"#.to_owned(),
        format!("{}{GET_BOOTSTRAPPING_DATA}", server.device_url),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&answer.stdout),
        "200",
        "{}",
        transcript(&answer)
    );
    drop(held);
}

#[test]
fn one_roles_key_never_passes_for_anothers_on_either_side() {
    let dir = temp_dir();
    let mut server = Server::start(dir.path());

    // The agent: anchoring vouchers at the root (which also issues the IDevIDs and the TLS
    // certificate) would let any device's key sign a voucher: refused before connecting.
    let root = server.pki().join("manufacturer/root-ca.pem");
    let refused = server.bootstrap("SN-0001", &["--voucher-ca", root.to_str().unwrap()]);
    assert!(!refused.status.success());
    let said = transcript(&refused);
    assert!(
        said.contains("trust anchors") && said.contains("voucher signer"),
        "{said}"
    );
    assert!(
        events(&server).iter().all(|e| e["serial"] != "SN-0001"),
        "the agent never called"
    );
    server.stop();

    // The server: device anchors at the root (the configuration of earlier releases) would let
    // the voucher and license signers' keys (and the TLS key) pass for devices', and a device
    // anchoring vouchers there would take any of them: ztp refuses to start.
    let mut serve = ztp_tests::serve_command(dir.path());
    serve
        .env(
            "ZTP_MANUFACTURER__TRUST_ANCHORS",
            r#"["pki/manufacturer/root-ca.pem"]"#,
        )
        .env(
            "ZTP_MANUFACTURER__INTERMEDIATES",
            r#"["pki/manufacturer/idevid-ca.pem"]"#,
        );
    let text = ztp_tests::refused_start(serve);
    assert!(
        text.contains("let one role's key pass for another's"),
        "{text}"
    );
}
