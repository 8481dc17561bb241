//! Key pairs and the signature algorithms they imply.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;
use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm};

use crate::error::PkiError;
use crate::oid;

/// The key types ztp generates. ECDSA P-256 is the default everywhere; P-384 and RSA-2048 are
/// there because real IDevIDs use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// ECDSA over NIST P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048-bit with PKCS#1 v1.5 and SHA-256.
    Rsa2048,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order `--help` lists them.
    pub const ALL: [Self; 3] = [Self::EcdsaP256, Self::EcdsaP384, Self::Rsa2048];

    /// The short name used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "p256",
            Self::EcdsaP384 => "p384",
            Self::Rsa2048 => "rsa2048",
        }
    }

    /// The digest algorithm CMS signatures by a key of this algorithm use.
    pub fn digest_oid(self) -> ObjectIdentifier {
        match self {
            Self::EcdsaP256 | Self::Rsa2048 => oid::SHA256,
            Self::EcdsaP384 => oid::SHA384,
        }
    }

    /// The signature algorithm CMS signatures by a key of this algorithm name.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            Self::EcdsaP256 => oid::ECDSA_WITH_SHA256,
            Self::EcdsaP384 => oid::ECDSA_WITH_SHA384,
            Self::Rsa2048 => oid::SHA256_WITH_RSA,
        }
    }

    fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| PkiError::UnsupportedKeyAlgorithm(s.to_owned()))
    }
}

/// A private key that signs certificates, CMS structures and vouchers.
///
/// Wraps rcgen's key pair (backed by aws-lc-rs) so that the same key object issues
/// certificates and signs CMS, and so that the digest and signature algorithm identifiers CMS
/// needs are derived from the key in one place.
pub struct SigningKey {
    pair: KeyPair,
    algorithm: KeyAlgorithm,
}

impl SigningKey {
    /// Generates a fresh key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, PkiError> {
        let pair = KeyPair::generate_for(algorithm.rcgen())?;
        Ok(Self { pair, algorithm })
    }

    /// Loads a PKCS#8, SEC1 or PKCS#1 private key from PEM.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        let pair = KeyPair::from_pem(pem).map_err(|e| PkiError::Key(e.to_string()))?;
        Self::from_pair(pair)
    }

    /// Loads a PKCS#8 private key from DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PkiError> {
        let pair = KeyPair::try_from(der).map_err(|e| PkiError::Key(e.to_string()))?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<Self, PkiError> {
        let alg = pair.algorithm();
        let algorithm = KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.rcgen() == alg)
            .ok_or_else(|| PkiError::UnsupportedKeyAlgorithm(format!("{alg:?}")))?;
        Ok(Self { pair, algorithm })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// Signs `message`; ECDSA signatures are DER-encoded, as X.509 and CMS carry them.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        rcgen::SigningKey::sign(&self.pair, message).map_err(PkiError::from)
    }

    /// The digest algorithm CMS signatures by this key use.
    pub fn digest_oid(&self) -> ObjectIdentifier {
        self.algorithm.digest_oid()
    }

    /// The signature algorithm CMS signatures by this key name.
    pub fn signature_oid(&self) -> ObjectIdentifier {
        self.algorithm.signature_oid()
    }
}

// rcgen issues certificates with anything that implements its two key traits; implementing them
// here lets a CertificateAuthority hold our SigningKey directly.
impl PublicKeyData for SigningKey {
    fn der_bytes(&self) -> &[u8] {
        self.pair.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.pair.algorithm()
    }
}

impl rcgen::SigningKey for SigningKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        rcgen::SigningKey::sign(&self.pair, msg)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_signs_and_round_trips_through_pem() {
        for alg in KeyAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            assert!(!key.sign(b"hello").unwrap().is_empty());
            let again = SigningKey::from_pem(&key.to_pem()).unwrap();
            assert_eq!(again.algorithm(), alg);
            assert_eq!(again.public_key_der(), key.public_key_der());
        }
    }

    #[test]
    fn algorithm_names_parse_back() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<KeyAlgorithm>().unwrap(), alg);
        }
        assert!("ed448".parse::<KeyAlgorithm>().is_err());
    }
}
