//! Hostile and broken input is refused with the right typed error.

use ztp_yang::*;

const SVR_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server";

fn input_xml(body: &str) -> Vec<u8> {
    format!("<input xmlns=\"{SVR_NS}\">{body}</input>").into_bytes()
}

#[test]
fn doctype_and_external_entities() {
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE input [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
         <input xmlns=\"{SVR_NS}\"><hw-model>&xxe;</hw-model></input>"
    );
    assert_eq!(
        GetBootstrappingDataInput::from_xml(xxe.as_bytes()),
        Err(DecodeError::DocType)
    );
    let billion_laughs = "<!DOCTYPE a [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><a>&b;</a>";
    assert_eq!(
        ConveyedInformation::from_xml(billion_laughs.as_bytes()),
        Err(DecodeError::DocType)
    );
    assert_eq!(
        GetBootstrappingDataInput::from_xml(&input_xml("<hw-model>&xxe;</hw-model>")),
        Err(DecodeError::UnknownEntity("xxe".into()))
    );
}

#[test]
fn predefined_entities_work() {
    let input = GetBootstrappingDataInput::from_xml(&input_xml(
        "<hw-model>a &amp; b &lt;c&gt; &#233;</hw-model>",
    ))
    .unwrap();
    assert_eq!(input.hw_model.as_deref(), Some("a & b <c> é"));
}

#[test]
fn wrong_namespace_and_root() {
    let wrong_ns = b"<input xmlns=\"urn:example:other\"/>";
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(wrong_ns),
        Err(DecodeError::WrongNamespace { .. })
    ));
    let no_ns = b"<input><hw-model>x</hw-model></input>";
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(no_ns),
        Err(DecodeError::WrongNamespace { .. })
    ));
    let child_ns = format!(
        "<input xmlns=\"{SVR_NS}\"><hw-model xmlns=\"urn:example:other\">x</hw-model></input>"
    );
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(child_ns.as_bytes()),
        Err(DecodeError::UnknownElement { .. })
    ));
    let wrong_root = format!("<output xmlns=\"{SVR_NS}\"/>");
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(wrong_root.as_bytes()),
        Err(DecodeError::WrongRoot { .. })
    ));
    let json = br#"{"ietf-sztp-bootstrap-server:output":{}}"#;
    assert!(matches!(
        GetBootstrappingDataInput::from_json(json),
        Err(DecodeError::WrongRoot { .. })
    ));
    let json = br#"{"ietf-restconf:input":{}}"#;
    assert!(matches!(
        GetBootstrappingDataInput::from_json(json),
        Err(DecodeError::WrongNamespace { .. })
    ));
    let json = br#"{"acme-unknown:input":{}}"#;
    assert!(matches!(
        GetBootstrappingDataInput::from_json(json),
        Err(DecodeError::UnknownModule(_))
    ));
}

#[test]
fn oversized_input() {
    let big = input_xml(&format!(
        "<hw-model>{}</hw-model>",
        "x".repeat(DEFAULT_MAX_INPUT)
    ));
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(&big),
        Err(DecodeError::TooLarge {
            limit: DEFAULT_MAX_INPUT,
            ..
        })
    ));
    let small = input_xml("<hw-model>x</hw-model>");
    assert!(matches!(
        GetBootstrappingDataInput::decode_limited(Encoding::Xml, &small, 10),
        Err(DecodeError::TooLarge { limit: 10, .. })
    ));
    assert!(GetBootstrappingDataInput::decode_limited(Encoding::Xml, &small, small.len()).is_ok());
}

#[test]
fn nonce_length_is_typed() {
    for (len, ok) in [(15, false), (16, true), (32, true), (33, false)] {
        let nonce = base64_of(&vec![0xa5; len]);
        let json = format!(r#"{{"ietf-sztp-bootstrap-server:input":{{"nonce":"{nonce}"}}}}"#);
        let xml = input_xml(&format!("<nonce>{nonce}</nonce>"));
        for result in [
            GetBootstrappingDataInput::from_json(json.as_bytes()),
            GetBootstrappingDataInput::from_xml(&xml),
        ] {
            if ok {
                assert_eq!(result.unwrap().nonce.unwrap().as_bytes().len(), len);
            } else {
                assert_eq!(
                    result,
                    Err(DecodeError::Invalid(ValidationError::NonceLength { len }))
                );
            }
        }
    }
    assert_eq!(
        Nonce::new(vec![0; 33]),
        Err(ValidationError::NonceLength { len: 33 })
    );
}

fn base64_of(bytes: &[u8]) -> String {
    // Independent of the crate under test: a tiny RFC 4648 encoder.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn invalid_base64() {
    let xml = input_xml("<nonce>not*base64!</nonce>");
    assert_eq!(
        GetBootstrappingDataInput::from_xml(&xml),
        Err(DecodeError::InvalidBase64("nonce".into()))
    );
    let json = br#"{"ietf-sztp-bootstrap-server:output":{"conveyed-information":"%%%"}}"#;
    assert_eq!(
        GetBootstrappingDataOutput::from_json(json),
        Err(DecodeError::InvalidBase64("conveyed-information".into()))
    );
}

#[test]
fn unknown_elements_and_members() {
    let xml = input_xml("<hw-model>x</hw-model><serial-number>S</serial-number>");
    assert_eq!(
        GetBootstrappingDataInput::from_xml(&xml),
        Err(DecodeError::UnknownElement {
            parent: "input".into(),
            element: "serial-number".into()
        })
    );
    let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a","port":1,"weight":5}]}}"#;
    assert!(matches!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::UnknownElement { .. })
    ));
    let json = br#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"a","hw-model":"b"}}"#;
    assert!(matches!(
        GetBootstrappingDataInput::from_json(json),
        Err(DecodeError::MalformedJson(_))
    ));
    let xml = input_xml("<hw-model>a</hw-model><hw-model>b</hw-model>");
    assert_eq!(
        GetBootstrappingDataInput::from_xml(&xml),
        Err(DecodeError::Duplicate("hw-model".into()))
    );
    let xml = format!("<input xmlns=\"{SVR_NS}\" onclick=\"x\"/>");
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(xml.as_bytes()),
        Err(DecodeError::UnexpectedAttribute { .. })
    ));
}

#[test]
fn malformed_documents() {
    for xml in [
        "",
        "<input",
        "<input xmlns=\"x\"></output>",
        "<input xmlns=\"x\">",
        "not xml",
        "<a/><b/>",
    ] {
        assert!(
            matches!(
                GetBootstrappingDataInput::from_xml(xml.as_bytes()),
                Err(DecodeError::MalformedXml(_))
            ),
            "{xml}"
        );
    }
    for json in [
        "",
        "{",
        "[1]",
        "null",
        "{\"a:b\":1} x",
        "{\"ietf-sztp-bootstrap-server:input\":{}",
    ] {
        assert!(
            matches!(
                GetBootstrappingDataInput::from_json(json.as_bytes()),
                Err(DecodeError::MalformedJson(_))
            ),
            "{json}"
        );
    }
    assert_eq!(
        GetBootstrappingDataInput::from_json(&[0xc3, 0x28]),
        Err(DecodeError::NotUtf8)
    );
}

#[test]
fn out_of_range_and_invalid_values() {
    let json = br#"{"ietf-sztp-bootstrap-server:input":{"progress-type":"bootstrap-finished"}}"#;
    assert!(matches!(
        ReportProgressInput::from_json(json),
        Err(DecodeError::InvalidValue { .. })
    ));
    let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a","port":-1}]}}"#;
    assert!(matches!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::InvalidValue { .. })
    ));
    let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a","port":443.0}]}}"#;
    assert!(matches!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::InvalidValue { .. })
    ));
    let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"not a host"}]}}"#;
    assert!(matches!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::Invalid(ValidationError::InvalidHost(_)))
    ));
    let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a"},{"address":"a"}]}}"#;
    assert!(matches!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::Invalid(ValidationError::DuplicateKey { .. }))
    ));
    let json = br#"{"ietf-sztp-conveyed-info:onboarding-information":{"boot-image":{"image-verification":[{"hash-algorithm":"sha-256","hash-value":"00"}]}}}"#;
    assert_eq!(
        ConveyedInformation::from_json(json),
        Err(DecodeError::Invalid(
            ValidationError::ImageVerificationWithoutUri
        ))
    );
    let xml = crate::fixtures::registration()
        .to_xml()
        .replace("2026-11-23T10:15:30.5Z", "2026-11-23 10:15:30Z");
    assert!(matches!(
        DeviceRegistration::from_xml(xml.as_bytes()),
        Err(DecodeError::InvalidValue { .. })
    ));
    let xml = crate::fixtures::licenses()
        .to_xml()
        .replace("<count>4</count>", "<count>0</count>");
    assert!(matches!(
        LicenseBundle::from_xml(xml.as_bytes()),
        Err(DecodeError::InvalidValue { .. })
    ));
    let json = crate::fixtures::licenses()
        .to_json()
        .replace(",\"not-after\":\"2029-11-23T00:00:00+01:00\"", "");
    assert_eq!(
        LicenseBundle::from_json(json.as_bytes()),
        Err(DecodeError::Invalid(ValidationError::MissingNotAfter(
            "LIC-0001".into()
        )))
    );
    let xml = input_xml("<hw-model>a\u{1}b</hw-model>");
    assert!(matches!(
        GetBootstrappingDataInput::from_xml(&xml),
        Err(DecodeError::MalformedXml(_) | DecodeError::InvalidValue { .. })
    ));
}

#[test]
fn encode_checked_refuses_invalid_values() {
    let empty = ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![],
    });
    assert_eq!(
        empty.encode_checked(Encoding::Json),
        Err(ValidationError::NoBootstrapServer)
    );
    let mut bundle = crate::fixtures::licenses();
    bundle.licenses[0].feature = "bad tag".into();
    assert!(matches!(
        bundle.encode_checked(Encoding::Xml),
        Err(ValidationError::InvalidFeatureTag(_))
    ));
    assert!(
        crate::fixtures::licenses()
            .encode_checked(Encoding::Xml)
            .is_ok()
    );
}
