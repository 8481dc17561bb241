//! What the agent has done, kept across restarts: a small JSON file in the state directory,
//! replaced atomically (written beside it, synced, renamed over it), so that a restarted agent
//! resumes where it stopped, never redoes a committed step and never runs a script again that
//! already started (a script cut short by a crash or power loss is not run twice: its outcome
//! is unknown, and it is reported as such).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The state file's name in the state directory.
pub const STATE_FILE: &str = "state.json";

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading, writing or renaming failed.
    #[error("state file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a state file this agent wrote.
    #[error("state file {}: not a state file of this agent ({detail}); move it away to start over", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// How far a script got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ScriptState {
    /// It was started and the agent stopped before it ended: never run again.
    Started,
    /// It ended with this exit code (`None`: killed by a signal or the timeout).
    Ended {
        /// The exit code.
        exit: Option<i32>,
        /// Whether the agent took the outcome as success (or warning).
        succeeded: bool,
    },
}

/// The steps done for one piece of onboarding information.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct AgentState {
    /// The sha-256 (hex) of the onboarding information the steps belong to.
    pub onboarding: Option<String>,
    /// The server that gave it.
    pub server: Option<String>,
    /// The staged boot image (a path), or `running` when the running OS already matched.
    pub image: Option<String>,
    /// The pre-configuration script.
    pub pre_script: Option<ScriptState>,
    /// Whether the commit hook accepted the configuration.
    pub config_committed: bool,
    /// The post-configuration script.
    pub post_script: Option<ScriptState>,
    /// Whether bootstrapping completed (bootstrap-complete was reached).
    pub complete: bool,
}

impl AgentState {
    /// Keeps the steps if they belong to onboarding information `digest`; otherwise (new
    /// information, from this or another server) starts its steps afresh. Returns whether the
    /// steps were kept.
    pub fn begin(&mut self, digest: &str, server: &str) -> bool {
        if self.onboarding.as_deref() == Some(digest) {
            return true;
        }
        *self = Self {
            onboarding: Some(digest.to_owned()),
            server: Some(server.to_owned()),
            ..Self::default()
        };
        false
    }
}

/// The state file of a state directory.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file in `dir`, which is created (mode 0700) if missing.
    pub fn in_dir(dir: &Path) -> Result<Self, StateError> {
        let path = dir.join(STATE_FILE);
        create_private_dir(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self { path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is a fresh start.
    pub fn load(&self) -> Result<AgentState, StateError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AgentState::default());
            }
            Err(source) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let file: Versioned = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        if file.version != VERSION {
            return Err(StateError::Corrupt {
                path: self.path.clone(),
                detail: format!("version {} (this agent writes {VERSION})", file.version),
            });
        }
        Ok(file.state)
    }

    /// Replaces the state: written to a temporary file beside it, synced, renamed over it,
    /// and the directory synced, so that a crash leaves the old state or the new one.
    pub fn save(&self, state: &AgentState) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let file = Versioned {
            version: VERSION,
            state: state.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| io(e.into()))?;
        let temporary = self.path.with_extension("json.new");
        let mut out = fs::File::create(&temporary).map_err(io)?;
        out.write_all(text.as_bytes()).map_err(io)?;
        out.sync_all().map_err(io)?;
        drop(out);
        fs::rename(&temporary, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Versioned {
    version: u32,
    #[serde(flatten)]
    state: AgentState,
}

/// Creates `dir` (and its parents) if missing; a directory the agent creates is private (0700).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_is_read_back_and_a_missing_file_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::in_dir(&dir.path().join("state")).unwrap();
        assert_eq!(file.load().unwrap(), AgentState::default());
        let mut state = AgentState::default();
        assert!(!state.begin("abc", "https://a.example"));
        state.image = Some("/var/lib/ztp-agent/images/boot.img".into());
        state.pre_script = Some(ScriptState::Ended {
            exit: Some(0),
            succeeded: true,
        });
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert!(
            !file.path().with_extension("json.new").exists(),
            "the temporary file was renamed"
        );
    }

    #[test]
    fn the_same_onboarding_information_keeps_its_steps_and_new_information_starts_afresh() {
        let mut state = AgentState::default();
        state.begin("one", "https://a.example");
        state.config_committed = true;
        state.pre_script = Some(ScriptState::Started);
        assert!(state.begin("one", "https://b.example"));
        assert!(state.config_committed);
        assert_eq!(state.pre_script, Some(ScriptState::Started));
        assert!(!state.begin("two", "https://b.example"));
        assert!(!state.config_committed && state.pre_script.is_none());
        assert_eq!(state.server.as_deref(), Some("https://b.example"));
    }

    #[test]
    fn a_corrupt_or_foreign_state_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::in_dir(dir.path()).unwrap();
        fs::write(file.path(), "{not json").unwrap();
        let error = file.load().unwrap_err().to_string();
        assert!(
            error.contains("state.json") && error.contains("move it away"),
            "{error}"
        );
        fs::write(file.path(), r#"{"version": 9}"#).unwrap();
        assert!(file.load().unwrap_err().to_string().contains("version 9"));
    }
}
