//! The gauges whose state the composition root holds, set before each scrape: each listener's
//! open connections, each CRL's age and time to its next update.
//!
//! May import: everything (part of the composition root).

use std::sync::Arc;
use std::time::SystemTime;

use crate::auth::device::CurrentVerifier;
use crate::http::Watch;
use crate::telemetry::metrics::Metrics;

/// Sets the gauge of the connections `watch`'s listener holds before each scrape.
pub(super) fn connections(metrics: &Metrics, watch: &Watch) {
    let (listener, open) = (watch.listener, watch.open.clone());
    metrics.on_scrape(move |gauges| gauges.connections(listener, open.count()));
}

/// Sets the gauges of the CRLs' ages before each scrape, each CRL labelled by its file name.
pub(super) fn crls(metrics: &Metrics, verifier: &CurrentVerifier) {
    let verifier = Arc::clone(verifier);
    metrics.on_scrape(move |gauges| {
        let now = SystemTime::now();
        let seconds = |from: SystemTime, to: SystemTime| match to.duration_since(from) {
            Ok(ahead) => ahead.as_secs_f64(),
            Err(behind) => -behind.duration().as_secs_f64(),
        };
        for crl in verifier.load().crl_validity() {
            let name = crl.path.file_name().unwrap_or_default().to_string_lossy();
            gauges.crl(
                &name,
                seconds(crl.this_update, now),
                crl.next_update.map(|next| seconds(now, next)),
            );
        }
    });
}
