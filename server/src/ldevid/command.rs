//! An external CA behind a command the operator configures (`[ldevid] command`): it gets the
//! CSR in PEM on its standard input, the device's serial and customer in `ZTP_SERIAL` and
//! `ZTP_CUSTOMER`, and prints the certificate chain in PEM (the device's certificate first).
//! That is how `openssl ca`, step-ca (`step ca sign`), an EST client or a script around an
//! enterprise CA plug in.
//!
//! Bounded: the command is killed after its timeout, and what it prints is read up to a limit
//! (stderr up to 4 KiB, quoted in the error when it fails). A command that starts others should
//! `exec` the last one, so that the kill reaches it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ztp_certs::Cert;

use super::issuer::{IssueError, IssueRequest, Issuer};

const NAME: &str = "command";
/// How much of the command's stderr is kept for the error.
const MAX_STDERR: u64 = 4096;
/// How often an exited command is looked for after it closed its output.
const EXIT_POLL: Duration = Duration::from_millis(5);

/// The configured command.
#[derive(Debug, Clone)]
pub struct CommandIssuer {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
    /// How many bytes it may print.
    pub max_output: usize,
}

impl Issuer for CommandIssuer {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn issue(&self, request: IssueRequest<'_>) -> Result<Vec<Cert>, IssueError> {
        let this = self.clone();
        let input = request.csr.pem();
        let env = [
            ("ZTP_SERIAL", request.serial.as_str().to_owned()),
            ("ZTP_CUSTOMER", request.customer.to_owned()),
        ];
        let output = tokio::task::spawn_blocking(move || this.run(&input, &env))
            .await
            .map_err(|e| failed(format!("the task running it: {e}")))??;
        let text = String::from_utf8(output)
            .map_err(|_| failed("its output is not text (PEM expected)".to_owned()))?;
        let chain = Cert::chain_from_pem(&text)
            .map_err(|e| failed(format!("its output is not a PEM certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(failed("it printed no certificate".to_owned()));
        }
        Ok(chain)
    }
}

impl CommandIssuer {
    /// Runs the command with `input` on stdin; its stdout, within the bounds.
    fn run(&self, input: &str, env: &[(&str, String); 2]) -> Result<Vec<u8>, IssueError> {
        let deadline = Instant::now() + self.timeout;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("{} cannot be started: {e}", self.program.display())))?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(mut stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            kill(&mut child);
            return Err(failed(
                "its standard streams could not be opened".to_owned(),
            ));
        };
        // Each stream on a thread of its own, so that a command that writes a lot to one while
        // ztp writes or reads the other cannot stall both.
        let input = input.to_owned();
        std::thread::spawn(move || {
            // A command that exits without reading its input is judged by its exit status.
            let _ = stdin.write_all(input.as_bytes());
        });
        let limit = u64::try_from(self.max_output)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let out = read_on_thread(stdout, limit);
        let err = read_on_thread(stderr, MAX_STDERR);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let Ok(stdout) = out.recv_timeout(remaining) else {
            kill(&mut child);
            return Err(IssueError::TimedOut(self.timeout));
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(EXIT_POLL),
                Ok(None) => {
                    kill(&mut child);
                    return Err(IssueError::TimedOut(self.timeout));
                }
                Err(e) => return Err(failed(format!("waiting for it: {e}"))),
            }
        };
        let stderr = err.recv_timeout(EXIT_POLL * 20).unwrap_or_default();
        if !status.success() {
            return Err(failed(format!(
                "it exited with {status}: {}",
                String::from_utf8_lossy(&stderr).trim()
            )));
        }
        if stdout.len() > self.max_output {
            return Err(failed(format!(
                "it printed more than {} bytes",
                self.max_output
            )));
        }
        Ok(stdout)
    }
}

/// Reads up to `limit` bytes of `stream` on a thread; the bytes come on the channel at its end.
fn read_on_thread(stream: impl Read + Send + 'static, limit: u64) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut stream = stream.take(limit);
        let _ = stream.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
        // Drain the rest, so that the command is not blocked writing what ztp ignores.
        let _ = std::io::copy(&mut stream.into_inner(), &mut std::io::sink());
    });
    rx
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn failed(reason: String) -> IssueError {
    IssueError::Failed {
        issuer: NAME,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldevid::csr::VerifiedCsr;
    use crate::ldevid::csr::tests::csr;
    use ztp_certs::Serial;

    fn script(
        body: &str,
        timeout: Duration,
        max_output: usize,
    ) -> (tempfile::TempDir, CommandIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issue.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let issuer = CommandIssuer {
            program: "/bin/sh".into(),
            args: vec![path.display().to_string()],
            timeout,
            max_output,
        };
        (dir, issuer)
    }

    async fn issue(issuer: &CommandIssuer) -> Result<Vec<Cert>, IssueError> {
        let csr = VerifiedCsr::verify(&csr(&rcgen::PKCS_ECDSA_P256_SHA256, "x")).unwrap();
        let serial = Serial::parse("SN-1").unwrap();
        issuer
            .issue(IssueRequest {
                serial: &serial,
                customer: "acme",
                csr: &csr,
            })
            .await
    }

    #[tokio::test]
    async fn a_failing_command_is_an_error_with_its_stderr() {
        let (_dir, issuer) = script(
            "cat >/dev/null; echo 'CA is down' >&2; exit 3",
            Duration::from_secs(10),
            65536,
        );
        let e = issue(&issuer).await.unwrap_err().to_string();
        assert!(
            e.contains("exit status: 3") && e.contains("CA is down"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_killed_at_its_timeout() {
        let (_dir, issuer) = script("exec sleep 30", Duration::from_millis(300), 65536);
        let started = Instant::now();
        let e = issue(&issuer).await.unwrap_err();
        assert!(matches!(e, IssueError::TimedOut(_)), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn output_beyond_the_limit_is_refused() {
        let (_dir, issuer) = script(
            "cat >/dev/null; head -c 5000 /dev/zero | tr '\\0' A",
            Duration::from_secs(10),
            1000,
        );
        let e = issue(&issuer).await.unwrap_err().to_string();
        assert!(e.contains("more than 1000 bytes"), "{e}");
    }

    #[tokio::test]
    async fn output_that_is_no_certificate_is_refused() {
        let (_dir, issuer) = script("cat", Duration::from_secs(10), 65536);
        let e = issue(&issuer).await.unwrap_err().to_string();
        assert!(
            e.contains("no certificate") || e.contains("not a PEM"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn it_gets_the_serial_and_a_missing_program_is_an_error() {
        let (_dir, issuer) = script(
            "cat >/dev/null; echo \"$ZTP_SERIAL/$ZTP_CUSTOMER\" >&2; exit 1",
            Duration::from_secs(10),
            65536,
        );
        let e = issue(&issuer).await.unwrap_err().to_string();
        assert!(e.contains("SN-1/acme"), "{e}");
        let missing = CommandIssuer {
            program: "/nonexistent/issuer".into(),
            ..issuer
        };
        let e = issue(&missing).await.unwrap_err().to_string();
        assert!(e.contains("cannot be started"), "{e}");
    }
}
