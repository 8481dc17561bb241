//! Conveyed information (`ietf-sztp-conveyed-info`, RFC 8572 §6.3): the redirect or onboarding
//! information a bootstrap server conveys, the content of the `conveyed-information` CMS.
//!
//! Encoded as devices expect (RFC 8572 notes §1.6): the `rc:yang-data` wrapper is stripped, so
//! the JSON top level is `{"ietf-sztp-conveyed-info:redirect-information": {...}}` (or
//! `onboarding-information`) and the XML root is `<redirect-information
//! xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info">`. `port` is always written,
//! `hash-algorithm` always module-qualified.

use std::collections::HashSet;

use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::SZTP_CONVEYED_INFO as INFO;
use crate::tree::{Members, Node, Out, Scalar, push_opt_string};
use crate::types::{
    binary, check_host, check_string, hex_string, read_binary, read_enum, read_hex_string,
    read_identity, read_string, read_uint,
};

/// Conveyed information: redirect or onboarding (the mandatory `information-type` choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConveyedInformation {
    /// `redirect-information`: where the device should go next.
    Redirect(RedirectInformation),
    /// `onboarding-information`: what the device should install and configure.
    Onboarding(OnboardingInformation),
}

/// `redirect-information`: an ordered list of bootstrap servers (at least one, unique
/// addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectInformation {
    /// `bootstrap-server` entries, in order of preference.
    pub bootstrap_servers: Vec<BootstrapServer>,
}

/// One `bootstrap-server` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapServer {
    /// `address` (`inet:host`): an IP address or domain name; the list key.
    pub address: String,
    /// `port`; always written, as some agents reject an omitted default.
    pub port: u16,
    /// `trust-anchor`: CMS degenerate SignedData with the chain that authenticates the server's
    /// TLS certificate (DER).
    pub trust_anchor: Option<Vec<u8>>,
}

impl BootstrapServer {
    /// The YANG default port.
    pub const DEFAULT_PORT: u16 = 443;

    /// A server on the default port without trust anchor.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            port: Self::DEFAULT_PORT,
            trust_anchor: None,
        }
    }
}

/// `onboarding-information`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnboardingInformation {
    /// `boot-image`.
    pub boot_image: Option<BootImage>,
    /// `configuration-handling` and `configuration`, which the schema requires together.
    pub configuration: Option<Configuration>,
    /// `pre-configuration-script`.
    pub pre_configuration_script: Option<Vec<u8>>,
    /// `post-configuration-script`.
    pub post_configuration_script: Option<Vec<u8>>,
}

/// `boot-image`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootImage {
    /// `os-name`.
    pub os_name: Option<String>,
    /// `os-version`.
    pub os_version: Option<String>,
    /// `download-uri` (ordered).
    pub download_uris: Vec<String>,
    /// `image-verification`, keyed by algorithm; needs at least one download URI.
    pub image_verification: Vec<ImageVerification>,
}

/// One `image-verification` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerification {
    /// `hash-algorithm`.
    pub hash_algorithm: HashAlgorithm,
    /// `hash-value` (written as `yang:hex-string`).
    pub hash_value: Vec<u8>,
}

/// The `hash-algorithm` identities of `ietf-sztp-conveyed-info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `sha-256`.
    Sha256,
}

impl HashAlgorithm {
    /// The identity name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
        }
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
        }
    }
}

/// `configuration-handling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigurationHandling {
    /// `merge`.
    Merge,
    /// `replace`.
    Replace,
}

impl ConfigurationHandling {
    /// The YANG enum name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Replace => "replace",
        }
    }

    /// Parses the YANG enum name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "merge" => Some(Self::Merge),
            "replace" => Some(Self::Replace),
            _ => None,
        }
    }
}

/// An initial configuration and how to apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// `configuration-handling`.
    pub handling: ConfigurationHandling,
    /// `configuration`: vendor-specific content (e.g. XML or CLI text).
    pub data: Vec<u8>,
}

impl ConveyedInformation {
    fn check(&self) -> Result<(), ValidationError> {
        match self {
            Self::Redirect(r) => r.check(),
            Self::Onboarding(o) => o.check(),
        }
    }
}

impl RedirectInformation {
    fn check(&self) -> Result<(), ValidationError> {
        if self.bootstrap_servers.is_empty() {
            return Err(ValidationError::NoBootstrapServer);
        }
        let mut seen = HashSet::new();
        for server in &self.bootstrap_servers {
            check_host(&server.address)?;
            if !seen.insert(server.address.as_str()) {
                return Err(ValidationError::DuplicateKey {
                    list: "bootstrap-server",
                    key: server.address.chars().take(64).collect(),
                });
            }
        }
        Ok(())
    }

    fn to_tree(&self) -> Out {
        let servers = self
            .bootstrap_servers
            .iter()
            .map(|s| {
                let mut c = vec![
                    Out::string(&INFO, "address", &s.address),
                    Out::leaf(&INFO, "port", Scalar::Uint(u64::from(s.port))),
                ];
                if let Some(ta) = &s.trust_anchor {
                    c.push(Out::leaf(&INFO, "trust-anchor", binary(ta)));
                }
                Out::entry(&INFO, "bootstrap-server", c)
            })
            .collect();
        Out::container(&INFO, "redirect-information", servers)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        let mut m = Members::of(root)?;
        let bootstrap_servers = m
            .many(&INFO, "bootstrap-server")?
            .into_iter()
            .map(|entry| {
                let mut e = Members::of(entry)?;
                let address = read_string(e.required(&INFO, "address")?)?;
                let port = match e.optional(&INFO, "port")? {
                    Some(node) => u16::try_from(read_uint(node, 0, u64::from(u16::MAX))?)
                        .map_err(|_| node.invalid("out of range"))?,
                    None => BootstrapServer::DEFAULT_PORT,
                };
                let trust_anchor = e
                    .optional(&INFO, "trust-anchor")?
                    .map(read_binary)
                    .transpose()?;
                e.finish()?;
                Ok(BootstrapServer {
                    address,
                    port,
                    trust_anchor,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        m.finish()?;
        Ok(Self { bootstrap_servers })
    }
}

impl OnboardingInformation {
    fn check(&self) -> Result<(), ValidationError> {
        if let Some(image) = &self.boot_image {
            image.check()?;
        }
        Ok(())
    }

    fn to_tree(&self) -> Out {
        let mut c = Vec::new();
        if let Some(image) = &self.boot_image {
            c.push(image.to_tree());
        }
        if let Some(config) = &self.configuration {
            c.push(Out::string(
                &INFO,
                "configuration-handling",
                config.handling.as_str(),
            ));
        }
        if let Some(script) = &self.pre_configuration_script {
            c.push(Out::leaf(&INFO, "pre-configuration-script", binary(script)));
        }
        if let Some(config) = &self.configuration {
            c.push(Out::leaf(&INFO, "configuration", binary(&config.data)));
        }
        if let Some(script) = &self.post_configuration_script {
            c.push(Out::leaf(
                &INFO,
                "post-configuration-script",
                binary(script),
            ));
        }
        Out::container(&INFO, "onboarding-information", c)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        let mut m = Members::of(root)?;
        let boot_image = m
            .optional(&INFO, "boot-image")?
            .map(BootImage::from_tree)
            .transpose()?;
        let handling = m
            .optional(&INFO, "configuration-handling")?
            .map(|n| read_enum(n, ConfigurationHandling::parse))
            .transpose()?;
        let pre_configuration_script = m
            .optional(&INFO, "pre-configuration-script")?
            .map(read_binary)
            .transpose()?;
        let data = m
            .optional(&INFO, "configuration")?
            .map(read_binary)
            .transpose()?;
        let post_configuration_script = m
            .optional(&INFO, "post-configuration-script")?
            .map(read_binary)
            .transpose()?;
        m.finish()?;
        let configuration = match (handling, data) {
            (Some(handling), Some(data)) => Some(Configuration { handling, data }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ValidationError::Requires {
                    present: "configuration-handling",
                    missing: "configuration",
                }
                .into());
            }
            (None, Some(_)) => {
                return Err(ValidationError::Requires {
                    present: "configuration",
                    missing: "configuration-handling",
                }
                .into());
            }
        };
        Ok(Self {
            boot_image,
            configuration,
            pre_configuration_script,
            post_configuration_script,
        })
    }
}

impl BootImage {
    fn check(&self) -> Result<(), ValidationError> {
        for (leaf, value) in [("os-name", &self.os_name), ("os-version", &self.os_version)] {
            if let Some(v) = value {
                check_string(leaf, v, 0, usize::MAX)?;
            }
        }
        for uri in &self.download_uris {
            check_string("download-uri", uri, 0, usize::MAX)?;
        }
        if !self.image_verification.is_empty() && self.download_uris.is_empty() {
            return Err(ValidationError::ImageVerificationWithoutUri);
        }
        for (i, v) in self.image_verification.iter().enumerate() {
            if self.image_verification[..i]
                .iter()
                .any(|w| w.hash_algorithm == v.hash_algorithm)
            {
                return Err(ValidationError::DuplicateKey {
                    list: "image-verification",
                    key: v.hash_algorithm.as_str().to_owned(),
                });
            }
            if v.hash_value.len() != v.hash_algorithm.digest_len() {
                return Err(ValidationError::HashLength {
                    algorithm: v.hash_algorithm.as_str(),
                    expected: v.hash_algorithm.digest_len(),
                    len: v.hash_value.len(),
                });
            }
        }
        Ok(())
    }

    fn to_tree(&self) -> Out {
        let mut c = Vec::new();
        push_opt_string(&mut c, &INFO, "os-name", self.os_name.as_deref());
        push_opt_string(&mut c, &INFO, "os-version", self.os_version.as_deref());
        for uri in &self.download_uris {
            c.push(Out::item(&INFO, "download-uri", Scalar::Str(uri.clone())));
        }
        for v in &self.image_verification {
            c.push(Out::entry(
                &INFO,
                "image-verification",
                vec![
                    Out::leaf(
                        &INFO,
                        "hash-algorithm",
                        Scalar::Identity {
                            module: &INFO,
                            name: v.hash_algorithm.as_str(),
                        },
                    ),
                    Out::string(&INFO, "hash-value", &hex_string(&v.hash_value)),
                ],
            ));
        }
        Out::container(&INFO, "boot-image", c)
    }

    fn from_tree(node: &Node) -> Result<Self, DecodeError> {
        let mut m = Members::of(node)?;
        let os_name = m.optional(&INFO, "os-name")?.map(read_string).transpose()?;
        let os_version = m
            .optional(&INFO, "os-version")?
            .map(read_string)
            .transpose()?;
        let download_uris = m
            .many(&INFO, "download-uri")?
            .into_iter()
            .map(read_string)
            .collect::<Result<_, _>>()?;
        let image_verification = m
            .many(&INFO, "image-verification")?
            .into_iter()
            .map(|entry| {
                let mut e = Members::of(entry)?;
                let alg = e.required(&INFO, "hash-algorithm")?;
                let hash_algorithm = match read_identity(alg, &INFO)? {
                    (module, name) if module.name == INFO.name && name == "sha-256" => {
                        HashAlgorithm::Sha256
                    }
                    _ => return Err(alg.invalid("unknown hash algorithm")),
                };
                let hash_value = read_hex_string(e.required(&INFO, "hash-value")?)?;
                e.finish()?;
                Ok(ImageVerification {
                    hash_algorithm,
                    hash_value,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        m.finish()?;
        Ok(Self {
            os_name,
            os_version,
            download_uris,
            image_verification,
        })
    }
}

impl Model for ConveyedInformation {
    fn to_tree(&self) -> Out {
        match self {
            Self::Redirect(r) => r.to_tree(),
            Self::Onboarding(o) => o.to_tree(),
        }
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        let wrong_root = || DecodeError::WrongRoot {
            expected: format!(
                "{}:redirect-information or onboarding-information",
                INFO.name
            ),
            found: root.qualified(),
        };
        let information = match root.name.as_str() {
            "redirect-information" | "onboarding-information" if root.ns != INFO.namespace => {
                return Err(DecodeError::WrongNamespace {
                    element: root.name.clone(),
                    expected: INFO.namespace.to_owned(),
                    found: root.ns.clone(),
                });
            }
            "redirect-information" => Self::Redirect(RedirectInformation::from_tree(root)?),
            "onboarding-information" => Self::Onboarding(OnboardingInformation::from_tree(root)?),
            _ => return Err(wrong_root()),
        };
        Ok(information)
    }
}

document!(ConveyedInformation);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Document;

    fn redirect() -> ConveyedInformation {
        ConveyedInformation::Redirect(RedirectInformation {
            bootstrap_servers: vec![BootstrapServer {
                address: "sztp.customer.example".into(),
                port: 443,
                trust_anchor: Some(vec![0x30, 0x82]),
            }],
        })
    }

    #[test]
    fn redirect_json_as_devices_expect() {
        assert_eq!(
            redirect().to_json(),
            r#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"sztp.customer.example","port":443,"trust-anchor":"MII="}]}}"#
        );
    }

    #[test]
    fn default_port_when_absent() {
        let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"10.0.0.1"}]}}"#;
        let ConveyedInformation::Redirect(r) = ConveyedInformation::from_json(json).unwrap() else {
            panic!("redirect expected");
        };
        assert_eq!(r.bootstrap_servers[0].port, 443);
    }

    #[test]
    fn port_out_of_range_and_list_shape() {
        let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a","port":99999}]}}"#;
        assert!(matches!(
            ConveyedInformation::from_json(json),
            Err(DecodeError::InvalidValue { .. })
        ));
        let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":{"address":"a"}}}"#;
        assert!(matches!(
            ConveyedInformation::from_json(json),
            Err(DecodeError::WrongShape { .. })
        ));
        let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a","port":"443"}]}}"#;
        assert!(matches!(
            ConveyedInformation::from_json(json),
            Err(DecodeError::WrongShape { .. })
        ));
        let json = br#"{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[]}}"#;
        assert_eq!(
            ConveyedInformation::from_json(json),
            Err(DecodeError::Invalid(ValidationError::NoBootstrapServer))
        );
    }

    #[test]
    fn hash_algorithm_forms() {
        let value = ["7b"; 32].join(":");
        let xml = format!(
            r#"<onboarding-information xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info" xmlns:x="urn:ietf:params:xml:ns:yang:ietf-sztp-conveyed-info"><boot-image><download-uri>https://a/b</download-uri><image-verification><hash-algorithm>x:sha-256</hash-algorithm><hash-value>{value}</hash-value></image-verification></boot-image></onboarding-information>"#
        );
        assert!(ConveyedInformation::from_xml(xml.as_bytes()).is_ok());
        let unbound = xml.replace("x:sha-256", "y:sha-256");
        assert!(matches!(
            ConveyedInformation::from_xml(unbound.as_bytes()),
            Err(DecodeError::InvalidValue { .. })
        ));
        let json = format!(
            r#"{{"ietf-sztp-conveyed-info:onboarding-information":{{"boot-image":{{"download-uri":["https://a/b"],"image-verification":[{{"hash-algorithm":"sha-256","hash-value":"{value}"}}]}}}}}}"#
        );
        assert!(ConveyedInformation::from_json(json.as_bytes()).is_ok());
    }
}
