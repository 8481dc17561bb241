//! The administrator's "test connection" names the step that failed.

use ztp_nms_connector::{Auth, Fingerprint, ProbeStep, probe};

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
