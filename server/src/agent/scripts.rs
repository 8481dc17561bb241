//! The pre- and post-configuration scripts of onboarding information and the commit hook that
//! hands the configuration to the device, each run in the [`sandbox`](super::sandbox), and
//! what their exit codes mean.
//!
//! A script (RFC 8572's `script` typedef: it "can indicate if any warnings or errors
//! occurred") is written to a fresh private directory and executed (so it needs a `#!` line).
//! Exit 0 is success, [`WARNING_EXIT`] a warning (a soft error: bootstrapping goes on), any
//! other exit, a signal or the timeout an error (the device gives up on that server).
//!
//! The commit hook is an executable of the device's firmware, run as
//! `HOOK <configuration file> <merge|replace>` in a fresh private directory holding the
//! configuration file; exit 0 means committed, anything else `config-error`.
//!
//! The image hook, if the device has one, installs a staged boot image: run as
//! `HOOK <image file> <os-name> <os-version>` (empty strings for names the image lacks); exit
//! 0 means installed and the device is about to reboot into it, anything else
//! `boot-image-error`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ztp_yang::ConfigurationHandling;

use super::sandbox::{self, Finished, Limits, SandboxError};

/// The exit code by which a script says it met a warning (a soft error).
pub const WARNING_EXIT: i32 = 100;

/// Which script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// `pre-configuration-script`.
    Pre,
    /// `post-configuration-script`.
    Post,
}

impl Script {
    /// Its name in messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pre => "pre-configuration-script",
            Self::Post => "post-configuration-script",
        }
    }
}

/// What a script's run means for bootstrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0.
    Success,
    /// Exit [`WARNING_EXIT`].
    Warning,
    /// Anything else.
    Error,
}

impl Verdict {
    /// The verdict on how a script ended.
    pub fn of(finished: &Finished) -> Self {
        match (finished.timed_out, finished.exit) {
            (false, Some(0)) => Self::Success,
            (false, Some(WARNING_EXIT)) => Self::Warning,
            _ => Self::Error,
        }
    }
}

/// Where and how scripts and hooks run.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The directory under which each run gets its private directory.
    pub work_dir: PathBuf,
    /// Limits for scripts.
    pub script_limits: Limits,
    /// The commit hook, if the device has one.
    pub commit_hook: Option<PathBuf>,
    /// The image hook, if the device has one (else staged images are left for the firmware).
    pub image_hook: Option<PathBuf>,
    /// Limits for the commit hook.
    pub hook_limits: Limits,
}

/// A script or the hook could not be run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The sandbox failed.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The sandbox's thread failed.
    #[error("the {0} thread failed")]
    Thread(&'static str),
    /// The configuration came but the device has no commit hook.
    #[error("no commit hook is configured: the configuration cannot be committed")]
    NoCommitHook,
    /// An image is to be installed but the device has no image hook.
    #[error("no image hook is configured")]
    NoImageHook,
}

impl Runner {
    /// Runs `content` as `script`, in a fresh private directory, with `ZTP_SCRIPT` naming it.
    pub async fn script(&self, script: Script, content: &[u8]) -> Result<Finished, ScriptError> {
        let (work, limits) = (self.work_dir.clone(), self.script_limits);
        let content = content.to_vec();
        tokio::task::spawn_blocking(move || {
            let dir = sandbox::private_dir(&work, "script-")?;
            let program = sandbox::write_executable(dir.path(), script.name(), &content)?;
            let env = [("ZTP_SCRIPT", script.name().to_owned())];
            Ok(sandbox::run(&program, &[], dir.path(), &env, limits)?)
        })
        .await
        .map_err(|_| ScriptError::Thread(script.name()))?
    }

    /// Hands `configuration` to the commit hook as a file (mode 0600) in a fresh private
    /// directory, with `handling` as its second argument.
    pub async fn commit(
        &self,
        configuration: &[u8],
        handling: ConfigurationHandling,
    ) -> Result<Finished, ScriptError> {
        let hook = self.commit_hook.clone().ok_or(ScriptError::NoCommitHook)?;
        let (work, limits) = (self.work_dir.clone(), self.hook_limits);
        let configuration = configuration.to_vec();
        tokio::task::spawn_blocking(move || {
            let dir = sandbox::private_dir(&work, "commit-")?;
            let file = dir.path().join("configuration");
            sandbox::write_private(&file, &configuration, 0o600)?;
            let args = [file.into_os_string(), OsString::from(handling.as_str())];
            let env = [("ZTP_CONFIGURATION_HANDLING", handling.as_str().to_owned())];
            Ok(sandbox::run(&hook, &args, dir.path(), &env, limits)?)
        })
        .await
        .map_err(|_| ScriptError::Thread("commit hook"))?
    }
}

impl Runner {
    /// Hands the staged image at `image` to the image hook (which the caller checked is
    /// configured), with the OS name and version it carries.
    pub async fn install_image(
        &self,
        image: &Path,
        os_name: &str,
        os_version: &str,
    ) -> Result<Finished, ScriptError> {
        let hook = self.image_hook.clone().ok_or(ScriptError::NoImageHook)?;
        let (work, limits) = (self.work_dir.clone(), self.hook_limits);
        let args = [image.into(), os_name.into(), os_version.into()];
        tokio::task::spawn_blocking(move || {
            let dir = sandbox::private_dir(&work, "image-")?;
            Ok(sandbox::run(&hook, &args, dir.path(), &[], limits)?)
        })
        .await
        .map_err(|_| ScriptError::Thread("image hook"))?
    }
}

/// The private directory runs get under a state directory.
pub fn work_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("run")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn runner(dir: &Path, hook: Option<PathBuf>) -> Runner {
        Runner {
            work_dir: work_dir(dir),
            script_limits: Limits {
                timeout: Duration::from_secs(20),
                output: 1024,
            },
            commit_hook: hook,
            image_hook: None,
            hook_limits: Limits::default(),
        }
    }

    #[tokio::test]
    async fn exit_codes_become_success_warning_or_error() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner(dir.path(), None);
        for (exit, verdict) in [
            (0, Verdict::Success),
            (WARNING_EXIT, Verdict::Warning),
            (1, Verdict::Error),
            (7, Verdict::Error),
        ] {
            let body = format!("#!/bin/sh\necho \"$ZTP_SCRIPT ran\"\nexit {exit}\n");
            let finished = runner.script(Script::Pre, body.as_bytes()).await.unwrap();
            assert_eq!(finished.exit, Some(exit));
            assert_eq!(finished.stdout.trim(), "pre-configuration-script ran");
            assert_eq!(Verdict::of(&finished), verdict, "exit {exit}");
        }
        let leftovers = std::fs::read_dir(work_dir(dir.path())).unwrap().count();
        assert_eq!(leftovers, 0, "each run's private directory is removed");
    }

    #[tokio::test]
    async fn a_script_without_an_interpreter_line_cannot_start() {
        let dir = tempfile::tempdir().unwrap();
        let error = runner(dir.path(), None)
            .script(Script::Post, b"\x7fELF not really")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("post-configuration-script"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_commit_hook_gets_the_file_and_the_handling_and_its_exit_decides() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen");
        let hook = dir.path().join("hook");
        std::fs::write(
            &hook,
            format!(
                "#!/bin/sh\ncp \"$1\" {seen}\necho \"$2 $ZTP_CONFIGURATION_HANDLING\" >> {seen}\n\
                 [ \"$2\" = merge ]\n",
                seen = seen.display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let runner = runner(dir.path(), Some(hook));
        let merged = runner
            .commit(b"hostname r1\n", ConfigurationHandling::Merge)
            .await
            .unwrap();
        assert_eq!(merged.exit, Some(0));
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            "hostname r1\nmerge merge\n"
        );
        let replaced = runner
            .commit(b"x", ConfigurationHandling::Replace)
            .await
            .unwrap();
        assert_eq!(replaced.exit, Some(1));
        let none = Runner {
            commit_hook: None,
            ..runner
        };
        let error = none
            .commit(b"x", ConfigurationHandling::Merge)
            .await
            .unwrap_err();
        assert!(matches!(error, ScriptError::NoCommitHook), "{error}");
    }
}
