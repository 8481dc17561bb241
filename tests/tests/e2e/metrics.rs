//! `GET /metrics` after a real onboarding: what the devices did is counted under bounded labels,
//! the exposition passes Prometheus' own linter (`promtool check metrics`), and it needs a
//! manufacturer's token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use ztp_tests::{Server, temp_dir, transcript};

/// The exposition and its status, read with `token` (none: no Authorization header).
fn scrape(server: &Server, token: Option<&str>) -> (String, String) {
    let answer =
        ztp_tests::admin_http::request(&server.admin_url, token, "GET", "/metrics", b"", false);
    (answer.status.to_string(), answer.body)
}

/// The value of the sample `series` (name and labels exactly as exposed), if exposed.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// `promtool check metrics` on `exposition`: its verdict and what it said.
fn promtool(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.success(), transcript(&output))
}

/// A client that speaks plain HTTP to the TLS port: a failed handshake.
fn garbage_handshake(server: &Server) {
    let addr = server.device_url.trim_start_matches("https://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The server closes the connection (possibly after a TLS alert).
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn an_onboarding_is_counted_under_bounded_labels_and_promtool_accepts_the_exposition() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let token = token.trim();

    for _ in 0..2 {
        let served = server.bootstrap("SN-0001", &[]);
        assert!(served.status.success(), "{}", transcript(&served));
    }
    // A device with a genuine IDevID that is in nobody's inventory.
    server.issue_device("SN-STRANGER-7");
    let refused = server.bootstrap("SN-STRANGER-7", &[]);
    assert!(!refused.status.success(), "{}", transcript(&refused));
    garbage_handshake(&server);

    let (status, metrics) = scrape(&server, Some(token));
    assert_eq!(status, "200", "{metrics}");
    let at = |series: &str| sample(&metrics, series);
    assert_eq!(
        at(r#"ztp_bootstraps_total{outcome="served",profile="standard"}"#),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_bootstraps_total{outcome="refused",profile="none"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_device_refusals_total{reason="unknown_device",rpc="get_bootstrapping_data"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_tls_handshake_failures_total{listener="device",reason="protocol"}"#),
        Some(1.0),
        "{metrics}"
    );
    // The voucher is signed once, then reused.
    assert_eq!(
        at(r#"ztp_signing_cache_requests_total{cache="voucher",result="miss"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_signing_cache_requests_total{cache="voucher",result="hit"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_device_request_duration_seconds_count{rpc="get_bootstrapping_data"}"#),
        Some(3.0),
        "{metrics}"
    );
    assert!(
        at("ztp_journal_commit_duration_seconds_count").unwrap_or_default() >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        at(r#"ztp_open_connections{listener="admin"}"#),
        Some(1.0),
        "the scrape's own connection: {metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "ztp_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    // The development PKI's CRL: dated an hour back (for clocks behind), due in the future.
    let crl = r#"{crl="idevid-ca.crl.pem"}"#;
    let age = at(&format!("ztp_crl_age_seconds{crl}")).unwrap_or_else(|| panic!("{metrics}"));
    assert!((3600.0..7200.0).contains(&age), "{metrics}");
    let next = at(&format!("ztp_crl_next_update_seconds{crl}"));
    assert!(next.is_some_and(|next| next > 0.0), "{metrics}");
    // No serial number is ever a label.
    assert!(!metrics.contains("SN-0001"), "{metrics}");
    assert!(!metrics.contains("SN-STRANGER-7"), "{metrics}");

    let (linted, said) = promtool(&metrics);
    assert!(linted, "promtool check metrics: {said}\n{metrics}");
}

#[test]
fn the_exposition_needs_a_manufacturers_token() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let (status, body) = scrape(&server, None);
    assert_eq!(status, "401", "{body}");
    let (status, body) = scrape(&server, Some("not-a-token"));
    assert_eq!(status, "401", "{body}");
    assert!(!body.contains("ztp_"), "{body}");
}
