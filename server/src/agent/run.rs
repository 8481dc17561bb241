//! The device agent, RFC 8572 §5 end to end: the bootstrap servers of the device's list
//! (configured, or from DHCP option 143/136) in order; redirect information followed to the
//! servers it names (depth first, each authenticated by its conveyed trust anchor, loops
//! bounded); the first onboarding information that verifies is processed
//! ([`Installer::install`]), reporting progress to the server that gave it. When no server
//! yields usable data, the agent starts over after a pause (§5.6), growing from the initial
//! to the largest, each jittered, for a bounded or unbounded number of rounds.
//!
//! Once bootstrapping completed (the state file says so) the agent contacts no server again.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use rustls::ClientConfig;
use ztp_yang::{ConveyedInformation, Encoding, ReportProgressInput};

use super::bootstrap::{self, AgentError, BootstrapOptions};
use super::client::{Client, ServerUrl};
use super::onboarding::{Installed, Installer, OnboardingError, Progress};
use super::redirect::{self, Hops, Next, RedirectError, Source, Trust};
use super::state::{AgentState, StateError, StateFile};
use super::tls::{self, ServerTrust, TlsConfigError};

/// Everything the agent needs.
#[derive(Debug)]
pub struct RunOptions {
    /// The device, its anchors, its request, its reporting, and its list of servers.
    pub bootstrap: BootstrapOptions,
    /// How onboarding information is processed.
    pub installer: Installer,
    /// When to start over.
    pub retry: Retry,
    /// How many redirects deep to follow.
    pub max_depth: usize,
}

/// The pauses between rounds (RFC 8572 §5.6: "after a delay").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The first pause.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
    /// How many rounds in all (`Some(1)`: once); `None`: until one succeeds.
    pub rounds: Option<u32>,
}

impl Retry {
    /// The pause after round `round` (0-based): the initial pause doubled per round up to the
    /// largest, then a random part of it between half and all (`unit` in [0, 1) chooses it),
    /// so a fleet that lost power together does not call back together.
    pub fn pause(&self, round: u32, unit: f64) -> Duration {
        let grown = self
            .initial
            .saturating_mul(2u32.saturating_pow(round.min(31)))
            .min(self.max);
        grown.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

/// How the agent waits between rounds: tokio's clock, or a test's.
pub trait Pause {
    /// Waits for `duration`.
    fn pause(&self, duration: Duration) -> impl Future<Output = ()>;
}

/// Waits on tokio's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioPause;

impl Pause for TokioPause {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Why the agent stopped without completing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The device's own set-up (credentials, anchors, TLS) is wrong: nothing was contacted.
    #[error(transparent)]
    Setup(#[from] AgentError),
    /// The state file failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Every round failed; the last round's failures, server by server.
    #[error("no bootstrap server gave usable data in {rounds} round(s): {}", list(.failures))]
    GaveUp {
        /// Rounds made.
        rounds: u32,
        /// The last round's failures.
        failures: Vec<Failure>,
    },
}

/// Why one server of a round gave nothing usable.
#[derive(Debug)]
pub struct Failure {
    /// The server.
    pub server: ServerUrl,
    /// Why.
    pub error: ServerError,
}

/// What went wrong with one server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The exchange or its verification failed.
    #[error(transparent)]
    Bootstrap(#[from] AgentError),
    /// Its redirect information is not followed, or the server is one hop too many.
    #[error(transparent)]
    Redirect(#[from] RedirectError),
    /// Processing its onboarding information failed.
    #[error(transparent)]
    Onboarding(#[from] OnboardingError),
}

impl From<TlsConfigError> for ServerError {
    fn from(error: TlsConfigError) -> Self {
        Self::Bootstrap(error.into())
    }
}

fn list(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return "no server to contact".into();
    }
    failures
        .iter()
        .map(|f| format!("{}: {}", f.server, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the agent ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Bootstrapping had completed before this run: nothing was contacted.
    pub already_complete: bool,
    /// The image hook installed a new boot image: the device reboots into it, and the agent
    /// is to run again after the reboot.
    pub rebooting: bool,
    /// The state after the run.
    pub state: AgentState,
}

/// Runs the agent until bootstrapping completes or the rounds run out.
pub async fn run(options: &RunOptions, pause: &impl Pause) -> Result<RunOutcome, RunError> {
    bootstrap::check_anchors(&options.bootstrap)?;
    let file = StateFile::in_dir(&options.installer.state_dir)?;
    if file.load()?.complete {
        return Ok(RunOutcome {
            already_complete: true,
            rebooting: false,
            state: file.load()?,
        });
    }
    let mut round = 0;
    loop {
        let failures = match pass(options, &file).await {
            Ok(installed) => {
                return Ok(RunOutcome {
                    already_complete: false,
                    rebooting: installed == Installed::Rebooting,
                    state: file.load()?,
                });
            }
            Err(failures) => failures,
        };
        round += 1;
        for failure in &failures {
            tracing::warn!(server = %failure.server, error = %failure.error, "bootstrap server gave nothing usable");
        }
        if options.retry.rounds.is_some_and(|rounds| round >= rounds) {
            return Err(RunError::GaveUp {
                rounds: round,
                failures,
            });
        }
        let delay = options.retry.pause(round - 1, random_unit());
        tracing::info!(
            round,
            delay_secs = delay.as_secs_f32(),
            "starting over after a pause"
        );
        pause.pause(delay).await;
    }
}

/// A number in [0, 1), from the system's randomness (0.5 if it has none).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// One round: the device's servers in order, redirects depth first.
async fn pass(options: &RunOptions, file: &StateFile) -> Result<Installed, Vec<Failure>> {
    let mut hops = Hops::new(options.max_depth);
    let mut failures = Vec::new();
    let mut stack: Vec<(Next, usize)> = options
        .bootstrap
        .servers
        .iter()
        .rev()
        .map(|url| {
            let next = Next {
                url: url.clone(),
                trust: Trust::Configured,
            };
            (next, 0)
        })
        .collect();
    while let Some((next, depth)) = stack.pop() {
        let visited = match hops.enter(&next.url, depth) {
            Ok(()) => visit(options, &next, file).await,
            Err(error) => Err(error.into()),
        };
        match visited {
            Ok(Visited::Installed(installed)) => return Ok(installed),
            Ok(Visited::Redirect(servers)) => {
                tracing::info!(server = %next.url, to = servers.len(), "redirected");
                stack.extend(servers.into_iter().rev().map(|s| (s, depth + 1)));
            }
            Err(error) => failures.push(Failure {
                server: next.url,
                error,
            }),
        }
    }
    Err(failures)
}

/// What a server gave.
enum Visited {
    /// Redirect information: these servers next.
    Redirect(Vec<Next>),
    /// Onboarding information, processed to bootstrap-complete or to a reboot.
    Installed(Installed),
}

async fn visit(
    options: &RunOptions,
    next: &Next,
    file: &StateFile,
) -> Result<Visited, ServerError> {
    let trust = match &next.trust {
        Trust::Configured => options.bootstrap.server_trust(),
        Trust::Conveyed(anchors) => ServerTrust::Anchors(anchors),
    };
    let authenticated = trust.authenticates();
    let identity = options.bootstrap.credentials.identity();
    let config = tls::device_config(identity, trust)?;
    let exchange = bootstrap::exchange(
        &options.bootstrap,
        &next.url,
        config.clone(),
        authenticated,
        None,
    )
    .await?;
    let signed = exchange.verified.ownership.is_some();
    match exchange.verified.information {
        ConveyedInformation::Redirect(redirect) => {
            let source = Source {
                authenticated,
                signed,
            };
            Ok(Visited::Redirect(redirect::next_servers(
                &redirect, source,
            )?))
        }
        ConveyedInformation::Onboarding(information) => {
            let mut progress = ServerProgress {
                authorization: exchange.client.authorization().cloned(),
                client: Some(exchange.client),
                url: next.url.clone(),
                config,
                timeout: options.bootstrap.timeout,
                encoding: options.bootstrap.request.encoding,
                enabled: options.bootstrap.reporting.enabled && authenticated,
            };
            let installer = &options.installer;
            let installed = installer
                .install(&information, next.url.as_str(), file, &mut progress)
                .await?;
            Ok(Visited::Installed(installed))
        }
    }
}

/// Progress reports to the server that gave the onboarding information, over the connection
/// it came on, or a new one when that one was closed while a step ran.
pub(super) struct ServerProgress {
    pub(super) client: Option<Client>,
    /// The activation code's header, sent again on a new connection.
    pub(super) authorization: Option<HeaderValue>,
    pub(super) url: ServerUrl,
    pub(super) config: Arc<ClientConfig>,
    pub(super) timeout: Duration,
    pub(super) encoding: Encoding,
    pub(super) enabled: bool,
}

impl Progress for ServerProgress {
    async fn report(&mut self, report: ReportProgressInput) {
        if !self.enabled {
            return;
        }
        let alive = match &self.client {
            Some(client) => client.is_open(),
            None => false,
        };
        if !alive {
            match Client::connect(&self.url, self.config.clone(), self.timeout).await {
                Ok(mut client) => {
                    client.set_authorization(self.authorization.clone());
                    self.client = Some(client);
                }
                Err(error) => {
                    let progress = report.progress_type;
                    tracing::warn!(%progress, %error, "progress report failed: cannot reconnect");
                    return;
                }
            }
        }
        if let Some(client) = &mut self.client {
            bootstrap::send_report(client, self.encoding, report).await;
        }
    }
}

#[cfg(test)]
mod tests;
