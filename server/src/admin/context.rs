//! What handlers work with: the API's context ([`Ctx`]: the store, the workers, the policies
//! and limits), a request's parts as the router hands them over ([`Call`]: the principal, path
//! parameters, query, body), the shapes of handler functions the route table holds, and the
//! helpers handlers share (JSON answers, pages, lookups that answer 404).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use ztp_certs::Serial;

use bytes::Bytes;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Deserializer, Serialize};
use ztp_yang::{BootstrapServer, ConveyedInformation, Document, RedirectInformation};

use super::access::narrow;
use super::audit::ACTOR;
use super::error::{ApiError, ApiResult};
use super::import::ImportLimits;
use super::reload::Reload;
use super::request::{self, Request};
use crate::address_policy::AddressPolicy;
use crate::http::{Body, response};
use crate::nms::Registrar;
use crate::store::{CustomerRecord, DeviceRecord, EventKind, NewEvent, Store};
use crate::telemetry::Draining;
use crate::telemetry::metrics::Metrics;
use crate::webhooks::Dispatcher;

/// The future a handler returns, borrowing the context.
pub type Reply<'a> = Pin<Box<dyn Future<Output = ApiResult> + Send + 'a>>;

/// A handler of a request: the context and the request's parts, admitted by the router.
pub type HandlerFn = for<'a> fn(&'a Ctx, Call) -> Reply<'a>;

/// A handler that takes nothing of the request (probes, documentation).
pub type BareFn = for<'a> fn(&'a Ctx) -> Reply<'a>;

/// A handler of the route table from `async fn(&Ctx, Call) -> ApiResult`.
macro_rules! handler {
    ($f:path) => {
        |ctx, call| Box::pin($f(ctx, call))
    };
}

/// A handler of the route table from `async fn(&Ctx, Call, T) -> ApiResult`: the body is typed
/// as `T` (400 when it is not one) before the function runs, and noted for the audit entry.
macro_rules! typed {
    ($t:ty, $f:path) => {
        |ctx, call| {
            Box::pin(async move {
                let body = call.typed::<$t>()?;
                $f(ctx, call, body).await
            })
        }
    };
}

/// A handler of the route table from `async fn(&Ctx) -> ApiResult`.
macro_rules! bare {
    ($f:path) => {
        |ctx| Box::pin($f(ctx))
    };
}

pub(super) use {bare, handler, typed};

/// The admin API's state: what every handler may use.
#[derive(Debug)]
pub struct Ctx {
    /// The database.
    pub(super) store: Store,
    /// The registration outbox, woken when registrations are retried.
    pub(super) outbox: Arc<Registrar>,
    /// The webhook dispatcher, which posts test pings and is woken by retries.
    pub(super) webhooks: Arc<Dispatcher>,
    /// Where NMS hosts may be.
    pub(super) nms_hosts: AddressPolicy,
    /// Time for a body to arrive (and, in an import, between its chunks).
    pub(super) read_timeout: Duration,
    /// Limits of a CSV device import.
    pub(super) import_limits: ImportLimits,
    /// Whether the server is draining (the readiness probe says so).
    pub(super) draining: Draining,
    /// The metrics `/metrics` exposes.
    pub(super) metrics: Metrics,
    /// The server's reload of its certificates and trust material.
    pub(super) reload: Arc<dyn Reload>,
    /// The PKCS#11 modules owners' signing keys may be on.
    pub(super) owner_key_modules: Vec<std::path::PathBuf>,
    /// The files of the CAs whose vouchers may be imported.
    pub(super) voucher_import_anchors: Vec<std::path::PathBuf>,
}

/// A request's body, as its route declares it.
#[derive(Debug)]
pub(super) enum Payload {
    /// Read whole (within the listener's limit): empty, or JSON to type.
    Read(Bytes),
    /// Streamed, for the handler to read (a CSV import).
    Stream(Incoming),
}

/// A request as the router hands it to a handler: authenticated, admitted by its route's
/// access and tenancy (who made it is the audit's business, not the handler's).
#[derive(Debug)]
pub struct Call {
    /// The path parameters, by the names of the route's template.
    pub(super) params: Vec<(&'static str, String)>,
    /// The query, decoded; a customer filter is narrowed to the token's customer.
    pub(super) query: HashMap<String, String>,
    /// The customer a body's filter is narrowed to: the token's, on a route whose tenancy is
    /// by filter.
    pub(super) narrow_to: Option<String>,
    /// The body, as the route's handler takes it.
    pub(super) body: Payload,
}

impl Call {
    /// The path parameter `name` (`{name}` in the route's template; the table test holds each
    /// handler's names to its template, so a missing one is empty).
    pub(super) fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The body as its request type `T` (see `request`), noted for the audit log of the
    /// running change as given, then its customer filter narrowed as tenancy requires.
    pub(super) fn typed<T: Request>(&self) -> Result<T, ApiError> {
        let Payload::Read(body) = &self.body else {
            return Err(ApiError::bad_request("this request takes a JSON body"));
        };
        let mut typed = request::typed::<T>(body)?;
        super::audit::note_request(&typed);
        if let Some(own) = &self.narrow_to
            && let Some(filter) = typed.filter()
        {
            *filter = Some(narrow(own, filter.as_deref())?);
        }
        Ok(typed)
    }
}

impl Ctx {
    /// What time it is (Unix ms), by the clock the server was built with.
    pub(super) fn now_ms(&self) -> i64 {
        self.outbox.clock().now_ms()
    }

    /// Records a change, with the token and address that made it (an event in the device's
    /// journal when `serial` is given, and the line its audit entry's summary shows).
    pub(super) async fn audit(&self, serial: Option<&str>, detail: String) {
        let actor = ACTOR
            .try_with(|a| {
                a.said.borrow_mut().push(detail.clone());
                (a.principal.clone(), a.peer)
            })
            .ok();
        let detail = match &actor {
            Some((principal, _)) => format!(
                "{detail} (by token {}, {})",
                principal.token, principal.role
            ),
            None => detail,
        };
        tracing::info!(serial, "admin: {detail}");
        let event = NewEvent {
            serial: serial.and_then(|s| Serial::parse(s).ok()),
            kind: EventKind::AdminChange,
            status: None,
            peer: actor.map(|(_, peer)| peer.to_string()),
            detail,
            notice: None,
            request_id: None,
        };
        if let Err(error) = self.store.record(&event).await {
            tracing::error!(%error, "could not record an admin event");
        }
    }

    /// The customer `name`, or 404.
    pub(super) async fn customer_record(&self, name: &str) -> Result<CustomerRecord, ApiError> {
        self.store
            .customer(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("customer {name:?} does not exist")))
    }

    /// The device `serial`, or 404.
    pub(super) async fn device_record(&self, serial: &str) -> Result<DeviceRecord, ApiError> {
        self.store
            .device(serial)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("device {serial:?} does not exist")))
    }
}

/// `value` as a pretty JSON answer with `status`.
pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => response(status, "application/json", body),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a response");
            crate::http::empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Absent → `None`, `null` → `Some(None)`.
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A query string's pairs, decoded.
pub(super) fn query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// Decodes `%XX` escapes and `+` (query strings only carry names and serials here).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match hex_digit(bytes[i + 1]).zip(hex_digit(bytes[i + 2])) {
                    Some((high, low)) => {
                        out.push(high << 4 | low);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// One page of `items`, which are ordered by `key`: those after `?after=` (a key), at most
/// `?limit=` (default 100, at most 1000).
pub(super) fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    query: &HashMap<String, String>,
) -> Result<Vec<T>, ApiError> {
    let limit = usize::try_from(limit(query, 100, 1000)?).unwrap_or(usize::MAX);
    let after = query.get("after").map(String::as_str);
    Ok(items
        .into_iter()
        .filter(|item| after.is_none_or(|a| key(item) > a))
        .take(limit)
        .collect())
}

/// `?limit=`: `default` when absent, 400 outside 1 to `max`.
pub(super) fn limit(
    query: &HashMap<String, String>,
    default: u32,
    max: u32,
) -> Result<u32, ApiError> {
    match query.get("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {max}"))),
    }
}

/// Refuses `name` for a new `what` when it would be taken for one of `existing` (409): the
/// same name, or one that differs only in case, separators or lookalike characters.
pub(super) fn distinct<'a>(
    what: &str,
    name: &str,
    existing: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    match crate::domain::name::lookalike(name, existing) {
        None => Ok(()),
        Some(same) if same == name => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{what} {name:?} already exists"),
        )),
        Some(other) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{what} name {name:?} would be taken for the existing {what} {other:?}: choose \
                 one that differs in more than case, separators or lookalike characters"
            ),
        )),
    }
}

/// A certificate pin as stored: 64 lower-case hex digits (colons and case are the client's).
pub(super) fn normalize_pin(pin: &str) -> Result<String, ApiError> {
    let hex: String = pin
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(ApiError::bad_request(
            "certificate_pin must be a SHA-256 fingerprint: 64 hex digits, colons allowed",
        ))
    }
}

/// Checks a host (an `inet:host`, as the conveyed-information schema defines it) and a port.
pub(super) fn check_address(what: &str, host: &str, port: u16) -> Result<(), ApiError> {
    let info = ConveyedInformation::Redirect(RedirectInformation {
        bootstrap_servers: vec![BootstrapServer::new(host)],
    });
    info.validate()
        .map_err(|e| ApiError::bad_request(format!("{what} {host:?}: {e}")))?;
    if port == 0 {
        return Err(ApiError::bad_request("port must be 1 to 65535"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = query(Some("serial=SN%2D1&kind=bootstrap-refused&x"));
        assert_eq!(q["serial"], "SN-1");
        assert_eq!(q["kind"], "bootstrap-refused");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            percent_decode("%é"),
            "%é",
            "no panic inside a UTF-8 sequence"
        );
    }

    #[test]
    fn pages_follow_the_key_order() {
        let items = vec!["a", "b", "c", "d"];
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        fn key<'a>(s: &'a &'static str) -> &'a str {
            s
        }
        assert_eq!(page(items.clone(), key, &q(&[])).unwrap(), items);
        assert_eq!(
            page(items.clone(), key, &q(&[("after", "a"), ("limit", "2")])).unwrap(),
            ["b", "c"]
        );
        assert!(page(items, key, &q(&[("limit", "0")])).is_err());
    }

    #[test]
    fn pins_are_normalized_fingerprints() {
        let colons = ["AB"; 32].join(":");
        assert_eq!(normalize_pin(&colons).unwrap(), "ab".repeat(32));
        assert!(normalize_pin("abc").is_err());
        assert!(normalize_pin(&"g".repeat(64)).is_err());
    }
}
