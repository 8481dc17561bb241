//! The CRL refresher: re-reads the CRL files the [`DeviceVerifier`] was given whenever they
//! change, so that a revocation takes effect without a restart.
//!
//! [`CrlRefresher::run_once`] is one look at the files; [`CrlRefresher::run`] waits the refresh
//! interval, then looks, until the server stops. A file that no longer parses keeps its previous
//! list in force and is reported (an overdue or broken CRL must not refuse a whole fleet).
//!
//! May import: the verifier (its parent module) and tokio's timers and channels.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{CrlReload, CurrentVerifier};

/// Reloads a verifier's CRL files when they change: one [`run_once`](Self::run_once) per look,
/// or [`run`](Self::run) in the background.
#[derive(Debug)]
pub struct CrlRefresher {
    verifier: CurrentVerifier,
    every: Duration,
}

/// What one look at the CRL files did.
#[derive(Debug, Default)]
pub struct RefreshOutcome {
    /// The files that changed and are in force now.
    pub reloaded: usize,
    /// The files that changed but could not be read (their previous lists stay in force).
    pub failed: usize,
}

impl CrlRefresher {
    /// A refresher of `verifier`'s CRL files that looks every `every`.
    pub fn new(verifier: CurrentVerifier, every: Duration) -> Self {
        Self { verifier, every }
    }

    /// One look: reloads the CRL files that changed since they were read, logs each one that
    /// no longer parses, and says how many were reloaded and how many failed.
    pub fn run_once(&self) -> RefreshOutcome {
        let CrlReload { reloaded, failed } = self.verifier.load().reload_crls();
        for error in &failed {
            tracing::error!(%error, "a CRL could not be reloaded; keeping the previous one");
        }
        RefreshOutcome {
            reloaded: reloaded.len(),
            failed: failed.len(),
        }
    }

    /// Waits the refresh interval, then [`run_once`](Self::run_once), until `stopped` turns
    /// true.
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            self.run_once();
        }
    }
}
