//! The flow against servers on loopback: transports, reports, nonces, failures.

use super::*;

#[tokio::test]
async fn an_unsigned_redirect_from_a_trusted_server_over_h2() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
    let outcome = bootstrap(&options(&w, &[addr], true)).await.unwrap();
    assert_eq!(outcome.verified.information, redirect());
    let json = outcome.to_json();
    assert_eq!(json["serial"], "SN-1");
    assert_eq!(json["server"], format!("https://{addr}"));
    assert_eq!(json["signed"], false);
    assert_eq!(json["voucher"], Value::Null);
    assert_eq!(
        json["conveyed-information"]["ietf-sztp-conveyed-info:redirect-information"]["bootstrap-server"]
            [0]["address"],
        "nms.example.net"
    );
    let seen = seen.lock().unwrap();
    assert!(seen.requests.iter().all(|(_, v, _)| *v == Version::HTTP_2));
    assert_eq!(
        seen.client_certs.len(),
        1,
        "one connection, with the IDevID"
    );
    assert!(!seen.input().signed_data_preferred);
    assert_eq!(
        seen.reports(),
        [],
        "redirect information is not reported, even to a trusted server"
    );
}

#[test]
fn server_text_reaches_the_terminal_escaped() {
    assert_eq!(
        printable("No responses configured."),
        "No responses configured."
    );
    let hostile = "ok\u{1b}[2K\rsigned: true\u{7}\u{202e}gnp.exe";
    let shown = printable(hostile);
    assert!(
        !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{shown}"
    );
    assert!(
        shown.contains("\\u{1b}") && shown.contains("\\u{202e}"),
        "{shown}"
    );
    assert_eq!(printable(&"x".repeat(500)).chars().count(), 201);
    let json = r#"{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"data-missing","error-message":"\u001b[31mgone\u0007"}]}}"#;
    let mut answer = response(404, Some("application/yang-data+json"), json);
    answer.retry_after = Some("1\r\n".into());
    let err = server_error(&answer).to_string();
    assert!(!err.chars().any(char::is_control), "{err:?}");
}

#[tokio::test]
async fn a_restconf_error_over_http1_names_tag_and_message() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"http/1.1", Answer::AccessDenied).await;
    let err = bootstrap(&options(&w, &[addr], false)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "server answered 401 access-denied: unknown device"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 1, "no progress report after an error");
    assert_eq!(seen.requests[0].1, Version::HTTP_11);
    assert!(
        seen.input().signed_data_preferred,
        "an untrusted server is always asked for signed data"
    );
}

#[tokio::test]
async fn unsigned_onboarding_from_an_untrusted_server_is_refused_and_not_reported() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
    let mut opts = options(&w, &[addr], false);
    opts.request.encoding = Encoding::Xml;
    let err = bootstrap(&opts).await.unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::Refused(RefusedResponse::UnsignedOnboarding)
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("refused: "), "{err}");
    assert_eq!(
        seen.lock().unwrap().reports(),
        [],
        "an untrusted server learns nothing of why it was refused"
    );
}

#[tokio::test]
async fn a_trusted_server_hears_the_progress_of_onboarding_information() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
    let mut opts = options(&w, &[addr], true);
    opts.reporting.complete = Some(vec![SshHostKey {
        algorithm: "ssh-ed25519".into(),
        key_data: vec![1, 2, 3],
    }]);
    bootstrap(&opts).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().reports(),
        [
            ProgressType::BootstrapInitiated,
            ProgressType::ParsingComplete,
            ProgressType::BootstrapComplete
        ]
    );
    // A refusal is reported to a trusted server, with its reason.
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedBy(Key::Device, None)).await;
    bootstrap(&options(&w, &[addr], true)).await.unwrap_err();
    assert_eq!(
        seen.lock().unwrap().reports(),
        [ProgressType::BootstrapInitiated, ProgressType::ParsingError]
    );
}

#[tokio::test]
async fn a_signed_redirect_carries_the_nonce_sent_and_completes() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"http/1.1", Answer::SignedRedirect).await;
    let mut opts = options(&w, &[addr], false);
    opts.request.nonce = NonceChoice::Random;
    opts.reporting.complete = Some(vec![SshHostKey {
        algorithm: "ssh-ed25519".into(),
        key_data: vec![1, 2, 3],
    }]);
    let outcome = bootstrap(&opts).await.unwrap();
    let json = outcome.to_json();
    let seen = seen.lock().unwrap();
    let sent = seen.input().nonce.unwrap();
    assert_eq!(json["signed"], true);
    assert_eq!(json["voucher"]["serial-number"], "SN-1");
    assert_eq!(json["voucher"]["nonce"], hex(sent.as_bytes()));
    assert_eq!(
        json["voucher"]["pinned-domain-cert"],
        w.owner.ca().subject()
    );
    assert!(
        json["owner-certificate"]
            .as_str()
            .unwrap()
            .contains("signer")
    );
    assert_eq!(
        seen.reports(),
        [],
        "an untrusted server gets no reports, and not the host keys"
    );
}

#[tokio::test]
async fn a_server_outside_the_trust_anchors_fails_the_handshake() {
    let w = Arc::new(world());
    let (addr, _) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
    let mut opts = options(&w, &[addr], true);
    opts.anchors.servers = vec![w.mfg.cert().clone()];
    let err = bootstrap(&opts).await.unwrap_err();
    assert!(
        matches!(err, AgentError::Transport(ClientError::Tls { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn the_next_server_is_tried_after_a_failure() {
    let w = Arc::new(world());
    let (good, _) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
    let (denied, _) = spawn_server(w.clone(), b"h2", Answer::AccessDenied).await;
    let outcome = bootstrap(&options(&w, &[denied, good], true))
        .await
        .unwrap();
    assert_eq!(outcome.server.to_string(), format!("https://{good}"));
    let err = bootstrap(&options(&w, &[denied, denied], true))
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::AllServersFailed(ref f) if f.len() == 2));
}

#[tokio::test]
async fn a_key_that_does_not_match_the_idevid_is_refused_before_connecting() {
    let w = world();
    let mut opts = options(&w, &[], true);
    let other = ztp_certs::SigningKey::generate(P256).unwrap();
    opts.credentials = DeviceCredentials::from_pem(
        &w.device_chain,
        &other.to_pem(),
        SerialSource::SubjectSerialNumber,
    )
    .unwrap();
    let err = bootstrap(&opts).await.unwrap_err();
    assert!(matches!(err, AgentError::TlsConfig(_)), "{err}");
}

#[test]
fn untrusted_servers_are_always_asked_for_signed_data() {
    let request = RequestOptions {
        hw_model: Some("uCPE-100".into()),
        ..Default::default()
    };
    let untrusted = request_input(&request, false, None);
    assert!(untrusted.signed_data_preferred);
    assert_eq!(untrusted.hw_model.as_deref(), Some("uCPE-100"));
    assert!(!request_input(&request, true, None).signed_data_preferred);
    let asked = RequestOptions {
        signed_data_preferred: true,
        ..Default::default()
    };
    assert!(request_input(&asked, true, None).signed_data_preferred);
}

#[test]
fn nonces_are_fresh_32_octets_or_as_given() {
    let (a, b) = (
        NonceChoice::Random.draw().unwrap().unwrap(),
        NonceChoice::Random.draw().unwrap().unwrap(),
    );
    assert_eq!(a.as_bytes().len(), 32);
    assert_ne!(a, b);
    let fixed = Nonce::new(vec![7; 16]).unwrap();
    assert_eq!(
        NonceChoice::Fixed(fixed.clone()).draw().unwrap(),
        Some(fixed)
    );
    assert_eq!(NonceChoice::None.draw().unwrap(), None);
}

fn response(status: u16, content_type: Option<&str>, body: &str) -> Response {
    Response {
        status: StatusCode::from_u16(status).unwrap(),
        content_type: content_type.map(str::to_owned),
        retry_after: None,
        www_authenticate: None,
        body: Bytes::from(body.to_owned()),
    }
}

#[test]
fn server_errors_show_restconf_errors_or_a_body_excerpt() {
    let json = r#"{"ietf-restconf:errors":{"error":[{"error-type":"application","error-tag":"data-missing","error-message":"No responses configured."}]}}"#;
    let err = server_error(&response(404, Some("application/yang-data+json"), json));
    assert_eq!(
        err.to_string(),
        "server answered 404 data-missing: No responses configured."
    );
    let xml = r#"<errors xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><error><error-type>protocol</error-type><error-tag>access-denied</error-tag></error></errors>"#;
    let err = server_error(&response(401, None, xml));
    assert_eq!(err.to_string(), "server answered 401 access-denied");
    let err = server_error(&response(502, Some("text/html"), "<h1>Bad\ngateway</h1>"));
    assert_eq!(
        err.to_string(),
        r#"server answered 502 (body: "<h1>Bad gateway</h1>")"#
    );
    let mut busy = response(503, None, "");
    busy.retry_after = Some("30".into());
    assert_eq!(
        server_error(&busy).to_string(),
        "server answered 503 (retry after 30)"
    );
}
