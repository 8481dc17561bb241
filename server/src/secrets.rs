//! Secrets at rest: values such as NMS passwords and owner signing keys are sealed with
//! AES-256-GCM under a master key that lives outside the database (a file, or an environment
//! variable), so that a copy of the database alone reveals none of them.
//!
//! A sealed value reads `ztp-sealed:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`; the key
//! id (the first 8 hex digits of the key's SHA-256) says which master key opens it, so values
//! sealed under a previous key still open during a rotation. The column a value belongs to is
//! the associated data: a sealed password cannot be moved into another column.
//!
//! In memory, a secret that a request brings is a [`Secret`]: it serialises and prints as
//! `[redacted]`, so that no audit entry or log line can show it.
//!
//! May import: nothing else of ztp.

use std::fs;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A secret as a request brings it (an NMS password, a webhook key, a signing key): readable
/// only through [`Secret::expose`]. It serialises as `"[redacted]"` and prints so in debug
/// output, so that the audit log, a log line or an echoed request can never show it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What is written in place of a secret.
    pub const REDACTED: &'static str = "[redacted]";

    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the code that uses it (to seal, to sign, to log in).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret itself, owned.
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", Self::REDACTED)
    }
}

const PREFIX: &str = "ztp-sealed:v1:";
/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;

/// Sealing or opening a secret failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The value was sealed under a master key ztp does not have.
    #[error("a secret is sealed under master key {0}, which is not configured")]
    UnknownKey(String),
    /// The value does not open (corrupted, or moved from another column).
    #[error("a sealed secret does not open: it was altered or belongs to another field")]
    Corrupt,
    /// A master key file or value is unusable.
    #[error("master key: {0}")]
    Key(String),
    /// The system's random generator failed.
    #[error("no randomness available")]
    Random,
}

/// One master key.
struct MasterKey {
    id: String,
    key: LessSafeKey,
}

impl MasterKey {
    fn new(bytes: &[u8; KEY_LEN]) -> Result<Self, SecretError> {
        let id = digest::digest(&digest::SHA256, bytes)
            .as_ref()
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| SecretError::Key("not an AES-256 key".into()))?;
        Ok(Self {
            id,
            key: LessSafeKey::new(key),
        })
    }
}

/// Seals and opens secrets: the current master key seals, any configured key opens.
pub struct SecretBox {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SecretBox {
    /// A box sealing with `current` and also opening values sealed with `previous` keys.
    pub fn new(current: &[u8; KEY_LEN], previous: &[[u8; KEY_LEN]]) -> Result<Self, SecretError> {
        Ok(Self {
            current: MasterKey::new(current)?,
            previous: previous
                .iter()
                .map(MasterKey::new)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext`, the value of `field` (e.g. `nms_connections.password`).
    pub fn seal(&self, field: &str, plaintext: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut sealed = plaintext.as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(field.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SecretError::Corrupt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current.id,
            BASE64.encode(blob)
        ))
    }

    /// Opens a stored value of `field`. A value that is not sealed (written before secrets were
    /// sealed) is returned as it is; [`SecretBox::needs_sealing`] finds such values.
    pub fn open(&self, field: &str, stored: &str) -> Result<String, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, blob) = rest.split_once(':').ok_or(SecretError::Corrupt)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::UnknownKey(id.to_owned()))?;
        let blob = BASE64.decode(blob).map_err(|_| SecretError::Corrupt)?;
        if blob.len() < NONCE_LEN {
            return Err(SecretError::Corrupt);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Corrupt)?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(field.as_bytes()), &mut buffer)
            .map_err(|_| SecretError::Corrupt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Corrupt)
    }

    /// Whether a stored value is not sealed under the current key (plaintext, or a previous
    /// key): what a rotation or the start-up pass re-seals.
    pub fn needs_sealing(&self, stored: &str) -> bool {
        !stored.starts_with(&format!("{PREFIX}{}:", self.current.id))
    }

    /// The content of a sealed private key file: the PEM text of the key whose role is `field`
    /// (the configuration key naming the file, e.g. `manufacturer.masa_key`), sealed.
    pub fn seal_key_file(&self, field: &str, pem: &str) -> Result<String, SecretError> {
        Ok(format!("{KEY_FILE_HEADER}\n{}\n", self.seal(field, pem)?))
    }

    /// The PEM text of a private key file's `content`: opened if sealed, as it is otherwise.
    pub fn open_key_file(&self, field: &str, content: &str) -> Result<String, SecretError> {
        match sealed_key_file_value(content) {
            Some(sealed) => self.open(field, sealed),
            None => Ok(content.to_owned()),
        }
    }
}

/// The first line of a sealed private key file, for whoever opens it.
const KEY_FILE_HEADER: &str =
    "# ztp sealed private key: opened with ztp's master key (see `ztp secrets seal-keys`)";

/// The sealed value in a private key file's `content`, if the file is sealed (comment lines
/// aside, one sealed value).
pub fn sealed_key_file_value(content: &str) -> Option<&str> {
    let mut lines = content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let value = lines.next()?;
    (value.starts_with(PREFIX) && lines.next().is_none()).then_some(value)
}

/// A new random master key.
pub fn generate_key() -> Result<[u8; KEY_LEN], SecretError> {
    let mut key = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| SecretError::Random)?;
    Ok(key)
}

/// A master key from its text form (base64 of 32 bytes).
pub fn parse_key(text: &str) -> Result<[u8; KEY_LEN], SecretError> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|_| SecretError::Key("not base64".into()))?;
    bytes
        .try_into()
        .map_err(|_| SecretError::Key(format!("must be {KEY_LEN} bytes")))
}

/// Reads the master key file at `path`.
pub fn read_key_file(path: &Path) -> Result<[u8; KEY_LEN], SecretError> {
    let text = fs::read_to_string(path)
        .map_err(|e| SecretError::Key(format!("reading {}: {e}", path.display())))?;
    parse_key(&text).map_err(|e| SecretError::Key(format!("{}: {e}", path.display())))
}

/// Writes `key` to a new file at `path`, readable by its owner only.
pub fn write_key_file(path: &Path, key: &[u8; KEY_LEN]) -> Result<(), SecretError> {
    write_private_file(path, format!("{}\n", BASE64.encode(key)).as_bytes())
        .map_err(|e| SecretError::Key(format!("writing {}: {e}", path.display())))
}

/// Writes `contents` to a new file at `path` (never over an existing one), readable by its
/// owner only, and syncs it to disk.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_field() {
        let old = generate_key().unwrap();
        let new = generate_key().unwrap();
        let before = SecretBox::new(&old, &[]).unwrap();
        let sealed = before.seal("nms_connections.password", "hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            before.seal("nms_connections.password", "hunter2").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(
            before.open("nms_connections.password", &sealed).unwrap(),
            "hunter2"
        );
        assert!(matches!(
            before.open("customers.signer_key_pem", &sealed),
            Err(SecretError::Corrupt)
        ));

        // Rotation: the new key seals, the old one still opens.
        let rotated = SecretBox::new(&new, &[old]).unwrap();
        assert!(rotated.needs_sealing(&sealed));
        assert_eq!(
            rotated.open("nms_connections.password", &sealed).unwrap(),
            "hunter2"
        );
        let resealed = rotated.seal("nms_connections.password", "hunter2").unwrap();
        assert!(!rotated.needs_sealing(&resealed));
        let only_new = SecretBox::new(&new, &[]).unwrap();
        assert!(matches!(
            only_new.open("nms_connections.password", &sealed),
            Err(SecretError::UnknownKey(_))
        ));

        // Legacy plaintext passes through and is marked for sealing.
        assert_eq!(only_new.open("f", "plain").unwrap(), "plain");
        assert!(only_new.needs_sealing("plain"));

        let mut tampered = resealed.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert!(rotated.open("nms_connections.password", &tampered).is_err());
    }

    #[test]
    fn private_key_files_seal_bound_to_their_role() {
        let key = generate_key().unwrap();
        let secrets = SecretBox::new(&key, &[]).unwrap();
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";
        let sealed = secrets.seal_key_file("manufacturer.masa_key", pem).unwrap();
        assert!(!sealed.contains("PRIVATE KEY-----"));
        assert!(sealed_key_file_value(&sealed).is_some());
        assert_eq!(
            secrets
                .open_key_file("manufacturer.masa_key", &sealed)
                .unwrap(),
            pem
        );
        // The MASA key cannot be passed off as the license key.
        assert!(matches!(
            secrets.open_key_file("manufacturer.license_key", &sealed),
            Err(SecretError::Corrupt)
        ));
        // A plain PEM file is read as it is.
        assert_eq!(sealed_key_file_value(pem), None);
        assert_eq!(
            secrets.open_key_file("manufacturer.masa_key", pem).unwrap(),
            pem
        );
    }

    #[test]
    fn a_secret_never_serialises_or_prints_in_clear() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn key_files_round_trip_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master-key");
        let key = generate_key().unwrap();
        write_key_file(&path, &key).unwrap();
        assert_eq!(read_key_file(&path).unwrap(), key);
        assert!(write_key_file(&path, &key).is_err(), "never overwritten");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(parse_key("c2hvcnQ=").is_err());
    }
}
