//! The device's activation code: read from a file that only its owner may read, never from
//! the command line and never printed, and presented as HTTP Basic credentials (the serial as
//! the username, the code as the password) to a server the device authenticated by TLS.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use ztp_certs::Serial;

/// The longest code file read, in bytes (a code is at most a few dozen characters).
pub const MAX_FILE_LEN: u64 = 1024;

/// Why an activation code cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationCodeError {
    /// The file cannot be opened or read.
    #[error("activation code file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Others than its owner may read the file.
    #[error(
        "activation code file {}: readable by group or others (mode {mode:04o}); \
         make it readable by its owner only (chmod 600)",
        .path.display()
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is larger than [`MAX_FILE_LEN`].
    #[error("activation code file {}: larger than {MAX_FILE_LEN} bytes", .path.display())]
    TooLong {
        /// The file.
        path: PathBuf,
    },
    /// The code is empty (once its trailing newline is trimmed).
    #[error("the activation code is empty")]
    Empty,
    /// The code is not UTF-8 text, or holds a control character (an HTTP header cannot
    /// carry it, and the server's codes never do).
    #[error("the activation code holds a control character or is not UTF-8 text")]
    NotText,
}

/// A device's activation code. Its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode(…)")
    }
}

impl ActivationCode {
    /// The code `text`, its trailing newline (`\n` or `\r\n`) trimmed.
    pub fn new(text: &str) -> Result<Self, ActivationCodeError> {
        let code = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(text);
        if code.is_empty() {
            return Err(ActivationCodeError::Empty);
        }
        if code.chars().any(char::is_control) {
            return Err(ActivationCodeError::NotText);
        }
        Ok(Self(code.to_owned()))
    }

    /// Reads the code from `path`, which neither its group nor others may read.
    pub fn read_file(path: &Path) -> Result<Self, ActivationCodeError> {
        let read = |source| ActivationCodeError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(read)?;
        // The mode of the file opened, not of whatever the path names a moment later.
        let metadata = file.metadata().map_err(read)?;
        check_mode(path, &metadata)?;
        if metadata.len() > MAX_FILE_LEN {
            return Err(ActivationCodeError::TooLong {
                path: path.to_owned(),
            });
        }
        let mut bytes = Vec::new();
        file.by_ref()
            .take(MAX_FILE_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(ActivationCodeError::TooLong {
                path: path.to_owned(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|_| ActivationCodeError::NotText)?;
        Self::new(&text)
    }

    /// The `Authorization` value presenting this code for `serial`: `Basic` and the base64 of
    /// `serial:code` (a serial holds no `:`), marked sensitive so that HTTP/2 never indexes it.
    pub fn basic(&self, serial: &Serial) -> HeaderValue {
        let token = STANDARD.encode(format!("{}:{}", serial.as_str(), self.0));
        let mut value = HeaderValue::try_from(format!("Basic {token}"))
            .expect("base64 is a valid header value");
        value.set_sensitive(true);
        value
    }
}

#[cfg(unix)]
fn check_mode(path: &Path, metadata: &std::fs::Metadata) -> Result<(), ActivationCodeError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o044 != 0 {
        return Err(ActivationCodeError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), ActivationCodeError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn code_file(dir: &Path, text: &[u8], mode: u32) -> PathBuf {
        let path = dir.join("code");
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_code_is_read_from_a_private_file_with_its_trailing_newline_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expected) in [
            (&b"LABEL-ON-THE-BOX-0001\n"[..], "LABEL-ON-THE-BOX-0001"),
            (b"LABEL ON THE BOX\r\n", "LABEL ON THE BOX"),
            (b"no-newline:with-colon", "no-newline:with-colon"),
        ] {
            let path = code_file(dir.path(), text, 0o600);
            assert_eq!(ActivationCode::read_file(&path).unwrap().0, expected);
        }
        let path = code_file(dir.path(), b"READ-ONLY-FOR-OWNER\n", 0o400);
        assert!(ActivationCode::read_file(&path).is_ok());
    }

    #[test]
    fn a_file_others_may_read_or_a_bad_code_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604] {
            let path = code_file(dir.path(), b"LABEL-ON-THE-BOX-0001\n", mode);
            let error = ActivationCode::read_file(&path).unwrap_err();
            assert!(
                matches!(error, ActivationCodeError::Exposed { .. }),
                "{error}"
            );
            let message = error.to_string();
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
            assert!(message.contains("chmod 600"), "{message}");
            assert!(
                !message.contains("LABEL"),
                "the code is never shown: {message}"
            );
        }
        let missing = ActivationCode::read_file(&dir.path().join("absent")).unwrap_err();
        assert!(
            matches!(missing, ActivationCodeError::Read { .. }),
            "{missing}"
        );
        for (text, bad) in [
            (&b"\n"[..], "empty"),
            (b"", "empty"),
            (b"TWO\nLINES\n", "control character"),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            let path = code_file(dir.path(), text, 0o600);
            let error = ActivationCode::read_file(&path).unwrap_err().to_string();
            assert!(error.contains(bad), "{text:?}: {error}");
        }
        let path = code_file(dir.path(), &[b'A'; 2000], 0o600);
        let error = ActivationCode::read_file(&path).unwrap_err();
        assert!(
            matches!(error, ActivationCodeError::TooLong { .. }),
            "{error}"
        );
    }

    #[test]
    fn the_code_is_presented_as_http_basic_with_the_serial_and_never_shown() {
        let code = ActivationCode::new("LABEL-ON-THE-BOX-0001\n").unwrap();
        let serial = Serial::parse("SN-0001").unwrap();
        let value = code.basic(&serial);
        assert!(value.is_sensitive());
        let token = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(token).unwrap()).unwrap();
        assert_eq!(decoded, "SN-0001:LABEL-ON-THE-BOX-0001");
        assert_eq!(format!("{code:?}"), "ActivationCode(…)");
    }
}
