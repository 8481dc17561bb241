//! The agent's rounds and pauses, against servers that refuse connections.
use std::path::Path;
use std::sync::Mutex;

use ztp_certs::dev_pki::{self, DevPkiOptions, layout};
use ztp_certs::{Cert, SerialSource};

use super::*;
use crate::agent::bootstrap::{Anchors, DeviceCredentials, Reporting, RequestOptions};
use crate::agent::download::DownloadLimits;
use crate::agent::image::RunningOs;
use crate::agent::sandbox::Limits;
use crate::agent::scripts::{Runner, work_dir};
use crate::agent::state::StateFile;

/// Records the pauses instead of waiting.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<Duration>>);

impl Pause for Recorded {
    async fn pause(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

/// A port on loopback where nothing listens.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn options(pki: &Path, state: &Path, servers: Vec<ServerUrl>, rounds: u32) -> RunOptions {
    let device = pki.join(layout::device("SN-0001"));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let credentials = DeviceCredentials::from_pem(
        &read(&device.join("idevid.pem")),
        &read(&device.join("idevid.key")),
        SerialSource::default(),
    )
    .unwrap();
    let vouchers = Cert::chain_from_pem(&read(&pki.join(layout::VOUCHER_CA))).unwrap();
    RunOptions {
        bootstrap: BootstrapOptions {
            servers,
            credentials,
            anchors: Anchors {
                vouchers,
                ..Anchors::default()
            },
            request: RequestOptions::default(),
            reporting: Reporting {
                enabled: true,
                complete: None,
            },
            timeout: Duration::from_secs(5),
        },
        installer: Installer {
            state_dir: state.to_owned(),
            running: RunningOs::default(),
            download: DownloadLimits {
                max_bytes: 1024,
                timeout: Duration::from_secs(5),
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
            initial: Duration::from_secs(10),
            max: Duration::from_secs(60),
            rounds: Some(rounds),
        },
        max_depth: redirect::MAX_DEPTH,
    }
}

#[tokio::test]
async fn rounds_without_usable_data_pause_then_give_up_with_each_servers_failure() {
    let dir = tempfile::tempdir().unwrap();
    dev_pki::generate(dir.path(), &DevPkiOptions::default()).unwrap();
    let servers = vec![
        ServerUrl::parse(&format!("https://127.0.0.1:{}", closed_port().await)).unwrap(),
        ServerUrl::parse(&format!("https://127.0.0.1:{}", closed_port().await)).unwrap(),
    ];
    let options = options(dir.path(), &dir.path().join("state"), servers.clone(), 3);
    let pauses = Recorded::default();
    let error = run(&options, &pauses).await.unwrap_err();
    let RunError::GaveUp { rounds, failures } = &error else {
        panic!("{error}");
    };
    assert_eq!(*rounds, 3);
    let failed: Vec<_> = failures.iter().map(|f| f.server.clone()).collect();
    assert_eq!(
        failed, servers,
        "both servers tried in each round, in order"
    );
    let pauses = pauses.0.into_inner().unwrap();
    assert_eq!(
        pauses.len(),
        2,
        "a pause between rounds, none after the last"
    );
    assert!(pauses[0] >= Duration::from_secs(5) && pauses[0] <= Duration::from_secs(10));
    assert!(pauses[1] >= Duration::from_secs(10) && pauses[1] <= Duration::from_secs(20));
    assert!(error.to_string().contains("3 round(s)"), "{error}");
}

#[tokio::test]
async fn a_completed_device_contacts_no_server_again() {
    let dir = tempfile::tempdir().unwrap();
    dev_pki::generate(dir.path(), &DevPkiOptions::default()).unwrap();
    let state_dir = dir.path().join("state");
    let file = StateFile::in_dir(&state_dir).unwrap();
    let done = AgentState {
        complete: true,
        ..AgentState::default()
    };
    file.save(&done).unwrap();
    let server = ServerUrl::parse(&format!("https://127.0.0.1:{}", closed_port().await)).unwrap();
    let options = options(dir.path(), &state_dir, vec![server], 1);
    let outcome = run(&options, &Recorded::default()).await.unwrap();
    assert!(outcome.already_complete && outcome.state.complete);
}

#[test]
fn pauses_grow_to_the_largest_and_are_jittered_between_half_and_all() {
    let retry = Retry {
        initial: Duration::from_secs(30),
        max: Duration::from_secs(600),
        rounds: None,
    };
    assert_eq!(
        retry.pause(0, 0.999_999),
        Duration::from_secs(30).mul_f64(0.999_999_5)
    );
    assert_eq!(retry.pause(0, 0.0), Duration::from_secs(15));
    assert_eq!(retry.pause(3, 0.0), Duration::from_secs(120));
    assert_eq!(retry.pause(10, 0.0), Duration::from_secs(300));
    assert_eq!(retry.pause(u32::MAX, 0.0), Duration::from_secs(300));
    assert!(retry.pause(40, 0.5) <= Duration::from_secs(600));
    let unit = random_unit();
    assert!((0.0..1.0).contains(&unit));
}
