//! The baseline: a bare hyper + rustls server that requires and verifies a client certificate
//! (chained to the manufacturer's root, as ztp checks IDevIDs) and answers every request with
//! a fixed small body. Same certificate, key, crypto provider (cipher suites in ztp's order),
//! protocol versions and listener settings (ALPN, the server's choice of suite, no session
//! resumption) as ztp's device listener: the ceiling ztp is measured against. It runs as its
//! own process (this bench binary with `--baseline`), so that its CPU and memory are measured
//! like ztp's.

use std::path::Path;
use std::sync::Arc;

use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Serves on 127.0.0.1 with the PKI in `pki` (ztp's development PKI layout), writing the port
/// to `port_file`; runs until killed.
pub(crate) fn run(pki: &Path, port_file: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(serve(pki, port_file));
}

async fn serve(pki: &Path, port_file: &Path) {
    let provider = ztp::tls::provider();
    let mut roots = RootCertStore::empty();
    // The anchor ztp verifies devices against by default: the IDevID CA.
    let anchor = pki.join("manufacturer/idevid-ca.pem");
    for root in CertificateDer::pem_file_iter(anchor).expect("root") {
        roots.add(root.expect("root PEM")).expect("a root");
    }
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .expect("a client verifier");
    let chain = CertificateDer::pem_file_iter(pki.join("server/tls.pem"))
        .expect("server chain")
        .collect::<Result<Vec<_>, _>>()
        .expect("server chain PEM");
    let key = PrivateKeyDer::from_pem_file(pki.join("server/tls.key")).expect("server key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server certificate");
    ztp::tls::device_listener_settings(&mut config);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::fs::write(port_file, port.to_string()).expect("port file");
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, builder) = (acceptor.clone(), Arc::clone(&builder));
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(|_request| async {
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/yang-data+json")
                        .body(Full::new(Bytes::from_static(b"{\"ok\":true}")))
                        .expect("a response"),
                )
            });
            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
        });
    }
}
