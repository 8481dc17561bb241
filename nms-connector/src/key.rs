//! The connector's own SSH client key: generated once, stored as OpenSSH PEM, shown to the NMS
//! administrator as an `authorized_keys` line.

use std::fmt;
use std::sync::Arc;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::{HashAlg, PrivateKey};

use crate::error::{Error, InvalidInput};
use crate::fingerprint::Fingerprint;

/// The comment on generated keys, shown at the end of the public key line.
pub const KEY_COMMENT: &str = "ztp";

/// An SSH client private key.
///
/// `Debug` shows only the algorithm and the public key's fingerprint, never key material.
#[derive(Clone)]
pub struct ClientKey {
    key: Arc<PrivateKey>,
}

/// Generates a new ed25519 client key with the comment [`KEY_COMMENT`].
///
/// Store [`ClientKey::to_openssh_pem`]; give [`ClientKey::public_key_line`] to the NMS
/// administrator for the delivery account's `authorized_keys`.
pub fn generate_client_key() -> Result<ClientKey, Error> {
    let mut seed = [0u8; 32];
    aws_lc_rs::rand::fill(&mut seed)
        .map_err(|_| Error::KeyGeneration("no randomness available".into()))?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::new(KeypairData::from(keypair), KEY_COMMENT)
        .map_err(|e| Error::KeyGeneration(e.to_string()))?;
    Ok(ClientKey { key: Arc::new(key) })
}

impl ClientKey {
    /// Loads an unencrypted private key from OpenSSH PEM
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`). Ed25519, ECDSA and RSA keys are accepted.
    pub fn from_openssh_pem(pem: &str) -> Result<Self, InvalidInput> {
        let key = PrivateKey::from_openssh(pem.trim())
            .map_err(|e| InvalidInput::PrivateKey(format!("not an OpenSSH private key: {e}")))?;
        if key.is_encrypted() {
            return Err(InvalidInput::PrivateKey(
                "the key is encrypted with a passphrase; store it unencrypted".into(),
            ));
        }
        Ok(Self { key: Arc::new(key) })
    }

    /// The private key as OpenSSH PEM, to store (it is a secret).
    pub fn to_openssh_pem(&self) -> Result<String, Error> {
        self.key
            .to_openssh(LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|e| Error::KeyGeneration(e.to_string()))
    }

    /// The public key as one `authorized_keys` line, e.g. `ssh-ed25519 AAAA… ztp`.
    pub fn public_key_line(&self) -> Result<String, Error> {
        self.key
            .public_key()
            .to_openssh()
            .map_err(|e| Error::KeyGeneration(e.to_string()))
    }

    /// The SHA-256 fingerprint of the public key (what `ssh-keygen -lf` shows for it).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::from_ssh_key(self.key.fingerprint(HashAlg::Sha256))
    }

    pub(crate) fn private_key(&self) -> Arc<PrivateKey> {
        Arc::clone(&self.key)
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("algorithm", &self.key.algorithm().as_str())
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pem() {
        let key = generate_client_key().unwrap();
        let pem = key.to_openssh_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "{pem}"
        );
        let line = key.public_key_line().unwrap();
        assert!(line.starts_with("ssh-ed25519 AAAA"), "{line}");
        assert!(line.ends_with(" ztp"), "{line}");

        let loaded = ClientKey::from_openssh_pem(&pem).unwrap();
        assert_eq!(loaded.public_key_line().unwrap(), line);
        assert_eq!(loaded.fingerprint(), key.fingerprint());
        assert_ne!(
            generate_client_key().unwrap().fingerprint(),
            key.fingerprint()
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = generate_client_key().unwrap();
        let pem = key.to_openssh_pem().unwrap();
        let debug = format!("{key:?}");
        assert!(
            debug.contains("ed25519") && debug.contains("SHA256:"),
            "{debug}"
        );
        let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for line in body {
            assert!(!debug.contains(line), "{debug}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for pem in [
            "",
            "hello",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        ] {
            assert!(matches!(
                ClientKey::from_openssh_pem(pem),
                Err(InvalidInput::PrivateKey(_))
            ));
        }
    }
}
