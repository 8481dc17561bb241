//! A client of the admin API, for the `ztp` inventory commands: plain HTTP (loopback), or
//! HTTPS with the server's CA (or the system's anchors) and, when the server asks, an
//! administrator's client certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

use crate::admin::ErrorBody;

/// Largest answer read.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// A call to the admin API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientError {
    /// The URL is not `http://host:port` or `https://host:port`.
    #[error("admin URL {0:?} must look like http://127.0.0.1:8444 or https://ztp.example:8444")]
    Url(String),
    /// A CA or client certificate file did not load.
    #[error("{path}: {reason}")]
    Tls {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the admin API at {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// No answer in time.
    #[error("the admin API did not answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with an error.
    #[error("{status}: {message}")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The answer is not what was expected.
    #[error("unexpected answer from the admin API: {0}")]
    Decode(String),
}

/// The admin API at one address, with one token.
#[derive(Debug, Clone)]
pub struct AdminClient {
    authority: String,
    token: String,
    timeout: Duration,
    /// HTTPS: how to verify the server, and the client certificate to present.
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// How the client speaks HTTPS: the CA that issued the server's certificate (none: the
/// system's anchors), and an administrator's certificate chain and key (PEM files).
#[derive(Debug, Clone, Default)]
pub struct ClientTls<'a> {
    /// The server's CA.
    pub ca: Option<&'a Path>,
    /// A client certificate and its key.
    pub identity: Option<(&'a Path, &'a Path)>,
}

impl AdminClient {
    /// A client of the API at `url` (`http://host:port`).
    pub fn new(url: &str, token: &str) -> Result<Self, AdminClientError> {
        Self::with_tls(url, token, &ClientTls::default())
    }

    /// A client of the API at `url`: `http://host:port`, or `https://host:port` verified and
    /// identified as `tls` says.
    pub fn with_tls(url: &str, token: &str, tls: &ClientTls<'_>) -> Result<Self, AdminClientError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| AdminClientError::Url(url.to_owned()))?;
        let (authority, tls) = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) => (authority.to_string(), None),
            (Some("https"), Some(authority)) => (authority.to_string(), Some(client_config(tls)?)),
            _ => return Err(AdminClientError::Url(url.to_owned())),
        };
        Ok(Self {
            authority,
            token: token.trim().to_owned(),
            timeout: Duration::from_secs(30),
            tls,
        })
    }

    /// GET `path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AdminClientError> {
        decode(&self.call(Method::GET, path, None).await?)
    }

    /// GET `path` as text.
    pub async fn get_text(&self, path: &str) -> Result<String, AdminClientError> {
        let body = self.call(Method::GET, path, None).await?;
        String::from_utf8(body.to_vec()).map_err(|e| AdminClientError::Decode(e.to_string()))
    }

    /// `method` `path` with a JSON body, answer as JSON.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, AdminClientError> {
        let json = serde_json::to_vec(body).map_err(|e| AdminClientError::Decode(e.to_string()))?;
        decode(&self.call(method, path, Some(json)).await?)
    }

    /// POST `path` with a streamed `body` of `content_type`; the answer as JSON, with its
    /// status. An answer that is a `T` is returned whatever its status (an import's report
    /// comes with 422 when nothing was kept); any other error answer is an error. No overall
    /// time limit: an upload takes as long as its size needs.
    pub async fn upload<B, T>(
        &self,
        path: &str,
        content_type: &str,
        body: B,
    ) -> Result<(StatusCode, T), AdminClientError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        T: DeserializeOwned,
    {
        let (status, body) = self
            .exchange(Method::POST, path, Some(content_type), body)
            .await?;
        if !status.is_success()
            && let Ok(answer) = serde_json::from_slice(&body)
        {
            return Ok((status, answer));
        }
        Ok((status, decode(&checked(status, body)?)?))
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<(), AdminClientError> {
        self.call(Method::DELETE, path, None).await.map(drop)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, AdminClientError> {
        let content_type = body.is_some().then_some("application/json");
        let body = Full::new(Bytes::from(body.unwrap_or_default()));
        let (status, body) = tokio::time::timeout(
            self.timeout,
            self.exchange(method, path, content_type, body),
        )
        .await
        .map_err(|_| AdminClientError::Timeout(self.timeout))??;
        checked(status, body)
    }

    async fn exchange<B>(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: B,
    ) -> Result<(StatusCode, Bytes), AdminClientError>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let connect_error = |reason: String| AdminClientError::Connect {
            url: format!("{scheme}://{}", self.authority),
            reason,
        };
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        let mut sender = match &self.tls {
            None => handshake(TokioIo::new(stream)).await,
            Some(config) => {
                let host = self
                    .authority
                    .rsplit_once(':')
                    .map_or(self.authority.as_str(), |(host, _)| host)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = rustls_pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| connect_error(e.to_string()))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, stream)
                    .await
                    .map_err(|e| connect_error(e.to_string()))?;
                handshake(TokioIo::new(stream)).await
            }
        }
        .map_err(|e| connect_error(e.to_string()))?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let request = request
            .body(body.map_err(Into::into).boxed_unsync())
            .map_err(|e| AdminClientError::Url(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| AdminClientError::Decode(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}

/// An HTTP/1.1 connection over `io`, driven on its own task.
async fn handshake<I>(
    io: I,
) -> Result<hyper::client::conn::http1::SendRequest<BoxedBody>, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "admin connection ended");
        }
    });
    Ok(sender)
}

/// The body of every request: boxed, so that one connection type carries JSON and uploads.
type BoxedBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The client's TLS: anchors from `tls.ca` (else the system's), HTTP/1.1, the client
/// certificate when given.
fn client_config(tls: &ClientTls<'_>) -> Result<Arc<rustls::ClientConfig>, AdminClientError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &Path, reason: String| AdminClientError::Tls {
        path: path.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    match tls.ca {
        Some(ca) => {
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(ca, e.to_string()))? {
                roots
                    .add(cert.map_err(|e| bad(ca, e.to_string()))?)
                    .map_err(|e| bad(ca, e.to_string()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(Path::new("TLS"), e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match tls.identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad(cert, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(cert, e.to_string()))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(cert, e.to_string()))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A success's body, or the error an error answer carries.
fn checked(status: StatusCode, body: Bytes) -> Result<Bytes, AdminClientError> {
    if status.is_success() {
        return Ok(body);
    }
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
    Err(AdminClientError::Api { status, message })
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminClientError> {
    let body = if body.is_empty() {
        b"null".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| AdminClientError::Decode(e.to_string()))
}
