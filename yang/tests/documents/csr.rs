//! RFC 9646 documents validate with yanglint: the input with `csr-support` or `csr` against
//! `ietf-sztp-csr`, and the `csr-request` of an error's `error-info` (through a shadow module,
//! since yanglint 2.1 cannot validate `sx:structure` instances).

use ztp_yang::{
    Csr, CsrFormat, CsrMessage, CsrRequest, CsrSupport, Document, Encoding, ErrorInfo, ErrorTag,
    ErrorType, GetBootstrappingDataInput, InputWithCsr, RestconfError, RestconfErrors,
};

use crate::support::{Schemas, as_operation};

const ENCODINGS: [(Encoding, &str); 2] = [(Encoding::Xml, "xml"), (Encoding::Json, "json")];
const MODULES: &[&str] = &[
    "ietf-sztp-bootstrap-server",
    "ietf-sztp-csr",
    "ietf-ztp-types",
];
const EC_P256: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];

fn inputs() -> Vec<InputWithCsr> {
    vec![
        InputWithCsr {
            input: GetBootstrappingDataInput::default(),
            csr: Some(CsrMessage::Support(CsrSupport {
                key_generation: Some(vec![EC_P256.to_vec()]),
                formats: vec![CsrFormat::P10, CsrFormat::Cmc],
            })),
        },
        InputWithCsr {
            input: GetBootstrappingDataInput::default(),
            csr: Some(CsrMessage::Support(CsrSupport {
                key_generation: None,
                formats: vec![CsrFormat::P10],
            })),
        },
        InputWithCsr {
            input: GetBootstrappingDataInput {
                os_name: Some("AcmeOS".into()),
                ..Default::default()
            },
            csr: Some(CsrMessage::Csr(Csr::P10(vec![0x30, 0x00]))),
        },
    ]
}

#[test]
fn inputs_with_csr_validate() {
    let schemas = Schemas::real();
    for doc in inputs() {
        for (encoding, ext) in ENCODINGS {
            let text = as_operation(&doc.encode(encoding), "input", "get-bootstrapping-data");
            if let Err(e) = schemas.validate(Some("rpc"), MODULES, &text, ext) {
                panic!("yanglint refused:\n{e}");
            }
        }
    }
}

#[test]
fn an_input_with_both_cases_is_refused_by_yanglint_too() {
    let schemas = Schemas::real();
    let json = inputs()[0].to_json().replacen(
        r#""ietf-sztp-csr:csr-support""#,
        r#""ietf-sztp-csr:p10-csr":"MAA=","ietf-sztp-csr:csr-support""#,
        1,
    );
    let text = as_operation(&json, "input", "get-bootstrapping-data");
    assert!(
        schemas
            .validate(Some("rpc"), MODULES, &text, "json")
            .is_err()
    );
}

#[test]
fn csr_request_in_error_info_validates() {
    let schemas = Schemas::shadowed();
    for key_generation in [Some(EC_P256.to_vec()), None] {
        let mut error = RestconfError::new(
            ErrorType::Application,
            ErrorTag::MissingAttribute,
            "send a CSR",
        );
        error.error_info = Some(ErrorInfo::CsrRequest(CsrRequest {
            key_generation,
            format: CsrFormat::P10,
            cert_req_info: None,
        }));
        for (encoding, ext) in ENCODINGS {
            // The csr-request alone, as a top-level node of the shadow module.
            let doc = RestconfErrors::single(error.clone()).encode(encoding);
            let request = extract_csr_request(&doc, encoding);
            if let Err(e) =
                schemas.validate(None, &["ietf-sztp-csr", "ietf-ztp-types"], &request, ext)
            {
                panic!("yanglint refused:\n{e}");
            }
        }
    }
}

/// The `csr-request` node out of an errors document.
fn extract_csr_request(doc: &str, encoding: Encoding) -> String {
    match encoding {
        Encoding::Xml => {
            let start = doc.find("<csr-request").expect("csr-request");
            let end = doc.find("</csr-request>").expect("end") + "</csr-request>".len();
            doc[start..end].to_owned()
        }
        Encoding::Json => {
            let value: serde_json::Value = serde_json::from_str(doc).expect("json");
            let request = &value["ietf-restconf:errors"]["error"][0]["error-info"];
            request.to_string()
        }
    }
}
