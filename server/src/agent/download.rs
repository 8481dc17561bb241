//! Downloading a file (a boot image) over HTTP or HTTPS to a path, hashing it on the way, with
//! a size limit and a timeout per step. No redirects are followed; anything but 200 is an
//! error. HTTPS does not authenticate the server: what is downloaded is verified by the hash
//! the signed (or trusted) onboarding information conveys.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use http::header::HOST;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::failure::printable;

/// A download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The URI is not an `http://` or `https://` URI with a host.
    #[error("{uri:?} is not an http:// or https:// URI with a host")]
    Uri {
        /// The URI, made printable.
        uri: String,
    },
    /// Connecting, TLS or HTTP failed.
    #[error("{step}: {detail}")]
    Transport {
        /// What was being done.
        step: &'static str,
        /// The cause.
        detail: String,
    },
    /// The server answered something else than 200.
    #[error("the server answered {0}")]
    Status(StatusCode),
    /// The file is larger than allowed.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A step took longer than the timeout.
    #[error("{step} timed out after {} s", timeout.as_secs_f32())]
    Timeout {
        /// What was being done.
        step: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// Writing the file failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What was downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Its size in bytes.
    pub size: u64,
    /// Its sha-256.
    pub sha256: Vec<u8>,
}

/// The download's limits.
#[derive(Debug, Clone, Copy)]
pub struct DownloadLimits {
    /// The largest file accepted.
    pub max_bytes: u64,
    /// The limit on connecting, on the response head, and on each read of the body.
    pub timeout: Duration,
}

/// Downloads `uri` to `path` (created; it must not exist), within `limits`; `tls` is used for
/// `https://`.
pub async fn download(
    uri: &str,
    path: &Path,
    limits: DownloadLimits,
    tls: Arc<ClientConfig>,
) -> Result<Downloaded, DownloadError> {
    let bad_uri = || DownloadError::Uri {
        uri: printable(uri),
    };
    let parsed: Uri = uri.parse().map_err(|_| bad_uri())?;
    let host = parsed.host().ok_or_else(bad_uri)?.to_owned();
    let https = match parsed.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad_uri()),
    };
    let port = parsed.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = parsed.authority().ok_or_else(bad_uri)?.as_str().to_owned();
    let target = parsed
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // An IPv6 literal comes bracketed in the URI; connect and TLS want it bare.
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let timeout = limits.timeout;
    let tcp = within(
        timeout,
        "connecting",
        TcpStream::connect((bare.as_str(), port)),
    )
    .await?
    .map_err(|e| transport("connecting", e))?;
    let request = Request::get(target)
        .header(HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| transport("building the request", e))?;
    let response = if https {
        let name = ServerName::try_from(bare).map_err(|_| bad_uri())?;
        let stream = within(timeout, "TLS", TlsConnector::from(tls).connect(name, tcp))
            .await?
            .map_err(|e| transport("TLS", e))?;
        exchange(TokioIo::new(stream), request, timeout).await?
    } else {
        exchange(TokioIo::new(tcp), request, timeout).await?
    };
    if response.status() != StatusCode::OK {
        return Err(DownloadError::Status(response.status()));
    }
    save(response.into_body(), path, limits).await
}

async fn exchange<T>(
    io: TokioIo<T>,
    request: Request<Empty<Bytes>>,
    timeout: Duration,
) -> Result<http::Response<hyper::body::Incoming>, DownloadError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = within(timeout, "HTTP", http1::handshake(io))
        .await?
        .map_err(|e| transport("HTTP", e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "download connection ended");
        }
    });
    within(timeout, "the response", sender.send_request(request))
        .await?
        .map_err(|e| transport("the response", e))
}

/// Streams `body` into a new file at `path`, hashing it, up to the limit.
async fn save(
    mut body: hyper::body::Incoming,
    path: &Path,
    limits: DownloadLimits,
) -> Result<Downloaded, DownloadError> {
    let write = |source| DownloadError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(write)?;
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut size: u64 = 0;
    while let Some(frame) = within(limits.timeout, "reading the body", body.frame()).await? {
        let frame = frame.map_err(|e| transport("reading the body", e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > limits.max_bytes {
            return Err(DownloadError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        hash.update(&data);
        file.write_all(&data).await.map_err(write)?;
    }
    file.sync_all().await.map_err(write)?;
    Ok(Downloaded {
        size,
        sha256: hash.finish().as_ref().to_vec(),
    })
}

fn transport(step: &'static str, error: impl std::fmt::Display) -> DownloadError {
    DownloadError::Transport {
        step,
        detail: error.to_string(),
    }
}

async fn within<T>(
    timeout: Duration,
    step: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, DownloadError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| DownloadError::Timeout { step, timeout })
}

#[cfg(test)]
pub(super) mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A one-file HTTP/1.1 server on loopback: answers every request with `status` and `body`.
    /// Returns its base URL (`http://127.0.0.1:port`).
    pub(crate) async fn serve_file(status: u16, body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        format!("http://{address}")
    }

    fn limits(max_bytes: u64) -> DownloadLimits {
        DownloadLimits {
            max_bytes,
            timeout: Duration::from_secs(10),
        }
    }

    fn tls() -> Arc<ClientConfig> {
        super::super::tls::download_config().unwrap()
    }

    #[tokio::test]
    async fn a_file_is_downloaded_and_hashed() {
        let base = serve_file(200, b"image bytes".to_vec()).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let got = download(&format!("{base}/image.bin"), &path, limits(100), tls())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"image bytes");
        assert_eq!(got.size, 11);
        assert_eq!(
            got.sha256,
            digest::digest(&digest::SHA256, b"image bytes").as_ref()
        );
    }

    #[tokio::test]
    async fn too_large_files_errors_and_bad_uris_are_refused() {
        let base = serve_file(200, vec![7; 1000]).await;
        let dir = tempfile::tempdir().unwrap();
        let error = download(&base, &dir.path().join("a"), limits(999), tls())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DownloadError::TooLarge { limit: 999 }),
            "{error}"
        );
        let missing = serve_file(404, Vec::new()).await;
        let error = download(&missing, &dir.path().join("b"), limits(999), tls())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DownloadError::Status(StatusCode::NOT_FOUND)),
            "{error}"
        );
        for uri in ["ftp://example.com/x", "/relative", "http://"] {
            let error = download(uri, &dir.path().join("c"), limits(9), tls())
                .await
                .unwrap_err();
            assert!(matches!(error, DownloadError::Uri { .. }), "{uri}: {error}");
        }
    }
}
