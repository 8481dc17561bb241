//! ztp behind a TLS-terminating load balancer (Debian's nginx and HAProxy on loopback, on the
//! snippets of `deploy/load-balancer/`): the balancer takes the devices' handshakes and
//! forwards their requests to ztp's proxy listener with the certificate and address in headers. ztp verifies the forwarded certificate as it verifies a
//! handshake's, and believes the headers only from the balancer's address (127.0.0.2 here;
//! the devices call from 127.0.0.1).

use std::fs;
use std::path::Path;

use serde_json::Value;
use ztp_tests::balancer::{Balancer, ClientCertificates, Setup};
use ztp_tests::{Server, curl, self_signed, success, temp_dir, transcript};

const BOOTSTRAP: &str = "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";
const INPUT: &str = r#"{"ietf-sztp-bootstrap-server:input":{"hw-model":"uCPE-100"}}"#;
/// The balancer's address, the only one ztp believes.
const BALANCER: &str = "127.0.0.2";

/// A server with its proxy listener, trusting the balancer's address only.
fn server(data: &Path) -> Server {
    server_with(data, &[])
}

/// [`server`] with more `ZTP_*` variables.
fn server_with(data: &Path, more: &[(&str, &str)]) -> Server {
    let trusted = format!("[\"{BALANCER}/32\"]");
    let mut variables = vec![
        ("ZTP_DEVICE_API__PROXY__LISTEN", "127.0.0.1:0"),
        ("ZTP_DEVICE_API__PROXY__TRUSTED_PROXIES", trusted.as_str()),
    ];
    variables.extend_from_slice(more);
    let server = Server::start_with(data, &variables);
    assert!(
        server.proxy_url.is_some(),
        "the proxy listener is announced"
    );
    server
}

/// How a balancer is started: [`Balancer::nginx`] or [`Balancer::haproxy`].
type Start = fn(&Setup<'_>) -> Balancer;

/// A balancer (`start`: nginx or HAProxy) in front of `server`'s proxy listener, presenting
/// ztp's own TLS certificate.
fn balancer(server: &Server, root: &Path, clients: ClientCertificates, start: Start) -> Balancer {
    let pki = server.pki();
    let upstream = server
        .proxy_url
        .as_deref()
        .and_then(|url| url.strip_prefix("http://"))
        .expect("a proxy listener");
    // Balancers (OpenSSL) verify up to a self-signed root: the IDevID CA and the root above it.
    fs::create_dir_all(root).unwrap();
    let bundle = root.join("device-cas.pem");
    let read = |name: &str| fs::read_to_string(pki.join("manufacturer").join(name)).unwrap();
    fs::write(&bundle, read("idevid-ca.pem") + &read("root-ca.pem")).unwrap();
    let (cert, key) = (pki.join("server/tls.pem"), pki.join("server/tls.key"));
    start(&Setup {
        root,
        tls: (&cert, &key),
        device_cas: &bundle,
        clients,
        upstream,
        admin: server.admin_url.trim_start_matches("http://"),
        source: BALANCER,
    })
}

/// get-bootstrapping-data POSTed to `url` with curl's `extra` arguments: the HTTP status and
/// the body.
fn call(url: &str, extra: &[&str]) -> (u16, String) {
    let dir = temp_dir();
    let body = dir.path().join("body");
    let mut args: Vec<String> = vec![
        "-o".into(),
        body.display().to_string(),
        "-w".into(),
        "%{http_code}".into(),
        "-H".into(),
        "Content-Type: application/yang-data+json".into(),
        "-d".into(),
        INPUT.into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push(format!("{url}{BOOTSTRAP}"));
    let output = curl(&args);
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", transcript(&output)));
    (status, fs::read_to_string(body).unwrap_or_default())
}

/// The events of `kind` the server recorded, newest first.
fn events(server: &Server, kind: &str) -> Vec<Value> {
    let out = success(server.admin(["events", "--kind", kind, "--limit", "100"]));
    serde_json::from_str(&out).unwrap()
}

/// Asserts a `bootstrap-refused` event whose detail contains `detail`, from `peer`'s address.
fn assert_refused(server: &Server, detail: &str, peer: &str) {
    let refused = events(server, "bootstrap-refused");
    assert!(
        refused.iter().any(|e| {
            e["status"] == 401
                && e["detail"].as_str().unwrap_or_default().contains(detail)
                && e["peer"].as_str().unwrap_or_default().starts_with(peer)
        }),
        "no refusal from {peer} about {detail:?}: {refused:#?}"
    );
}

/// The device certificate of `serial` as a header value: PEM with its lines folded into
/// spaces, as some proxies forward it.
fn folded_certificate(server: &Server, serial: &str) -> String {
    let pem =
        fs::read_to_string(server.pki().join("devices").join(serial).join("idevid.pem")).unwrap();
    pem.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn devices_behind_nginx_are_verified_as_on_a_direct_handshake() {
    let dir = temp_dir();
    let server = server(&dir.path().join("data"));
    let nginx = balancer(
        &server,
        &dir.path().join("nginx"),
        ClientCertificates::ForwardAny,
        Balancer::nginx,
    );

    // A device bootstraps through the balancer: verified, answered, recorded with its own
    // address rather than the balancer's.
    let output = server.bootstrap_at(&nginx.url, "SN-0001", &["--hw-model", "uCPE-100"]);
    assert!(output.status.success(), "{}", transcript(&output));
    let served = events(&server, "bootstrap-served");
    let event = served
        .iter()
        .find(|e| e["serial"] == "SN-0001")
        .expect("the bootstrap is recorded");
    let peer = event["peer"].as_str().unwrap();
    assert!(
        peer.starts_with("127.0.0.1:"),
        "the device's address: {peer}"
    );

    // This nginx forwards any certificate: ztp refuses what a handshake would have refused.
    let pki = server.pki();
    let ca = pki.join("manufacturer/root-ca.pem");
    let foreign = dir.path().join("foreign");
    fs::create_dir_all(&foreign).unwrap();
    let (cert, key) = (foreign.join("cert.pem"), foreign.join("key.pem"));
    self_signed("/CN=not-a-device/serialNumber=SN-0003", &cert, &key);
    let ca = ca.to_str().unwrap();
    let (status, body) = call(
        &nginx.url,
        &[
            "--cacert",
            ca,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("access-denied"), "a RESTCONF error: {body}");
    assert_refused(&server, "not trusted", "127.0.0.1:");

    // Without a certificate, and a forged header in its place: nginx drops the header.
    let forged = format!("X-Client-Cert: {}", folded_certificate(&server, "SN-0001"));
    let (status, body) = call(&nginx.url, &["--cacert", ca, "-H", &forged]);
    assert_eq!(status, 401, "{body}");
    assert_refused(&server, "no client certificate", "127.0.0.1:");

    // A revoked device, once the server has re-read the CRL.
    server.revoke_device("SN-0002");
    server.workers().expect("in-process").crls.run_once();
    let output = server.bootstrap_at(&nginx.url, "SN-0002", &["--hw-model", "uCPE-100"]);
    assert!(!output.status.success(), "{}", transcript(&output));
    assert_refused(&server, "revoked", "127.0.0.1:");
}

#[test]
fn behind_either_deploy_snippet_as_written_devices_bootstrap_and_forged_headers_are_replaced() {
    let starts: [(&str, Start); 2] = [("nginx", Balancer::nginx), ("haproxy", Balancer::haproxy)];
    for (name, start) in starts {
        let dir = temp_dir();
        let server = server(&dir.path().join("data"));
        let balancer = balancer(
            &server,
            &dir.path().join(name),
            ClientCertificates::Verify,
            start,
        );
        let output = server.bootstrap_at(&balancer.url, "SN-0001", &["--hw-model", "uCPE-100"]);
        assert!(output.status.success(), "{name}: {}", transcript(&output));

        // SN-0002 claims SN-0003's certificate in the header: the balancer replaces it with
        // the one SN-0002 presented.
        let pki = server.pki();
        let device = pki.join("devices/SN-0002");
        let forged = format!("X-Client-Cert: {}", folded_certificate(&server, "SN-0003"));
        let (status, body) = call(
            &balancer.url,
            &[
                "--cacert",
                pki.join("manufacturer/root-ca.pem").to_str().unwrap(),
                "--cert",
                device.join("idevid.pem").to_str().unwrap(),
                "--key",
                device.join("idevid.key").to_str().unwrap(),
                "-H",
                &forged,
            ],
        );
        assert_eq!(status, 200, "{name}: {body}");
        let served: Vec<Value> = events(&server, "bootstrap-served");
        let serials: Vec<&str> = served.iter().filter_map(|e| e["serial"].as_str()).collect();
        assert_eq!(serials, ["SN-0002", "SN-0001"], "{name}");
        for event in &served {
            let peer = event["peer"].as_str().unwrap_or_default();
            assert!(
                peer.starts_with("127.0.0.1:"),
                "{name}: the device's address: {peer}"
            );
        }
    }
}

#[test]
fn only_the_configured_balancer_is_believed() {
    let dir = temp_dir();
    let server = server(&dir.path().join("data"));
    let proxy = server.proxy_url.clone().unwrap();
    let certificate = format!("X-Client-Cert: {}", folded_certificate(&server, "SN-0001"));

    // From another source, a valid device's certificate in the header is not believed.
    let (status, body) = call(&proxy, &["-H", &certificate]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("access-denied"), "a RESTCONF error: {body}");
    assert_refused(&server, "127.0.0.1 is not a configured proxy", "127.0.0.1:");

    // From the balancer's address it is, and verified: the device is answered.
    let from_balancer = ["--interface", BALANCER];
    let (status, body) = call(
        &proxy,
        &[from_balancer[0], from_balancer[1], "-H", &certificate],
    );
    assert_eq!(status, 200, "{body}");

    // What the balancer forwards must parse.
    let (status, body) = call(
        &proxy,
        &[
            from_balancer[0],
            from_balancer[1],
            "-H",
            "X-Client-Cert: certainly not a certificate!",
            "-H",
            "X-Forwarded-For: 192.0.2.7",
        ],
    );
    assert_eq!(status, 401, "{body}");
    assert_refused(
        &server,
        "the proxy forwarded no usable certificate: the x-client-cert header",
        "192.0.2.7:",
    );
    let (status, body) = call(
        &proxy,
        &[
            from_balancer[0],
            from_balancer[1],
            "-H",
            &certificate,
            "-H",
            "X-Forwarded-For: somewhere",
        ],
    );
    assert_eq!(status, 401, "{body}");
    assert_refused(
        &server,
        "x-forwarded-for header's last entry is not an address",
        "127.0.0.2:",
    );
}

#[test]
fn refusals_count_against_the_forwarded_address_and_bench_it_alone() {
    let dir = temp_dir();
    let server = server_with(
        &dir.path().join("data"),
        &[
            ("ZTP_DEVICE_API__REFUSALS_BURST", "3"),
            ("ZTP_DEVICE_API__REFUSALS_PER_MINUTE", "1"),
        ],
    );
    let proxy = server.proxy_url.clone().unwrap();
    // A device at 192.0.2.9 behind the balancer, without a certificate, again and again: each
    // refusal counts against it, until it is benched.
    let from = |address: &str| {
        let head = format!("X-Forwarded-For: {address}");
        let dir = temp_dir();
        let out = dir.path().join("head");
        let (status, body) = call(
            &proxy,
            &[
                "--interface",
                BALANCER,
                "-H",
                &head,
                "-D",
                out.to_str().unwrap(),
            ],
        );
        (status, body, fs::read_to_string(out).unwrap_or_default())
    };
    let mut statuses = Vec::new();
    let benched = loop {
        let (status, body, head) = from("192.0.2.9");
        statuses.push(status);
        if status == 429 || statuses.len() == 10 {
            break (body, head);
        }
        assert_eq!(status, 401, "{body}");
    };
    assert_eq!(statuses.last(), Some(&429), "benched: {statuses:?}");
    assert!(benched.0.contains("resource-denied"), "{}", benched.0);
    assert!(
        benched.1.to_ascii_lowercase().contains("retry-after: 60"),
        "{}",
        benched.1
    );
    // Another device behind the same balancer is not benched with it.
    let (status, body, _) = from("192.0.2.10");
    assert_eq!(status, 401, "{body}");
}

#[test]
fn a_proxy_listener_that_would_believe_no_one_or_read_no_header_does_not_start() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let database = ztp_tests::database::variables(&data);
    let loopback = "127.0.0.1:0".parse().unwrap();
    let overrides = ztp::config::Overrides {
        data_dir: Some(data.clone()),
        device_listen: Some(loopback),
        admin_listen: Some(loopback),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (variables, reason) in [
        (
            vec![("ZTP_DEVICE_API__PROXY__LISTEN", "127.0.0.1:0")],
            "trusted_proxies is empty",
        ),
        (
            vec![
                (
                    "ZTP_DEVICE_API__PROXY__TRUSTED_PROXIES",
                    "[\"127.0.0.2/32\"]",
                ),
                ("ZTP_DEVICE_API__PROXY__CERTIFICATE_HEADER", "X Client Cert"),
            ],
            "certificate_header \"X Client Cert\" is not a header name",
        ),
    ] {
        let variables: Vec<(&str, &str)> = database
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(variables)
            .collect();
        let config = ztp::config::Config::load_with(None, &variables, &overrides).unwrap();
        let error = runtime
            .block_on(ztp::startup::App::build(config))
            .expect_err("refused");
        assert!(
            error.to_string().contains(reason),
            "{error} (expected: {reason})"
        );
    }
}
