//! The value of a YANG `binary` leaf that a server sends again and again: a signed artifact
//! (conveyed information, owner certificate, voucher, license bundle) is made once and then
//! goes into many answers, so it is shared rather than copied, and its base64 text is made the
//! first time an answer needs it.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Bytes of a `binary` leaf, cheap to clone, with their base64 (RFC 7950 §9.8) made once.
#[derive(Clone, Default)]
pub struct Binary(Arc<Shared>);

#[derive(Default)]
struct Shared {
    bytes: Vec<u8>,
    base64: OnceLock<String>,
}

impl Binary {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The base64 text with padding, as it is written into documents.
    pub fn base64(&self) -> &str {
        self.0.base64.get_or_init(|| BASE64.encode(&self.0.bytes))
    }
}

impl From<Vec<u8>> for Binary {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Arc::new(Shared {
            bytes,
            base64: OnceLock::new(),
        }))
    }
}

impl Deref for Binary {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Binary {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Binary {}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_bytes_and_their_base64() {
        let binary = Binary::from(b"any carnal pleas".to_vec());
        let copy = binary.clone();
        assert_eq!(copy.base64(), "YW55IGNhcm5hbCBwbGVhcw==");
        assert!(std::ptr::eq(binary.base64(), copy.base64()), "made once");
        assert_eq!(binary, copy);
        assert_eq!(&*binary, b"any carnal pleas");
        assert_eq!(Binary::default().base64(), "");
        assert_ne!(binary, Binary::from(b"any carnal pleasure".to_vec()));
        assert_eq!(format!("{binary:?}"), "Binary(16 bytes)");
    }
}
