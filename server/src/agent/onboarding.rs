//! Processing onboarding information (RFC 8572 §5.5, "Processing Onboarding Information"), in
//! the RFC's order: boot image, pre-configuration script, configuration, post-configuration
//! script, then bootstrap-complete. Each step is reported (`…-initiated`, then `…-complete`,
//! `…-warning` or `…-error`) and recorded in the state file when done, so that a restarted
//! agent skips what is done and never runs a script a second time. A failing step ends the
//! processing: the device gives up on that server. When the device has an image hook that
//! installs the staged image, processing stops there (`boot-image-installed-rebooting`): the
//! device reboots into the image and the agent, run again, goes on with the next step.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::digest;
use rustls::ClientConfig;
use ztp_yang::{
    BootImage, ConveyedInformation, Document, OnboardingInformation, ProgressType,
    ReportProgressInput, SshHostKey,
};

use super::download::DownloadLimits;
use super::image::{self, ImageError, RunningOs};
use super::sandbox::Finished;
use super::scripts::{Runner, Script, ScriptError, Verdict};
use super::state::{AgentState, ScriptState, StateError, StateFile};

/// Where progress goes: the server that gave the onboarding information.
pub trait Progress {
    /// Sends one report (failures are the reporter's to log: never fatal).
    fn report(&mut self, report: ReportProgressInput) -> impl Future<Output = ()>;
}

/// Onboarding failed at a step; the step's `…-error` was reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnboardingError {
    /// The state file failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The boot image could not be staged.
    #[error("boot image: {0}")]
    Image(#[from] ImageError),
    /// A script or the commit hook could not be run.
    #[error(transparent)]
    Run(#[from] ScriptError),
    /// A script ended in error.
    #[error("{script}: {summary}")]
    Script {
        /// Which script.
        script: &'static str,
        /// How it ended and what it wrote.
        summary: String,
    },
    /// A script started by an earlier run never reported its end (the agent stopped while it
    /// ran): it is not run again, and its outcome is unknown.
    #[error("{0}: an earlier run started it and stopped before it ended; it is not run again")]
    Interrupted(&'static str),
    /// The commit hook refused the configuration.
    #[error("commit hook: {0}")]
    Commit(String),
    /// The image hook did not install the image.
    #[error("image hook: {0}")]
    ImageHook(String),
}

/// How processing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// Every step is done: bootstrap-complete was reported.
    Complete,
    /// The image hook installed a new boot image and the device reboots into it; the next run
    /// goes on from the step after the image.
    Rebooting,
}

/// What the device brings to onboarding.
#[derive(Debug, Clone)]
pub struct Installer {
    /// The state directory (images are staged in it).
    pub state_dir: PathBuf,
    /// What the device runs now.
    pub running: RunningOs,
    /// Download limits for the boot image.
    pub download: DownloadLimits,
    /// TLS for image downloads.
    pub download_tls: Arc<ClientConfig>,
    /// How scripts and the commit hook run.
    pub runner: Runner,
    /// The SSH host keys reported with bootstrap-complete.
    pub host_keys: Vec<SshHostKey>,
}

/// The sha-256 (hex) of onboarding information: what the state's steps belong to.
pub fn digest_of(information: &OnboardingInformation) -> String {
    let json = ConveyedInformation::Onboarding(information.clone()).to_json();
    digest::digest(&digest::SHA256, json.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Installer {
    /// Processes `information` from `server`, resuming from the state in `file`.
    pub async fn install<P: Progress>(
        &self,
        information: &OnboardingInformation,
        server: &str,
        file: &StateFile,
        progress: &mut P,
    ) -> Result<Installed, OnboardingError> {
        let mut state = file.load()?;
        if !state.begin(&digest_of(information), server) {
            file.save(&state)?;
        }
        let mut step = Step {
            state: &mut state,
            file,
            progress,
        };
        if self.boot_image(information, &mut step).await? {
            return Ok(Installed::Rebooting);
        }
        let pre = information.pre_configuration_script.as_deref();
        self.script(Script::Pre, pre, &mut step).await?;
        self.configuration(information, &mut step).await?;
        let post = information.post_configuration_script.as_deref();
        self.script(Script::Post, post, &mut step).await?;
        let mut complete = ReportProgressInput::new(ProgressType::BootstrapComplete);
        complete.ssh_host_keys = self.host_keys.clone();
        step.progress.report(complete).await;
        step.state.complete = true;
        step.save()?;
        Ok(Installed::Complete)
    }

    /// The boot image step; `true` when the device is about to reboot into a new image.
    async fn boot_image<P: Progress>(
        &self,
        information: &OnboardingInformation,
        step: &mut Step<'_, P>,
    ) -> Result<bool, OnboardingError> {
        let Some(image) = &information.boot_image else {
            return Ok(false);
        };
        if step.state.image.is_some() {
            return Ok(false);
        }
        step.report(ProgressType::BootImageInitiated, None).await;
        if self.running.matches(image) {
            step.state.image = Some(RUNNING.to_owned());
            step.save()?;
            let message = "the device already runs this os-name and os-version";
            step.report(ProgressType::BootImageComplete, Some(message.into()))
                .await;
            return Ok(false);
        }
        let staged = image::stage(
            image,
            &self.state_dir,
            self.download,
            self.download_tls.clone(),
        )
        .await;
        match staged {
            Ok(staged) if self.runner.image_hook.is_some() => {
                self.install_image(image, &staged.path, step).await
            }
            Ok(staged) => {
                step.state.image = Some(staged.path.display().to_string());
                step.save()?;
                let message = format!("staged {} ({} bytes)", staged.path.display(), staged.size);
                step.report(ProgressType::BootImageComplete, Some(message))
                    .await;
                Ok(false)
            }
            Err(error) => {
                step.report(ProgressType::BootImageError, Some(error.to_string()))
                    .await;
                Err(error.into())
            }
        }
    }

    /// Hands the staged image to the image hook: `true` when it installed it.
    async fn install_image<P: Progress>(
        &self,
        image: &BootImage,
        staged: &Path,
        step: &mut Step<'_, P>,
    ) -> Result<bool, OnboardingError> {
        let name = image.os_name.as_deref().unwrap_or_default();
        let version = image.os_version.as_deref().unwrap_or_default();
        let finished = match self.runner.install_image(staged, name, version).await {
            Ok(finished) => finished,
            Err(failure) => {
                step.report(ProgressType::BootImageError, Some(failure.to_string()))
                    .await;
                return Err(failure.into());
            }
        };
        let summary = finished.summary();
        if finished.exit != Some(0) || finished.timed_out {
            step.report(ProgressType::BootImageError, Some(summary.clone()))
                .await;
            return Err(OnboardingError::ImageHook(summary));
        }
        step.state.image = Some(staged.display().to_string());
        step.save()?;
        let message = format!("installed {}: {summary}", staged.display());
        step.report(ProgressType::BootImageInstalledRebooting, Some(message))
            .await;
        Ok(true)
    }

    async fn script<P: Progress>(
        &self,
        script: Script,
        content: Option<&[u8]>,
        step: &mut Step<'_, P>,
    ) -> Result<(), OnboardingError> {
        let Some(content) = content else {
            return Ok(());
        };
        let [initiated, warning, error, complete] = script_progress(script);
        let recorded = match script {
            Script::Pre => &step.state.pre_script,
            Script::Post => &step.state.post_script,
        };
        match recorded {
            Some(ScriptState::Ended {
                succeeded: true, ..
            }) => return Ok(()),
            Some(ScriptState::Ended { exit, .. }) => {
                let summary = format!("an earlier run ended with exit code {exit:?}");
                step.report(error, Some(summary.clone())).await;
                return Err(OnboardingError::Script {
                    script: script.name(),
                    summary,
                });
            }
            Some(ScriptState::Started) => {
                let failure = OnboardingError::Interrupted(script.name());
                step.report(error, Some(failure.to_string())).await;
                return Err(failure);
            }
            None => {}
        }
        step.report(initiated, None).await;
        step.set_script(script, ScriptState::Started)?;
        let finished = match self.runner.script(script, content).await {
            Ok(finished) => finished,
            Err(failure) => {
                step.set_script(script, ended(None, false))?;
                step.report(error, Some(failure.to_string())).await;
                return Err(failure.into());
            }
        };
        let verdict = Verdict::of(&finished);
        step.set_script(script, ended(finished.exit, verdict != Verdict::Error))?;
        let summary = finished.summary();
        match verdict {
            Verdict::Success => step.report(complete, Some(summary)).await,
            Verdict::Warning => {
                step.report(warning, Some(summary)).await;
                step.report(complete, None).await;
            }
            Verdict::Error => {
                step.report(error, Some(summary.clone())).await;
                return Err(OnboardingError::Script {
                    script: script.name(),
                    summary,
                });
            }
        }
        Ok(())
    }

    async fn configuration<P: Progress>(
        &self,
        information: &OnboardingInformation,
        step: &mut Step<'_, P>,
    ) -> Result<(), OnboardingError> {
        let Some(configuration) = &information.configuration else {
            return Ok(());
        };
        if step.state.config_committed {
            return Ok(());
        }
        step.report(ProgressType::ConfigInitiated, None).await;
        let committed = self
            .runner
            .commit(&configuration.data, configuration.handling)
            .await;
        let finished: Finished = match committed {
            Ok(finished) => finished,
            Err(failure) => {
                step.report(ProgressType::ConfigError, Some(failure.to_string()))
                    .await;
                return Err(failure.into());
            }
        };
        let summary = finished.summary();
        if finished.exit != Some(0) || finished.timed_out {
            step.report(ProgressType::ConfigError, Some(summary.clone()))
                .await;
            return Err(OnboardingError::Commit(summary));
        }
        step.state.config_committed = true;
        step.save()?;
        step.report(ProgressType::ConfigComplete, Some(summary))
            .await;
        Ok(())
    }
}

/// What the state records as the image when the running OS already matched.
pub const RUNNING: &str = "running";

fn ended(exit: Option<i32>, succeeded: bool) -> ScriptState {
    ScriptState::Ended { exit, succeeded }
}

/// A script's progress types: initiated, warning, error, complete.
fn script_progress(script: Script) -> [ProgressType; 4] {
    match script {
        Script::Pre => [
            ProgressType::PreScriptInitiated,
            ProgressType::PreScriptWarning,
            ProgressType::PreScriptError,
            ProgressType::PreScriptComplete,
        ],
        Script::Post => [
            ProgressType::PostScriptInitiated,
            ProgressType::PostScriptWarning,
            ProgressType::PostScriptError,
            ProgressType::PostScriptComplete,
        ],
    }
}

/// `text` (a script's output, an error) as a YANG string the server accepts: control
/// characters but tab and line ends, and the non-characters U+FFFE/U+FFFF, become U+FFFD.
fn yang_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            let allowed = !c.is_control() || matches!(c, '\t' | '\n' | '\r');
            if allowed && !matches!(c, '\u{fffe}' | '\u{ffff}') {
                c
            } else {
                '\u{fffd}'
            }
        })
        .collect()
}

/// The state being advanced, where it is saved, and where progress goes.
struct Step<'a, P> {
    state: &'a mut AgentState,
    file: &'a StateFile,
    progress: &'a mut P,
}

impl<P: Progress> Step<'_, P> {
    fn save(&self) -> Result<(), OnboardingError> {
        Ok(self.file.save(self.state)?)
    }

    fn set_script(&mut self, script: Script, value: ScriptState) -> Result<(), OnboardingError> {
        match script {
            Script::Pre => self.state.pre_script = Some(value),
            Script::Post => self.state.post_script = Some(value),
        }
        self.save()
    }

    async fn report(&mut self, progress: ProgressType, message: Option<String>) {
        let mut report = ReportProgressInput::new(progress);
        report.message = message.as_deref().map(yang_text);
        self.progress.report(report).await;
    }
}

#[cfg(test)]
mod tests;
