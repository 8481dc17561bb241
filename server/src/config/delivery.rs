//! `[nms]` and `[webhooks]`: the two deliveries to customers (registrations to their NMSes,
//! events to their webhook receivers), their timeouts, retries and address policies.
//!
//! Owns those two sections; imports nothing else of ztp.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `[nms]`: delivery of registrations to customers' NMSes over SFTP: sessions, timeouts,
/// retries, how long a device is held for its registration, and where NMS hosts may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NmsConfig {
    /// SFTP connections kept open to one NMS connection at most.
    pub max_sessions: usize,
    /// Time for the TCP connect and, separately, the SSH handshake, in seconds.
    pub connect_timeout_secs: u64,
    /// Time for authentication, in seconds.
    pub auth_timeout_secs: u64,
    /// Time for each SFTP request (open, write, close, rename), in seconds.
    pub operation_timeout_secs: u64,
    /// The wait after a registration's first failed attempt, in seconds; it doubles with each
    /// further failure.
    pub retry_initial_secs: u64,
    /// The longest wait between attempts, in seconds (also the pace of retries while an NMS
    /// presents an unpinned host key).
    pub retry_max_secs: u64,
    /// How long a registration may stay undelivered before it becomes a dead letter, in
    /// seconds.
    pub give_up_after_secs: u64,
    /// Under `nms-first`, how long a device's request waits for its registration to be
    /// delivered before it gets 503 with Retry-After, in milliseconds.
    pub inline_wait_ms: u64,
    /// Under `nms-first`, how long in all a device is held back for a registration that does
    /// not reach its NMS (a dead host, a wrong pin), since the registration began waiting, in
    /// seconds; then the device is answered and delivery goes on.
    pub max_device_hold_secs: u64,
    /// How often the delivery worker looks for due registrations when nothing wakes it, in
    /// milliseconds.
    pub poll_interval_ms: u64,
    /// Networks (CIDRs, e.g. `["10.8.0.0/16", "fd00:8::/64"]`) in which NMS hosts may have
    /// loopback, private, link-local or other non-public addresses. Empty by default: a
    /// customer's admin must not make ztp connect into the manufacturer's own network (see
    /// `docs/nms-host-policy.md`). As a `ZTP_NMS__ALLOWED_PRIVATE_NETWORKS` variable:
    /// `["10.8.0.0/16","fd00:8::/64"]`.
    pub allowed_private_networks: Vec<IpNet>,
}

impl Default for NmsConfig {
    fn default() -> Self {
        Self {
            max_sessions: 4,
            connect_timeout_secs: 10,
            auth_timeout_secs: 10,
            operation_timeout_secs: 30,
            retry_initial_secs: 2,
            retry_max_secs: 300,
            give_up_after_secs: 3 * 24 * 3600,
            inline_wait_ms: 5000,
            max_device_hold_secs: 3600,
            poll_interval_ms: 1000,
            allowed_private_networks: Vec::new(),
        }
    }
}

/// `[webhooks]`: delivery of device events to customers' HTTPS receivers: timeouts, concurrency,
/// retries and whether receivers may be at private addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Time for one delivery (connection, TLS handshake, request and the receiver's answer), in
    /// seconds.
    pub timeout_secs: u64,
    /// Deliveries in flight at once, over all subscriptions.
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one subscription (a slow receiver holds up only its
    /// own).
    pub max_in_flight_per_webhook: usize,
    /// The wait after a delivery's first failed attempt, in seconds; it doubles with each
    /// further failure.
    pub retry_initial_secs: u64,
    /// The longest wait between attempts, in seconds.
    pub retry_max_secs: u64,
    /// How long a delivery may stay undelivered before it becomes a dead letter, in seconds.
    pub give_up_after_secs: u64,
    /// How often the sender looks for due deliveries, in milliseconds.
    pub poll_interval_ms: u64,
    /// Whether receivers may be at loopback, private, link-local or other non-public
    /// addresses. Off by default: a customer's admin must not make ztp post into the
    /// manufacturer's own network.
    pub allow_private_addresses: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            max_in_flight: 32,
            max_in_flight_per_webhook: 4,
            retry_initial_secs: 5,
            retry_max_secs: 600,
            give_up_after_secs: 3 * 24 * 3600,
            poll_interval_ms: 500,
            allow_private_addresses: false,
        }
    }
}
