//! The device's TLS client configuration: its IDevID as client certificate (none for a device
//! without one, which authenticates by its activation code), and either the
//! bootstrap server's trust anchors or, without them, provisional TLS (RFC 8572 §5.1: the device
//! accepts any server certificate and treats the server as untrusted).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use ztp_certs::Cert;

/// Building the TLS configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The IDevID key file holds no usable private key.
    #[error("IDevID key: {0}")]
    Key(rustls::pki_types::pem::Error),
    /// The IDevID chain is empty.
    #[error("the IDevID certificate file holds no certificate")]
    NoCertificate,
    /// rustls refused a part of the configuration (key, anchors, protocol versions).
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// The certificate chain (leaf first) and private key the device authenticates with.
#[derive(Debug)]
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// Pairs `chain` (the IDevID, then its issuing CAs) with a PEM private key (PKCS#8, SEC1 or
    /// PKCS#1).
    pub fn new(chain: &[Cert], key_pem: &str) -> Result<Self, TlsConfigError> {
        if chain.is_empty() {
            return Err(TlsConfigError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(TlsConfigError::Key)?;
        Ok(Self {
            chain: chain
                .iter()
                .map(|c| c.as_certificate_der().clone())
                .collect(),
            key,
        })
    }
}

/// How the device authenticates the bootstrap server.
#[derive(Debug, Clone, Copy)]
pub enum ServerTrust<'a> {
    /// The server's chain must lead to one of these anchors and name the host: a trusted server.
    Anchors(&'a [Cert]),
    /// Any server certificate is accepted (the handshake signatures are still checked): an
    /// untrusted server, whose answers only count when signed, or as unsigned redirects.
    Provisional,
}

impl ServerTrust<'_> {
    /// Whether a server reached with this trust is authenticated.
    pub fn authenticates(&self) -> bool {
        matches!(self, Self::Anchors(_))
    }
}

/// The rustls client configuration for `identity` and `trust`, offering h2 and HTTP/1.1, with
/// the aws-lc-rs provider.
pub fn client_config(
    identity: &ClientIdentity,
    trust: ServerTrust<'_>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    device_config(Some(identity), trust)
}

/// [`client_config`] for a device with or without an IDevID (`identity`): without one, no
/// client certificate (the device authenticates by its activation code).
pub fn device_config(
    identity: Option<&ClientIdentity>,
    trust: ServerTrust<'_>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = crate::tls::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match trust {
        ServerTrust::Anchors(anchors) => {
            let mut roots = RootCertStore::empty();
            for anchor in anchors {
                roots.add(anchor.as_certificate_der().clone())?;
            }
            builder.with_root_certificates(roots)
        }
        ServerTrust::Provisional => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ProvisionalVerifier::new(&provider))),
    };
    let mut config = match identity {
        Some(identity) => {
            builder.with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = crate::tls::alpn_protocols();
    Ok(Arc::new(config))
}

/// The rustls client configuration for downloads (boot images): no client certificate (the
/// IDevID is not shown to a download server), any server certificate (what is downloaded is
/// verified by its conveyed hash instead), HTTP/1.1.
pub fn download_config() -> Result<Arc<ClientConfig>, TlsConfigError> {
    let provider = crate::tls::provider();
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ProvisionalVerifier::new(&provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any server certificate but checks that the server holds its key: provisional TLS.
#[derive(Debug)]
struct ProvisionalVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ProvisionalVerifier {
    fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for ProvisionalVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // RFC 8572 §5.1: the server is not authenticated; what it sends is checked instead.
        Ok(ServerCertVerified::assertion())
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
