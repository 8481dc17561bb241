//! RFC 9646 against the real server: a device that offers CSRs is asked for one (400
//! `missing-attribute` with a `csr-request`), sends a CSR that `openssl req` made from a fresh
//! key, and gets onboarding information whose configuration carries its LDevID, which
//! `openssl verify` accepts under the customer's LDevID CA (ztp's own, then an external CA
//! behind an `openssl x509 -req` command); a forged CSR gets nothing.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use ztp_tests::{Server, curl, openssl_cms_verify, success, temp_dir, tool, transcript, yanglint};

use super::OWNER;

const CUSTOMER: &str = "example-customer";
const SERIAL: &str = "SN-0001";
/// DER AlgorithmIdentifier of an EC P-256 key, base64.
const EC_P256: &str = "MBMGByqGSM49AgEGCCqGSM49AwEH";

/// POSTs `input` (the JSON members of the input) as the device; the status and body.
fn post(server: &Server, input: &str) -> (u16, Value) {
    let body = format!(r#"{{"ietf-sztp-bootstrap-server:input":{{{input}}}}}"#);
    let output = server.device_post(
        SERIAL,
        "get-bootstrapping-data",
        &body,
        &["-w", "\n%{http_code}"],
    );
    let text = success(output);
    let (body, status) = text.trim_end().rsplit_once('\n').expect("status line");
    let value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status.parse().unwrap(), value)
}

fn csr_support() -> String {
    format!(
        r#""ietf-sztp-csr:csr-support":{{"key-generation":{{"supported-algorithms":{{"algorithm-identifier":["{EC_P256}"]}}}},"csr-generation":{{"supported-formats":{{"format-identifier":["ietf-ztp-types:p10-csr"]}}}}}}"#
    )
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = tool(
        "openssl",
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    assert!(
        output.status.success(),
        "openssl {args:?} in {}: {}",
        dir.display(),
        transcript(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh P-256 key and a DER CSR for it whose subject claims to be someone else.
fn key_and_csr(dir: &Path, name: &str) -> (String, Vec<u8>) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let (key_s, csr_s) = (key.to_str().unwrap(), csr.to_str().unwrap());
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key_s,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            key_s,
            "-subj",
            "/CN=admin-wannabe",
            "-outform",
            "DER",
            "-out",
            csr_s,
        ],
    );
    (key_s.to_owned(), fs::read(&csr).unwrap())
}

/// The LDevID chain out of a 200 answer: conveyed information verified under the owner CA,
/// its configuration's keystore `cert-data` opened; the leaf's PEM file.
fn ldevid_of(server: &Server, answer: &Value, dir: &Path, name: &str) -> std::path::PathBuf {
    let out = &answer["ietf-sztp-bootstrap-server:output"];
    let cms = STANDARD
        .decode(
            out["conveyed-information"]
                .as_str()
                .expect("conveyed information"),
        )
        .unwrap();
    let (signed, content) = (
        dir.join(format!("{name}.cms")),
        dir.join(format!("{name}.json")),
    );
    fs::write(&signed, cms).unwrap();
    let owner_ca = server.pki().join(OWNER).join("owner-ca.pem");
    success(openssl_cms_verify(&signed, &owner_ca, &content));
    let info: Value = serde_json::from_slice(&fs::read(&content).unwrap()).unwrap();
    let info = &info["ietf-sztp-conveyed-info:onboarding-information"];
    let config = STANDARD
        .decode(info["configuration"].as_str().expect("configuration"))
        .unwrap();
    let config = String::from_utf8(config).unwrap();
    assert!(
        config.starts_with("<system xmlns=\"urn:example:system\">"),
        "the owner's configuration stays first: {config}"
    );
    let cert_data = config
        .split_once("<cert-data>")
        .and_then(|(_, rest)| rest.split_once("</cert-data>"))
        .expect("a keystore certificate")
        .0;
    let bag = dir.join(format!("{name}.p7b"));
    fs::write(&bag, STANDARD.decode(cert_data).unwrap()).unwrap();
    let chain = dir.join(format!("{name}-chain.pem"));
    let (bag_s, chain_s) = (bag.to_str().unwrap(), chain.to_str().unwrap());
    openssl(
        dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            bag_s,
            "-print_certs",
            "-out",
            chain_s,
        ],
    );
    // The first certificate of the chain is the device's.
    let leaf = dir.join(format!("{name}-leaf.pem"));
    openssl(
        dir,
        &["x509", "-in", chain_s, "-out", leaf.to_str().unwrap()],
    );
    leaf
}

fn set_customer(server: &Server, body: &str) -> Value {
    let answer = server.admin_request("PATCH", &format!("/api/v1/customers/{CUSTOMER}"), body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

/// Checks that `leaf` verifies under `ca`, names the serial, and is for `key`'s public key.
fn assert_ldevid(dir: &Path, leaf: &Path, ca: &Path, key: &str) {
    let (leaf_s, ca_s) = (leaf.to_str().unwrap(), ca.to_str().unwrap());
    let verified = openssl(dir, &["verify", "-CAfile", ca_s, leaf_s]);
    assert!(verified.contains(": OK"), "{verified}");
    let subject = openssl(dir, &["x509", "-in", leaf_s, "-noout", "-subject"]);
    assert!(
        subject.contains(&format!("serialNumber = {SERIAL}")),
        "{subject}"
    );
    assert!(
        !subject.contains("admin-wannabe"),
        "the CSR's subject is not trusted: {subject}"
    );
    let issued_key = openssl(dir, &["x509", "-in", leaf_s, "-noout", "-pubkey"]);
    let own_key = openssl(dir, &["pkey", "-in", key, "-pubout"]);
    assert_eq!(issued_key, own_key, "certified for the device's fresh key");
}

#[test]
fn a_csr_is_answered_with_an_ldevid_that_openssl_verifies() {
    let dir = temp_dir();
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();
    // The external CA and the command that fronts it, as an operator would plug one in.
    let (ext_key, ext_ca) = (work.join("ext-ca.key"), work.join("ext-ca.pem"));
    openssl(
        &work,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            ext_key.to_str().unwrap(),
            "-out",
            ext_ca.to_str().unwrap(),
            "-subj",
            "/CN=External LDevID CA",
            "-days",
            "30",
        ],
    );
    let script = work.join("issue.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\nopenssl x509 -req -in /dev/stdin -CA {ca} -CAkey {key} -days 30 \
             -subj \"/CN=$ZTP_SERIAL/serialNumber=$ZTP_SERIAL\"\ncat {ca}\n",
            ca = ext_ca.display(),
            key = ext_key.display()
        ),
    )
    .unwrap();
    let command = serde_json::to_string(&["/bin/sh", script.to_str().unwrap()]).unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &[("ZTP_LDEVID__COMMAND", &command)],
    );
    let config =
        STANDARD.encode("<system xmlns=\"urn:example:system\"><hostname>r1</hostname></system>");
    let onboarding = format!(
        r#"{{"onboarding":{{"ietf-sztp-conveyed-info:onboarding-information":{{"configuration-handling":"merge","configuration":"{config}"}}}}}}"#
    );
    let view = set_customer(&server, &onboarding);
    assert_eq!(view["ldevid_issuer"], "off", "off by default");

    // Off: csr-support changes nothing.
    let (status, usual) = post(&server, &csr_support());
    assert_eq!(status, 200, "{usual}");

    // ztp's CA: asked for a CSR, for a new P-256 key, in PKCS#10.
    let view = set_customer(&server, r#"{"ldevid_issuer":"ztp-ca"}"#);
    let ldevid_ca = work.join("ldevid-ca.pem");
    fs::write(
        &ldevid_ca,
        view["ldevid_ca_pem"].as_str().expect("a generated CA"),
    )
    .unwrap();
    let (status, asked) = post(&server, &csr_support());
    assert_eq!(status, 400, "{asked}");
    let error = &asked["ietf-restconf:errors"]["error"][0];
    assert_eq!(error["error-tag"], "missing-attribute", "{asked}");
    let request = &error["error-info"]["ietf-sztp-csr:csr-request"];
    assert_eq!(
        request["key-generation"]["selected-algorithm"]["algorithm-identifier"],
        EC_P256
    );
    assert_eq!(
        request["csr-generation"]["selected-format"]["format-identifier"],
        "ietf-ztp-types:p10-csr"
    );
    // What the server sent validates against ietf-sztp-csr (yanglint, through the shadow
    // module that declares the sx:structure as a container).
    let document = work.join("csr-request.json");
    fs::write(
        &document,
        serde_json::json!({ "ietf-sztp-csr:csr-request": request }).to_string(),
    )
    .unwrap();
    let modules = [
        "ietf-sztp-csr@2024-10-10.yang",
        "ietf-ztp-types@2024-10-10.yang",
    ];
    if let Err(e) = yanglint(None, &modules, &document) {
        panic!("yanglint refused the server's csr-request:\n{e}");
    }
    // The same exchange in XML.
    let asked = post_xml(&server, &work);
    assert!(asked.ends_with("\n400"), "{asked}");
    assert!(
        asked.contains(r#"<csr-request xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-csr">"#)
            && asked.contains("ietf-ztp-types:p10-csr</format-identifier>")
            && asked.contains("<error-tag>missing-attribute</error-tag>"),
        "{asked}"
    );

    // The CSR: a certificate under the customer's LDevID CA, for the key, naming the serial.
    let (key, csr) = key_and_csr(&work, "device");
    let (status, answer) = post(
        &server,
        &format!(r#""ietf-sztp-csr:p10-csr":"{}""#, STANDARD.encode(&csr)),
    );
    assert_eq!(status, 200, "{answer}");
    let leaf = ldevid_of(&server, &answer, &work, "ztp");
    assert_ldevid(&work, &leaf, &ldevid_ca, &key);

    // A forged CSR (its subject changed after signing): refused, with the reason, nothing issued.
    let forged = replace(&csr, b"admin-wannabe", b"admin-wannabf");
    let (status, refused) = post(
        &server,
        &format!(r#""ietf-sztp-csr:p10-csr":"{}""#, STANDARD.encode(&forged)),
    );
    assert_eq!(status, 400, "{refused}");
    let message = refused["ietf-restconf:errors"]["error"][0]["error-message"]
        .as_str()
        .unwrap();
    assert!(message.contains("proof of possession"), "{message}");
    // A CMP request: refused, p10 asked for.
    let (status, cmp) = post(&server, r#""ietf-sztp-csr:cmp-csr":"MAA=""#);
    assert_eq!(status, 400, "{cmp}");
    assert!(cmp.to_string().contains("send a p10-csr"), "{cmp}");

    // The events say what was asked, issued and refused.
    let events = server.admin_request("GET", &format!("/api/v1/events?serial={SERIAL}"), "");
    for needle in [
        "asked for a ietf-ztp-types:p10-csr CSR",
        "LDevID issued by ztp CA",
        "no proof of possession",
    ] {
        assert!(events.body.contains(needle), "{needle} in {}", events.body);
    }

    // The external CA behind the command.
    let view = set_customer(&server, r#"{"ldevid_issuer":"command"}"#);
    assert_eq!(view["ldevid_issuer"], "command");
    let (key, csr) = key_and_csr(&work, "device2");
    let (status, answer) = post(
        &server,
        &format!(r#""ietf-sztp-csr:p10-csr":"{}""#, STANDARD.encode(&csr)),
    );
    assert_eq!(status, 200, "{answer}");
    let leaf = ldevid_of(&server, &answer, &work, "command");
    assert_ldevid(&work, &leaf, &ext_ca, &key);
    let not_ztp = tool(
        "openssl",
        [
            "verify",
            "-CAfile",
            ldevid_ca.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ],
    );
    assert!(
        !not_ztp.status.success(),
        "issued by the external CA, not ztp's"
    );
}

/// csr-support in XML, over curl as the device; the body and the status on the last line.
fn post_xml(server: &Server, dir: &Path) -> String {
    let device = server.pki().join("devices").join(SERIAL);
    let body = format!(
        "<input xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server\">\
         <csr-support xmlns=\"urn:ietf:params:xml:ns:yang:ietf-sztp-csr\">\
         <key-generation><supported-algorithms>\
         <algorithm-identifier>{EC_P256}</algorithm-identifier>\
         </supported-algorithms></key-generation>\
         <csr-generation><supported-formats>\
         <format-identifier xmlns:zt=\"urn:ietf:params:xml:ns:yang:ietf-ztp-types\">zt:p10-csr</format-identifier>\
         </supported-formats></csr-generation></csr-support></input>"
    );
    let file = dir.join("csr-support.xml");
    fs::write(&file, body).unwrap();
    success(curl([
        "--cacert".into(),
        server
            .pki()
            .join("manufacturer/root-ca.pem")
            .into_os_string(),
        "--cert".into(),
        device.join("idevid.pem").into_os_string(),
        "--key".into(),
        device.join("idevid.key").into_os_string(),
        "-H".into(),
        "Content-Type: application/yang-data+xml".into(),
        "--data-binary".into(),
        format!("@{}", file.display()).into(),
        "-w".into(),
        "\n%{http_code}".into(),
        std::ffi::OsString::from(format!(
            "{}/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data",
            server.device_url
        )),
    ] as [std::ffi::OsString; 13]))
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = haystack
        .windows(from.len())
        .position(|w| w == from)
        .expect("present");
    let mut out = haystack.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}
