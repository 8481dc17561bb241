//! A RESTCONF client over one TLS connection: connect once, then POST operations over HTTP/2 or
//! HTTP/1.1, whichever ALPN negotiated. Every step is bounded by a timeout and every response
//! body by [`MAX_BODY`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use ztp_yang::Encoding;

use crate::dhcp::{BootstrapUri, DhcpError};

/// The largest response body the agent reads: 1 MiB.
pub const MAX_BODY: usize = 1024 * 1024;

/// Path of the `get-bootstrapping-data` RPC.
pub const GET_BOOTSTRAPPING_DATA: &str =
    "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";
/// Path of the `report-progress` RPC.
pub const REPORT_PROGRESS: &str = "/restconf/operations/ietf-sztp-bootstrap-server:report-progress";

/// A transport failure: nothing usable came back from the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `https://host[:port]`.
    #[error(transparent)]
    Url(#[from] DhcpError),
    /// The host is not a valid TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The TCP connection failed.
    #[error("connecting to {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS handshake failed (e.g. the server's certificate is not trusted, or it refused
    /// the IDevID).
    #[error("TLS handshake with {authority}: {source}")]
    Tls {
        /// `host:port`.
        authority: String,
        /// The cause.
        source: std::io::Error,
    },
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// A request could not be built (a bug, or a host hyper cannot put in a URI).
    #[error("building the request: {0}")]
    Request(#[from] http::Error),
    /// The response body is larger than [`MAX_BODY`], or reading it failed.
    #[error("reading the response body: {0}")]
    Body(String),
    /// A step took longer than the timeout.
    #[error("{step} timed out after {} s", timeout.as_secs_f32())]
    Timeout {
        /// What was being done.
        step: &'static str,
        /// The limit.
        timeout: Duration,
    },
}

/// A bootstrap server's base URL: `https://host[:port]`, no path (as DHCP option 143 carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    base: String,
    host: String,
    port: u16,
}

impl ServerUrl {
    /// Parses `url`, accepting a trailing `/`.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        Ok(Self::from_uri(&BootstrapUri::parse(url)?))
    }

    /// The URL of an already checked bootstrap URI.
    pub fn from_uri(uri: &BootstrapUri) -> Self {
        let base = uri.as_str().trim_end_matches('/').to_owned();
        let authority = base.strip_prefix("https://").unwrap_or(&base);
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((host, rest)) => (host, rest.strip_prefix(':')),
                None => (v6, None),
            },
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        // `BootstrapUri::parse` checked the port.
        let port = port.and_then(|p| p.parse().ok()).unwrap_or(443);
        Self {
            host: host.to_owned(),
            port,
            base,
        }
    }

    /// The host: a DNS name or an IP address (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (443 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://host[:port]` without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// The base URL followed by `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The authority as it appears in the URL (`host[:port]`, IPv6 in brackets).
    fn authority(&self) -> &str {
        self.base.strip_prefix("https://").unwrap_or(&self.base)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// The HTTP version ALPN chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 (also when the server chose no ALPN protocol).
    Http1,
    /// HTTP/2.
    Http2,
}

/// A response, read in full.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The `Content-Type`, if any and readable.
    pub content_type: Option<String>,
    /// The `Retry-After`, if any and readable (seconds or an HTTP date, as sent).
    pub retry_after: Option<String>,
    /// The `WWW-Authenticate` challenges, if any and readable (several joined by `, `).
    pub www_authenticate: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// One TLS connection to a bootstrap server.
#[derive(Debug)]
pub struct Client {
    url: ServerUrl,
    sender: Sender,
    timeout: Duration,
    authorization: Option<HeaderValue>,
}

#[derive(Debug)]
enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Client {
    /// Connects to `url` over TLS with `config`, within `timeout` for TCP, TLS and HTTP setup.
    pub async fn connect(
        url: &ServerUrl,
        config: Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let sender = within(timeout, "connecting", handshake(url, config)).await??;
        Ok(Self {
            url: url.clone(),
            sender,
            timeout,
            authorization: None,
        })
    }

    /// Sends `authorization` as the `Authorization` header of every request from now on
    /// (`None`: no header).
    pub fn set_authorization(&mut self, authorization: Option<HeaderValue>) {
        self.authorization = authorization;
    }

    /// The `Authorization` header the requests carry, if any.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// The server's URL.
    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    /// Whether the connection is still open (the server may close an idle one).
    pub fn is_open(&self) -> bool {
        match &self.sender {
            Sender::Http1(sender) => !sender.is_closed(),
            Sender::Http2(sender) => !sender.is_closed(),
        }
    }

    /// The negotiated HTTP version.
    pub fn version(&self) -> HttpVersion {
        match self.sender {
            Sender::Http1(_) => HttpVersion::Http1,
            Sender::Http2(_) => HttpVersion::Http2,
        }
    }

    /// POSTs `body` in `encoding` to `path` (asking for the same encoding back) and reads the
    /// response, within the timeout.
    pub async fn post(
        &mut self,
        path: &str,
        encoding: Encoding,
        body: String,
    ) -> Result<Response, ClientError> {
        let request = self.request(path, encoding, body)?;
        let timeout = self.timeout;
        within(timeout, "the request", self.exchange(request)).await?
    }

    fn request(
        &self,
        path: &str,
        encoding: Encoding,
        body: String,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let builder = Request::post(match self.sender {
            // HTTP/2 carries scheme and authority as pseudo-headers, taken from the URI.
            Sender::Http2(_) => self.url.join(path),
            Sender::Http1(_) => path.to_owned(),
        });
        let builder = match self.sender {
            Sender::Http1(_) => builder.header(HOST, self.url.authority()),
            Sender::Http2(_) => builder,
        };
        let builder = match &self.authorization {
            Some(value) => builder.header(AUTHORIZATION, value.clone()),
            None => builder,
        };
        Ok(builder
            .header(CONTENT_TYPE, encoding.media_type())
            .header(ACCEPT, encoding.media_type())
            .body(Full::new(Bytes::from(body)))?)
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Response, ClientError> {
        let response = match &mut self.sender {
            Sender::Http1(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Sender::Http2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        read_response(response).await
    }
}

/// Runs `future` within `timeout`, naming `step` if it takes too long.
async fn within<T>(
    timeout: Duration,
    step: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, ClientError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| ClientError::Timeout { step, timeout })
}

/// TCP, TLS, then the HTTP handshake for the protocol ALPN chose; the connection is driven by
/// a spawned task that ends when the [`Sender`] is dropped.
async fn handshake(url: &ServerUrl, config: Arc<ClientConfig>) -> Result<Sender, ClientError> {
    let authority = url.authority().to_owned();
    let name = ServerName::try_from(url.host().to_owned())
        .map_err(|_| ClientError::ServerName(url.host().to_owned()))?;
    let tcp = TcpStream::connect((url.host(), url.port()))
        .await
        .map_err(|source| ClientError::Connect {
            authority: authority.clone(),
            source,
        })?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| ClientError::Tls { authority, source })?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(tls);
    if h2 {
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP/2 connection ended");
            }
        });
        Ok(Sender::Http2(sender))
    } else {
        let (sender, connection) = http1::handshake(io).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP/1.1 connection ended");
            }
        });
        Ok(Sender::Http1(sender))
    }
}

async fn read_response(response: http::Response<Incoming>) -> Result<Response, ClientError> {
    let (parts, body) = response.into_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let retry_after = header(RETRY_AFTER);
    let challenges: Vec<&str> = parts
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let www_authenticate = (!challenges.is_empty()).then(|| challenges.join(", "));
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ClientError::Body(e.to_string()))?
        .to_bytes();
    Ok(Response {
        status: parts.status,
        content_type,
        retry_after,
        www_authenticate,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_split_into_host_and_port_and_join_paths() {
        let url = ServerUrl::parse("https://ztp.example.com:8443/").unwrap();
        assert_eq!((url.host(), url.port()), ("ztp.example.com", 8443));
        assert_eq!(
            url.join(REPORT_PROGRESS),
            "https://ztp.example.com:8443/restconf/operations/ietf-sztp-bootstrap-server:report-progress"
        );
        let url = ServerUrl::parse("https://[2001:db8::1]").unwrap();
        assert_eq!((url.host(), url.port()), ("2001:db8::1", 443));
        assert_eq!(url.authority(), "[2001:db8::1]");
        let url = ServerUrl::parse("https://192.0.2.1:10443").unwrap();
        assert_eq!((url.host(), url.port()), ("192.0.2.1", 10443));
        assert_eq!(url.to_string(), "https://192.0.2.1:10443");
        assert!(ServerUrl::parse("https://ztp.example.com/restconf").is_err());
        assert!(ServerUrl::parse("http://ztp.example.com").is_err());
    }
}
