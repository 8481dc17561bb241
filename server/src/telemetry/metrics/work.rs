//! The families of the work behind an answer and after it: journal commits, signing caches,
//! license shortages, deliveries to NMSes and webhooks.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Histogram, IntCounter, IntCounterVec};

use super::{BATCH_BUCKETS, Family, LATENCY_BUCKETS, counter, counters, histogram};

/// The journal's family: how long its commits take and how many entries each carries.
#[derive(Debug, Clone)]
pub struct JournalMetrics {
    commit: Histogram,
    batch: Histogram,
}

impl Default for JournalMetrics {
    fn default() -> Self {
        Self {
            commit: histogram(
                "ztp_journal_commit_duration_seconds",
                "Time to write and commit one batch of the devices' journal.",
                LATENCY_BUCKETS,
            ),
            batch: histogram(
                "ztp_journal_batch_entries",
                "Entries (states, events, progress, licenses) per journal commit.",
                BATCH_BUCKETS,
            ),
        }
    }
}

impl JournalMetrics {
    /// A batch of `entries` was written in `elapsed`.
    pub fn committed(&self, entries: usize, elapsed: Duration) {
        self.commit.observe(elapsed.as_secs_f64());
        // Exact: a batch holds at most a few hundred entries.
        self.batch.observe(entries as f64);
    }
}

impl Family for JournalMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.commit.clone()), Box::new(self.batch.clone())]
    }
}

/// How an attempt to deliver an outbox item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered.
    Delivered,
    /// Failed, to be retried.
    Retried,
    /// Given up: a dead letter.
    Dead,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Dead => "dead",
        }
    }
}

/// A delivering worker's family: attempts by outcome.
#[derive(Debug, Clone)]
pub struct DeliveryMetrics(IntCounterVec);

impl DeliveryMetrics {
    /// Registrations delivered to NMSes.
    pub fn nms() -> Self {
        Self(counters(
            "ztp_nms_deliveries_total",
            "Attempts to deliver a registration to an NMS, by outcome.",
            &["outcome"],
        ))
    }

    /// Events posted to webhooks.
    pub fn webhooks() -> Self {
        Self(counters(
            "ztp_webhook_deliveries_total",
            "Attempts to post an event to a webhook receiver, by outcome.",
            &["outcome"],
        ))
    }

    /// An attempt ended so.
    pub fn attempted(&self, outcome: Delivery) {
        self.0.with_label_values(&[outcome.as_str()]).inc();
    }
}

impl Family for DeliveryMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.0.clone())]
    }
}

/// The licensing family: devices served short of a license they were entitled to.
#[derive(Debug, Clone)]
pub struct LicenseMetrics(IntCounter);

impl Default for LicenseMetrics {
    fn default() -> Self {
        Self(counter(
            "ztp_license_shortages_total",
            "Licenses a device was entitled to but not given: its pool had no seat left.",
        ))
    }
}

impl LicenseMetrics {
    /// `count` licenses were withheld for want of seats.
    pub fn short(&self, count: u64) {
        self.0.inc_by(count);
    }
}

impl Family for LicenseMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.0.clone())]
    }
}

/// A cache of signed artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Ownership vouchers.
    Voucher,
    /// Signed conveyed information.
    ConveyedInformation,
    /// Signed license bundles.
    License,
}

impl Cache {
    fn as_str(self) -> &'static str {
        match self {
            Self::Voucher => "voucher",
            Self::ConveyedInformation => "conveyed_information",
            Self::License => "license",
        }
    }
}

/// The signing caches' family: lookups by cache and result.
#[derive(Debug, Clone)]
pub struct CacheMetrics(IntCounterVec);

impl Default for CacheMetrics {
    fn default() -> Self {
        Self(counters(
            "ztp_signing_cache_requests_total",
            "Lookups in the caches of signed artifacts, by cache and result (hit or miss).",
            &["cache", "result"],
        ))
    }
}

impl CacheMetrics {
    /// A lookup in `cache` found what it looked for (`hit`) or had to sign it.
    pub fn looked_up(&self, cache: Cache, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.0.with_label_values(&[cache.as_str(), result]).inc();
    }
}

impl Family for CacheMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.0.clone())]
    }
}
