//! The admin API over HTTPS, with its own certificate, and optionally administrators' client
//! certificates: the command line and the probes reach it; plain HTTP, an unknown server
//! certificate and a missing client certificate do not.

use std::process::{Command, Output};

use ztp_tests::{Server, curl, temp_dir, transcript, ztp_bin};

/// The server's admin URL as HTTPS.
fn https(server: &Server) -> String {
    format!("https://{}", server.admin_url.trim_start_matches("http://"))
}

/// `ztp customer list` against the admin API over HTTPS, with `extra` connection flags.
fn customers(server: &Server, extra: &[&str]) -> Output {
    Command::new(ztp_bin())
        .args([
            "customer",
            "list",
            "--admin-url",
            &https(server),
            "--data-dir",
        ])
        .arg(&server.data_dir)
        .args(extra)
        .env_remove("ZTP_ADMIN_URL")
        .output()
        .unwrap()
}

fn path(server: &Server, relative: &str) -> String {
    server.data_dir.join(relative).display().to_string()
}

const TLS: [(&str, &str); 2] = [
    ("ZTP_ADMIN_API__TLS_CERTIFICATE", "pki/server/tls.pem"),
    ("ZTP_ADMIN_API__TLS_KEY", "pki/server/tls.key"),
];

#[test]
fn the_admin_api_speaks_https_with_its_own_certificate() {
    let dir = temp_dir();
    let server = Server::start_with(dir.path(), &TLS);
    let root = path(&server, "pki/manufacturer/root-ca.pem");

    let listed = customers(&server, &["--admin-ca", &root]);
    assert!(listed.status.success(), "{}", transcript(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("example-customer"),
        "{}",
        transcript(&listed)
    );
    let probe = curl(["--cacert", &root, &format!("{}/healthz", https(&server))]);
    assert_eq!(String::from_utf8_lossy(&probe.stdout), "ok\n");

    // The system's anchors do not know the development root: refused, saying why.
    let unknown = customers(&server, &[]);
    assert!(!unknown.status.success());
    assert!(
        transcript(&unknown).contains("cannot reach the admin API"),
        "{}",
        transcript(&unknown)
    );
    // Plain HTTP gets no answer from a TLS listener.
    let plain = curl([format!("{}/healthz", server.admin_url)]);
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "ok\n");
}

#[test]
fn with_a_client_ca_the_admin_api_wants_an_administrators_certificate() {
    let dir = temp_dir();
    // Administrators' certificates from a CA of their own: here the development IDevID CA.
    let mut variables = TLS.to_vec();
    variables.push(("ZTP_ADMIN_API__CLIENT_CA", "pki/manufacturer/idevid-ca.pem"));
    let server = Server::start_with(dir.path(), &variables);
    let root = path(&server, "pki/manufacturer/root-ca.pem");

    let anonymous = customers(&server, &["--admin-ca", &root]);
    assert!(!anonymous.status.success(), "{}", transcript(&anonymous));

    let cert = path(&server, "pki/devices/SN-0001/idevid.pem");
    let key = path(&server, "pki/devices/SN-0001/idevid.key");
    let admin = customers(
        &server,
        &[
            "--admin-ca",
            &root,
            "--admin-cert",
            &cert,
            "--admin-key",
            &key,
        ],
    );
    assert!(admin.status.success(), "{}", transcript(&admin));

    // The refused handshake is counted on the admin listener.
    let token = std::fs::read_to_string(server.data_dir.join("admin-token")).unwrap();
    let metrics = curl([
        "--cacert",
        &root,
        "--cert",
        &cert,
        "--key",
        &key,
        "-H",
        &format!("Authorization: Bearer {}", token.trim()),
        &format!("{}/metrics", https(&server)),
    ]);
    let text = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        text.lines()
            .any(|line| line.starts_with("ztp_tls_handshake_failures_total{listener=\"admin\"")),
        "{text}"
    );
}

#[test]
fn a_key_without_its_certificate_is_refused_at_start() {
    let dir = temp_dir();
    let output = ztp_tests::serve_command(dir.path())
        .env("ZTP_ADMIN_API__TLS_CERTIFICATE", "missing.pem")
        .env("ZTP_ADMIN_API__TLS_KEY", "missing.key")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        transcript(&output).contains("admin API's TLS certificate"),
        "{}",
        transcript(&output)
    );
}
