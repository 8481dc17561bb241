//! One HTTPS POST to a webhook receiver.
//!
//! A new connection per delivery (receivers are many and calls are rare), HTTP/1.1, every step
//! inside one time limit. The receiver's certificate must lead to the subscription's CA
//! certificates, or to the system's roots when it has none, and name the URL's host. Redirects
//! are not followed. Unless allowed, a host that resolves only to loopback, private,
//! link-local or other non-public addresses is refused, so that a customer's admin cannot make
//! ztp post into the network it runs in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Request};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::WebhookUrl;
use crate::address_policy::is_public;

/// Why a delivery did not reach the receiver, or was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The stored URL does not parse (the database was edited by hand).
    #[error(transparent)]
    Url(#[from] super::UrlError),
    /// The subscription's CA certificates are not usable.
    #[error("the webhook's CA certificates: {0}")]
    Trust(String),
    /// No trust anchors: the system has none and the subscription gave none.
    #[error("no system trust anchors are installed; give the webhook its CA certificate")]
    NoSystemRoots,
    /// The host does not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The host resolves only to addresses receivers may not have.
    #[error("{host} resolves only to non-public addresses ({addresses}); refused")]
    NotPublic {
        /// The host.
        host: String,
        /// What it resolved to.
        addresses: String,
    },
    /// No address accepted the connection.
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// host:port.
        authority: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed (e.g. an untrusted certificate).
    #[error("TLS handshake with {authority}: {source}")]
    Tls {
        /// host:port.
        authority: String,
        /// Why.
        source: std::io::Error,
    },
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The receiver took longer than the time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The receiver answered, but not with 2xx.
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
}

impl SendError {
    /// The receiver's status, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status(status) => Some(*status),
            _ => None,
        }
    }
}

/// What a delivery carries besides its body.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// `ztp-event`.
    pub event_type: &'a str,
    /// `ztp-delivery`.
    pub delivery_id: i64,
    /// `ztp-signature`.
    pub signature: &'a str,
}

/// Posts deliveries.
#[derive(Debug)]
pub struct Sender {
    timeout: Duration,
    allow_private_addresses: bool,
    /// TLS configurations by CA certificates (`None`: the system's roots).
    configs: Mutex<HashMap<Option<String>, Arc<ClientConfig>>>,
}

impl Sender {
    /// A sender with a time limit per delivery.
    pub fn new(timeout: Duration, allow_private_addresses: bool) -> Self {
        Self {
            timeout,
            allow_private_addresses,
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// Posts `body` to `url`, trusting `ca_pem` (or the system's roots); returns the
    /// receiver's 2xx status.
    pub async fn post(
        &self,
        url: &WebhookUrl,
        ca_pem: Option<&str>,
        envelope: Envelope<'_>,
        body: Vec<u8>,
    ) -> Result<u16, SendError> {
        tokio::time::timeout(self.timeout, self.exchange(url, ca_pem, envelope, body))
            .await
            .map_err(|_| SendError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        url: &WebhookUrl,
        ca_pem: Option<&str>,
        envelope: Envelope<'_>,
        body: Vec<u8>,
    ) -> Result<u16, SendError> {
        let authority = format!("{}:{}", url.host(), url.port());
        let addresses = self.addresses(url).await?;
        let config = self.config(ca_pem)?;
        let tcp = connect(&addresses, &authority).await?;
        let name = ServerName::try_from(url.host().to_owned()).map_err(|_| SendError::Resolve {
            host: url.host().to_owned(),
            reason: "not a valid TLS server name".into(),
        })?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|source| SendError::Tls {
                authority: authority.clone(),
                source,
            })?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "webhook connection ended");
            }
        });
        let request = Request::post(url.path_and_query())
            .header(HOST, url.authority())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("ztp/", env!("CARGO_PKG_VERSION")))
            .header("ztp-event", envelope.event_type)
            .header("ztp-delivery", envelope.delivery_id)
            .header(
                "ztp-signature",
                HeaderValue::from_str(envelope.signature).unwrap_or(HeaderValue::from_static("")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Resolve {
                host: url.host().to_owned(),
                reason: e.to_string(),
            })?;
        // The answer's body is not read: only the status counts, and the connection is closed.
        let status = sender.send_request(request).await?.status().as_u16();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(SendError::Status(status))
        }
    }

    /// The addresses of the URL's host that a receiver may have.
    async fn addresses(&self, url: &WebhookUrl) -> Result<Vec<SocketAddr>, SendError> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((url.host(), url.port()))
            .await
            .map_err(|e| SendError::Resolve {
                host: url.host().to_owned(),
                reason: e.to_string(),
            })?
            .collect();
        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| self.allow_private_addresses || is_public(a.ip()))
            .collect();
        if allowed.is_empty() {
            let addresses: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
            return Err(SendError::NotPublic {
                host: url.host().to_owned(),
                addresses: addresses.join(", "),
            });
        }
        Ok(allowed)
    }

    fn config(&self, ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, SendError> {
        let key = ca_pem.map(str::to_owned);
        if let Some(config) = lock(&self.configs).get(&key) {
            return Ok(Arc::clone(config));
        }
        let roots = match ca_pem {
            Some(pem) => anchors(pem)?,
            None => system_roots()?,
        };
        let config = client_config(roots).map_err(SendError::Trust)?;
        let mut configs = lock(&self.configs);
        // Subscriptions are few; a CA changed many times leaves a few stale entries at most
        // until this bound clears them.
        if configs.len() >= 1024 {
            configs.clear();
        }
        configs.insert(key, Arc::clone(&config));
        Ok(config)
    }
}

/// Checks that `pem` holds at least one usable CA certificate.
pub fn check_anchors(pem: &str) -> Result<(), SendError> {
    anchors(pem).map(|_| ())
}

fn anchors(pem: &str) -> Result<RootCertStore, SendError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| SendError::Trust(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| SendError::Trust(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(SendError::Trust("no PEM certificate found".into()));
    }
    Ok(roots)
}

/// The system's trust anchors, read once.
fn system_roots() -> Result<RootCertStore, SendError> {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "reading the system's trust anchors");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
        tracing::debug!(added, ignored, "system trust anchors for webhooks");
        roots
    });
    if roots.is_empty() {
        return Err(SendError::NoSystemRoots);
    }
    Ok(roots.clone())
}

fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let mut config = ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn connect(addresses: &[SocketAddr], authority: &str) -> Result<TcpStream, SendError> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(SendError::Connect {
        authority: authority.to_owned(),
        source: last.unwrap_or_else(|| std::io::Error::other("no address")),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_receivers_are_refused_unless_allowed() {
        let url = WebhookUrl::parse("https://127.0.0.1:9/hook").unwrap();
        let envelope = Envelope {
            event_type: "ping",
            delivery_id: 0,
            signature: "t=0,v1=00",
        };
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let strict = Sender::new(Duration::from_secs(2), false);
        let error = strict
            .post(&url, None, envelope, b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(error, SendError::NotPublic { .. }), "{error}");
        assert!(error.to_string().contains("127.0.0.1"), "{error}");
        let lenient = Sender::new(Duration::from_secs(2), true);
        assert!(matches!(
            lenient.post(&url, Some(pem), envelope, Vec::new()).await,
            Err(SendError::Trust(_))
        ));
        assert!(check_anchors("no PEM here").is_err());
    }
}
