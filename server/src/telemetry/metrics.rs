//! The figures ztp exposes to Prometheus (`GET /metrics` on the admin listener), every family
//! named here and nowhere else.
//!
//! Each part counts into a family of its own, made with it (a [`DeviceMetrics`] by the device
//! API, a [`JournalMetrics`] by the journal, …), so that a part built alone (in a test) counts
//! without a registry; the composition root registers the families of the parts it wires into
//! one [`Metrics`]. Gauges that describe the state rather than count what happened (open
//! connections, outbox backlogs, license seats, CRL ages) are set just before each scrape: by
//! [`Metrics::on_scrape`] hooks, and by the admin API from the database.
//!
//! Label values come from closed sets (the enums here, a listener's name, a response profile)
//! or from what an administrator names (a customer, an NMS connection, a webhook, a pool, a CRL
//! file): never from what a device sends, so a device cannot grow the exposition. A serial
//! number is never a label.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

mod gauges;
mod port;
#[cfg(test)]
mod tests;
mod work;

pub use gauges::{Backlog, Gauges, Seats};
pub use port::{DeviceMetrics, HandshakeFailure, ListenerMetrics, Outcome, Refusal};
pub use work::{Cache, CacheMetrics, Delivery, DeliveryMetrics, JournalMetrics, LicenseMetrics};

/// The content type of the exposition (Prometheus' text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets, in seconds: from a cached answer on loopback to a device held for its NMS.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Entries per journal commit.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The families of one server, and the hooks that set its gauges before a scrape; cheap to
/// clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    gauges: Gauges,
    hooks: Mutex<Vec<Hook>>,
}

type Hook = Box<dyn Fn(&Gauges) + Send + Sync>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A family of collectors a part owns, for [`Metrics::register`].
pub trait Family {
    /// The collectors, each registered once.
    fn collectors(&self) -> Vec<Box<dyn Collector>>;
}

/// A family that could not be registered: its name is taken (a programming error).
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// A registry with `ztp_build_info{version}` and the state gauges, nothing counted yet.
    pub fn new(version: &str) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let info = IntGaugeVec::new(
            Opts::new(
                "ztp_build_info",
                "The running ztp: always 1, its version as a label.",
            ),
            &["version"],
        )?;
        info.with_label_values(&[version]).set(1);
        registry.register(Box::new(info))?;
        let gauges = Gauges::new()?;
        for collector in gauges.collectors() {
            registry.register(collector)?;
        }
        Ok(Self(Arc::new(Inner {
            registry,
            gauges,
            hooks: Mutex::new(Vec::new()),
        })))
    }

    /// Registers the collectors of `family`.
    pub fn register(&self, family: &impl Family) -> Result<(), MetricsError> {
        for collector in family.collectors() {
            self.0.registry.register(collector)?;
        }
        Ok(())
    }

    /// Runs `hook` before each scrape, to set gauges from the state it reads.
    pub fn on_scrape(&self, hook: impl Fn(&Gauges) + Send + Sync + 'static) {
        self.0
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// The gauges set before a scrape.
    pub fn gauges(&self) -> &Gauges {
        &self.0.gauges
    }

    /// Runs the scrape hooks, then encodes every family in the text format.
    pub fn encode(&self) -> String {
        for hook in self
            .0
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            hook(&self.0.gauges);
        }
        let mut text = Vec::new();
        // Encoding into memory fails only on a family without samples' names: none here.
        if let Err(error) = TextEncoder::new().encode(&self.0.registry.gather(), &mut text) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help)
        .unwrap_or_else(|error| unreachable!("metric {name} is well-formed: {error}"))
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|error| unreachable!("metric {name} is well-formed: {error}"))
}

fn histograms(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .unwrap_or_else(|error| unreachable!("metric {name} is well-formed: {error}"))
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .unwrap_or_else(|error| unreachable!("metric {name} is well-formed: {error}"))
}
