//! OpenSSH public keys (`ssh-ed25519 AAAA… comment`, as in `/etc/ssh/ssh_host_*_key.pub`) as
//! the `ssh-host-key` entries of a `bootstrap-complete` report (RFC 8572 §7.3): the algorithm
//! is the first field, the key data the base64-decoded second field (the RFC 4253 §6.6 blob).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ztp_yang::SshHostKey;

/// Why a line is not an OpenSSH public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostKeyError {
    /// The text holds no key.
    #[error("no public key found")]
    Empty,
    /// A line has no key data after the algorithm.
    #[error("line {line}: expected `<algorithm> <base64 key data> [comment]`")]
    Shape {
        /// The line number (from 1).
        line: usize,
    },
    /// The key data is not base64.
    #[error("line {line}: the key data is not base64")]
    Base64 {
        /// The line number (from 1).
        line: usize,
    },
    /// The blob names another algorithm than the line does.
    #[error("line {line}: the key data is a {inner:?} key, but the line says {outer:?}")]
    AlgorithmMismatch {
        /// The line number (from 1).
        line: usize,
        /// The algorithm the line names.
        outer: String,
        /// The algorithm the blob names.
        inner: String,
    },
}

/// Parses every key of an OpenSSH public key file, skipping blank lines and `#` comments.
pub fn parse_public_keys(text: &str) -> Result<Vec<SshHostKey>, HostKeyError> {
    let keys = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| parse_line(l, i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(HostKeyError::Empty);
    }
    Ok(keys)
}

fn parse_line(line: &str, number: usize) -> Result<SshHostKey, HostKeyError> {
    let mut fields = line.split_whitespace();
    let (Some(algorithm), Some(data)) = (fields.next(), fields.next()) else {
        return Err(HostKeyError::Shape { line: number });
    };
    let key_data = STANDARD
        .decode(data)
        .map_err(|_| HostKeyError::Base64 { line: number })?;
    // The blob starts with `string format-id`: a four-octet length, then the name. A mismatch
    // means a damaged or hand-edited file, which an NMS would pin wrongly.
    let inner = blob_algorithm(&key_data).ok_or(HostKeyError::Shape { line: number })?;
    if inner != algorithm {
        return Err(HostKeyError::AlgorithmMismatch {
            line: number,
            outer: algorithm.to_owned(),
            inner: inner.to_owned(),
        });
    }
    Ok(SshHostKey {
        algorithm: algorithm.to_owned(),
        key_data,
    })
}

/// The format identifier at the start of an RFC 4253 §6.6 public key blob.
fn blob_algorithm(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?);
    let name = blob.get(4..4 + usize::try_from(len).ok()?)?;
    std::str::from_utf8(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob as OpenSSH writes it: `string name || string key`.
    fn blob(name: &str, key: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for part in [name.as_bytes(), key] {
            b.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            b.extend_from_slice(part);
        }
        b
    }

    #[test]
    fn reads_algorithm_and_blob_and_ignores_comments() {
        let ed = blob("ssh-ed25519", &[7; 32]);
        let ec = blob("ecdsa-sha2-nistp256", &[4; 65]);
        let text = format!(
            "# host keys\n\nssh-ed25519 {} root@device\necdsa-sha2-nistp256 {}\n",
            STANDARD.encode(&ed),
            STANDARD.encode(&ec)
        );
        let keys = parse_public_keys(&text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].algorithm, "ssh-ed25519");
        assert_eq!(keys[0].key_data, ed);
        assert_eq!(keys[1].algorithm, "ecdsa-sha2-nistp256");
    }

    #[test]
    fn refuses_what_is_not_a_public_key() {
        assert_eq!(parse_public_keys("\n# nothing\n"), Err(HostKeyError::Empty));
        assert_eq!(
            parse_public_keys("ssh-ed25519"),
            Err(HostKeyError::Shape { line: 1 })
        );
        assert_eq!(
            parse_public_keys("ssh-ed25519 !!!"),
            Err(HostKeyError::Base64 { line: 1 })
        );
        let rsa = STANDARD.encode(blob("ssh-rsa", &[1, 0, 1]));
        assert!(matches!(
            parse_public_keys(&format!("ssh-ed25519 {rsa}")),
            Err(HostKeyError::AlgorithmMismatch { .. })
        ));
        // Too short to hold a format identifier.
        let short = STANDARD.encode([0, 0, 0, 9, b's']);
        assert_eq!(
            parse_public_keys(&format!("ssh-ed25519 {short}")),
            Err(HostKeyError::Shape { line: 1 })
        );
    }
}
