//! `[device_api]` and `[admin_api]`: the two listeners, their bounds and their budgets.
//!
//! Owns the listeners' settings and the conversions of them the accept loop takes; imports
//! [`crate::http`] for those (its budgets), nothing else of ztp.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `[device_api]`: the HTTPS listener devices call, its bounds (sizes, timeouts, connections)
/// and the budgets that bench an abusive source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceApiConfig {
    /// Address and port of the HTTPS listener devices call.
    pub listen: SocketAddr,
    /// The server's TLS certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// The server's TLS key (PEM, PKCS#8; or sealed by `ztp secrets seal-keys`).
    pub tls_key: PathBuf,
    /// A second certificate chain (PEM) served beside `tls_certificate`, typically RSA beside
    /// an ECDSA one, for device software that takes no ECDSA server certificate: a handshake
    /// gets the first of the two whose key can sign with an algorithm the device offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative_tls_certificate: Option<PathBuf>,
    /// Its key (PEM, PKCS#8; or sealed by `ztp secrets seal-keys`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative_tls_key: Option<PathBuf>,
    /// The TLS versions the device listener offers: `["1.2", "1.3"]`, or `["1.2"]` for devices
    /// whose secure element makes only RSA PKCS#1 v1.5 signatures, which TLS 1.3 forbids
    /// (docs/devices.md).
    pub tls_versions: Vec<TlsVersion>,
    /// Devices authenticate with their activation codes too (HTTP Basic, the serial as the
    /// username; codes set per device in the admin API): beside the IDevID where a device has
    /// a code, or alone where its code is its only factor. Off: codes are not read.
    pub activation_codes: bool,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// Time allowed for the TLS handshake, for the request head and for the body, in seconds.
    pub read_timeout_secs: u64,
    /// Seconds a connection may stay open between an answer and its next request (both
    /// listeners); the first request must begin within `read_timeout_secs` of the handshake.
    pub idle_timeout_secs: u64,
    /// Connections open at once on each listener; more are closed as soon as they are accepted.
    /// Keep it under the process's file descriptor limit.
    pub max_connections: usize,
    /// Connections open at once from one source (an IPv4 address, an IPv6 /64), on each
    /// listener: a share, so that one address cannot take every slot. Devices behind one NAT
    /// share its address: size it for the largest site that boots at once.
    pub max_connections_per_source: usize,
    /// Requests handled at once; more get 503 with Retry-After.
    pub max_concurrent_requests: usize,
    /// The Retry-After value of a 503, in seconds.
    pub retry_after_secs: u64,
    /// TLS handshakes in progress at once on the device listener (they are CPU: a flood of them
    /// must not starve the requests of devices already connected). A connection beyond waits
    /// for its turn within `read_timeout_secs`, then is closed.
    pub max_handshakes: usize,
    /// Failed or timed-out TLS handshakes one source (an IPv4 address, an IPv6 /64) may cause
    /// back to back before it is benched; 0 switches this limit off.
    pub handshake_failures_burst: u32,
    /// Failed TLS handshakes a minute one source may cause for ever (the refill rate).
    pub handshake_failures_per_minute: u32,
    /// Refused requests (4xx answers) one source may cause back to back before it is benched;
    /// 0 switches this limit off. Devices behind one NAT share its budget.
    pub refusals_burst: u32,
    /// Refused requests a minute one source may cause for ever (the refill rate).
    pub refusals_per_minute: u32,
    /// How long a benched source stays benched, in seconds: its connections are closed as soon
    /// as they are accepted, before a handshake.
    pub cooldown_secs: u64,
    /// Sources remembered by each of those limits (failed handshakes, refusals), and refusal
    /// windows open at once; the least informative are forgotten first.
    pub max_tracked_sources: usize,
    /// The window over which repeated refusals (same source, kind, status, serial and reason)
    /// are counted into one summary event instead of one event each, in seconds; 0 records
    /// every refusal.
    pub refusal_summary_secs: u64,
    /// On SIGTERM, how long the readiness probe (`/readyz`) answers "draining" while both
    /// listeners still accept, before they stop accepting and finish their open requests: time
    /// for a load balancer to stop sending devices here, in seconds.
    pub drain_grace_secs: u64,
    /// `[device_api.proxy]`: a second device listener, for a TLS-terminating load balancer in
    /// front of ztp; absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<DeviceProxyConfig>,
}

/// `[device_api.proxy]`: devices reaching ztp through a TLS-terminating load balancer. The
/// balancer verifies the device's TLS handshake and forwards each request over plain HTTP to
/// this listener, with the device's certificate in a header; ztp verifies that certificate as
/// it verifies a direct handshake's (chain, CRLs, identity) on every request, and believes the
/// header only from the balancer's addresses (docs/load-balancer.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceProxyConfig {
    /// Address and port of the plain-HTTP listener the balancer forwards to (keep it on an
    /// internal network).
    pub listen: SocketAddr,
    /// The balancer's addresses (`10.0.0.0/24`, `192.0.2.7/32`): requests from any other
    /// source are refused (401), whatever their headers say.
    pub trusted_proxies: Vec<IpNet>,
    /// The header carrying the device's certificate: URL-encoded PEM, the leaf first and any
    /// intermediates after it (nginx's `$ssl_client_escaped_cert`), Envoy's
    /// `x-forwarded-client-cert` (its `Chain`, else its `Cert`), or base64 DER (HAProxy's
    /// `ssl_c_der,base64`).
    pub certificate_header: String,
    /// The header carrying the device's address, whose last entry (the one the balancer
    /// added) is the request's source for the refusal budgets and the events: an IP address,
    /// or an address and port. Empty: the source is the balancer's address.
    pub address_header: String,
}

impl Default for DeviceProxyConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            certificate_header: "x-client-cert".to_owned(),
            address_header: "x-forwarded-for".to_owned(),
        }
    }
}

/// A TLS protocol version a listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246), with ECDHE and AEAD cipher suites only.
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 (RFC 8446).
    #[serde(rename = "1.3")]
    Tls13,
}

impl Default for DeviceApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            tls_certificate: PathBuf::from("pki/server/tls.pem"),
            tls_key: PathBuf::from("pki/server/tls.key"),
            alternative_tls_certificate: None,
            alternative_tls_key: None,
            tls_versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            activation_codes: false,
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            read_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_connections: 4096,
            max_connections_per_source: 256,
            max_concurrent_requests: 512,
            retry_after_secs: 5,
            max_handshakes: 32,
            handshake_failures_burst: 30,
            handshake_failures_per_minute: 30,
            refusals_burst: 100,
            refusals_per_minute: 60,
            cooldown_secs: 60,
            max_tracked_sources: 65536,
            refusal_summary_secs: 60,
            drain_grace_secs: 0,
            proxy: None,
        }
    }
}

impl DeviceApiConfig {
    /// `read_timeout_secs` as a duration: the time allowed for a TLS handshake, a request head
    /// and a body, each.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }

    /// The budget of failed TLS handshakes of one source.
    pub fn handshake_failures(&self) -> crate::http::Budget {
        crate::http::Budget {
            burst: self.handshake_failures_burst,
            per_minute: self.handshake_failures_per_minute,
            cooldown: Duration::from_secs(self.cooldown_secs),
        }
    }

    /// The budget of refused requests of one source.
    pub fn refusals(&self) -> crate::http::Budget {
        crate::http::Budget {
            burst: self.refusals_burst,
            per_minute: self.refusals_per_minute,
            cooldown: Duration::from_secs(self.cooldown_secs),
        }
    }
}

impl DeviceApiConfig {
    /// The values of this section that load but that `ztp serve` cannot start with, by key:
    /// no TLS version, half an alternative certificate, a proxy listener that would believe
    /// nobody or whose headers are not header names.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.tls_versions.is_empty() {
            problems.push((
                "device_api.tls_versions",
                "empty: list \"1.2\", \"1.3\" or both".to_owned(),
            ));
        }
        if self.alternative_tls_certificate.is_some() != self.alternative_tls_key.is_some() {
            problems.push((
                "device_api.alternative_tls_certificate",
                "needs device_api.alternative_tls_key, and the key its certificate".to_owned(),
            ));
        }
        let Some(proxy) = &self.proxy else {
            return problems;
        };
        if proxy.trusted_proxies.is_empty() {
            problems.push((
                "device_api.proxy.trusted_proxies",
                "empty: list the load balancer's addresses".to_owned(),
            ));
        }
        for (key, name) in [
            (
                "device_api.proxy.certificate_header",
                &proxy.certificate_header,
            ),
            ("device_api.proxy.address_header", &proxy.address_header),
        ] {
            let empty_allowed = key.ends_with("address_header");
            let valid = (empty_allowed && name.is_empty())
                || ::http::HeaderName::from_bytes(name.as_bytes()).is_ok();
            if !valid {
                problems.push((key, format!("{name:?} is not a header name")));
            }
        }
        problems
    }
}

impl AdminApiConfig {
    /// The values of this section that load but that `ztp serve` cannot start with, by key:
    /// half a TLS configuration, client certificates without HTTPS.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        match (&self.tls_certificate, &self.tls_key) {
            (Some(_), None) => problems.push((
                "admin_api.tls_key",
                "missing: admin_api.tls_certificate needs its key".to_owned(),
            )),
            (None, Some(_)) => problems.push((
                "admin_api.tls_certificate",
                "missing: admin_api.tls_key is given without its certificate".to_owned(),
            )),
            _ => {}
        }
        if self.client_ca.is_some() && self.tls_certificate.is_none() {
            problems.push((
                "admin_api.client_ca",
                "client certificates need HTTPS: set admin_api.tls_certificate".to_owned(),
            ));
        }
        problems
    }
}

/// `[admin_api]`: the plain-HTTP administration listener, its bearer token file and the bounds
/// of its requests and CSV imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminApiConfig {
    /// Address and port of the administration listener: plain HTTP on loopback, HTTPS
    /// (`tls_certificate`) anywhere else.
    pub listen: SocketAddr,
    /// The listener's certificate chain (PEM, leaf first): HTTPS. None: plain HTTP, which ztp
    /// warns about off loopback.
    pub tls_certificate: Option<PathBuf>,
    /// Its private key (PEM, PKCS#8), readable by ztp only.
    pub tls_key: Option<PathBuf>,
    /// The CA of administrators' client certificates (PEM): with it, a connection without a
    /// certificate it issued is refused at the handshake (a second factor beside the token).
    pub client_ca: Option<PathBuf>,
    /// The file holding the bearer token, created on first start.
    pub token_file: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Failed authentications allowed from one address per window; beyond, every request from
    /// it without a valid token gets 429 until the window ends (a valid token always passes).
    pub max_failed_auths: u32,
    /// The window, in seconds.
    pub failed_auth_window_secs: u64,
    /// Largest CSV device import, in bytes (larger: 413; see docs/import.md).
    pub max_import_bytes: u64,
    /// Longest CSV row (record) of an import, in bytes (longer: 413).
    pub max_import_row_bytes: u64,
    /// Time for a whole import body to arrive, in seconds (later: 408).
    pub import_deadline_secs: u64,
}

impl Default for AdminApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            tls_certificate: None,
            tls_key: None,
            client_ca: None,
            token_file: PathBuf::from("admin-token"),
            max_body_bytes: 1024 * 1024,
            max_failed_auths: 10,
            failed_auth_window_secs: 60,
            max_import_bytes: 64 * 1024 * 1024,
            max_import_row_bytes: 16 * 1024,
            import_deadline_secs: 600,
        }
    }
}
