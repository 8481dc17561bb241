//! The CRL refresher: the background worker that re-reads the manufacturer's CRL files, so
//! that a revocation takes effect without a restart.
//!
//! Owns only its pace; the CRLs and the policy on a file that fails to load are the verifier's
//! (`auth::device`). Imports auth.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::auth::device::DeviceVerifier;

/// Re-reads changed CRL files of a [`DeviceVerifier`] every `every`, until told to stop. A
/// CRL that fails to load is logged and its previous version kept.
pub struct CrlRefresher {
    verifier: Arc<DeviceVerifier>,
    every: Duration,
}

impl std::fmt::Debug for CrlRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlRefresher")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl CrlRefresher {
    /// A refresher of `verifier`'s CRLs every `every` (at least a second).
    pub fn new(verifier: Arc<DeviceVerifier>, every: Duration) -> Arc<Self> {
        Arc::new(Self {
            verifier,
            every: every.max(Duration::from_secs(1)),
        })
    }

    /// Re-reads the CRL files that changed, now; logs each that could not be reloaded (its
    /// previous version stays in force) and returns how many those were.
    pub fn refresh(&self) -> usize {
        let errors = self.verifier.refresh_crls();
        for error in &errors {
            tracing::error!(%error, "a CRL could not be reloaded; keeping the previous one");
        }
        errors.len()
    }

    /// Refreshes every period until `stopped` turns true; the first refresh is one period
    /// after the start (the verifier has just loaded the files).
    pub async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            self.refresh();
        }
    }
}
