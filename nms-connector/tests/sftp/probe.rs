//! The administrator's "test connection" names the step that failed.

use std::net::IpAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use ztp_nms_connector::{
    AddressFilter, Auth, Endpoint, Error, Fingerprint, ProbeStep, Session, presented_fingerprint,
    probe,
};

use ztp_tests::sshd::{Sshd, free_port};

#[tokio::test]
async fn a_healthy_endpoint_passes_every_step_and_leaves_nothing() {
    let sshd = Sshd::start();

    let report = probe(&sshd.key_endpoint()).await;

    assert!(report.ok(), "{report}");
    let steps: Vec<ProbeStep> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            ProbeStep::TcpConnect,
            ProbeStep::HostKey,
            ProbeStep::Authentication,
            ProbeStep::Sftp,
            ProbeStep::Upload,
            ProbeStep::Removal,
        ]
    );
    assert_eq!(report.presented, Some(sshd.host_fingerprint()));
    assert!(sshd.incoming_files().is_empty());
}

#[tokio::test]
async fn failures_name_their_step() {
    let sshd = Sshd::start();

    let mut wrong_pin = sshd.key_endpoint();
    wrong_pin.pins =
        vec![Fingerprint::parse("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s").unwrap()];
    let report = probe(&wrong_pin).await;
    assert_eq!(report.failed_step(), Some(ProbeStep::HostKey), "{report}");
    assert_eq!(report.presented, Some(sshd.host_fingerprint()));
    assert!(report.to_string().contains("host key mismatch"), "{report}");

    let report = probe(&sshd.endpoint(Auth::Password("wrong".into()))).await;
    assert_eq!(
        report.failed_step(),
        Some(ProbeStep::Authentication),
        "{report}"
    );
    assert!(report.to_string().contains("password rejected"), "{report}");

    let mut no_directory = sshd.key_endpoint();
    no_directory.directory = sshd.root().join("missing").display().to_string();
    let report = probe(&no_directory).await;
    assert_eq!(report.failed_step(), Some(ProbeStep::Upload), "{report}");

    let mut closed = sshd.key_endpoint();
    closed.port = free_port();
    let report = probe(&closed).await;
    assert_eq!(
        report.failed_step(),
        Some(ProbeStep::TcpConnect),
        "{report}"
    );
    assert_eq!(report.steps.len(), 1);
    assert!(!report.ok());
}

#[tokio::test]
async fn addresses_the_filter_refuses_are_never_connected_to() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let no_loopback = AddressFilter::new(|ip: IpAddr| {
        if ip.is_loopback() {
            Err(format!("{ip} is not allowed"))
        } else {
            Ok(())
        }
    });
    let pin = Fingerprint::parse("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s").unwrap();
    let mut endpoint = Endpoint::new(
        "localhost",
        "ztp",
        Auth::Password("pw".into()),
        vec![pin],
        "",
    );
    endpoint.port = port;
    endpoint.address_filter = no_loopback.clone();

    let report = probe(&endpoint).await;
    assert_eq!(
        report.failed_step(),
        Some(ProbeStep::TcpConnect),
        "{report}"
    );
    assert_eq!(report.steps.len(), 1);
    assert!(
        report.steps[0].message.contains("is not allowed"),
        "{report}"
    );
    let error = Session::connect(&endpoint).await.unwrap_err();
    assert!(matches!(error, Error::AddressNotAllowed { .. }), "{error}");
    let error = presented_fingerprint("127.0.0.1", port, &no_loopback, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("127.0.0.1 is not allowed"),
        "{error}"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), listener.accept())
            .await
            .is_err(),
        "nothing connected"
    );
}
