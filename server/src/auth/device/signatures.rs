//! Signature verifications that succeeded, remembered.
//!
//! A signature's verification is a function of its algorithm, the key, the message and the
//! signature alone: inputs that verified once verify again. So the chain of a device that
//! calls again (after a power restoration, on a retry, or with its progress report on a new
//! connection) costs no signature verification, and the configured intermediate's signature by
//! the root is verified once for all devices. webpki still checks every other property of the
//! path on every connection (validity at that moment, basic constraints, key usage, names),
//! and the CRLs are checked after it. The handshake's own signature, the device's proof that it
//! holds its key, is not verified here: rustls verifies it on every connection, over that
//! handshake's transcript.
//!
//! Only signatures made with a configured CA's key (a trust anchor's or an intermediate's) are
//! remembered: a client that presents a chain of its own making gets its signatures verified,
//! and its connection refused, without filling the memory. What is remembered is a SHA-256
//! digest of the inputs, in two generations of at most `capacity` digests each ([`Recent`]):
//! the verifications in use survive, and memory stays bounded: by the hash table's layout, a
//! generation of 200,000 digests is 262,144 slots of 33 bytes, 8.25 MiB.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};

use super::recent::{Digest, Recent};

/// Digests remembered per generation by default (two generations are kept).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// A webpki signature algorithm that remembers its verifications that succeeded.
#[derive(Debug)]
pub(super) struct Remembering {
    inner: &'static dyn SignatureVerificationAlgorithm,
    /// Which algorithm, as part of what is remembered.
    index: u64,
    memory: Arc<Memory>,
}

impl SignatureVerificationAlgorithm for Remembering {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let memory = &self.memory;
        if memory.capacity == 0 || !memory.signers.iter().any(|key| key == public_key) {
            return self.inner.verify_signature(public_key, message, signature);
        }
        let digest = digest_of(self.index, public_key, message, signature);
        if memory.recalls(&digest) {
            return Ok(());
        }
        self.inner
            .verify_signature(public_key, message, signature)?;
        memory.remember(digest);
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.signature_alg_id()
    }

    fn fips(&self) -> bool {
        self.inner.fips()
    }
}

impl Remembering {
    /// How many verifications the memory holds.
    #[cfg(test)]
    pub(super) fn remembered(&self) -> usize {
        self.memory.remembered()
    }
}

/// Every webpki algorithm, remembering up to `capacity` verifications per generation (0: none)
/// of signatures made with one of the `signers`' public keys (as a certificate's
/// subjectPublicKey carries them), in one memory they share.
pub(super) fn remembering(capacity: usize, signers: Vec<Vec<u8>>) -> Vec<Remembering> {
    let memory = Arc::new(Memory::new(capacity, signers));
    webpki::ALL_VERIFICATION_ALGS
        .iter()
        .zip(0..)
        .map(|(inner, index)| Remembering {
            inner: *inner,
            index,
            memory: Arc::clone(&memory),
        })
        .collect()
}

/// The digest of a verification's inputs; each is preceded by its length, so no two different
/// inputs run together alike.
fn digest_of(algorithm: u64, public_key: &[u8], message: &[u8], signature: &[u8]) -> Digest {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(&algorithm.to_be_bytes());
    for part in [public_key, message, signature] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(context.finish().as_ref());
    digest
}

/// The remembered verifications.
struct Memory {
    /// Digests per generation at most (0: none remembered).
    capacity: usize,
    /// The public keys whose signatures are remembered.
    signers: Vec<Vec<u8>>,
    digests: Mutex<Recent<()>>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("capacity", &self.capacity)
            .field("signers", &self.signers.len())
            .field("remembered", &self.remembered())
            .finish()
    }
}

impl Memory {
    fn new(capacity: usize, signers: Vec<Vec<u8>>) -> Self {
        Self {
            capacity,
            signers,
            digests: Mutex::new(Recent::new(capacity)),
        }
    }

    /// Whether `digest` is remembered (moving it to the newer generation).
    fn recalls(&self, digest: &Digest) -> bool {
        self.lock().get(digest).is_some()
    }

    fn remembered(&self) -> usize {
        self.lock().len()
    }

    fn remember(&self, digest: Digest) {
        self.lock().insert(digest, ());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent<()>> {
        self.digests.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ztp_certs::{CertificateAuthority, KeyAlgorithm};

    use super::*;

    /// ECDSA P-256 with SHA-256, counting its verifications.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl SignatureVerificationAlgorithm for Counting {
        fn verify_signature(
            &self,
            key: &[u8],
            msg: &[u8],
            sig: &[u8],
        ) -> Result<(), InvalidSignature> {
            self.0.fetch_add(1, Ordering::Relaxed);
            webpki::aws_lc_rs::ECDSA_P256_SHA256.verify_signature(key, msg, sig)
        }
        fn public_key_alg_id(&self) -> AlgorithmIdentifier {
            webpki::aws_lc_rs::ECDSA_P256_SHA256.public_key_alg_id()
        }
        fn signature_alg_id(&self) -> AlgorithmIdentifier {
            webpki::aws_lc_rs::ECDSA_P256_SHA256.signature_alg_id()
        }
    }

    /// A certificate's signed part and its signature.
    type Signed = (Vec<u8>, Vec<u8>);

    /// A new CA's public key and `count` certificates it signed.
    fn signed(count: usize) -> (Vec<u8>, Vec<Signed>) {
        let root = CertificateAuthority::new_root("root", "mfg", KeyAlgorithm::EcdsaP256).unwrap();
        let key = super::super::public_key(root.cert());
        let certs = (0..count)
            .map(|i| {
                let ca = root
                    .new_subordinate(&format!("ca-{i}"), "mfg", KeyAlgorithm::EcdsaP256)
                    .unwrap();
                let cert = ca.cert();
                (
                    cert.signed_part_der().unwrap(),
                    cert.x509().signature.raw_bytes().to_vec(),
                )
            })
            .collect();
        (key, certs)
    }

    /// The algorithm remembering signatures made with `signer`'s key.
    fn counting(capacity: usize, signer: &[u8]) -> (Remembering, &'static Counting) {
        let counting: &'static Counting = Box::leak(Box::default());
        let algorithm = Remembering {
            inner: counting,
            index: 0,
            memory: Arc::new(Memory::new(capacity, vec![signer.to_vec()])),
        };
        (algorithm, counting)
    }

    #[test]
    fn a_signature_that_verified_is_not_verified_again_and_a_bad_one_always_is() {
        let (key, certs) = signed(2);
        let (algorithm, counter) = counting(8, &key);
        let calls = || counter.0.load(Ordering::Relaxed);
        let (tbs, signature) = &certs[0];
        for _ in 0..3 {
            algorithm.verify_signature(&key, tbs, signature).unwrap();
        }
        assert_eq!(calls(), 1, "verified once");

        // A signature that does not verify is never remembered.
        let mut forged = signature.clone();
        let last = forged.len() - 2;
        forged[last] ^= 1;
        for _ in 0..2 {
            assert!(algorithm.verify_signature(&key, tbs, &forged).is_err());
        }
        assert_eq!(calls(), 3);

        // Another message under the same signature, or the same signature from another
        // algorithm, is verified (and fails).
        let (other_tbs, _) = &certs[1];
        assert!(
            algorithm
                .verify_signature(&key, other_tbs, signature)
                .is_err()
        );
        let another = Remembering {
            inner: algorithm.inner,
            index: 1,
            memory: Arc::clone(&algorithm.memory),
        };
        another.verify_signature(&key, tbs, signature).unwrap();
        assert_eq!(calls(), 5);

        // A signature by a key that is not a configured CA's is verified every time.
        let (stranger, theirs) = signed(1);
        for _ in 0..2 {
            algorithm
                .verify_signature(&stranger, &theirs[0].0, &theirs[0].1)
                .unwrap();
        }
        assert_eq!(calls(), 7);
        assert_eq!(algorithm.memory.remembered(), 2, "ours only");
    }

    #[test]
    fn memory_is_bounded_and_keeps_what_is_in_use() {
        let (key, certs) = signed(6);
        let (algorithm, counter) = counting(2, &key);
        let calls = || counter.0.load(Ordering::Relaxed);
        let verify = |i: usize| {
            let (tbs, signature) = &certs[i];
            algorithm.verify_signature(&key, tbs, signature).unwrap();
        };
        for i in 0..6 {
            verify(i);
            // The first stays in use.
            verify(0);
        }
        assert_eq!(
            calls(),
            6,
            "each verified once, the first kept while in use"
        );
        assert!(algorithm.memory.remembered() <= 4, "two generations of two");
        // The oldest unused ones were forgotten and are verified again.
        verify(1);
        assert_eq!(calls(), 7);

        // No memory: every verification runs.
        let (none, counter) = counting(0, &key);
        for _ in 0..2 {
            none.verify_signature(&key, &certs[0].0, &certs[0].1)
                .unwrap();
        }
        assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    }
}
