//! OpenSSH SHA-256 host key fingerprints (`SHA256:<base64 without padding>`), as
//! `ssh-keygen -lf` prints them.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use russh::keys::{HashAlg, PublicKeyOrCertificate};

use crate::error::InvalidInput;

const PREFIX: &str = "SHA256:";
const DIGEST_LEN: usize = 32;
/// 32 bytes in base64 without padding.
const ENCODED_LEN: usize = 43;

/// The SHA-256 fingerprint of an SSH public key.
///
/// Parsing is strict: exactly `SHA256:` followed by the 43-character unpadded standard base64 of a
/// 32-byte digest, as OpenSSH prints it. MD5 fingerprints, padding, whitespace, URL-safe base64
/// and a missing prefix are refused rather than guessed at.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; DIGEST_LEN]);

impl Fingerprint {
    /// Parses `SHA256:<base64 without padding>`.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let refuse = |why: &str| {
            InvalidInput::Fingerprint(format!(
                "{why} (expected SHA256:<43 base64 characters>, as printed by `ssh-keygen -lf`)"
            ))
        };
        let Some(encoded) = text.strip_prefix(PREFIX) else {
            return Err(refuse("missing SHA256: prefix"));
        };
        if encoded.len() != ENCODED_LEN {
            return Err(refuse(&format!(
                "{} characters after SHA256:",
                encoded.len()
            )));
        }
        let digest = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|e| refuse(&format!("not base64: {e}")))?;
        let digest: [u8; DIGEST_LEN] = digest
            .try_into()
            .map_err(|_| refuse("not a 32-byte digest"))?;
        Ok(Self(digest))
    }

    /// The fingerprint of a key or of the key inside a certificate, as the server presented it.
    pub(crate) fn of_presented(key: &PublicKeyOrCertificate) -> Self {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256)
            }
        };
        Self::from_ssh_key(fingerprint)
    }

    pub(crate) fn from_ssh_key(fingerprint: russh::keys::ssh_key::Fingerprint) -> Self {
        // Asked for SHA-256 above, so the digest is always 32 bytes; fall back to all zeroes
        // (which matches no real pin) rather than panic.
        Self(fingerprint.sha256().unwrap_or([0; DIGEST_LEN]))
    }

    /// Whether this fingerprint is one of `pins`.
    pub fn is_pinned(&self, pins: &[Self]) -> bool {
        pins.contains(self)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", STANDARD_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

    #[test]
    fn round_trips_openssh_form() {
        let fp = Fingerprint::parse(GOOD).unwrap();
        assert_eq!(fp.to_string(), GOOD);
        assert_eq!(GOOD.parse::<Fingerprint>().unwrap(), fp);
    }

    #[test]
    fn refuses_anything_else() {
        let bad = [
            "",
            "SHA256:",
            "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "sha256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s=",
            " SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\n",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2_",
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2t", // non-zero trailing bits
            "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
            "SHA512:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        ];
        for text in bad {
            let err = Fingerprint::parse(text).unwrap_err();
            assert!(matches!(err, InvalidInput::Fingerprint(_)), "{text:?}");
        }
    }

    #[test]
    fn pins_match_by_value() {
        let a = Fingerprint::parse(GOOD).unwrap();
        let b = Fingerprint([7; 32]);
        assert!(a.is_pinned(&[b, a]));
        assert!(!a.is_pinned(&[b]));
        assert!(!a.is_pinned(&[]));
    }
}
