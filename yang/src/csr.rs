//! RFC 9646: a certificate signing request in the `get-bootstrapping-data` input.
//!
//! A device says how it can make a CSR (`csr-support`) or sends one (`csr`), the two cases of
//! the `msg-type` choice that `ietf-sztp-csr` augments into the input; a server that wants a
//! CSR answers 400 `missing-attribute` with a `csr-request` structure in the error's
//! `error-info`. All these nodes are in the `ietf-sztp-csr` namespace (the groupings of
//! `ietf-ztp-types` take the namespace of the module that uses them); the request formats are
//! identities of `ietf-ztp-types`.

use crate::GetBootstrappingDataInput;
use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::{SZTP_BOOTSTRAP_SERVER as SVR, SZTP_CSR as CSR, ZTP_TYPES};
use crate::tree::{Members, Node, Out, Scalar, expect_root};
use crate::types::{binary, read_binary, read_identity};

/// The `get-bootstrapping-data` input with the `ietf-sztp-csr` augment: what ztp decodes from
/// a device. (The RFC 8572 part alone, [`GetBootstrappingDataInput`], is what a device without
/// RFC 9646 sends, and what refuses the augment's nodes as unknown.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputWithCsr {
    /// The RFC 8572 leaves.
    pub input: GetBootstrappingDataInput,
    /// The `msg-type` choice, if the device sent either case.
    pub csr: Option<CsrMessage>,
}

impl InputWithCsr {
    fn check(&self) -> Result<(), ValidationError> {
        self.input.check()
    }
}

impl Model for InputWithCsr {
    fn to_tree(&self) -> Out {
        let mut c = self.input.children();
        if let Some(message) = &self.csr {
            c.extend(message_tree(message));
        }
        Out::container(&SVR, "input", c)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &SVR, "input")?;
        let mut m = Members::of(root)?;
        let input = GetBootstrappingDataInput::read(&mut m)?;
        let csr = read_message(&mut m)?;
        m.finish()?;
        Ok(Self { input, csr })
    }
}

document!(InputWithCsr);

/// A certificate request format (`zt:certificate-request-format`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CsrFormat {
    /// `zt:p10-csr`: a PKCS#10 CertificationRequest (RFC 2986).
    P10,
    /// `zt:cmc-csr`: Certificate Management over CMS (RFC 5272).
    Cmc,
    /// `zt:cmp-csr`: Certificate Management Protocol (RFC 9810).
    Cmp,
    /// An identity derived elsewhere, as `module:name` (or the text sent).
    Other(String),
}

impl CsrFormat {
    /// The identity's name in `ietf-ztp-types`, for the three it defines.
    pub fn identity(&self) -> Option<&'static str> {
        match self {
            Self::P10 => Some("p10-csr"),
            Self::Cmc => Some("cmc-csr"),
            Self::Cmp => Some("cmp-csr"),
            Self::Other(_) => None,
        }
    }

    fn read(node: &Node) -> Result<Self, DecodeError> {
        let Ok((module, name)) = read_identity(node, &ZTP_TYPES) else {
            return Ok(Self::Other(node.text()?.trim().to_owned()));
        };
        Ok(match (module.name == ZTP_TYPES.name, name.as_str()) {
            (true, "p10-csr") => Self::P10,
            (true, "cmc-csr") => Self::Cmc,
            (true, "cmp-csr") => Self::Cmp,
            _ => Self::Other(format!("{}:{name}", module.name)),
        })
    }

    fn scalar(&self) -> Option<Scalar> {
        self.identity().map(|name| Scalar::Identity {
            module: &ZTP_TYPES,
            name,
        })
    }
}

impl std::fmt::Display for CsrFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.identity() {
            Some(name) => write!(f, "ietf-ztp-types:{name}"),
            None => match self {
                Self::Other(text) => f.write_str(text),
                _ => Ok(()),
            },
        }
    }
}

/// `csr-support`: what CSRs a device can make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSupport {
    /// `key-generation` (a presence container): the device can make a new key pair, with one of
    /// these algorithms (each a DER AlgorithmIdentifier, RFC 5280). `None`: it can only use the
    /// key of its existing identity (the IDevID's).
    pub key_generation: Option<Vec<Vec<u8>>>,
    /// `csr-generation/supported-formats/format-identifier`.
    pub formats: Vec<CsrFormat>,
}

/// `csr`: the request a device sends (the `csr-type` choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Csr {
    /// `p10-csr`: a DER PKCS#10 CertificationRequest.
    P10(Vec<u8>),
    /// `cmc-csr`: a DER CMC request.
    Cmc(Vec<u8>),
    /// `cmp-csr`: a DER CMP request.
    Cmp(Vec<u8>),
}

impl Csr {
    /// The request's format.
    pub fn format(&self) -> CsrFormat {
        match self {
            Self::P10(_) => CsrFormat::P10,
            Self::Cmc(_) => CsrFormat::Cmc,
            Self::Cmp(_) => CsrFormat::Cmp,
        }
    }
}

/// The `msg-type` choice of the input: the two cases are mutually exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrMessage {
    /// `csr-support`.
    Support(CsrSupport),
    /// `csr`.
    Csr(Csr),
}

/// The `csr-request` structure: what CSR the server wants the device to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrRequest {
    /// `key-generation/selected-algorithm/algorithm-identifier`: make a new key with this
    /// algorithm (a DER AlgorithmIdentifier); `None`: use the existing identity's key.
    pub key_generation: Option<Vec<u8>>,
    /// `csr-generation/selected-format/format-identifier`.
    pub format: CsrFormat,
    /// `cert-req-info`: a DER CertificationRequestInfo whose fields the device should use.
    pub cert_req_info: Option<Vec<u8>>,
}

/// Reads the `msg-type` choice from the input's members, if the device sent either case.
fn read_message(m: &mut Members<'_>) -> Result<Option<CsrMessage>, DecodeError> {
    let support = m.optional(&CSR, "csr-support")?;
    let p10 = m.optional(&CSR, "p10-csr")?;
    let cmc = m.optional(&CSR, "cmc-csr")?;
    let cmp = m.optional(&CSR, "cmp-csr")?;
    let csr = match (p10, cmc, cmp) {
        (None, None, None) => None,
        (Some(n), None, None) => Some(Csr::P10(read_binary(n)?)),
        (None, Some(n), None) => Some(Csr::Cmc(read_binary(n)?)),
        (None, None, Some(n)) => Some(Csr::Cmp(read_binary(n)?)),
        _ => {
            return Err(DecodeError::Duplicate(
                "csr (more than one csr-type)".into(),
            ));
        }
    };
    match (support, csr) {
        (None, None) => Ok(None),
        (Some(node), None) => Ok(Some(CsrMessage::Support(read_support(node)?))),
        (None, Some(csr)) => Ok(Some(CsrMessage::Csr(csr))),
        (Some(_), Some(_)) => Err(DecodeError::Duplicate(
            "msg-type (both csr-support and csr)".into(),
        )),
    }
}

fn read_support(node: &Node) -> Result<CsrSupport, DecodeError> {
    let mut m = Members::of(node)?;
    let key_generation = match m.optional(&CSR, "key-generation")? {
        Some(kg) => {
            let mut k = Members::of(kg)?;
            let mut algorithms = Vec::new();
            if let Some(sa) = k.optional(&CSR, "supported-algorithms")? {
                let mut s = Members::of(sa)?;
                for item in s.many(&CSR, "algorithm-identifier")? {
                    algorithms.push(read_binary(item)?);
                }
                s.finish()?;
            }
            k.finish()?;
            if algorithms.is_empty() {
                return Err(DecodeError::Missing(
                    "supported-algorithms/algorithm-identifier".into(),
                ));
            }
            Some(algorithms)
        }
        None => None,
    };
    let mut formats = Vec::new();
    if let Some(generation) = m.optional(&CSR, "csr-generation")? {
        let mut g = Members::of(generation)?;
        if let Some(supported) = g.optional(&CSR, "supported-formats")? {
            let mut s = Members::of(supported)?;
            for item in s.many(&CSR, "format-identifier")? {
                formats.push(CsrFormat::read(item)?);
            }
            s.finish()?;
        }
        g.finish()?;
    }
    m.finish()?;
    if formats.is_empty() {
        return Err(DecodeError::Missing(
            "csr-generation/supported-formats/format-identifier".into(),
        ));
    }
    Ok(CsrSupport {
        key_generation,
        formats,
    })
}

/// The input's nodes for `message`.
fn message_tree(message: &CsrMessage) -> Vec<Out> {
    match message {
        CsrMessage::Support(support) => {
            let mut c = Vec::new();
            if let Some(algorithms) = &support.key_generation {
                let items = algorithms
                    .iter()
                    .map(|a| Out::item(&CSR, "algorithm-identifier", binary(a)))
                    .collect();
                c.push(Out::container(
                    &CSR,
                    "key-generation",
                    vec![Out::container(&CSR, "supported-algorithms", items)],
                ));
            }
            let formats = support
                .formats
                .iter()
                .filter_map(CsrFormat::scalar)
                .map(|s| Out::item(&CSR, "format-identifier", s))
                .collect();
            c.push(Out::container(
                &CSR,
                "csr-generation",
                vec![Out::container(&CSR, "supported-formats", formats)],
            ));
            vec![Out::container(&CSR, "csr-support", c)]
        }
        CsrMessage::Csr(csr) => {
            let (name, bytes) = match csr {
                Csr::P10(b) => ("p10-csr", b),
                Csr::Cmc(b) => ("cmc-csr", b),
                Csr::Cmp(b) => ("cmp-csr", b),
            };
            vec![Out::leaf(&CSR, name, binary(bytes))]
        }
    }
}

impl CsrRequest {
    /// The `csr-request` node, as `error-info` carries it.
    pub(crate) fn to_tree(&self) -> Out {
        let mut c = Vec::new();
        if let Some(algorithm) = &self.key_generation {
            c.push(Out::container(
                &CSR,
                "key-generation",
                vec![Out::container(
                    &CSR,
                    "selected-algorithm",
                    vec![Out::leaf(&CSR, "algorithm-identifier", binary(algorithm))],
                )],
            ));
        }
        let format = match self.format.scalar() {
            Some(s) => s,
            None => Scalar::Str(self.format.to_string()),
        };
        c.push(Out::container(
            &CSR,
            "csr-generation",
            vec![Out::container(
                &CSR,
                "selected-format",
                vec![Out::leaf(&CSR, "format-identifier", format)],
            )],
        ));
        if let Some(info) = &self.cert_req_info {
            c.push(Out::leaf(&CSR, "cert-req-info", binary(info)));
        }
        Out::container(&CSR, "csr-request", c)
    }

    /// Reads a `csr-request` node.
    pub(crate) fn from_tree(node: &Node) -> Result<Self, DecodeError> {
        let mut m = Members::of(node)?;
        let key_generation = match m.optional(&CSR, "key-generation")? {
            Some(kg) => {
                let mut k = Members::of(kg)?;
                let selected = k.required(&CSR, "selected-algorithm")?;
                let mut s = Members::of(selected)?;
                let algorithm = read_binary(s.required(&CSR, "algorithm-identifier")?)?;
                s.finish()?;
                k.finish()?;
                Some(algorithm)
            }
            None => None,
        };
        let mut g = Members::of(m.required(&CSR, "csr-generation")?)?;
        let mut s = Members::of(g.required(&CSR, "selected-format")?)?;
        let format = CsrFormat::read(s.required(&CSR, "format-identifier")?)?;
        s.finish()?;
        g.finish()?;
        let cert_req_info = m
            .optional(&CSR, "cert-req-info")?
            .map(read_binary)
            .transpose()?;
        m.finish()?;
        Ok(Self {
            key_generation,
            format,
            cert_req_info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Document, Encoding, ErrorInfo, ErrorTag, ErrorType, RestconfError, RestconfErrors,
    };

    /// DER AlgorithmIdentifier of id-ecPublicKey on P-256.
    const EC_P256: &[u8] = &[
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];

    fn support() -> InputWithCsr {
        InputWithCsr {
            input: GetBootstrappingDataInput {
                hw_model: Some("x1".into()),
                ..Default::default()
            },
            csr: Some(CsrMessage::Support(CsrSupport {
                key_generation: Some(vec![EC_P256.to_vec()]),
                formats: vec![CsrFormat::P10, CsrFormat::Cmp],
            })),
        }
    }

    #[test]
    fn input_round_trips_in_both_encodings() {
        let csr = InputWithCsr {
            input: GetBootstrappingDataInput::default(),
            csr: Some(CsrMessage::Csr(Csr::P10(vec![0x30, 0x03, 1, 2, 3]))),
        };
        for doc in [support(), csr, InputWithCsr::default()] {
            for e in [Encoding::Xml, Encoding::Json] {
                let text = doc.encode(e);
                assert_eq!(
                    InputWithCsr::decode(e, text.as_bytes()),
                    Ok(doc.clone()),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn nodes_are_in_the_csr_namespace() {
        let json = support().to_json();
        assert!(
            json.contains(r#""ietf-sztp-csr:csr-support":{"key-generation""#),
            "{json}"
        );
        assert!(
            json.contains(
                r#""format-identifier":["ietf-ztp-types:p10-csr","ietf-ztp-types:cmp-csr"]"#
            ),
            "{json}"
        );
        let xml = support().to_xml();
        assert!(
            xml.contains(r#"<csr-support xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-csr">"#),
            "{xml}"
        );
        // The same node in the bootstrap server's namespace is unknown.
        let wrong = json.replace("ietf-sztp-csr:csr-support", "csr-support");
        assert!(InputWithCsr::from_json(wrong.as_bytes()).is_err());
    }

    #[test]
    fn the_rfc_8572_input_alone_refuses_the_augment() {
        let json = support().to_json();
        assert!(GetBootstrappingDataInput::from_json(json.as_bytes()).is_err());
    }

    #[test]
    fn both_cases_of_the_choice_are_refused() {
        let json = support().to_json().replacen(
            r#""ietf-sztp-csr:csr-support""#,
            r#""ietf-sztp-csr:p10-csr":"MAA=","ietf-sztp-csr:csr-support""#,
            1,
        );
        let e = InputWithCsr::from_json(json.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("msg-type"), "{e}");
    }

    #[test]
    fn support_without_formats_is_refused() {
        let json = r#"{"ietf-sztp-bootstrap-server:input":{"ietf-sztp-csr:csr-support":{}}}"#;
        let e = InputWithCsr::from_json(json.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("format-identifier"), "{e}");
    }

    #[test]
    fn unknown_formats_are_kept_by_name() {
        let json = r#"{"ietf-sztp-bootstrap-server:input":{"ietf-sztp-csr:csr-support":{"csr-generation":{"supported-formats":{"format-identifier":["acme-csr:jws-csr","ietf-ztp-types:p10-csr"]}}}}}"#;
        let doc = InputWithCsr::from_json(json.as_bytes()).unwrap();
        let Some(CsrMessage::Support(s)) = doc.csr else {
            panic!("no support")
        };
        assert_eq!(s.key_generation, None);
        assert_eq!(
            s.formats,
            vec![CsrFormat::Other("acme-csr:jws-csr".into()), CsrFormat::P10]
        );
    }

    #[test]
    fn csr_request_rides_in_error_info() {
        let mut error = RestconfError::new(
            ErrorType::Application,
            ErrorTag::MissingAttribute,
            "send a CSR",
        );
        error.error_info = Some(ErrorInfo::CsrRequest(CsrRequest {
            key_generation: Some(EC_P256.to_vec()),
            format: CsrFormat::P10,
            cert_req_info: None,
        }));
        let doc = RestconfErrors::single(error);
        let json = doc.to_json();
        assert!(json.contains(r#""error-info":{"ietf-sztp-csr:csr-request":{"key-generation":{"selected-algorithm":{"algorithm-identifier":"MBMGByqGSM49AgEGCCqGSM49AwEH"}},"csr-generation":{"selected-format":{"format-identifier":"ietf-ztp-types:p10-csr"}}}}"#), "{json}");
        for e in [Encoding::Xml, Encoding::Json] {
            let text = doc.encode(e);
            assert_eq!(
                RestconfErrors::decode(e, text.as_bytes()),
                Ok(doc.clone()),
                "{text}"
            );
        }
    }
}
