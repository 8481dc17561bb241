//! The agent against servers on loopback: trusted and untrusted, honest and hostile.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;

use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use ztp_certs::{
    CertificateAuthority, IdevidSpec, KeyAlgorithm, ProductId, SerialPlacement, SerialSource,
    Signer,
};
use ztp_yang::{
    BootstrapServer, ConveyedInformation, ErrorTag, ErrorType, OnboardingInformation, Ownership,
    RedirectInformation, RestconfError,
};

use super::*;
use crate::agent::client::ClientError;
use crate::agent::verify::RefusedResponse;
use crate::artifacts::{self, OwnerCredentials};
use ztp_certs::VoucherError;
use ztp_yang::RestconfErrors;

const P256: KeyAlgorithm = KeyAlgorithm::EcdsaP256;

/// The manufacturer (an IDevID CA, a voucher CA and its MASA, a license CA and its
/// signer), one device, an owner, a TLS server CA, and the keys a hostile server might
/// hold: the device's own, a TLS key under the voucher CA.
struct World {
    mfg: CertificateAuthority,
    voucher_ca: CertificateAuthority,
    masa: Signer,
    license_ca: CertificateAuthority,
    license_signer: Signer,
    owner: OwnerCredentials,
    device_chain: String,
    device_key: String,
    device_signer: Signer,
    tls_under_voucher_ca: Signer,
    tls_ca: CertificateAuthority,
}

fn world() -> World {
    let mfg = CertificateAuthority::new_root("Mfg", "Mfg", P256).unwrap();
    let voucher_ca = CertificateAuthority::new_root("Voucher CA", "Mfg", P256).unwrap();
    let (masa_cert, masa_key) = voucher_ca.issue_signer("MASA", "Mfg", P256).unwrap();
    let license_ca = CertificateAuthority::new_root("License CA", "Mfg", P256).unwrap();
    let (license_cert, license_key) = license_ca.issue_signer("Licenses", "Mfg", P256).unwrap();
    let (tls_cert, tls_key) = voucher_ca
        .issue_tls_server(&["127.0.0.1".to_owned()], P256)
        .unwrap();
    let spec = IdevidSpec {
        serial: Serial::parse("SN-1").unwrap(),
        model: ProductId::parse("uCPE-100").unwrap(),
        placement: SerialPlacement::SerialNumber,
        hardware_module_name: false,
        key_algorithm: P256,
    };
    let (idevid, key) = mfg.issue_idevid(&spec).unwrap();
    let owner_ca = CertificateAuthority::new_root("Owner", "Owner", P256).unwrap();
    let (signer_cert, signer_key) = owner_ca.issue_signer("signer", "Owner", P256).unwrap();
    let owner = OwnerCredentials::new(
        owner_ca.cert().clone(),
        Signer::new(signer_key, vec![signer_cert]).unwrap(),
    )
    .unwrap();
    World {
        masa: Signer::new(masa_key, vec![masa_cert]).unwrap(),
        license_signer: Signer::new(license_key, vec![license_cert]).unwrap(),
        owner,
        device_chain: format!("{}{}", idevid.pem(), mfg.cert().pem()),
        device_key: key.to_pem(),
        device_signer: Signer::new(key, vec![idevid, mfg.cert().clone()]).unwrap(),
        tls_under_voucher_ca: Signer::new(tls_key, vec![tls_cert]).unwrap(),
        tls_ca: CertificateAuthority::new_root("TLS", "Mfg", P256).unwrap(),
        voucher_ca,
        license_ca,
        mfg,
    }
}

/// Which key a (hostile) server signs with.
#[derive(Clone, Copy, Debug)]
enum Key {
    Masa,
    License,
    Device,
    TlsUnderVoucherCa,
}

impl World {
    fn signer(&self, key: Key) -> &Signer {
        match key {
            Key::Masa => &self.masa,
            Key::License => &self.license_signer,
            Key::Device => &self.device_signer,
            Key::TlsUnderVoucherCa => &self.tls_under_voucher_ca,
        }
    }

    /// A license bundle for the device, signed by `key`.
    fn license_bundle(&self, key: Key, encoding: Encoding) -> Vec<u8> {
        let now = OffsetDateTime::now_utc();
        let license = ztp_yang::License {
            id: "LIC-1".into(),
            feature: "ESS".into(),
            license_type: ztp_yang::LicenseType::Perpetual,
            count: None,
            node_lock: ztp_yang::NodeLock {
                product_id: "uCPE-100".into(),
                serial_number: "SN-1".into(),
            },
            issued_at: now,
            not_before: now - time::Duration::hours(1),
            not_after: None,
        };
        let content = ztp_yang::LicenseBundle {
            licenses: vec![license],
        }
        .encode(encoding);
        ztp_certs::cms::sign(
            ztp_certs::oid::ID_DATA,
            content.as_bytes(),
            self.signer(key),
        )
        .unwrap()
    }
}

/// What the test server answers to get-bootstrapping-data.
#[derive(Clone, Copy, Debug)]
enum Answer {
    AccessDenied,
    UnsignedRedirect,
    UnsignedOnboarding,
    SignedRedirect,
    /// A signed redirect whose voucher `.0` signs, with a license bundle `.1` signs.
    SignedBy(Key, Option<Key>),
    /// A signed redirect whose voucher names an IDevID issuer (`true`: the device's).
    NamingIssuer(bool),
}

/// What the test server saw: each request's path, HTTP version and body, and the client
/// certificate of each connection.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Version, Vec<u8>)>,
    client_certs: Vec<Vec<u8>>,
    /// The `Authorization` header of each request, if any.
    authorizations: Vec<Option<String>>,
}

impl Seen {
    fn input(&self) -> GetBootstrappingDataInput {
        let (_, _, body) = &self.requests[0];
        GetBootstrappingDataInput::decode(sniff(body), body).unwrap()
    }

    fn reports(&self) -> Vec<ProgressType> {
        self.requests[1..]
            .iter()
            .map(|(path, _, body)| {
                assert_eq!(path, REPORT_PROGRESS);
                ReportProgressInput::decode(sniff(body), body)
                    .unwrap()
                    .progress_type
            })
            .collect()
    }
}

/// The encoding of a request body (the test server needs no Content-Type to tell).
fn sniff(body: &[u8]) -> Encoding {
    if body.starts_with(b"<") {
        Encoding::Xml
    } else {
        Encoding::Json
    }
}

fn redirect() -> ConveyedInformation {
    ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![BootstrapServer::new("nms.example.net")],
    })
}

fn answer(w: &World, answer: Answer, input: &[u8]) -> (StatusCode, String, Encoding) {
    let encoding = sniff(input);
    let output = |info: &ConveyedInformation, signed: bool| GetBootstrappingDataOutput {
        conveyed_information: artifacts::conveyed_information(
            info,
            encoding,
            signed.then(|| w.owner.signer()),
        )
        .unwrap()
        .into(),
        ..Default::default()
    };
    let ok = |out: GetBootstrappingDataOutput| (StatusCode::OK, out.encode(encoding), encoding);
    match answer {
        Answer::AccessDenied => {
            let errors = RestconfErrors::single(RestconfError::new(
                ErrorType::Protocol,
                ErrorTag::AccessDenied,
                "unknown device",
            ));
            (StatusCode::UNAUTHORIZED, errors.encode(encoding), encoding)
        }
        Answer::UnsignedRedirect => ok(output(&redirect(), false)),
        Answer::UnsignedOnboarding => ok(output(
            &ConveyedInformation::Onboarding(OnboardingInformation {
                pre_configuration_script: Some(b"#!/bin/sh\n".to_vec()),
                ..Default::default()
            }),
            false,
        )),
        Answer::SignedRedirect => signed(w, Key::Masa, None, None, input),
        Answer::SignedBy(voucher, licenses) => signed(w, voucher, licenses, None, input),
        Answer::NamingIssuer(device) => {
            let idevid = &w.device_signer.chain()[0];
            let issuer = match device {
                true => idevid.authority_key_identifier().unwrap(),
                false => vec![0x5a; 20],
            };
            signed(w, Key::Masa, None, Some(issuer), input)
        }
    }
}

/// A signed redirect: the voucher signed by `voucher` (naming `idevid_issuer`), licenses
/// signed by `licenses`.
fn signed(
    w: &World,
    voucher: Key,
    licenses: Option<Key>,
    idevid_issuer: Option<Vec<u8>>,
    input: &[u8],
) -> (StatusCode, String, Encoding) {
    let encoding = sniff(input);
    let request = GetBootstrappingDataInput::decode(encoding, input).unwrap();
    let now = OffsetDateTime::now_utc();
    let mut document = ztp_certs::Voucher::new(
        "SN-1",
        w.owner.ca(),
        now,
        now + time::Duration::days(1),
        request.nonce.as_ref().map(Nonce::as_bytes),
    );
    document.idevid_issuer = idevid_issuer;
    let out = GetBootstrappingDataOutput {
        conveyed_information: artifacts::conveyed_information(
            &redirect(),
            encoding,
            Some(w.owner.signer()),
        )
        .unwrap()
        .into(),
        ownership: Some(Ownership {
            owner_certificate: w.owner.owner_certificate().clone(),
            ownership_voucher: document.sign(w.signer(voucher)).unwrap().into(),
        }),
        license_bundle: licenses.map(|key| w.license_bundle(key, encoding).into()),
        ..Default::default()
    };
    (StatusCode::OK, out.encode(encoding), encoding)
}

/// A bootstrap server on 127.0.0.1 that requires a client certificate from the
/// manufacturer, speaks only `alpn`, and answers `answer`.
async fn spawn_server(
    w: Arc<World>,
    alpn: &'static [u8],
    reply: Answer,
) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let provider = crate::tls::provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(w.mfg.cert().as_certificate_der().clone())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let (cert, key) = w
        .tls_ca
        .issue_tls_server(&["127.0.0.1".to_owned()], P256)
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.to_pem().as_bytes()).unwrap();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert.as_certificate_der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![alpn.to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen_by_server = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            if let Some(certs) = tls.get_ref().1.peer_certificates() {
                seen_by_server
                    .lock()
                    .unwrap()
                    .client_certs
                    .push(certs[0].to_vec());
            }
            let (w, seen) = (w.clone(), seen_by_server.clone());
            let service = service_fn(move |req: Request<Incoming>| {
                let (w, seen) = (w.clone(), seen.clone());
                async move {
                    let (path, version) = (req.uri().path().to_owned(), req.version());
                    let authorization = req
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_owned());
                    seen.lock().unwrap().authorizations.push(authorization);
                    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                    seen.lock()
                        .unwrap()
                        .requests
                        .push((path.clone(), version, body.clone()));
                    let response = if path == REPORT_PROGRESS {
                        http::Response::builder()
                            .status(StatusCode::NO_CONTENT)
                            .body(Full::new(Bytes::new()))
                    } else {
                        let (status, text, encoding) = answer(&w, reply, &body);
                        http::Response::builder()
                            .status(status)
                            .header(http::header::CONTENT_TYPE, encoding.media_type())
                            .body(Full::new(Bytes::from(text)))
                    };
                    Ok::<_, Infallible>(response.unwrap())
                }
            });
            tokio::spawn(
                auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .into_owned(),
            );
        }
    });
    (addr, seen)
}

fn options(w: &World, addrs: &[SocketAddr], trusted: bool) -> BootstrapOptions {
    BootstrapOptions {
        servers: addrs
            .iter()
            .map(|a| ServerUrl::parse(&format!("https://{a}")).unwrap())
            .collect(),
        credentials: DeviceCredentials::from_pem(
            &w.device_chain,
            &w.device_key,
            SerialSource::SubjectSerialNumber,
        )
        .unwrap(),
        anchors: Anchors {
            servers: if trusted {
                vec![w.tls_ca.cert().clone()]
            } else {
                Vec::new()
            },
            vouchers: vec![w.voucher_ca.cert().clone()],
            licenses: vec![w.license_ca.cert().clone()],
        },
        request: RequestOptions::default(),
        reporting: Reporting {
            enabled: true,
            complete: None,
        },
        timeout: Duration::from_secs(10),
    }
}

mod agent_run;
mod codes;
mod flow;
mod roles;
