//! Following redirect information (RFC 8572 §5.5, "Processing Redirect Information"): the
//! bootstrap servers it lists, in order, each authenticated by the trust anchor it conveys.
//!
//! Whom the device believes:
//! - Redirect information from a server the device authenticated by TLS, or signed by the
//!   device's owner (voucher → owner certificate → signature), is trusted: a conveyed trust
//!   anchor authenticates the next server. An entry without one is reached with the device's
//!   own configured anchors if it has any, else provisionally (untrusted).
//! - Unsigned redirect information from a server the device did not authenticate is not
//!   followed at all: anyone on the path could have sent it (this agent is stricter than the
//!   RFC's "follow, but ignore the trust anchors", which would let an attacker steer the
//!   device at will to servers of its choosing).
//!
//! A redirect chain is bounded ([`Hops`]): at most [`MAX_DEPTH`] redirects deep, and a server
//! already contacted in this pass is not contacted again (a loop ends).

use std::collections::HashSet;

use ztp_certs::{Cert, CmsError, cms};
use ztp_yang::{BootstrapServer, RedirectInformation};

use super::client::{ClientError, ServerUrl};
use super::failure::printable;
use crate::dhcp::BootstrapUri;

/// How many redirects deep the agent follows by default.
pub const MAX_DEPTH: usize = 4;

/// Redirect information that is not followed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// Unsigned redirect information from a server the device did not authenticate.
    #[error("unsigned redirect information from an untrusted server is not followed")]
    UnsignedFromUntrusted,
    /// An entry's address and port do not make a bootstrap server URL.
    #[error("bootstrap server {address:?}: {source}")]
    Address {
        /// The address, made printable.
        address: String,
        /// Why.
        source: ClientError,
    },
    /// An entry's trust anchor is not a CMS certificate bag with a certificate.
    #[error("bootstrap server {address:?}: trust-anchor: {detail}")]
    TrustAnchor {
        /// The address, made printable.
        address: String,
        /// Why.
        detail: String,
    },
    /// The chain of redirects is deeper than allowed.
    #[error("more than {0} redirects in a row")]
    TooDeep(usize),
    /// The server was already contacted in this pass: a redirect loop.
    #[error("{0} was already contacted: a redirect loop")]
    Loop(String),
}

/// Where the redirect information came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The server was authenticated by TLS.
    pub authenticated: bool,
    /// The redirect information was signed and verified.
    pub signed: bool,
}

/// How the device authenticates a server it is about to contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// By the device's own configured anchors (provisionally when it has none).
    Configured,
    /// By the anchors a trusted redirect conveyed for it.
    Conveyed(Vec<Cert>),
}

/// A bootstrap server to contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// Its URL.
    pub url: ServerUrl,
    /// How to authenticate it.
    pub trust: Trust,
}

/// The servers `redirect` (which came from `source`) sends the device to, in order.
pub fn next_servers(
    redirect: &RedirectInformation,
    source: Source,
) -> Result<Vec<Next>, RedirectError> {
    if !source.authenticated && !source.signed {
        return Err(RedirectError::UnsignedFromUntrusted);
    }
    redirect.bootstrap_servers.iter().map(next).collect()
}

fn next(server: &BootstrapServer) -> Result<Next, RedirectError> {
    let address = printable(&server.address);
    let url = server_url(server).map_err(|source| RedirectError::Address {
        address: address.clone(),
        source,
    })?;
    let trust = match &server.trust_anchor {
        None => Trust::Configured,
        Some(der) => Trust::Conveyed(
            anchors(der).map_err(|detail| RedirectError::TrustAnchor { address, detail })?,
        ),
    };
    Ok(Next { url, trust })
}

/// `https://address:port`, an IPv6 address in brackets.
fn server_url(server: &BootstrapServer) -> Result<ServerUrl, ClientError> {
    let host = if server.address.contains(':') {
        format!("[{}]", server.address)
    } else {
        server.address.clone()
    };
    let uri = BootstrapUri::parse(&format!("https://{host}:{}", server.port))?;
    Ok(ServerUrl::from_uri(&uri))
}

fn anchors(der: &[u8]) -> Result<Vec<Cert>, String> {
    let certs = cms::read_certificates(der).map_err(|e: CmsError| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

/// The bound on one pass's redirects: depth and servers already contacted.
#[derive(Debug)]
pub struct Hops {
    contacted: HashSet<String>,
    max_depth: usize,
}

impl Hops {
    /// A pass that follows at most `max_depth` redirects in a row.
    pub fn new(max_depth: usize) -> Self {
        Self {
            contacted: HashSet::new(),
            max_depth,
        }
    }

    /// Records that `url` is about to be contacted `depth` redirects deep (0: a server of
    /// the device's own list); refuses a server already contacted or a chain too deep.
    pub fn enter(&mut self, url: &ServerUrl, depth: usize) -> Result<(), RedirectError> {
        if depth > self.max_depth {
            return Err(RedirectError::TooDeep(self.max_depth));
        }
        if !self.contacted.insert(url.as_str().to_ascii_lowercase()) {
            return Err(RedirectError::Loop(url.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ztp_certs::{CertificateAuthority, KeyAlgorithm};

    use super::*;

    fn redirect(servers: Vec<BootstrapServer>) -> RedirectInformation {
        RedirectInformation {
            bootstrap_servers: servers,
        }
    }

    const TRUSTED: Source = Source {
        authenticated: true,
        signed: false,
    };

    #[test]
    fn a_trusted_redirect_conveys_the_next_servers_anchor() {
        let ca =
            CertificateAuthority::new_root("NMS CA", "Owner", KeyAlgorithm::EcdsaP256).unwrap();
        let bag = cms::certificates_only(&[ca.cert().clone()]).unwrap();
        let with_anchor = BootstrapServer {
            address: "127.0.0.1".into(),
            port: 8443,
            trust_anchor: Some(bag),
        };
        let bare = BootstrapServer::new("2001:db8::1");
        let signed_from_untrusted = Source {
            authenticated: false,
            signed: true,
        };
        for source in [TRUSTED, signed_from_untrusted] {
            let next =
                next_servers(&redirect(vec![with_anchor.clone(), bare.clone()]), source).unwrap();
            assert_eq!(next[0].url.as_str(), "https://127.0.0.1:8443");
            assert_eq!(next[0].trust, Trust::Conveyed(vec![ca.cert().clone()]));
            assert_eq!(next[1].url.as_str(), "https://[2001:db8::1]:443");
            assert_eq!(next[1].trust, Trust::Configured);
        }
    }

    #[test]
    fn an_unsigned_redirect_from_an_untrusted_server_is_refused() {
        let untrusted = Source {
            authenticated: false,
            signed: false,
        };
        let error = next_servers(
            &redirect(vec![BootstrapServer::new("evil.example")]),
            untrusted,
        )
        .unwrap_err();
        assert!(
            matches!(error, RedirectError::UnsignedFromUntrusted),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_trust_anchor_is_refused_with_its_server() {
        let server = BootstrapServer {
            trust_anchor: Some(b"not CMS".to_vec()),
            ..BootstrapServer::new("nms.example")
        };
        let error = next_servers(&redirect(vec![server]), TRUSTED).unwrap_err();
        assert!(
            matches!(error, RedirectError::TrustAnchor { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("nms.example"));
    }

    #[test]
    fn a_redirect_loop_and_a_chain_too_deep_are_bounded() {
        let a = ServerUrl::parse("https://a.example").unwrap();
        let b = ServerUrl::parse("https://B.example:443").unwrap();
        let mut hops = Hops::new(2);
        hops.enter(&a, 0).unwrap();
        hops.enter(&b, 1).unwrap();
        let error = hops.enter(&a, 2).unwrap_err();
        assert!(matches!(error, RedirectError::Loop(_)), "{error}");
        let c = ServerUrl::parse("https://c.example").unwrap();
        let error = hops.enter(&c, 3).unwrap_err();
        assert!(matches!(error, RedirectError::TooDeep(2)), "{error}");
    }
}
