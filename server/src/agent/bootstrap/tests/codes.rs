//! Activation codes: sent as HTTP Basic on every request to an authenticated server, never to
//! a provisional one; a device without an IDevID skips only the voucher's idevid-issuer check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::agent::activation::ActivationCode;
use crate::agent::credentials::CodeUse;
use crate::agent::failure::answer_error;

const CODE: &str = "LABEL-ON-THE-BOX-0001";

fn with_code(mut options: BootstrapOptions) -> BootstrapOptions {
    options.credentials = options
        .credentials
        .with_activation_code(ActivationCode::new(CODE).unwrap());
    options
}

fn code_only() -> DeviceCredentials {
    DeviceCredentials::code_only(
        Serial::parse("SN-1").unwrap(),
        ActivationCode::new(CODE).unwrap(),
    )
}

#[tokio::test]
async fn every_request_to_an_authenticated_server_carries_the_code() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
    let mut opts = with_code(options(&w, &[addr], true));
    opts.reporting.complete = Some(Vec::new());
    bootstrap(&opts).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.reports().len(), 3, "initiated, parsed, complete");
    assert_eq!(seen.authorizations.len(), 4);
    for authorization in &seen.authorizations {
        let token = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .expect("Basic credentials on every request");
        let decoded = STANDARD.decode(token).unwrap();
        assert_eq!(decoded, format!("SN-1:{CODE}").as_bytes());
    }
}

#[tokio::test]
async fn a_provisional_server_never_sees_the_code() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"http/1.1", Answer::SignedRedirect).await;
    // With an IDevID the device still asks, without its code.
    bootstrap(&with_code(options(&w, &[addr], false)))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().authorizations, [None]);

    // A device whose code is its only factor does not contact it at all.
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::SignedRedirect).await;
    let mut opts = options(&w, &[addr], false);
    opts.credentials = code_only();
    let err = bootstrap(&opts).await.unwrap_err();
    assert!(
        matches!(err, AgentError::CodeOnlyToAuthenticated { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--server-ca"), "{err}");
    let seen = seen.lock().unwrap();
    assert!(seen.requests.is_empty() && seen.client_certs.is_empty());
}

#[test]
fn without_an_idevid_only_the_vouchers_idevid_issuer_goes_unchecked() {
    let w = world();
    let mut opts = options(&w, &[], true);
    opts.credentials = code_only();
    let input = request_input(&opts.request, true, None);
    let body = input.encode(Encoding::Json);
    let answer = |issuer: Option<Vec<u8>>| {
        let (_, text, encoding) = signed(&w, Key::Masa, None, issuer, body.as_bytes());
        GetBootstrappingDataOutput::decode(encoding, text.as_bytes()).unwrap()
    };
    let (verified, _) = check(&opts, &answer(Some(vec![9; 20])), &input, true).unwrap();
    assert_eq!(verified.information, redirect());
    // Every other check stands: a voucher from another signer is refused.
    let (_, text, encoding) = signed(&w, Key::Device, None, None, body.as_bytes());
    let forged = GetBootstrappingDataOutput::decode(encoding, text.as_bytes()).unwrap();
    let err = check(&opts, &forged, &input, true).unwrap_err();
    assert!(matches!(err, AgentError::Refused(_)), "{err}");
    // And the anchors are still checked against each other.
    check_anchors(&opts).unwrap();
}

fn challenge(header: Option<&str>) -> Response {
    Response {
        status: StatusCode::UNAUTHORIZED,
        content_type: Some("application/yang-data+json".into()),
        retry_after: None,
        www_authenticate: header.map(str::to_owned),
        body: Bytes::from_static(
            br#"{"ietf-restconf:errors":{"error":[{"error-type":"protocol","error-tag":"access-denied","error-message":"the device is not authenticated"}]}}"#,
        ),
    }
}

#[test]
fn a_basic_challenge_says_what_to_do_about_the_code() {
    let basic = challenge(Some(r#"Basic realm="ztp device", charset="UTF-8""#));
    let error = answer_error(&basic, CodeUse::NoCode);
    assert!(matches!(error, AgentError::CodeRequired { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("--activation-code-file"), "{message}");
    assert!(message.contains("not authenticated"), "{message}");
    let error = answer_error(&basic, CodeUse::Withheld);
    assert!(matches!(error, AgentError::CodeWithheld), "{error}");
    assert!(error.to_string().contains("--server-ca"), "{error}");
    let error = answer_error(&basic, CodeUse::Sent);
    assert!(matches!(error, AgentError::CodeRefused { .. }), "{error}");

    // Basic among other schemes, in any case, counts; other schemes or none do not.
    let among = challenge(Some(r#"Bearer realm="x", BASIC realm="ztp""#));
    assert!(matches!(
        answer_error(&among, CodeUse::NoCode),
        AgentError::CodeRequired { .. }
    ));
    for other in [None, Some("Bearer realm=\"x\""), Some("Basically")] {
        let error = answer_error(&challenge(other), CodeUse::NoCode);
        assert!(
            matches!(error, AgentError::Server { status: 401, .. }),
            "{other:?}: {error}"
        );
    }
}
