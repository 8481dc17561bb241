//! "Test connection" for administrators: every step of a delivery, reported one by one.

use std::fmt;

use tracing::debug;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::session::{authenticate, handshake, random_suffix, start_sftp, tcp_connect};

/// The content of the probe file.
const PROBE_CONTENT: &[u8] = b"ztp connection test; this file is removed right away\n";

/// A step of [`probe`], in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeStep {
    /// Opening the TCP connection.
    TcpConnect,
    /// The SSH handshake and the check of the host key against the pins.
    HostKey,
    /// Logging in.
    Authentication,
    /// Starting the SFTP subsystem.
    Sftp,
    /// Uploading a probe file into the directory.
    Upload,
    /// Removing the probe file.
    Removal,
}

impl ProbeStep {
    /// A short human name for the step.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TcpConnect => "tcp connect",
            Self::HostKey => "host key check",
            Self::Authentication => "authentication",
            Self::Sftp => "sftp subsystem",
            Self::Upload => "upload of a probe file",
            Self::Removal => "removal of the probe file",
        }
    }
}

impl fmt::Display for ProbeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one step went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    /// The step.
    pub step: ProbeStep,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, for the administrator.
    pub message: String,
}

/// The result of [`probe`]: the steps that ran, stopping at the first failure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// The steps that ran, in order; only the last can have failed.
    pub steps: Vec<StepOutcome>,
    /// The fingerprint of the host key the server presented, once the handshake got that far
    /// (also on a mismatch, so the administrator can compare it).
    pub presented: Option<Fingerprint>,
}

impl ProbeReport {
    /// Whether every step succeeded.
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    /// The step that failed, if one did.
    pub fn failed_step(&self) -> Option<ProbeStep> {
        self.steps.iter().find(|s| !s.ok).map(|s| s.step)
    }

    fn pass(&mut self, step: ProbeStep, message: impl Into<String>) {
        self.steps.push(StepOutcome {
            step,
            ok: true,
            message: message.into(),
        });
    }

    fn fail(mut self, step: ProbeStep, error: &Error) -> Self {
        self.steps.push(StepOutcome {
            step,
            ok: false,
            message: error.to_string(),
        });
        self
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in &self.steps {
            let mark = if outcome.ok { "ok" } else { "FAILED" };
            writeln!(f, "{}: {mark}: {}", outcome.step, outcome.message)?;
        }
        Ok(())
    }
}

/// Runs every step of a delivery against `endpoint` (connect, host key check, login, SFTP, upload
/// and removal of a probe file named `ztp-probe-<random>.txt`) and reports each, stopping at the
/// first failure. Never fails itself: failures are in the report. A host whose addresses the
/// endpoint's [`AddressFilter`](crate::AddressFilter) refuses fails the first step, with no
/// connection attempted.
pub async fn probe(endpoint: &Endpoint) -> ProbeReport {
    let mut report = ProbeReport::default();
    let address = endpoint.address();

    let tcp = match tcp_connect(
        &endpoint.host,
        endpoint.port,
        &endpoint.address_filter,
        endpoint.timeouts.connect,
    )
    .await
    {
        Ok(tcp) => tcp,
        Err(e) => return report.fail(ProbeStep::TcpConnect, &e),
    };
    report.pass(ProbeStep::TcpConnect, format!("connected to {address}"));

    let mut handle = match handshake(tcp, &endpoint.pins, endpoint.timeouts.connect).await {
        Ok((handle, presented)) => {
            report.presented = Some(presented);
            report.pass(
                ProbeStep::HostKey,
                format!("the server presented {presented}, which is pinned"),
            );
            handle
        }
        Err(e) => {
            if let Error::HostKeyMismatch { presented, .. } = &e {
                report.presented = Some(*presented);
            }
            return report.fail(ProbeStep::HostKey, &e);
        }
    };

    if let Err(e) = authenticate(&mut handle, endpoint).await {
        return report.fail(ProbeStep::Authentication, &e);
    }
    report.pass(
        ProbeStep::Authentication,
        format!("logged in as {}", endpoint.username),
    );

    let mut session = match start_sftp(handle, endpoint).await {
        Ok(session) => session,
        Err(e) => return report.fail(ProbeStep::Sftp, &e),
    };
    report.pass(ProbeStep::Sftp, "sftp subsystem started");

    let name = format!("ztp-probe-{}.txt", random_suffix());
    let shown = endpoint.remote_path(&name);
    if let Err(e) = session.upload(&name, PROBE_CONTENT).await {
        return report.fail(ProbeStep::Upload, &e);
    }
    report.pass(ProbeStep::Upload, format!("wrote {shown}"));

    if let Err(e) = session.remove(&name).await {
        return report.fail(ProbeStep::Removal, &e);
    }
    report.pass(ProbeStep::Removal, format!("removed {shown}"));

    if let Err(e) = session.close().await {
        debug!(error = %e, "closing the probe session");
    }
    report
}
