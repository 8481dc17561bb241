//! Customers' webhooks: device events posted as signed JSON to the customer's HTTPS receiver.
//!
//! - this module: the receiver's URL, the event body and its signature;
//! - [`sender`]: one HTTPS POST, trusting the subscription's CA or the system's roots, refusing
//!   non-public addresses unless allowed;
//! - [`dispatcher`]: the background delivery of the webhook outbox, with retries.
//!
//! # What a receiver gets
//!
//! ```text
//! POST /path HTTP/1.1
//! Content-Type: application/json
//! ztp-event: device.bootstrap-complete
//! ztp-delivery: 42
//! ztp-signature: t=1795430400,v1=5d4f…(hex HMAC-SHA256 of "1795430400." + body)
//!
//! {"id":42,"type":"device.bootstrap-complete","event_id":1337,
//!  "occurred_at":"2026-11-23T18:00:00.000Z","customer":"acme","serial":"SN-1","detail":"…"}
//! ```
//!
//! The HMAC key is the subscription's secret (its UTF-8 bytes). A receiver recomputes the
//! HMAC over `t`, a dot and the raw body, compares in constant time, and refuses a `t` far from
//! its clock (replays). Deliveries are at least once: `id` is the same on every attempt, so a
//! receiver drops a repeat by it.
//!
//! May import: `domain`, `store`, `config`, `address_policy`, `tls`, `secrets` and `telemetry`.

pub mod dispatcher;
pub mod sender;

pub use dispatcher::{Dispatcher, DispatcherSettings};
pub use sender::{SendError, Sender};

use std::fmt;

use aws_lc_rs::hmac;
use http::Uri;
use serde::Serialize;

use crate::domain::notice::Notice;
use crate::store::timestamp;
use crate::store::webhooks::DueDelivery;

/// The event type of a test delivery.
pub const PING: &str = "ping";

/// A receiver's address: `https://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    uri: Uri,
    host: String,
    port: u16,
}

/// A URL that cannot be a webhook receiver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook URL {url:?}: {reason}")]
pub struct UrlError {
    /// The URL.
    pub url: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl WebhookUrl {
    /// Parses `url`; only `https` with a host, no user information and no fragment.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let error = |reason| UrlError {
            url: url.to_owned(),
            reason,
        };
        if url.len() > 2048 {
            return Err(error("longer than 2048 characters"));
        }
        if url.contains('#') {
            return Err(error("a fragment is not sent to a server"));
        }
        let uri: Uri = url.parse().map_err(|_| error("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(error("must be https://"));
        }
        let authority = uri.authority().ok_or_else(|| error("no host"))?;
        if authority.as_str().contains('@') {
            return Err(error("user information is not allowed"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(error("no host"));
        }
        let port = authority.port_u16().unwrap_or(443);
        if port == 0 {
            return Err(error("port 0"));
        }
        Ok(Self { uri, host, port })
    }

    /// The host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header value.
    pub fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }

    /// Path and query.
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uri.fmt(f)
    }
}

/// The JSON body of a delivery: the same bytes on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventBody {
    /// The delivery's id: a receiver's idempotency key.
    pub id: i64,
    /// `device.<notice>`, or `ping`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// ztp's event id (its sequence number).
    pub event_id: i64,
    /// When it happened (RFC 3339, UTC).
    pub occurred_at: String,
    /// The device's owner.
    pub customer: String,
    /// The device.
    pub serial: String,
    /// What happened, for a person.
    pub detail: String,
}

impl EventBody {
    /// The body of a claimed delivery.
    pub fn of(due: &DueDelivery) -> Self {
        Self {
            id: due.delivery.id,
            event_type: due.delivery.notice.event_type(),
            event_id: due.delivery.event_id,
            occurred_at: timestamp(due.at),
            customer: due.customer.clone(),
            serial: due.serial.clone(),
            detail: due.detail.clone(),
        }
    }

    /// A test delivery of `customer`'s subscription.
    pub fn ping(customer: &str, at: i64) -> Self {
        Self {
            id: 0,
            event_type: PING.to_owned(),
            event_id: 0,
            occurred_at: timestamp(at),
            customer: customer.to_owned(),
            serial: String::new(),
            detail: format!(
                "a test from ztp: events of {} are delivered here",
                Notice::ALL.map(Notice::event_type).join(", ")
            ),
        }
    }

    /// The bytes posted.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The `ztp-signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
pub fn signature(secret: &str, unix_secs: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(unix_secs.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix_secs},v1={hex}")
}

/// A fresh secret for a new subscription: `whsec_` and 32 random bytes, base64url.
pub fn new_secret() -> Result<String, aws_lc_rs::error::Unspecified> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    use base64::Engine;
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_with_a_host_are_receivers() {
        let url = WebhookUrl::parse("https://[::1]:8443/hooks/ztp?x=1").unwrap();
        assert_eq!((url.host(), url.port()), ("::1", 8443));
        assert_eq!(url.path_and_query(), "/hooks/ztp?x=1");
        assert_eq!(url.authority(), "[::1]:8443");
        assert_eq!(WebhookUrl::parse("https://h.example").unwrap().port(), 443);
        for bad in [
            "http://h.example/",
            "https://user:pw@h.example/",
            "https:///path",
            "https://h.example/#frag",
            "ftp://h.example/",
            "not a url",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_time_dot_body() {
        // Computed independently: Python's hmac.new(b"Jefe", b"1.what do ya want for
        // nothing?", hashlib.sha256).hexdigest().
        assert_eq!(
            signature("Jefe", 1, b"what do ya want for nothing?"),
            "t=1,v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
        assert_ne!(
            signature("Jefe", 2, b"what do ya want for nothing?"),
            signature("Jefe", 1, b"what do ya want for nothing?")
        );
    }

    #[test]
    fn secrets_are_fresh() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 43);
        assert_ne!(a, b);
    }
}
