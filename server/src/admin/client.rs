//! A client of the admin API, for the `ztp` inventory commands.

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
    /// The URL is not `http://host:port`.
    #[error("admin URL {0:?} must look like http://127.0.0.1:8444")]
    Url(String),
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
}

impl AdminClient {
    /// A client of the API at `url` (`http://host:port`).
    pub fn new(url: &str, token: &str) -> Result<Self, AdminClientError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| AdminClientError::Url(url.to_owned()))?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) => authority.to_string(),
            _ => return Err(AdminClientError::Url(url.to_owned())),
        };
        Ok(Self {
            authority,
            token: token.trim().to_owned(),
            timeout: Duration::from_secs(30),
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
        let connect_error = |reason: String| AdminClientError::Connect {
            url: format!("http://{}", self.authority),
            reason,
        };
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "admin connection ended");
            }
        });
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let request = request
            .body(body)
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
