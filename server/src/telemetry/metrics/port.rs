//! The device port's families: calls by outcome, refusals by reason, latency, failed
//! handshakes.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{HistogramVec, IntCounter, IntCounterVec};

use super::{Family, LATENCY_BUCKETS, counter, counters, histograms};

/// How a get-bootstrapping-data call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered 200.
    Served,
    /// Refused with a 4xx status.
    Refused,
    /// Asked to retry later (503: busy, held for its NMS, the database away).
    Busy,
    /// An error of the server's (500).
    Failed,
}

impl Outcome {
    /// The outcome an answer's status tells.
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Served,
            503 => Self::Busy,
            500..=599 => Self::Failed,
            _ => Self::Refused,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Served => "served",
            Self::Refused => "refused",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }
}

/// Why a device's request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No certificate, or one no trust anchor vouches for, or without a usable identity.
    UntrustedCertificate,
    /// A revoked certificate.
    RevokedCertificate,
    /// An activation code missing, wrong, or locked out.
    ActivationCode,
    /// A forwarded request from a source that is not a configured proxy.
    NotAProxy,
    /// Not in the inventory, or its certificate not the one pinned.
    UnknownDevice,
    /// No owner, or nothing configured for it.
    NoOwner,
    /// Its imported voucher can no longer be served (expired, another IDevID issuer).
    NoVoucher,
    /// A body that does not decode, or an input missing.
    BadRequest,
    /// A body over the limit.
    TooLarge,
    /// A body that did not arrive in time.
    Timeout,
    /// A media type the API does not speak.
    MediaType,
    /// Held until its NMS knows it.
    AwaitingNms,
    /// The concurrency limit reached.
    Busy,
    /// The database out of reach.
    DatabaseUnavailable,
    /// An error of the server's.
    Internal,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::UntrustedCertificate => "untrusted_certificate",
            Self::RevokedCertificate => "revoked_certificate",
            Self::ActivationCode => "activation_code",
            Self::NotAProxy => "not_a_proxy",
            Self::UnknownDevice => "unknown_device",
            Self::NoOwner => "no_owner",
            Self::NoVoucher => "no_voucher",
            Self::BadRequest => "bad_request",
            Self::TooLarge => "too_large",
            Self::Timeout => "timeout",
            Self::MediaType => "media_type",
            Self::AwaitingNms => "awaiting_nms",
            Self::Busy => "busy",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The device API's families: calls, refusals, latency.
#[derive(Debug, Clone)]
pub struct DeviceMetrics {
    bootstraps: IntCounterVec,
    refusals: IntCounterVec,
    duration: HistogramVec,
    legacy_chains: IntCounter,
}

impl Default for DeviceMetrics {
    fn default() -> Self {
        Self {
            bootstraps: counters(
                "ztp_bootstraps_total",
                "get-bootstrapping-data calls by outcome, and the response profile of those \
                 served (none otherwise).",
                &["outcome", "profile"],
            ),
            refusals: counters(
                "ztp_device_refusals_total",
                "Device requests refused, by RPC and reason.",
                &["rpc", "reason"],
            ),
            duration: histograms(
                "ztp_device_request_duration_seconds",
                "Time to answer a device's RPC, from its head to the answer, by RPC.",
                LATENCY_BUCKETS,
                &["rpc"],
            ),
            legacy_chains: counter(
                "ztp_device_legacy_chains_total",
                "Device connections authenticated through a chain holding a SHA-1 signature, \
                 accepted by the opt-in of the CA that made it (manufacturer.legacy_sha1).",
            ),
        }
    }
}

impl DeviceMetrics {
    /// A get-bootstrapping-data call ended so; `profile` shaped its answer when served.
    pub fn bootstrap(&self, outcome: Outcome, profile: Option<&str>) {
        self.bootstraps
            .with_label_values(&[outcome.as_str(), profile.unwrap_or("none")])
            .inc();
    }

    /// A request to `rpc` was refused for `reason`.
    pub fn refused(&self, rpc: &str, reason: Refusal) {
        self.refusals
            .with_label_values(&[rpc, reason.as_str()])
            .inc();
    }

    /// A connection's device was authenticated through a legacy (SHA-1) chain.
    pub fn legacy_chain(&self) {
        self.legacy_chains.inc();
    }

    /// A call to `rpc` was answered after `elapsed`.
    pub fn answered(&self, rpc: &str, elapsed: Duration) {
        self.duration
            .with_label_values(&[rpc])
            .observe(elapsed.as_secs_f64());
    }
}

impl Family for DeviceMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.bootstraps.clone()),
            Box::new(self.refusals.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.legacy_chains.clone()),
        ]
    }
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The client sent no certificate.
    NoCertificate,
    /// The client's certificate was refused.
    BadCertificate,
    /// The client broke the protocol, or offered nothing in common.
    Protocol,
    /// The handshake did not finish in time.
    Timeout,
    /// The client closed the connection.
    Closed,
    /// Anything else (an I/O error).
    Other,
}

impl HandshakeFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::BadCertificate => "bad_certificate",
            Self::Protocol => "protocol",
            Self::Timeout => "timeout",
            Self::Closed => "closed",
            Self::Other => "other",
        }
    }
}

/// The listeners' family: failed TLS handshakes by listener and reason.
#[derive(Debug, Clone)]
pub struct ListenerMetrics {
    handshake_failures: IntCounterVec,
}

impl Default for ListenerMetrics {
    fn default() -> Self {
        Self {
            handshake_failures: counters(
                "ztp_tls_handshake_failures_total",
                "TLS handshakes that failed, by listener and reason.",
                &["listener", "reason"],
            ),
        }
    }
}

impl ListenerMetrics {
    /// A handshake on `listener` failed for `reason`.
    pub fn handshake_failed(&self, listener: &str, reason: HandshakeFailure) {
        self.handshake_failures
            .with_label_values(&[listener, reason.as_str()])
            .inc();
    }
}

impl Family for ListenerMetrics {
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.handshake_failures.clone())]
    }
}
