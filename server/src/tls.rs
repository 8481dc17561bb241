//! The device listener's TLS: TLS 1.2 and 1.3 (or only one of them), HTTP/2 and HTTP/1.1 by
//! ALPN, one or two server certificates (chosen by the signature algorithms the client
//! offers), and a client certificate that the client must prove it holds the key of. Whether the certificate is a
//! manufacturer IDevID is decided after the handshake by [`crate::auth::device`], so that a
//! refusal can be answered with a RESTCONF error and recorded.
//!
//! May import: `auth`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, aws_lc_rs};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme, SupportedCipherSuite,
    SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// Building the TLS configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("{path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{0}: no certificate")]
    NoCertificate(PathBuf),
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The ALPN protocols ztp offers (server) and asks for (device agent), preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// [`ALPN`] as rustls configurations take it.
pub fn alpn_protocols() -> Vec<Vec<u8>> {
    ALPN.iter().map(|p| p.to_vec()).collect()
}

/// A server certificate chain and its key.
#[derive(Debug, Clone, Copy)]
pub struct ServerKey<'a> {
    /// The certificate chain file (PEM, leaf first).
    pub certificate: &'a Path,
    /// The key's file, for messages.
    pub key: &'a Path,
    /// The key (PEM, PKCS#8), opened if its file was sealed.
    pub key_pem: &'a str,
}

/// The device listener's rustls configuration: the `keys` (the first preferred; with two, a
/// handshake gets the first whose key can sign with an algorithm the client offers) and the
/// protocol `versions` offered.
pub fn server_config(
    keys: &[ServerKey<'_>],
    versions: &[&'static SupportedProtocolVersion],
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let certified = keys
        .iter()
        .map(|key| certified_key(key, &provider))
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Arc::new(ProofOfPossession {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(ByOfferedAlgorithms(certified)));
    device_listener_settings(&mut config);
    Ok(config)
}

/// `key` loaded with `provider`, its certificate's public key checked to be the key's.
fn certified_key(
    key: &ServerKey<'_>,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Pem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(key.certificate)
        .map_err(pem(key.certificate))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(key.certificate))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(key.certificate.to_owned()));
    }
    let der = PrivateKeyDer::from_pem_slice(key.key_pem.as_bytes()).map_err(pem(key.key))?;
    let certified = CertifiedKey::from_der(chain, der, provider)?;
    Ok(Arc::new(certified))
}

/// The first certificate whose key can sign with one of the algorithms the client offers; else
/// the first (the handshake then fails as it would have with it alone).
#[derive(Debug)]
struct ByOfferedAlgorithms(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for ByOfferedAlgorithms {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // One certificate needs no choice (nor a trial signer per handshake).
        if let [only] = self.0.as_slice() {
            return Some(Arc::clone(only));
        }
        let offered = hello.signature_schemes();
        self.0
            .iter()
            .find(|certified| certified.key.choose_scheme(offered).is_some())
            .or_else(|| self.0.first())
            .cloned()
    }
}

/// The admin listener's rustls configuration: HTTPS with the certificate chain `certificate`
/// and its key `key` (PEM files); with `client_ca`, a client must present a certificate that CA
/// issued (administrators' certificates), else the handshake fails.
pub fn admin_server_config(
    certificate: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Pem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(pem(certificate))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(certificate))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(certificate.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(pem(ca))? {
                roots.add(cert.map_err(pem(ca))?)?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoCertificate(ca.to_owned()));
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| TlsError::Rustls(rustls::Error::General(e.to_string())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = alpn_protocols();
    Ok(config)
}

/// The device listener's settings beyond its certificates (the benchmark's baseline applies
/// them too): [`ALPN`]; the provider's order of cipher suites (see [`provider`]), whatever the
/// device prefers; and no session resumption. A device calls at first power-on, its agent
/// making each call on a connection of its own (a `curl` per call) or keeping one open, and
/// resuming none; tickets would be work on every handshake (two more encrypted records, each
/// a stored session holding the device's certificate chain) for sessions nobody comes back
/// for. So every connection is a full handshake, whose certificate ztp then judges afresh.
pub fn device_listener_settings(config: &mut ServerConfig) {
    config.alpn_protocols = alpn_protocols();
    config.ignore_client_order = true;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
}

/// The crypto provider ztp uses everywhere (one C library: aws-lc), its cipher suites those
/// aws-lc-rs enables by default, the ones hashing with SHA-256 first (AES-128-GCM, then
/// ChaCha20-Poly1305, before AES-256-GCM with SHA-384). A handshake hashes its transcript and
/// derives its keys with its suite's hash, and SHA-256 runs on the SHA extensions of current
/// CPUs where SHA-384 does not: with AES-256-GCM-SHA384 (rustls' first choice), SHA-512
/// blocks are a visible share of a handshake's CPU (docs/benchmarks.md, "Tuning constants").
/// Servers apply
/// this order, not the client's ([`device_listener_settings`]).
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = aws_lc_rs::default_provider();
    // A stable sort: otherwise aws-lc-rs' order.
    provider
        .cipher_suites
        .sort_by_key(|suite| hash_of(suite) != HashAlgorithm::SHA256);
    Arc::new(provider)
}

/// The hash function of `suite`.
fn hash_of(suite: &SupportedCipherSuite) -> HashAlgorithm {
    let common = match suite {
        SupportedCipherSuite::Tls13(suite) => &suite.common,
        SupportedCipherSuite::Tls12(suite) => &suite.common,
    };
    common.hash_provider.algorithm()
}

/// Asks for a client certificate and checks the handshake signature made with its key; the
/// certificate itself is judged after the handshake.
#[derive(Debug)]
struct ProofOfPossession {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ProofOfPossession {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // A client without a certificate gets a RESTCONF 401, not a handshake failure.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: IDevIDs are the only certificates devices have.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deliberately deferred to `DeviceVerifier::authenticate`, which every request
        // passes through before anything else is done.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{
        CipherSuite, ClientConfig, ClientConnection, HandshakeKind, RootCertStore, ServerConnection,
    };
    use ztp_certs::dev_pki::{self, DevPkiOptions, layout};

    #[test]
    fn sha_256_suites_come_first_and_none_is_dropped() {
        let ours = provider();
        let sha256: Vec<bool> = ours
            .cipher_suites
            .iter()
            .map(|suite| hash_of(suite) == HashAlgorithm::SHA256)
            .collect();
        assert!(sha256.windows(2).all(|w| w[0] >= w[1]), "{sha256:?}");
        assert_eq!(
            ours.cipher_suites[0].suite(),
            CipherSuite::TLS13_AES_128_GCM_SHA256
        );
        let sorted = |provider: &CryptoProvider| {
            let mut suites: Vec<u16> = provider
                .cipher_suites
                .iter()
                .map(|s| s.suite().into())
                .collect();
            suites.sort_unstable();
            suites
        };
        assert_eq!(sorted(&ours), sorted(&aws_lc_rs::default_provider()));
    }

    /// ztp's device listener on a new development PKI, and a trust store of that PKI's root.
    fn listener() -> (ServerConfig, RootCertStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        dev_pki::generate(dir.path(), &DevPkiOptions::default()).unwrap();
        let (certificate, key) = (
            dir.path().join(layout::TLS_SERVER),
            dir.path().join(layout::TLS_SERVER_KEY),
        );
        let key_pem = std::fs::read_to_string(&key).unwrap();
        let keys = [ServerKey {
            certificate: &certificate,
            key: &key,
            key_pem: &key_pem,
        }];
        let server = server_config(&keys, rustls::DEFAULT_VERSIONS).unwrap();
        let mut roots = RootCertStore::empty();
        let root = CertificateDer::from_pem_file(dir.path().join(layout::ROOT_CA)).unwrap();
        roots.add(root).unwrap();
        (server, roots, dir)
    }

    /// A handshake in memory, and whatever the server sends after it (its session tickets).
    fn connect(
        client: &Arc<ClientConfig>,
        server: &Arc<ServerConfig>,
    ) -> (ClientConnection, ServerConnection) {
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = ClientConnection::new(Arc::clone(client), name).unwrap();
        let mut server = ServerConnection::new(Arc::clone(server)).unwrap();
        // Each side's records to the other: a few flights at most.
        for _ in 0..8 {
            let mut records = Vec::new();
            client.write_tls(&mut records).unwrap();
            server.read_tls(&mut records.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            records.clear();
            server.write_tls(&mut records).unwrap();
            client.read_tls(&mut records.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        (client, server)
    }

    #[test]
    fn the_server_chooses_aes_128_gcm_sha256_over_a_device_preferring_aes_256() {
        let (server, roots, _dir) = listener();
        // rustls' own order, as a device running it would offer: AES-256-GCM-SHA384 first.
        let device = Arc::new(aws_lc_rs::default_provider());
        assert_eq!(
            device.cipher_suites[0].suite(),
            CipherSuite::TLS13_AES_256_GCM_SHA384
        );
        let client = ClientConfig::builder_with_provider(device)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (client, server) = connect(&Arc::new(client), &Arc::new(server));
        let chosen = |suite: Option<SupportedCipherSuite>| suite.map(|s| s.suite());
        assert_eq!(
            chosen(server.negotiated_cipher_suite()),
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256)
        );
        assert_eq!(
            chosen(client.negotiated_cipher_suite()),
            chosen(server.negotiated_cipher_suite())
        );
    }

    #[test]
    fn a_device_that_would_resume_gets_a_full_handshake_every_time() {
        let (server, roots, _dir) = listener();
        let server = Arc::new(server);
        // Each protocol version on its own: TLS 1.3 resumes by tickets, TLS 1.2 by session id.
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            // rustls clients keep sessions to resume by default.
            let client = ClientConfig::builder_with_provider(provider())
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            let client = Arc::new(client);
            for call in 1..=3 {
                let (client, _) = connect(&client, &server);
                assert_eq!(
                    client.handshake_kind(),
                    Some(HandshakeKind::Full),
                    "{version:?}, call {call}"
                );
            }
        }
    }
}
