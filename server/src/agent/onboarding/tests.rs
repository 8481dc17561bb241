//! Onboarding against a loopback image server, real scripts and a real commit hook.
use std::path::Path;
use std::time::Duration;

use ztp_yang::{BootImage, Configuration, ConfigurationHandling, HashAlgorithm, ImageVerification};

use super::*;
use crate::agent::download::tests::serve_file;
use crate::agent::sandbox::Limits;
use crate::agent::scripts::work_dir;

/// Progress reports, kept in order.
#[derive(Debug, Default)]
struct Recorded(Vec<ReportProgressInput>);

impl Progress for Recorded {
    async fn report(&mut self, report: ReportProgressInput) {
        self.0.push(report);
    }
}

impl Recorded {
    fn types(&self) -> Vec<&'static str> {
        self.0.iter().map(|r| r.progress_type.as_str()).collect()
    }

    fn message(&self, progress: ProgressType) -> String {
        self.0
            .iter()
            .find(|r| r.progress_type == progress)
            .and_then(|r| r.message.clone())
            .unwrap_or_default()
    }
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A device with a state directory and a commit hook that copies what it gets to `committed`.
fn installer(dir: &Path) -> Installer {
    let hook = dir.join("commit-hook");
    executable(
        &hook,
        &format!("#!/bin/sh\ncp \"$1\" {}/committed\n", dir.display()),
    );
    Installer {
        state_dir: dir.join("state"),
        running: RunningOs::default(),
        download: DownloadLimits {
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(10),
        },
        download_tls: crate::agent::tls::download_config().unwrap(),
        runner: Runner {
            work_dir: work_dir(&dir.join("state")),
            script_limits: Limits {
                timeout: Duration::from_secs(20),
                output: 1024,
            },
            commit_hook: Some(hook),
            image_hook: None,
            hook_limits: Limits::default(),
        },
        host_keys: Vec::new(),
    }
}

/// A script that appends `word` to `dir/marks` and exits `exit`.
fn marking(dir: &Path, word: &str, exit: i32) -> Vec<u8> {
    format!(
        "#!/bin/sh\necho {word} >> {}/marks\necho said {word}\nexit {exit}\n",
        dir.display()
    )
    .into_bytes()
}

fn marks(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("marks")).unwrap_or_default()
}

async fn information(dir: &Path, image: &[u8], hash_of: &[u8]) -> OnboardingInformation {
    let base = serve_file(200, image.to_vec()).await;
    OnboardingInformation {
        boot_image: Some(BootImage {
            os_name: Some("VendorOS".into()),
            os_version: Some("2.0".into()),
            download_uris: vec![format!("{base}/image.bin")],
            image_verification: vec![ImageVerification {
                hash_algorithm: HashAlgorithm::Sha256,
                hash_value: digest::digest(&digest::SHA256, hash_of).as_ref().to_vec(),
            }],
        }),
        configuration: Some(Configuration {
            handling: ConfigurationHandling::Merge,
            data: b"hostname r1\n".to_vec(),
        }),
        pre_configuration_script: Some(marking(dir, "pre", 0)),
        post_configuration_script: Some(marking(dir, "post", 0)),
    }
}

const EVERY_STEP: [&str; 9] = [
    "boot-image-initiated",
    "boot-image-complete",
    "pre-script-initiated",
    "pre-script-complete",
    "config-initiated",
    "config-complete",
    "post-script-initiated",
    "post-script-complete",
    "bootstrap-complete",
];

#[tokio::test]
async fn every_step_runs_in_order_is_reported_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let info = information(dir.path(), b"IMAGE", b"IMAGE").await;
    let installer = installer(dir.path());
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(progress.types(), EVERY_STEP);
    assert_eq!(marks(dir.path()), "pre\npost\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("committed")).unwrap(),
        "hostname r1\n"
    );
    assert!(
        progress
            .message(ProgressType::PreScriptComplete)
            .contains("exit code 0; stdout: said pre")
    );
    let state = file.load().unwrap();
    let staged = dir.path().join("state/images/VendorOS-2.0.img");
    assert_eq!(state.image, Some(staged.display().to_string()));
    assert_eq!(std::fs::read(staged).unwrap(), b"IMAGE");
    assert!(state.config_committed && state.complete);
    assert_eq!(state.onboarding, Some(digest_of(&info)));
}

#[tokio::test]
async fn a_hash_mismatch_is_refused_reported_and_nothing_after_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let info = information(dir.path(), b"TAMPERED", b"IMAGE").await;
    let installer = installer(dir.path());
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    let error = installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap_err();
    assert!(matches!(error, OnboardingError::Image(_)), "{error}");
    assert_eq!(
        progress.types(),
        ["boot-image-initiated", "boot-image-error"]
    );
    assert!(
        progress
            .message(ProgressType::BootImageError)
            .contains("sha-256 mismatch")
    );
    assert_eq!(marks(dir.path()), "", "no script ran");
    let state = file.load().unwrap();
    assert!(state.image.is_none() && !state.complete);
}

#[tokio::test]
async fn a_failing_script_is_reported_with_its_exit_code_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut info = information(dir.path(), b"IMAGE", b"IMAGE").await;
    info.pre_configuration_script = Some(marking(dir.path(), "pre", 3));
    let installer = installer(dir.path());
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    let error = installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap_err();
    assert!(matches!(error, OnboardingError::Script { .. }), "{error}");
    assert_eq!(
        &progress.types()[2..],
        ["pre-script-initiated", "pre-script-error"]
    );
    assert_eq!(
        progress.message(ProgressType::PreScriptError),
        "exit code 3; stdout: said pre"
    );
    assert!(
        !dir.path().join("committed").exists(),
        "no configuration committed"
    );
    assert_eq!(
        file.load().unwrap().pre_script,
        Some(ScriptState::Ended {
            exit: Some(3),
            succeeded: false
        })
    );
}

#[tokio::test]
async fn a_warning_exit_is_reported_and_bootstrapping_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut info = information(dir.path(), b"IMAGE", b"IMAGE").await;
    info.post_configuration_script = Some(marking(dir.path(), "post", WARNING));
    let installer = installer(dir.path());
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        &progress.types()[6..],
        [
            "post-script-initiated",
            "post-script-warning",
            "post-script-complete",
            "bootstrap-complete"
        ]
    );
}

const WARNING: i32 = crate::agent::scripts::WARNING_EXIT;

#[tokio::test]
async fn a_restarted_agent_skips_done_steps_and_never_reruns_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let info = information(dir.path(), b"IMAGE", b"IMAGE").await;
    let installer = installer(dir.path());
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    // An earlier run staged the image, ran the pre-script and committed, then stopped.
    let mut earlier = AgentState::default();
    earlier.begin(&digest_of(&info), "https://b.example");
    earlier.image = Some("/staged/earlier".into());
    earlier.pre_script = Some(ended(Some(0), true));
    earlier.config_committed = true;
    file.save(&earlier).unwrap();
    let mut progress = Recorded::default();
    installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        progress.types(),
        [
            "post-script-initiated",
            "post-script-complete",
            "bootstrap-complete"
        ]
    );
    assert_eq!(marks(dir.path()), "post\n", "only the post-script ran");
    assert!(
        !dir.path().join("committed").exists(),
        "not committed again"
    );
    assert_eq!(
        file.load().unwrap().image.as_deref(),
        Some("/staged/earlier")
    );

    // A pre-script that an earlier run started and never saw end is not run again.
    let mut interrupted = AgentState::default();
    interrupted.begin(&digest_of(&info), "https://b.example");
    interrupted.image = Some("/staged/earlier".into());
    interrupted.pre_script = Some(ScriptState::Started);
    file.save(&interrupted).unwrap();
    let mut progress = Recorded::default();
    let error = installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap_err();
    assert!(matches!(error, OnboardingError::Interrupted(_)), "{error}");
    assert_eq!(progress.types(), ["pre-script-error"]);
    assert_eq!(marks(dir.path()), "post\n", "the pre-script did not run");
}

#[tokio::test]
async fn an_image_the_device_already_runs_is_not_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut info = information(dir.path(), b"IMAGE", b"OTHER").await;
    info.pre_configuration_script = None;
    info.post_configuration_script = None;
    let mut installer = installer(dir.path());
    installer.running = RunningOs {
        name: Some("VendorOS".into()),
        version: Some("2.0".into()),
    };
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(
        &progress.types()[..2],
        ["boot-image-initiated", "boot-image-complete"]
    );
    assert_eq!(file.load().unwrap().image.as_deref(), Some(RUNNING));
}

#[test]
fn report_messages_are_text_a_yang_string_may_hold() {
    assert_eq!(yang_text("ok\tline\r\nnext"), "ok\tline\r\nnext");
    assert_eq!(
        yang_text("\u{1b}[31mred\u{7}\u{0}\u{ffff}"),
        "\u{fffd}[31mred\u{fffd}\u{fffd}\u{fffd}"
    );
}

#[tokio::test]
async fn an_image_hook_installs_the_image_then_the_next_run_goes_on_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let info = information(dir.path(), b"IMAGE", b"IMAGE").await;
    let mut device = installer(dir.path());
    let hook = dir.path().join("image-hook");
    executable(
        &hook,
        &format!(
            "#!/bin/sh\necho \"$1 $2 $3\" > {}/installed\necho rebooting\n",
            dir.path().display()
        ),
    );
    device.runner.image_hook = Some(hook.clone());
    let file = StateFile::in_dir(&device.state_dir).unwrap();
    let mut progress = Recorded::default();
    let installed = device
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(installed, Installed::Rebooting);
    assert_eq!(
        progress.types(),
        ["boot-image-initiated", "boot-image-installed-rebooting"]
    );
    let staged = dir.path().join("state/images/VendorOS-2.0.img");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("installed")).unwrap(),
        format!("{} VendorOS 2.0\n", staged.display())
    );
    assert!(
        progress
            .message(ProgressType::BootImageInstalledRebooting)
            .ends_with("exit code 0; stdout: rebooting")
    );
    assert_eq!(marks(dir.path()), "", "nothing after the image ran yet");

    // After the reboot: the image is done, the rest follows.
    let mut progress = Recorded::default();
    let installed = device
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap();
    assert_eq!(installed, Installed::Complete);
    assert_eq!(progress.types(), EVERY_STEP[2..]);
    assert_eq!(marks(dir.path()), "pre\npost\n");

    // An image hook that fails is a boot-image-error.
    let other = tempfile::tempdir().unwrap();
    let info = information(other.path(), b"IMAGE", b"IMAGE").await;
    let mut installer = installer(other.path());
    executable(&hook, "#!/bin/sh\necho no space >&2\nexit 4\n");
    installer.runner.image_hook = Some(hook);
    let file = StateFile::in_dir(&installer.state_dir).unwrap();
    let mut progress = Recorded::default();
    let error = installer
        .install(&info, "https://b.example", &file, &mut progress)
        .await
        .unwrap_err();
    assert!(matches!(error, OnboardingError::ImageHook(_)), "{error}");
    assert_eq!(
        progress.message(ProgressType::BootImageError),
        "exit code 4; stderr: no space"
    );
    assert!(file.load().unwrap().image.is_none());
}
