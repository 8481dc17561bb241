//! The boot image of onboarding information (RFC 8572 §5.5): skipped when the device already
//! runs the named OS and version; otherwise downloaded from its URIs in order until one gives a
//! file whose hashes match every `image-verification` entry, and only then staged in the
//! state directory (renamed into `images/`). An image without a verifiable hash is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use ztp_yang::{BootImage, HashAlgorithm};

use super::download::{self, DownloadError, DownloadLimits, Downloaded};
use super::failure::printable;
use super::state::create_private_dir;

/// The boot image could not be staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The boot image names no download URI.
    #[error("the boot image has no download-uri")]
    NoUri,
    /// No `image-verification` entry the agent can check: an unverifiable image is never
    /// staged.
    #[error("the boot image has no image-verification hash this device can check (sha-256)")]
    Unverifiable,
    /// The images directory could not be prepared, or the verified file not renamed into it.
    #[error("staging in {}: {source}", path.display())]
    Stage {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Every download URI failed; each failure in order.
    #[error("no download-uri gave the image: {}", list(.0))]
    AllFailed(Vec<UriFailure>),
}

/// Why one download URI did not give the image.
#[derive(Debug)]
pub struct UriFailure {
    /// The URI, made printable.
    pub uri: String,
    /// What went wrong.
    pub error: UriError,
}

/// What went wrong with one download URI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The file's hash is not the conveyed one.
    #[error("{algorithm} mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The algorithm.
        algorithm: &'static str,
        /// The conveyed hash (hex).
        expected: String,
        /// The downloaded file's (hex).
        actual: String,
    },
}

fn list(failures: &[UriFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.uri, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the device runs now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunningOs {
    /// Its OS name.
    pub name: Option<String>,
    /// Its OS version.
    pub version: Option<String>,
}

impl RunningOs {
    /// Whether the device already runs what `image` names (both its os-name and os-version,
    /// which must be given): then the image is not needed.
    pub fn matches(&self, image: &BootImage) -> bool {
        match (&image.os_name, &image.os_version, &self.name, &self.version) {
            (Some(name), Some(version), Some(running), Some(at)) => {
                name == running && version == at
            }
            _ => false,
        }
    }
}

/// A staged image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// Where it is.
    pub path: PathBuf,
    /// The URI it came from.
    pub uri: String,
    /// Its size.
    pub size: u64,
}

/// Downloads, verifies and stages `image` into `dir/images/`.
pub async fn stage(
    image: &BootImage,
    dir: &Path,
    limits: DownloadLimits,
    tls: Arc<ClientConfig>,
) -> Result<Staged, ImageError> {
    if image.download_uris.is_empty() {
        return Err(ImageError::NoUri);
    }
    let checkable = image
        .image_verification
        .iter()
        .any(|v| matches!(v.hash_algorithm, HashAlgorithm::Sha256));
    if !checkable {
        return Err(ImageError::Unverifiable);
    }
    let images = dir.join("images");
    let stage_error = |path: &Path, source| ImageError::Stage {
        path: path.to_owned(),
        source,
    };
    create_private_dir(&images).map_err(|e| stage_error(&images, e))?;
    let target = images.join(file_name(image));
    let mut failures = Vec::new();
    for uri in &image.download_uris {
        let partial = tempfile::Builder::new()
            .prefix(".partial-")
            .make_in(&images, |_| Ok(()))
            .map_err(|e| stage_error(&images, e))?
            .into_temp_path();
        // `make_in` only chose the name: the download creates the file.
        let path = partial.to_path_buf();
        let result = fetch_verified(image, uri, &path, limits, tls.clone()).await;
        match result {
            Ok(downloaded) => {
                std::fs::rename(&path, &target).map_err(|e| stage_error(&target, e))?;
                return Ok(Staged {
                    path: target,
                    uri: uri.clone(),
                    size: downloaded.size,
                });
            }
            Err(error) => {
                tracing::warn!(uri = %printable(uri), %error, "boot image download failed");
                failures.push(UriFailure {
                    uri: printable(uri),
                    error,
                });
            }
        }
    }
    Err(ImageError::AllFailed(failures))
}

async fn fetch_verified(
    image: &BootImage,
    uri: &str,
    path: &Path,
    limits: DownloadLimits,
    tls: Arc<ClientConfig>,
) -> Result<Downloaded, UriError> {
    let downloaded = download::download(uri, path, limits, tls).await?;
    check_hashes(image, &downloaded)?;
    Ok(downloaded)
}

/// Every checkable `image-verification` entry must match.
pub fn check_hashes(image: &BootImage, downloaded: &Downloaded) -> Result<(), UriError> {
    for verification in &image.image_verification {
        let actual = match verification.hash_algorithm {
            HashAlgorithm::Sha256 => &downloaded.sha256,
            _ => continue,
        };
        if *actual != verification.hash_value {
            return Err(UriError::HashMismatch {
                algorithm: verification.hash_algorithm.as_str(),
                expected: hex(&verification.hash_value),
                actual: hex(actual),
            });
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<os-name>-<os-version>.img` with anything but `A–Z a–z 0–9 . _ -` replaced by `_` (names
/// come from the server), or `boot-image.img`.
fn file_name(image: &BootImage) -> String {
    let parts: Vec<&str> = [&image.os_name, &image.os_version]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        return "boot-image.img".to_owned();
    }
    let name: String = parts
        .join("-")
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.img", name.trim_start_matches('.'))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_lc_rs::digest;
    use ztp_yang::ImageVerification;

    use super::super::download::tests::serve_file;
    use super::*;

    fn image(uris: Vec<String>, hash: &[u8]) -> BootImage {
        BootImage {
            os_name: Some("VendorOS".into()),
            os_version: Some("17.3/R2".into()),
            download_uris: uris,
            image_verification: vec![ImageVerification {
                hash_algorithm: HashAlgorithm::Sha256,
                hash_value: hash.to_vec(),
            }],
        }
    }

    fn limits() -> DownloadLimits {
        DownloadLimits {
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(10),
        }
    }

    fn tls() -> Arc<ClientConfig> {
        super::super::tls::download_config().unwrap()
    }

    #[tokio::test]
    async fn an_image_whose_hash_matches_is_staged_after_a_failing_uri() {
        let good = serve_file(200, b"the image".to_vec()).await;
        let gone = serve_file(404, Vec::new()).await;
        let hash = digest::digest(&digest::SHA256, b"the image");
        let image = image(
            vec![format!("{gone}/i"), format!("{good}/i")],
            hash.as_ref(),
        );
        let dir = tempfile::tempdir().unwrap();
        let staged = stage(&image, dir.path(), limits(), tls()).await.unwrap();
        assert_eq!(staged.path, dir.path().join("images/VendorOS-17.3_R2.img"));
        assert_eq!(std::fs::read(&staged.path).unwrap(), b"the image");
        assert_eq!((staged.uri, staged.size), (format!("{good}/i"), 9));
    }

    #[tokio::test]
    async fn an_image_whose_hash_does_not_match_is_refused_and_not_staged() {
        let base = serve_file(200, b"tampered".to_vec()).await;
        let hash = digest::digest(&digest::SHA256, b"the image");
        let image = image(vec![format!("{base}/i")], hash.as_ref());
        let dir = tempfile::tempdir().unwrap();
        let error = stage(&image, dir.path(), limits(), tls())
            .await
            .unwrap_err();
        let ImageError::AllFailed(failures) = &error else {
            panic!("{error}");
        };
        assert!(
            matches!(failures[0].error, UriError::HashMismatch { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("sha-256 mismatch"), "{error}");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .collect();
        assert!(
            left.is_empty(),
            "nothing staged, no partial file left: {left:?}"
        );
    }

    #[tokio::test]
    async fn an_image_without_a_hash_or_uri_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut unverified = image(vec!["http://127.0.0.1:9/i".into()], &[0; 32]);
        unverified.image_verification.clear();
        let error = stage(&unverified, dir.path(), limits(), tls()).await;
        assert!(matches!(error, Err(ImageError::Unverifiable)), "{error:?}");
        let error = stage(&image(Vec::new(), &[0; 32]), dir.path(), limits(), tls()).await;
        assert!(matches!(error, Err(ImageError::NoUri)), "{error:?}");
    }

    #[test]
    fn the_running_os_matches_only_when_name_and_version_are_both_given_and_equal() {
        let image = image(Vec::new(), &[]);
        let running = |name: &str, version: &str| RunningOs {
            name: Some(name.into()),
            version: Some(version.into()),
        };
        assert!(running("VendorOS", "17.3/R2").matches(&image));
        assert!(!running("VendorOS", "17.3/R1").matches(&image));
        assert!(!RunningOs::default().matches(&image));
        let unnamed = BootImage {
            os_version: None,
            ..image
        };
        assert!(!running("VendorOS", "17.3/R2").matches(&unnamed));
    }
}
