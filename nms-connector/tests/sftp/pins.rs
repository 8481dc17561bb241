//! Host key pinning: checked before authentication, several pins allowed.

use ztp_nms_connector::{Error, Fingerprint, InvalidInput, Session};

use ztp_tests::sshd::Sshd;

fn other_pin() -> Fingerprint {
    Fingerprint::parse("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s").unwrap()
}

#[tokio::test]
async fn wrong_pin_is_refused_before_anything_is_sent() {
    let sshd = Sshd::start();
    let mut endpoint = sshd.key_endpoint();
    endpoint.pins = vec![other_pin()];

    let err = Session::connect(&endpoint).await.unwrap_err();

    let Error::HostKeyMismatch { presented, pins } = &err else {
        panic!("expected a host key mismatch, got {err:?}");
    };
    assert_eq!(*presented, sshd.host_fingerprint());
    assert_eq!(pins, &[other_pin()]);
    let message = err.to_string();
    assert!(
        message.contains(&sshd.host_fingerprint().to_string()),
        "{message}"
    );
    assert!(message.contains(&other_pin().to_string()), "{message}");
    assert!(!err.is_transient());
    assert!(sshd.incoming_files().is_empty());
    // No user name ever reached the server: no login attempt of any kind is logged.
    assert!(!sshd.log().contains("for root"), "{}", sshd.log());
}

#[tokio::test]
async fn one_matching_pin_among_several_is_enough() {
    let sshd = Sshd::start();
    let mut endpoint = sshd.key_endpoint();
    endpoint.pins = vec![other_pin(), sshd.host_fingerprint()];

    let mut session = Session::connect(&endpoint).await.unwrap();
    session.upload("a.xml", b"a").await.unwrap();

    assert_eq!(sshd.incoming_files(), ["a.xml"]);
}

#[tokio::test]
async fn no_pins_means_no_connection() {
    let sshd = Sshd::start();
    let mut endpoint = sshd.key_endpoint();
    endpoint.pins.clear();

    let err = Session::connect(&endpoint).await.unwrap_err();

    assert!(
        matches!(err, Error::InvalidInput(InvalidInput::NoPins)),
        "{err:?}"
    );
}
