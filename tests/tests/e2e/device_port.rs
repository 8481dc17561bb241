//! The device port's defences against clients that misbehave (docs/device-port.md): request
//! heads hyper would refuse get a RESTCONF error (a JSON error on the admin port), sources that
//! fail handshakes or get refused too often are benched, repeated refusals become one summary
//! event, and handshakes wait for their turn.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use ztp_tests::{Server, curl, success, temp_dir, transcript};

const GET_BOOTSTRAPPING_DATA: &str =
    "/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data";

fn device(server: &Server, serial: &str) -> PathBuf {
    server.pki().join("devices").join(serial)
}

fn host_port(url: &str) -> String {
    url.split("://").nth(1).unwrap_or(url).to_owned()
}

/// Sends `request` as raw bytes over TLS to the device port (with SN-0001's certificate) and
/// returns everything the server answers until it closes the connection.
fn raw_tls(server: &Server, request: &[u8]) -> String {
    let mut client = server
        .s_client("SN-0001")
        .arg("-nocommands")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    // -quiet implies -ign_eof: the client reads until the server closes, after its answer.
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(request).unwrap();
    drop(stdin);
    let output = client.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends `request` as raw bytes to the admin port and returns the answer.
fn raw_admin(server: &Server, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(host_port(&server.admin_url)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("an answer, then the close");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status of an HTTP/1.1 answer, and its body.
fn status_and_body(answer: &str) -> (&str, &str) {
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or("none");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body)
}

#[test]
fn request_heads_hyper_would_refuse_get_a_restconf_error_on_the_device_port() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    let oversized = format!(
        "GET /.well-known/host-meta HTTP/1.1\r\nHost: d\r\nX-Pad: {}\r\n\r\n",
        "y".repeat(17 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "conflicting Content-Length",
            format!(
                "POST {GET_BOOTSTRAPPING_DATA} HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\n\
                 Content-Length: 3\r\n\r\n{{}}"
            )
            .into_bytes(),
            "400",
            "malformed-message",
        ),
        (
            "malformed Content-Length",
            format!("POST {GET_BOOTSTRAPPING_DATA} HTTP/1.1\r\nHost: d\r\nContent-Length: 0x2\r\n\r\n{{}}")
                .into_bytes(),
            "400",
            "malformed-message",
        ),
        (
            "unknown Transfer-Encoding",
            format!(
                "POST {GET_BOOTSTRAPPING_DATA} HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip\r\n\r\n"
            )
            .into_bytes(),
            "501",
            "operation-not-supported",
        ),
        (
            "bogus version",
            b"GET /restconf HTTP/1.7\r\nHost: d\r\n\r\n".to_vec(),
            "505",
            "operation-not-supported",
        ),
        (
            "invalid bytes in the path",
            b"GET /restconf/\x7fdata HTTP/1.1\r\nHost: d\r\n\r\n".to_vec(),
            "400",
            "malformed-message",
        ),
        (
            "invalid header",
            b"GET /restconf HTTP/1.1\r\nHost: d\r\nBad Header: x\r\n\r\n".to_vec(),
            "400",
            "malformed-message",
        ),
        (
            "oversized head",
            oversized.into_bytes(),
            "431",
            "too-big",
        ),
    ];
    for (what, request, status, tag) in cases {
        let answer = raw_tls(&server, &request);
        let (got, body) = status_and_body(&answer);
        assert_eq!(got, status, "{what}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/yang-data+json"),
            "{what}: {answer}"
        );
        let document: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {answer}"));
        let error = &document["ietf-restconf:errors"]["error"][0];
        assert_eq!(error["error-tag"], tag, "{what}: {document:#}");
        assert!(error["error-message"].is_string(), "{what}: {document:#}");
    }

    // An Accept for XML is honoured when the head can be read.
    let answer = raw_tls(
        &server,
        b"GET /restconf HTTP/1.1\r\nHost: d\r\nAccept: application/yang-data+xml\r\n\
          Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
    );
    assert!(answer.contains("<errors xmlns="), "{answer}");

    // Requests before the refused one on the same connection are answered first.
    let answer = raw_tls(
        &server,
        b"GET /.well-known/host-meta HTTP/1.1\r\nHost: d\r\n\r\n\
          GET /restconf HTTP/9.9\r\nHost: d\r\n\r\n",
    );
    // Status lines: "HTTP/1.1 " and three digits (a body may say "HTTP/1.1" too).
    let statuses: Vec<&str> = answer
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|rest| rest.get(..3))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(statuses, ["200", "505"], "{answer}");

    // The server goes on serving devices.
    assert!(server.bootstrap("SN-0001", &[]).status.success());
}

#[test]
fn request_heads_hyper_would_refuse_get_a_json_error_on_the_admin_port() {
    let dir = temp_dir();
    let server = Server::start(dir.path());
    for (request, status) in [
        (
            &b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                [..],
            "400",
        ),
        (
            b"POST /v1/devices HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n",
            "501",
        ),
        (b"GET /healthz HTTP/3.0\r\nHost: a\r\n\r\n", "505"),
    ] {
        let answer = raw_admin(&server, request);
        let (got, body) = status_and_body(&answer);
        assert_eq!(got, status, "{answer}");
        let error: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
        assert_eq!(error["error"]["status"].to_string(), status, "{error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
}

/// `curl` from `source` (a loopback address) to `url`; the status it printed (000: no answer).
fn curl_from(source: &str, server: &Server, url: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = [
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "20",
        "--interface",
        source,
        "--cacert",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(
        server
            .pki()
            .join("manufacturer/root-ca.pem")
            .display()
            .to_string(),
    );
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.push(url.to_owned());
    let output = curl(args);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Waits (a bounded number of tries) for the server log to contain `line`.
fn wait_for_log(server: &Server, line: &str) {
    for _ in 0..200 {
        if server.log().contains(line) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {line:?} in the server log:\n{}", server.log());
}

#[test]
fn a_source_that_keeps_failing_handshakes_is_closed_at_accept_and_others_are_not() {
    let dir = temp_dir();
    let server = Server::process_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__HANDSHAKE_FAILURES_BURST", "3"),
            ("ZTP_DEVICE_API__HANDSHAKE_FAILURES_PER_MINUTE", "1"),
            ("ZTP_DEVICE_API__COOLDOWN_SECS", "600"),
        ],
    );
    let host_meta = format!("{}/.well-known/host-meta", server.device_url);
    assert_eq!(curl_from("127.0.0.3", &server, &host_meta, &[]), "200");

    // Plain HTTP to the TLS port: a handshake that fails, four times.
    let plain = format!("http://{}/", host_port(&server.device_url));
    for _ in 0..4 {
        assert_ne!(curl_from("127.0.0.3", &server, &plain, &[]), "200");
    }
    wait_for_log(&server, "benched after too many failed TLS handshakes");

    // Now 127.0.0.3 is closed before its handshake, however well it behaves...
    assert_eq!(curl_from("127.0.0.3", &server, &host_meta, &[]), "000");
    // ...while other sources are served.
    assert_eq!(curl_from("127.0.0.2", &server, &host_meta, &[]), "200");
    assert!(server.bootstrap("SN-0001", &[]).status.success());
}

fn events(server: &Server) -> Vec<Value> {
    let out = success(server.admin(["events", "--limit", "200"]));
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

#[test]
fn a_source_refused_too_often_is_benched_and_its_refusals_become_one_summary() {
    let dir = temp_dir();
    let server = Server::process_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__REFUSALS_BURST", "5"),
            ("ZTP_DEVICE_API__REFUSALS_PER_MINUTE", "1"),
            ("ZTP_DEVICE_API__COOLDOWN_SECS", "600"),
            ("ZTP_DEVICE_API__REFUSAL_SUMMARY_SECS", "2"),
        ],
    );
    let rpc = format!("{}{GET_BOOTSTRAPPING_DATA}", server.device_url);
    let post = ["-X", "POST"];
    // No client certificate: 401, six times; the sixth spends the budget.
    for _ in 0..6 {
        assert_eq!(curl_from("127.0.0.4", &server, &rpc, &post), "401");
    }
    wait_for_log(&server, "benched after too many refused requests");
    assert_eq!(
        curl_from("127.0.0.4", &server, &rpc, &post),
        "000",
        "closed at accept, nothing recorded"
    );

    // One event for the first refusal, one summary for the five after it.
    let mut from_source = Vec::new();
    for _ in 0..100 {
        from_source = events(&server)
            .into_iter()
            .filter(|e| {
                e["kind"] == "bootstrap-refused"
                    && e["peer"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("127.0.0.4")
            })
            .collect();
        if from_source.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(from_source.len(), 2, "{from_source:#?}");
    let details: Vec<&str> = from_source
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("no client certificate")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("5 more refusals like this from 127.0.0.4 in ")),
        "{details:?}"
    );
    assert!(from_source.iter().all(|e| e["status"] == 401));

    // Devices elsewhere are served.
    let sn1 = device(&server, "SN-0001");
    let answer = curl_from(
        "127.0.0.5",
        &server,
        &rpc,
        &[
            "--cert",
            sn1.join("idevid.pem").to_str().unwrap(),
            "--key",
            sn1.join("idevid.key").to_str().unwrap(),
            "-H",
            "Content-Type: application/yang-data+json",
            "-d",
            r#"{"ietf-sztp-bootstrap-server:input":{}}"#,
        ],
    );
    assert_eq!(answer, "200");
}

#[test]
fn a_handshake_waits_for_its_turn_instead_of_being_refused() {
    let dir = temp_dir();
    let server = Server::process_with(
        dir.path(),
        &[
            ("ZTP_DEVICE_API__MAX_HANDSHAKES", "1"),
            ("ZTP_DEVICE_API__READ_TIMEOUT_SECS", "60"),
            ("RUST_LOG", "info,ztp::http=debug"),
        ],
    );
    let host_meta = format!("{}/.well-known/host-meta", server.device_url);
    let cacert = server.pki().join("manufacturer/root-ca.pem");
    let fetch = move || {
        let output = curl([
            "-o".as_ref(),
            "/dev/null".as_ref(),
            "-w".as_ref(),
            "%{http_code}".as_ref(),
            "--max-time".as_ref(),
            "60".as_ref(),
            "--cacert".as_ref(),
            cacert.as_os_str(),
            host_meta.as_ref(),
        ]);
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            transcript(&output),
        )
    };
    // A client that connects and says nothing holds no permit: a device's handshake goes
    // ahead of it at once.
    let silent = std::net::TcpStream::connect(host_port(&server.device_url)).unwrap();
    let (status, said) = fetch();
    assert_eq!(status, "200", "{said}");
    assert!(
        !server.log().contains("waiting for a TLS handshake permit"),
        "{}",
        server.log()
    );
    drop(silent);
    // A client that sent its ClientHello and stalls holds the only permit...
    let mut holder = std::net::TcpStream::connect(host_port(&server.device_url)).unwrap();
    let config = ztp_tests::abuse::device_config(&server.pki(), "SN-0002");
    let mut tls = rustls::ClientConnection::new(config, "127.0.0.1".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    tls.write_tls(&mut hello).unwrap();
    holder.write_all(&hello).unwrap();
    // ...so a device's handshake waits for it.
    let waiting = std::thread::spawn(fetch);
    wait_for_log(&server, "waiting for a TLS handshake permit");
    // When the holder leaves, the device gets its turn.
    drop(holder);
    let (status, transcript) = waiting.join().unwrap();
    assert_eq!(status, "200", "{transcript}");
}
