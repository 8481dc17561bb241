//! Devices behind a TLS-terminating load balancer. The balancer verifies the device's
//! handshake and forwards its requests over plain HTTP to a listener of their own, with the
//! device's certificate in a header ([`certificate`]) and its address in another. Each
//! request is then a connection of its own to the device API: its certificate verified as a
//! direct handshake's would be (the chain to the manufacturer's CAs, the CRLs, the identity),
//! on every request (a balancer's connection carries many devices' requests), and its source
//! (for the refusal budgets and the events) the address the balancer forwards. Only the
//! configured proxy addresses are believed: from any other source a request is refused, its
//! headers unread.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{HeaderName, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use ipnet::IpNet;
use ztp_yang::{Encoding, ErrorTag, ErrorType};

use super::DeviceApi;
use super::media::{Problem, response_encoding};
use crate::auth::device::AuthFailure;
use crate::http::{Body, ConnectionInfo, EarlyError, Handler};

pub mod certificate;

/// What the balancer forwards, and from where it is believed.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// The balancer's addresses.
    pub proxies: Vec<IpNet>,
    /// The header carrying the device's certificate.
    pub certificate: HeaderName,
    /// The header carrying the device's address (its last entry); `None`: the source is the
    /// balancer's address.
    pub address: Option<HeaderName>,
    /// The Retry-After of a request from a benched source, in seconds (its cool-down).
    pub cooldown_secs: u64,
}

/// The device API behind a load balancer: each request authenticated from what the balancer
/// forwards.
#[derive(Debug)]
pub struct ForwardedDeviceApi {
    api: Arc<DeviceApi>,
    forwarding: Forwarding,
}

impl ForwardedDeviceApi {
    /// `api` for the requests a balancer forwards as `forwarding` says.
    pub fn new(api: Arc<DeviceApi>, forwarding: Forwarding) -> Self {
        Self { api, forwarding }
    }
}

impl Handler for ForwardedDeviceApi {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Arc<ConnectionInfo>,
    ) -> Response<Body> {
        let device = self
            .forwarding
            .device_of(request.headers(), connection.peer);
        if self.api.strikes.benched(device.peer.ip()) {
            // A direct connection from a benched source is closed before its handshake; the
            // balancer's carries other devices' requests too: only this one is refused.
            let encoding = response_encoding(request.headers(), None).unwrap_or(Encoding::Json);
            let mut response = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::Transport,
                ErrorTag::ResourceDenied,
                "too many refused requests from this source; retry later",
            )
            .into_response(encoding);
            response.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(self.forwarding.cooldown_secs),
            );
            return response;
        }
        Arc::clone(&self.api)
            .handle(request, Arc::new(device))
            .await
    }

    fn early_error(&self, error: &EarlyError, connection: &ConnectionInfo) -> Response<Body> {
        // Malformed heads on this listener come from the balancer itself: answered, but no
        // strike (a strike would count against the balancer, not a device).
        let _ = connection;
        super::media::early_problem(error)
    }
}

impl Forwarding {
    /// The device a request on the balancer's connection from `proxy` stands for: its source
    /// and forwarded chain, or (from another source than a proxy, or with headers that do
    /// not parse) the refusal its authentication gives.
    fn device_of(&self, headers: &HeaderMap, proxy: SocketAddr) -> ConnectionInfo {
        if !self.proxies.iter().any(|net| net.contains(&proxy.ip())) {
            return refused(proxy, AuthFailure::NotAProxy(proxy.ip()));
        }
        let peer = match self.source(headers) {
            Ok(Some(peer)) => peer,
            Ok(None) => proxy,
            Err(failure) => return refused(proxy, failure),
        };
        let Some(value) = headers.get(&self.certificate) else {
            return ConnectionInfo::forwarded(peer, Vec::new());
        };
        match certificate::chain(value.as_bytes()) {
            Ok(chain) => ConnectionInfo::forwarded(peer, chain),
            Err(error) => refused(
                peer,
                AuthFailure::Forwarded(format!("the {} header: {error}", self.certificate)),
            ),
        }
    }

    /// The device's address the balancer forwards (the last entry of the address header):
    /// `None` without an address header configured or sent.
    fn source(&self, headers: &HeaderMap) -> Result<Option<SocketAddr>, AuthFailure> {
        let Some(name) = &self.address else {
            return Ok(None);
        };
        // A header sent several times counts as one list, in order.
        let Some(last) = headers.get_all(name).iter().next_back() else {
            return Ok(None);
        };
        let entry = last
            .to_str()
            .ok()
            .and_then(|list| list.rsplit(',').next())
            .map(str::trim)
            .unwrap_or_default();
        address(entry).map(Some).ok_or_else(|| {
            AuthFailure::Forwarded(format!("the {name} header's last entry is not an address"))
        })
    }
}

/// `entry` as an address: `192.0.2.7`, `192.0.2.7:4711`, `2001:db8::7`, `[2001:db8::7]:4711`
/// (port 0 when none is given).
fn address(entry: &str) -> Option<SocketAddr> {
    if let Ok(address) = entry.parse::<SocketAddr>() {
        return Some(address);
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

/// A request from `peer` whose authentication is `failure`.
fn refused(peer: SocketAddr, failure: AuthFailure) -> ConnectionInfo {
    let info = ConnectionInfo::forwarded(peer, Vec::new());
    let _ = info.device.set(Err(failure));
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarding() -> Forwarding {
        Forwarding {
            proxies: vec!["127.0.0.2/32".parse().unwrap()],
            certificate: HeaderName::from_static("x-client-cert"),
            address: Some(HeaderName::from_static("x-forwarded-for")),
            cooldown_secs: 60,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    const PROXY: &str = "127.0.0.2:40000";

    fn verdict(info: &ConnectionInfo) -> Option<String> {
        info.device.get().map(|v| {
            v.as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
    }

    #[test]
    fn a_request_from_another_source_than_a_proxy_is_refused_whatever_it_claims() {
        let claims = headers(&[
            ("x-client-cert", "TUlJQg=="),
            ("x-forwarded-for", "192.0.2.7"),
        ]);
        let info = forwarding().device_of(&claims, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(info.peer, "127.0.0.1:5000".parse().unwrap());
        assert!(info.client_chain.is_empty());
        assert!(verdict(&info).unwrap().contains("not a configured proxy"));
    }

    #[test]
    fn the_source_is_the_last_forwarded_address_and_the_chain_the_header_s() {
        let forwarded = headers(&[
            ("x-client-cert", "TUlJQg=="),
            ("x-forwarded-for", "203.0.113.9, 198.51.100.1"),
            ("x-forwarded-for", "192.0.2.7"),
        ]);
        let info = forwarding().device_of(&forwarded, PROXY.parse().unwrap());
        assert_eq!(info.peer, "192.0.2.7:0".parse().unwrap());
        assert_eq!(info.client_chain.len(), 1);
        assert_eq!(verdict(&info), None, "left to the verifier");

        for (entry, expected) in [
            ("192.0.2.7:4711", "192.0.2.7:4711"),
            ("[2001:db8::7]:4711", "[2001:db8::7]:4711"),
            ("2001:db8::7", "[2001:db8::7]:0"),
        ] {
            let info = forwarding().device_of(
                &headers(&[("x-forwarded-for", entry)]),
                PROXY.parse().unwrap(),
            );
            assert_eq!(info.peer, expected.parse().unwrap(), "{entry}");
        }
        // Without the header, the balancer's own address.
        let info = forwarding().device_of(&HeaderMap::new(), PROXY.parse().unwrap());
        assert_eq!(info.peer, PROXY.parse().unwrap());
        assert!(info.client_chain.is_empty());
        assert_eq!(verdict(&info), None, "no certificate: the verifier says so");
    }

    #[test]
    fn headers_that_do_not_parse_are_refused_with_their_reason() {
        let cases = [
            (
                headers(&[("x-forwarded-for", "somewhere")]),
                "x-forwarded-for header's last entry is not an address",
            ),
            (
                headers(&[("x-client-cert", "not a certificate!")]),
                "the x-client-cert header: the header holds neither PEM nor base64 DER",
            ),
        ];
        for (headers, reason) in cases {
            let info = forwarding().device_of(&headers, PROXY.parse().unwrap());
            let verdict = verdict(&info).expect("refused");
            assert!(verdict.contains(reason), "{verdict}");
        }
    }
}
