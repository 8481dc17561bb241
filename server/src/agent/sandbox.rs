//! Running something the agent did not write (a conveyed script) or that the device's firmware
//! provides (a hook) as a child process in a sandbox of the agent's making: a fresh private
//! directory (mode 0700) as its working directory and `HOME`/`TMPDIR`, removed afterwards; an
//! environment cleared down to a fixed `PATH` and the variables the caller names; standard input
//! closed; a timeout after which it is killed with every process it started (it leads a
//! process group of its own); standard output and error captured up to a
//! limit each (the rest is read and dropped, so the child never blocks on a full pipe).
//!
//! Blocking: callers on an async runtime run it on a blocking thread.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::state::create_private_dir;

/// The `PATH` a sandboxed child gets.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A child could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The private directory or a file in it could not be made.
    #[error("preparing {}: {source}", path.display())]
    Prepare {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The program could not be started (missing, not executable, no interpreter).
    #[error("starting {}: {source}", program.display())]
    Start {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for the child failed.
    #[error("waiting for {}: {source}", program.display())]
    Wait {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// How long a child may run and how much of its output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// After this, the child is killed.
    pub timeout: Duration,
    /// Bytes kept of standard output, and as many of standard error.
    pub output: usize,
}

impl Default for Limits {
    /// Five minutes, 16 KiB.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            output: 16 * 1024,
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Its exit code; `None` when a signal ended it (also the agent's, at the timeout).
    pub exit: Option<i32>,
    /// Whether the agent killed it at the timeout.
    pub timed_out: bool,
    /// Standard output, up to the limit (lossy UTF-8).
    pub stdout: String,
    /// Standard error, up to the limit (lossy UTF-8).
    pub stderr: String,
}

impl Finished {
    /// One line for a progress report: how it ended, then what it wrote.
    pub fn summary(&self) -> String {
        let how = match (self.timed_out, self.exit) {
            (true, _) => "killed at the timeout".to_owned(),
            (false, Some(code)) => format!("exit code {code}"),
            (false, None) => "ended by a signal".to_owned(),
        };
        let mut text = how;
        for (name, stream) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let stream = stream.trim();
            if !stream.is_empty() {
                text.push_str(&format!("; {name}: {stream}"));
            }
        }
        text
    }
}

/// A fresh private directory under `parent` (created if missing), removed when dropped.
pub fn private_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir, SandboxError> {
    let prepare = |source| SandboxError::Prepare {
        path: parent.to_owned(),
        source,
    };
    create_private_dir(parent).map_err(prepare)?;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(prepare)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(prepare)?;
    }
    Ok(dir)
}

/// Writes `content` as the executable file `name` in `dir` (mode 0700).
pub fn write_executable(dir: &Path, name: &str, content: &[u8]) -> Result<PathBuf, SandboxError> {
    let path = dir.join(name);
    write_private(&path, content, 0o700)?;
    Ok(path)
}

/// Writes `content` to `path`, readable by the owner only (`mode`).
pub fn write_private(path: &Path, content: &[u8], mode: u32) -> Result<(), SandboxError> {
    let prepare = |source| SandboxError::Prepare {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options.open(path).map_err(prepare)?;
    std::io::Write::write_all(&mut file, content).map_err(prepare)?;
    file.sync_all().map_err(prepare)
}

/// Runs `program` with `args` in `dir` (its working directory, `HOME` and `TMPDIR`), with a
/// cleared environment but for [`SANDBOX_PATH`] and `env`, within `limits`.
pub fn run(
    program: &Path,
    args: &[OsString],
    dir: &Path,
    env: &[(&str, String)],
    limits: Limits,
) -> Result<Finished, SandboxError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", SANDBOX_PATH)
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = start(&mut command, program)?;
    let (done, finished) = mpsc::channel();
    let stdout = child
        .stdout
        .take()
        .map(|s| capture(s, limits.output, done.clone()));
    let stderr = child.stderr.take().map(|s| capture(s, limits.output, done));
    let (status, timed_out) =
        wait(&mut child, limits.timeout).map_err(|source| SandboxError::Wait {
            program: program.to_owned(),
            source,
        })?;
    // The readers end when every holder of the pipes closed them: the child, and any process
    // it left behind. Such a straggler does not hold the agent up for more than a second.
    let grace = Instant::now() + Duration::from_secs(1);
    for _ in 0..2 {
        let left = grace.saturating_duration_since(Instant::now());
        if finished.recv_timeout(left).is_err() {
            break;
        }
    }
    Ok(Finished {
        exit: status.code(),
        timed_out,
        stdout: stdout.map(|s| s.take()).unwrap_or_default(),
        stderr: stderr.map(|s| s.take()).unwrap_or_default(),
    })
}

/// Starts the child; a just-written script may be busy for a moment (another thread of this
/// process forked while its file was open for writing), which is retried briefly.
fn start(command: &mut Command, program: &Path) -> Result<Child, SandboxError> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 20 => {
                tries += 1;
                thread::sleep(Duration::from_millis(25));
            }
            Err(source) => {
                return Err(SandboxError::Start {
                    program: program.to_owned(),
                    source,
                });
            }
        }
    }
}

/// Linux's "text file busy".
const ETXTBSY: i32 = 26;

/// Waits for the child until `timeout`, then kills it. Returns its status and whether it
/// was killed.
fn wait(child: &mut Child, timeout: Duration) -> std::io::Result<(ExitStatus, bool)> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if Instant::now() >= deadline {
            kill_group(child);
            // Already gone between the two calls is fine: wait() reaps it either way.
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Kills the child's process group (the child and what it started that stayed in it) with
/// the system's `kill`: the agent has no unsafe code to call kill(2) with.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .env_clear()
            .env("PATH", SANDBOX_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !killed.is_ok_and(|status| status.success()) {
            tracing::warn!(
                pid = child.id(),
                "could not kill the process group of a timed-out child"
            );
        }
    }
}

/// What a reader thread keeps of one stream.
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    fn take(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Reads `stream` to its end on a thread, keeping the first `limit` bytes; says so on `done`.
fn capture(
    mut stream: impl Read + Send + 'static,
    limit: usize,
    done: mpsc::Sender<()>,
) -> Captured {
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let buffer = kept.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut kept) = buffer.lock() {
                        let room = limit.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
        }
        let _ = done.send(());
    });
    Captured(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> PathBuf {
        write_executable(dir, "script", format!("#!/bin/sh\n{body}\n").as_bytes()).unwrap()
    }

    #[test]
    fn a_child_runs_in_its_private_directory_with_a_cleared_environment() {
        let parent = tempfile::tempdir().unwrap();
        let dir = private_dir(&parent.path().join("run"), "script-").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // ZTP_SECRET_OF_PARENT stands for any variable of the agent's: none reaches the child.
        let program = script(
            dir.path(),
            "pwd; echo \"[$ZTP_SECRET_OF_PARENT][$GIVEN]\"; echo oops >&2; exit 3",
        );
        let finished = run(
            &program,
            &[],
            dir.path(),
            &[("GIVEN", "yes".to_owned())],
            Limits::default(),
        )
        .unwrap();
        assert_eq!(finished.exit, Some(3));
        assert!(!finished.timed_out);
        let here = dir.path().canonicalize().unwrap();
        assert!(
            finished.stdout.starts_with(here.to_str().unwrap()),
            "{finished:?}"
        );
        assert!(finished.stdout.contains("[][yes]"), "{finished:?}");
        assert_eq!(finished.stderr.trim(), "oops");
        assert_eq!(
            finished.summary(),
            format!(
                "exit code 3; stdout: {}\n[][yes]; stderr: oops",
                here.display()
            )
        );
    }

    #[test]
    fn a_child_past_its_timeout_is_killed_and_its_output_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(
            dir.path(),
            "head -c 100000 /dev/zero | tr '\\0' x; exec sleep 30",
        );
        let limits = Limits {
            timeout: Duration::from_millis(300),
            output: 64,
        };
        let started = Instant::now();
        let finished = run(&program, &[], dir.path(), &[], limits).unwrap();
        assert!(
            finished.timed_out && finished.exit.is_none(),
            "{finished:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(finished.stdout, "x".repeat(64));
        assert!(finished.summary().starts_with("killed at the timeout"));
    }

    #[test]
    fn what_a_child_started_is_killed_with_it_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("background.pid");
        let program = script(
            dir.path(),
            &format!("sleep 60 & echo $! > {}; wait", pid_file.display()),
        );
        let limits = Limits {
            timeout: Duration::from_millis(500),
            output: 64,
        };
        let finished = run(&program, &[], dir.path(), &[], limits).unwrap();
        assert!(finished.timed_out, "{finished:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        // Gone, or a zombie its new parent has yet to reap (/proc/PID/stat's state `Z`).
        let alive = || {
            std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "the background sleep {} survived", pid.trim());
    }

    #[test]
    fn a_program_that_cannot_start_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-hook");
        let error = run(&missing, &[], dir.path(), &[], Limits::default()).unwrap_err();
        assert!(matches!(error, SandboxError::Start { .. }), "{error}");
        assert!(error.to_string().contains("no-such-hook"));
    }
}
