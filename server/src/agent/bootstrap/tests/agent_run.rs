//! The device agent's loop (`agent::run`) against the loopback servers of these tests: what it
//! follows, what it installs, and what it reports, over h2 and HTTP/1.1.

use super::*;
use crate::agent::activation::ActivationCode;
use crate::agent::download::DownloadLimits;
use crate::agent::image::RunningOs;
use crate::agent::onboarding::{Installer, Progress};
use crate::agent::redirect::RedirectError;
use crate::agent::run::{
    Retry, RunError, RunOptions, ServerError, ServerProgress, TokioPause, run,
};
use crate::agent::sandbox::Limits;
use crate::agent::scripts::{Runner, work_dir};

fn run_options(w: &World, addr: SocketAddr, trusted: bool, state: &std::path::Path) -> RunOptions {
    RunOptions {
        bootstrap: options(w, &[addr], trusted),
        installer: Installer {
            state_dir: state.to_owned(),
            running: RunningOs::default(),
            download: DownloadLimits {
                max_bytes: 1024,
                timeout: Duration::from_secs(10),
            },
            download_tls: tls::download_config().unwrap(),
            runner: Runner {
                work_dir: work_dir(state),
                script_limits: Limits::default(),
                commit_hook: None,
                image_hook: None,
                hook_limits: Limits::default(),
            },
            host_keys: Vec::new(),
        },
        retry: Retry {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
            rounds: Some(1),
        },
        max_depth: 4,
    }
}

#[tokio::test]
async fn an_unsigned_redirect_from_an_untrusted_server_is_not_followed() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedRedirect).await;
    let state = tempfile::tempdir().unwrap();
    let options = run_options(&w, addr, false, state.path());
    let error = run(&options, &TokioPause).await.unwrap_err();
    let RunError::GaveUp { failures, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(failures.len(), 1, "nothing else was contacted: {error}");
    assert!(
        matches!(
            failures[0].error,
            ServerError::Redirect(RedirectError::UnsignedFromUntrusted)
        ),
        "{error}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.reports(), [], "an untrusted server gets no reports");
}

#[tokio::test]
async fn onboarding_from_a_trusted_server_is_installed_and_reported_to_it() {
    let w = Arc::new(world());
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let (addr, seen) = spawn_server(w.clone(), alpn, Answer::UnsignedOnboarding).await;
        let state = tempfile::tempdir().unwrap();
        let options = run_options(&w, addr, true, state.path());
        let outcome = run(&options, &TokioPause).await.unwrap();
        assert!(outcome.state.complete && !outcome.already_complete);
        assert_eq!(outcome.state.server, Some(format!("https://{addr}")));
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.reports(),
            [
                ProgressType::BootstrapInitiated,
                ProgressType::ParsingComplete,
                ProgressType::PreScriptInitiated,
                ProgressType::PreScriptComplete,
                ProgressType::BootstrapComplete,
            ],
            "over {}",
            String::from_utf8_lossy(alpn)
        );
        assert_eq!(seen.client_certs.len(), 1, "one connection for it all");
    }
}

#[tokio::test]
async fn a_report_over_a_new_connection_carries_the_code_too() {
    let w = Arc::new(world());
    let (addr, seen) = spawn_server(w.clone(), b"h2", Answer::UnsignedOnboarding).await;
    let options = options(&w, &[addr], true);
    let code = ActivationCode::new("LABEL-ON-THE-BOX-0001").unwrap();
    let authorization = code.basic(options.credentials.serial());
    // No connection kept: the report connects anew.
    let mut progress = ServerProgress {
        client: None,
        authorization: Some(authorization.clone()),
        url: options.servers[0].clone(),
        config: tls::client_config(
            options.credentials.identity().unwrap(),
            options.server_trust(),
        )
        .unwrap(),
        timeout: options.timeout,
        encoding: Encoding::Json,
        enabled: true,
    };
    progress
        .report(ReportProgressInput::new(ProgressType::ConfigComplete))
        .await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.client_certs.len(), 1, "a new connection");
    assert_eq!(
        seen.authorizations,
        [Some(authorization.to_str().unwrap().to_owned())]
    );
}
