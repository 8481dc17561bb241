//! The `report-progress` RPC of `ietf-sztp-bootstrap-server` (RFC 8572 §7.3): a device's
//! progress reports, with its SSH host keys and trust anchors once bootstrapping completes.

use crate::encoding::{Model, document};
use crate::error::{DecodeError, ValidationError};
use crate::modules::{Module, SZTP_BOOTSTRAP_SERVER as SVR};
use crate::tree::{Members, Node, Out, expect_root, push_opt_string};
use crate::types::{binary, check_string, read_binary, read_enum, read_string};

macro_rules! progress_types {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// `progress-type`: the 27 values of RFC 8572, in the RFC's order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProgressType {
            $(#[doc = $doc] $variant,)*
        }

        impl ProgressType {
            /// Every progress type, in the RFC's order.
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            /// The YANG enum name, e.g. `bootstrap-complete`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// Parses the YANG enum name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

progress_types! {
    BootstrapInitiated => "bootstrap-initiated", "The device is starting to bootstrap with this server.";
    ParsingInitiated => "parsing-initiated", "The device is starting to parse the response.";
    ParsingWarning => "parsing-warning", "A non-fatal error while parsing the response.";
    ParsingError => "parsing-error", "A fatal error while parsing the response; the device gives up on this server.";
    ParsingComplete => "parsing-complete", "The device parsed the response.";
    BootImageInitiated => "boot-image-initiated", "The device is starting to process the boot image.";
    BootImageWarning => "boot-image-warning", "A non-fatal error while installing the boot image.";
    BootImageError => "boot-image-error", "A fatal error while installing the boot image; the device gives up on this server.";
    BootImageMismatch => "boot-image-mismatch", "The running image differs from the one offered.";
    BootImageInstalledRebooting => "boot-image-installed-rebooting", "The image is installed and the device reboots.";
    BootImageComplete => "boot-image-complete", "The device finished processing the boot image.";
    PreScriptInitiated => "pre-script-initiated", "The device is starting the pre-configuration script.";
    PreScriptWarning => "pre-script-warning", "The pre-configuration script reported a warning.";
    PreScriptError => "pre-script-error", "The pre-configuration script failed; the device gives up on this server.";
    PreScriptComplete => "pre-script-complete", "The pre-configuration script completed.";
    ConfigInitiated => "config-initiated", "The device is starting to commit the configuration.";
    ConfigWarning => "config-warning", "A non-fatal error while committing the configuration.";
    ConfigError => "config-error", "Committing the configuration failed; the device gives up on this server.";
    ConfigComplete => "config-complete", "The configuration is committed.";
    PostScriptInitiated => "post-script-initiated", "The device is starting the post-configuration script.";
    PostScriptWarning => "post-script-warning", "The post-configuration script reported a warning.";
    PostScriptError => "post-script-error", "The post-configuration script failed; the device gives up on this server.";
    PostScriptComplete => "post-script-complete", "The post-configuration script completed.";
    BootstrapWarning => "bootstrap-warning", "A non-fatal error not covered by another type.";
    BootstrapError => "bootstrap-error", "A fatal error not covered by another type; the device gives up on this server.";
    BootstrapComplete => "bootstrap-complete", "Bootstrapping completed; the device will not contact this server again.";
    Informational => "informational", "Additional information (only with verbose reporting).";
}

impl ProgressType {
    /// Whether the device has abandoned this server (one of the six `*-error` types).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::ParsingError
                | Self::BootImageError
                | Self::PreScriptError
                | Self::ConfigError
                | Self::PostScriptError
                | Self::BootstrapError
        )
    }

    /// Whether bootstrapping completed (`bootstrap-complete`).
    pub fn is_complete(self) -> bool {
        self == Self::BootstrapComplete
    }

    /// Whether this is the device's last report to this server ([`is_terminal`](Self::is_terminal)
    /// or [`is_complete`](Self::is_complete)).
    pub fn is_final(self) -> bool {
        self.is_terminal() || self.is_complete()
    }
}

impl std::fmt::Display for ProgressType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SSH host key (`ssh-host-key` list entry), as in `report-progress` and in the
/// registration document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshHostKey {
    /// Public key algorithm name from the IANA registry, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The RFC 4253 §6.6 public key blob.
    pub key_data: Vec<u8>,
}

impl SshHostKey {
    pub(crate) fn check(&self) -> Result<(), ValidationError> {
        check_string("algorithm", &self.algorithm, 0, usize::MAX)
    }

    pub(crate) fn to_entry(&self, module: &'static Module) -> Out {
        Out::entry(
            module,
            "ssh-host-key",
            vec![
                Out::string(module, "algorithm", &self.algorithm),
                Out::leaf(module, "key-data", binary(&self.key_data)),
            ],
        )
    }

    /// Reads the `ssh-host-keys` container (absent or empty: no keys).
    pub(crate) fn read_container(
        container: Option<&Node>,
        module: &'static Module,
    ) -> Result<Vec<Self>, DecodeError> {
        let Some(container) = container else {
            return Ok(Vec::new());
        };
        let mut m = Members::of(container)?;
        let keys = m
            .many(module, "ssh-host-key")?
            .into_iter()
            .map(|entry| {
                let mut e = Members::of(entry)?;
                let algorithm = read_string(e.required(module, "algorithm")?)?;
                let key_data = read_binary(e.required(module, "key-data")?)?;
                e.finish()?;
                Ok(Self {
                    algorithm,
                    key_data,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        m.finish()?;
        Ok(keys)
    }
}

/// The input of `report-progress`.
///
/// XML root `<input xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server">`, JSON
/// `{"ietf-sztp-bootstrap-server:input": {...}}`. Empty `ssh-host-keys`/`trust-anchor-certs`
/// containers (which the OPI agent sends with every report) are accepted and mean "none";
/// non-empty ones are only valid with `bootstrap-complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportProgressInput {
    /// `progress-type`.
    pub progress_type: ProgressType,
    /// `message`: free-form text, e.g. a script's output.
    pub message: Option<String>,
    /// `ssh-host-keys/ssh-host-key`.
    pub ssh_host_keys: Vec<SshHostKey>,
    /// `trust-anchor-certs/trust-anchor-cert`: CMS degenerate SignedData structures (DER).
    pub trust_anchor_certs: Vec<Vec<u8>>,
}

impl ReportProgressInput {
    /// A report with only a progress type.
    pub fn new(progress_type: ProgressType) -> Self {
        Self {
            progress_type,
            message: None,
            ssh_host_keys: Vec::new(),
            trust_anchor_certs: Vec::new(),
        }
    }

    fn check(&self) -> Result<(), ValidationError> {
        if let Some(message) = &self.message {
            check_string("message", message, 0, usize::MAX)?;
        }
        let has_keys = !self.ssh_host_keys.is_empty() || !self.trust_anchor_certs.is_empty();
        if has_keys && !self.progress_type.is_complete() {
            return Err(ValidationError::KeysWithoutBootstrapComplete);
        }
        self.ssh_host_keys.iter().try_for_each(SshHostKey::check)
    }
}

impl Model for ReportProgressInput {
    fn to_tree(&self) -> Out {
        let mut c = vec![Out::string(
            &SVR,
            "progress-type",
            self.progress_type.as_str(),
        )];
        push_opt_string(&mut c, &SVR, "message", self.message.as_deref());
        if !self.ssh_host_keys.is_empty() {
            let keys = self
                .ssh_host_keys
                .iter()
                .map(|k| k.to_entry(&SVR))
                .collect();
            c.push(Out::container(&SVR, "ssh-host-keys", keys));
        }
        if !self.trust_anchor_certs.is_empty() {
            let certs = self
                .trust_anchor_certs
                .iter()
                .map(|cert| Out::item(&SVR, "trust-anchor-cert", binary(cert)))
                .collect();
            c.push(Out::container(&SVR, "trust-anchor-certs", certs));
        }
        Out::container(&SVR, "input", c)
    }

    fn from_tree(root: &Node) -> Result<Self, DecodeError> {
        expect_root(root, &SVR, "input")?;
        let mut m = Members::of(root)?;
        let progress_type = read_enum(m.required(&SVR, "progress-type")?, ProgressType::parse)?;
        let message = m.optional(&SVR, "message")?.map(read_string).transpose()?;
        let ssh_host_keys = SshHostKey::read_container(m.optional(&SVR, "ssh-host-keys")?, &SVR)?;
        let trust_anchor_certs = match m.optional(&SVR, "trust-anchor-certs")? {
            Some(container) => {
                let mut t = Members::of(container)?;
                let certs = t
                    .many(&SVR, "trust-anchor-cert")?
                    .into_iter()
                    .map(read_binary)
                    .collect::<Result<_, _>>()?;
                t.finish()?;
                certs
            }
            None => Vec::new(),
        };
        m.finish()?;
        Ok(Self {
            progress_type,
            message,
            ssh_host_keys,
            trust_anchor_certs,
        })
    }
}

document!(ReportProgressInput);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Document;

    #[test]
    fn all_27_in_order_and_classified() {
        assert_eq!(ProgressType::ALL.len(), 27);
        assert_eq!(ProgressType::ALL[0], ProgressType::BootstrapInitiated);
        assert_eq!(ProgressType::ALL[26], ProgressType::Informational);
        for t in ProgressType::ALL {
            assert_eq!(ProgressType::parse(t.as_str()), Some(*t));
            assert_eq!(t.is_terminal(), t.as_str().ends_with("-error"));
        }
        assert!(ProgressType::BootstrapComplete.is_complete());
        assert!(ProgressType::BootstrapComplete.is_final());
        assert!(!ProgressType::ConfigComplete.is_complete());
        assert_eq!(ProgressType::parse("bogus"), None);
    }

    #[test]
    fn opi_agent_empty_containers() {
        let body = br#"{"ietf-sztp-bootstrap-server:input":{"progress-type":"bootstrap-initiated","message":"starting","ssh-host-keys":{},"trust-anchor-certs":{}}}"#;
        let report = ReportProgressInput::from_json(body).unwrap();
        assert_eq!(report.progress_type, ProgressType::BootstrapInitiated);
        assert!(report.ssh_host_keys.is_empty());
        assert!(report.trust_anchor_certs.is_empty());
    }

    #[test]
    fn keys_only_with_bootstrap_complete() {
        let body = br#"{"ietf-sztp-bootstrap-server:input":{"progress-type":"config-complete","ssh-host-keys":{"ssh-host-key":[{"algorithm":"ssh-ed25519","key-data":"AAEC"}]}}}"#;
        assert_eq!(
            ReportProgressInput::from_json(body),
            Err(DecodeError::Invalid(
                ValidationError::KeysWithoutBootstrapComplete
            ))
        );
    }
}
