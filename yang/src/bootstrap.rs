//! The `get-bootstrapping-data` RPC of `ietf-sztp-bootstrap-server` (RFC 8572 §7.1): what a
//! device sends and what ztp answers, including ztp's `license-bundle` augment.

use crate::Binary;
use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::{SZTP_BOOTSTRAP_SERVER as SVR, ZTP_LICENSES as LIC};
use crate::tree::{Members, Node, Out, Scalar, expect_root, push_opt_string};
use crate::types::{binary, check_string, read_binary, read_enum, read_string};

/// A device's nonce for a fresh ownership voucher: 16 to 32 bytes (RFC 8572 `length
/// "16..32"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(Vec<u8>);

impl Nonce {
    /// Shortest nonce allowed.
    pub const MIN_LEN: usize = 16;
    /// Longest nonce allowed.
    pub const MAX_LEN: usize = 32;

    /// Checks the length.
    pub fn new(bytes: Vec<u8>) -> Result<Self, ValidationError> {
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(ValidationError::NonceLength { len: bytes.len() })
        }
    }

    /// The nonce bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The nonce bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl AsRef<[u8]> for Nonce {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The input of `get-bootstrapping-data`. Every leaf is optional; the device's identity comes
/// from its TLS client certificate, never from here.
///
/// XML root `<input xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server">`, JSON
/// `{"ietf-sztp-bootstrap-server:input": {...}}`. An empty nonce (`""`, as the OPI agent sends)
/// decodes as no nonce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetBootstrappingDataInput {
    /// `signed-data-preferred` (an `empty` leaf): the device wants signed data, so unsigned
    /// onboarding information must not be returned.
    pub signed_data_preferred: bool,
    /// `hw-model`: the vendor's hardware model.
    pub hw_model: Option<String>,
    /// `os-name`.
    pub os_name: Option<String>,
    /// `os-version`.
    pub os_version: Option<String>,
    /// `nonce`: the device asks for a voucher bound to this nonce.
    pub nonce: Option<Nonce>,
}

impl GetBootstrappingDataInput {
    pub(crate) fn check(&self) -> Result<(), ValidationError> {
        for (leaf, value) in [
            ("hw-model", &self.hw_model),
            ("os-name", &self.os_name),
            ("os-version", &self.os_version),
        ] {
            if let Some(v) = value {
                check_string(leaf, v, 0, usize::MAX)?;
            }
        }
        Ok(())
    }
}

impl GetBootstrappingDataInput {
    /// The input's RFC 8572 nodes.
    pub(crate) fn children(&self) -> Vec<Out> {
        let mut c = Vec::new();
        if self.signed_data_preferred {
            c.push(Out::leaf(&SVR, "signed-data-preferred", Scalar::Empty));
        }
        push_opt_string(&mut c, &SVR, "hw-model", self.hw_model.as_deref());
        push_opt_string(&mut c, &SVR, "os-name", self.os_name.as_deref());
        push_opt_string(&mut c, &SVR, "os-version", self.os_version.as_deref());
        if let Some(nonce) = &self.nonce {
            c.push(Out::leaf(&SVR, "nonce", binary(nonce.as_bytes())));
        }
        c
    }

    /// Reads the input's RFC 8572 nodes, leaving the others to the caller.
    pub(crate) fn read(m: &mut Members<'_>) -> Result<Self, DecodeError> {
        let signed_data_preferred = match m.optional(&SVR, "signed-data-preferred")? {
            Some(node) => {
                node.empty()?;
                true
            }
            None => false,
        };
        let hw_model = m.optional(&SVR, "hw-model")?.map(read_string).transpose()?;
        let os_name = m.optional(&SVR, "os-name")?.map(read_string).transpose()?;
        let os_version = m
            .optional(&SVR, "os-version")?
            .map(read_string)
            .transpose()?;
        let nonce = match m.optional(&SVR, "nonce")? {
            Some(node) => {
                let bytes = read_binary(node)?;
                if bytes.is_empty() {
                    None
                } else {
                    Some(Nonce::new(bytes)?)
                }
            }
            None => None,
        };
        Ok(Self {
            signed_data_preferred,
            hw_model,
            os_name,
            os_version,
            nonce,
        })
    }
}

impl Model for GetBootstrappingDataInput {
    fn to_tree(&self) -> Out {
        Out::container(&SVR, "input", self.children())
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &SVR, "input")?;
        let mut m = Members::of(root)?;
        let input = Self::read(&mut m)?;
        m.finish()?;
        Ok(input)
    }
}

document!(GetBootstrappingDataInput);

/// `reporting-level`: how much progress reporting an onboarding server wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportingLevel {
    /// `minimal` (the default): bootstrap-initiated, *-error and bootstrap-complete only.
    Minimal,
    /// `verbose`: every progress type.
    Verbose,
}

impl ReportingLevel {
    /// The YANG enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minimal => "minimal",
            Self::Verbose => "verbose",
        }
    }

    /// Parses the YANG enum name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "minimal" => Some(Self::Minimal),
            "verbose" => Some(Self::Verbose),
            _ => None,
        }
    }
}

/// The owner certificate and ownership voucher, which RFC 8572 requires to come together
/// (`must '../ownership-voucher'` and vice versa), so they are one value here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// `owner-certificate`: CMS degenerate SignedData with the owner's certificate chain (DER).
    pub owner_certificate: Binary,
    /// `ownership-voucher`: CMS SignedData over an RFC 8366 voucher (DER).
    pub ownership_voucher: Binary,
}

/// The output of `get-bootstrapping-data`.
///
/// XML root `<output xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server">`, JSON
/// `{"ietf-sztp-bootstrap-server:output": {...}}`; the license bundle is the
/// `ztp-licenses:license-bundle` augment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetBootstrappingDataOutput {
    /// `reporting-level` (only meaningful from an onboarding server).
    pub reporting_level: Option<ReportingLevel>,
    /// `conveyed-information`: CMS (ContentInfo, DER) around the conveyed information.
    pub conveyed_information: Binary,
    /// `owner-certificate` and `ownership-voucher`, for signed conveyed information.
    pub ownership: Option<Ownership>,
    /// `ztp-licenses:license-bundle`: CMS SignedData over a [`LicenseBundle`](crate::LicenseBundle).
    pub license_bundle: Option<Binary>,
}

impl GetBootstrappingDataOutput {
    fn check(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Model for GetBootstrappingDataOutput {
    fn to_tree(&self) -> Out {
        let mut c = Vec::new();
        if let Some(level) = self.reporting_level {
            c.push(Out::string(&SVR, "reporting-level", level.as_str()));
        }
        c.push(Out::leaf(
            &SVR,
            "conveyed-information",
            Scalar::Binary(self.conveyed_information.clone()),
        ));
        if let Some(o) = &self.ownership {
            c.push(Out::leaf(
                &SVR,
                "owner-certificate",
                Scalar::Binary(o.owner_certificate.clone()),
            ));
            c.push(Out::leaf(
                &SVR,
                "ownership-voucher",
                Scalar::Binary(o.ownership_voucher.clone()),
            ));
        }
        if let Some(bundle) = &self.license_bundle {
            c.push(Out::leaf(
                &LIC,
                "license-bundle",
                Scalar::Binary(bundle.clone()),
            ));
        }
        Out::container(&SVR, "output", c)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &SVR, "output")?;
        let mut m = Members::of(root)?;
        let reporting_level = m
            .optional(&SVR, "reporting-level")?
            .map(|n| read_enum(n, ReportingLevel::parse))
            .transpose()?;
        let conveyed_information = read_binary(m.required(&SVR, "conveyed-information")?)?.into();
        let owner_certificate = m
            .optional(&SVR, "owner-certificate")?
            .map(read_binary)
            .transpose()?
            .map(Binary::from);
        let ownership_voucher = m
            .optional(&SVR, "ownership-voucher")?
            .map(read_binary)
            .transpose()?
            .map(Binary::from);
        let ownership = match (owner_certificate, ownership_voucher) {
            (Some(owner_certificate), Some(ownership_voucher)) => Some(Ownership {
                owner_certificate,
                ownership_voucher,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ValidationError::Requires {
                    present: "owner-certificate",
                    missing: "ownership-voucher",
                }
                .into());
            }
            (None, Some(_)) => {
                return Err(ValidationError::Requires {
                    present: "ownership-voucher",
                    missing: "owner-certificate",
                }
                .into());
            }
        };
        let license_bundle = m
            .optional(&LIC, "license-bundle")?
            .map(read_binary)
            .transpose()?
            .map(Binary::from);
        m.finish()?;
        Ok(Self {
            reporting_level,
            conveyed_information,
            ownership,
            license_bundle,
        })
    }
}

document!(GetBootstrappingDataOutput);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Document;

    #[test]
    fn opi_agent_input_with_empty_nonce() {
        let body = br#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"VirtualBox","os-name":"Ubuntu","os-version":"22.04","nonce":""}}"#;
        let input = GetBootstrappingDataInput::from_json(body).unwrap();
        assert_eq!(input.nonce, None);
        assert_eq!(input.hw_model.as_deref(), Some("VirtualBox"));
        assert!(!input.signed_data_preferred);
    }

    #[test]
    fn signed_data_preferred_forms() {
        let json = br#"{"ietf-sztp-bootstrap-server:input":{"signed-data-preferred":[null]}}"#;
        assert!(
            GetBootstrappingDataInput::from_json(json)
                .unwrap()
                .signed_data_preferred
        );
        let xml = br#"<input xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server"><signed-data-preferred/></input>"#;
        assert!(
            GetBootstrappingDataInput::from_xml(xml)
                .unwrap()
                .signed_data_preferred
        );
        let bad = br#"{"ietf-sztp-bootstrap-server:input":{"signed-data-preferred":true}}"#;
        assert!(matches!(
            GetBootstrappingDataInput::from_json(bad),
            Err(DecodeError::WrongShape { .. })
        ));
    }

    #[test]
    fn ownership_must_be_complete() {
        let xml = br#"<output xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server"><conveyed-information>AAEC</conveyed-information><owner-certificate>AAEC</owner-certificate></output>"#;
        assert_eq!(
            GetBootstrappingDataOutput::from_xml(xml),
            Err(DecodeError::Invalid(ValidationError::Requires {
                present: "owner-certificate",
                missing: "ownership-voucher"
            }))
        );
    }

    #[test]
    fn license_bundle_augment_is_qualified() {
        let out = GetBootstrappingDataOutput {
            conveyed_information: vec![1, 2, 3].into(),
            license_bundle: Some(vec![4].into()),
            ..Default::default()
        };
        assert_eq!(
            out.to_json(),
            r#"{"ietf-sztp-bootstrap-server:output":{"conveyed-information":"AQID","ztp-licenses:license-bundle":"BA=="}}"#
        );
        assert!(out.to_xml().contains(
            r#"<license-bundle xmlns="urn:ztp:yang:ztp-licenses">BA==</license-bundle>"#
        ));
    }
}
