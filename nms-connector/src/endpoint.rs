//! Where and how to deliver: one customer NMS's SFTP account, and which addresses its host may
//! be reached at.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::fingerprint::Fingerprint;
use crate::key::ClientKey;

/// One NMS SFTP account and the directory that receives registration files.
///
/// `Debug` never prints the password or the private key.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name or IP address of the SFTP server.
    pub host: String,
    /// TCP port, usually 22.
    pub port: u16,
    /// The account to log in as.
    pub username: String,
    /// How to authenticate.
    pub auth: Auth,
    /// Accepted host key fingerprints; several are allowed so that the NMS can rotate its key.
    /// Empty pins refuse every connection: host keys are never trusted on first use.
    pub pins: Vec<Fingerprint>,
    /// The remote directory for the files, absolute or relative to the account's home; empty
    /// means the home directory itself.
    pub directory: String,
    /// Time limits of the network steps.
    pub timeouts: Timeouts,
    /// The addresses the connector may connect to (default: any).
    pub address_filter: AddressFilter,
}

impl Endpoint {
    /// An endpoint on port 22 with the default [`Timeouts`].
    pub fn new(
        host: impl Into<String>,
        username: impl Into<String>,
        auth: Auth,
        pins: Vec<Fingerprint>,
        directory: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: 22,
            username: username.into(),
            auth,
            pins,
            directory: directory.into(),
            timeouts: Timeouts::default(),
            address_filter: AddressFilter::default(),
        }
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The remote path of `name` inside [`Endpoint::directory`].
    pub(crate) fn remote_path(&self, name: &str) -> String {
        if self.directory.is_empty() {
            name.to_owned()
        } else if self.directory.ends_with('/') {
            format!("{}{name}", self.directory)
        } else {
            format!("{}/{name}", self.directory)
        }
    }
}

/// Which addresses the connector may connect to: checked on the addresses the host resolves
/// to, at every connection, before any is tried. The connector has no opinion of its own (the
/// default admits any address); its user decides, e.g. that customers' hosts may not be
/// loopback or private addresses of the user's own network.
#[derive(Clone, Default)]
pub struct AddressFilter(Option<Arc<AddressCheck>>);

/// `Ok` for an address the connector may connect to; otherwise why not, for the administrator.
type AddressCheck = dyn Fn(IpAddr) -> Result<(), String> + Send + Sync;

impl AddressFilter {
    /// A filter that admits the addresses `check` accepts; its `Err` says why one is refused.
    pub fn new(check: impl Fn(IpAddr) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(check)))
    }

    /// Whether the connector may connect to `address`; if not, why.
    pub fn check(&self, address: IpAddr) -> Result<(), String> {
        match &self.0 {
            Some(check) => check(address),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for AddressFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "AddressFilter(<check>)",
            None => "AddressFilter(any)",
        })
    }
}

/// Credentials for the NMS account.
#[derive(Clone)]
pub enum Auth {
    /// Password authentication.
    Password(String),
    /// Public key authentication with the connector's own key (see
    /// [`generate_client_key`](crate::generate_client_key)).
    Key(ClientKey),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(<redacted>)"),
            Self::Key(key) => f.debug_tuple("Key").field(key).finish(),
        }
    }
}

/// Time limits of the network steps. Every step of a delivery is bounded by one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect, and separately the SSH handshake including the host key check.
    pub connect: Duration,
    /// Authentication.
    pub auth: Duration,
    /// Starting SFTP, and each SFTP request (open, write, close, rename, remove).
    pub operation: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 10 s to authenticate, 30 s per operation.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            auth: Duration::from_secs(10),
            operation: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(directory: &str) -> Endpoint {
        Endpoint::new(
            "nms.example",
            "ztp",
            Auth::Password("s3cret-pw".into()),
            vec![],
            directory,
        )
    }

    #[test]
    fn debug_never_prints_the_password() {
        let debug = format!("{:?}", endpoint("in"));
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn remote_paths_join_the_directory() {
        assert_eq!(endpoint("").remote_path("a.xml"), "a.xml");
        assert_eq!(endpoint("in").remote_path("a.xml"), "in/a.xml");
        assert_eq!(endpoint("/srv/in/").remote_path("a.xml"), "/srv/in/a.xml");
    }

    #[test]
    fn address_filters_admit_any_address_unless_given_a_check() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(AddressFilter::default().check(loopback), Ok(()));
        let public_only = AddressFilter::new(|ip: IpAddr| {
            if ip.is_loopback() {
                Err(format!("{ip} is loopback"))
            } else {
                Ok(())
            }
        });
        assert_eq!(
            public_only.check(loopback),
            Err("127.0.0.1 is loopback".into())
        );
        assert_eq!(public_only.check("192.0.2.1".parse().unwrap()), Ok(()));
    }

    #[test]
    fn addresses_bracket_ipv6() {
        let mut e = endpoint("");
        assert_eq!(e.address(), "nms.example:22");
        e.host = "::1".into();
        assert_eq!(e.address(), "[::1]:22");
    }
}
