//! The administration API: JSON over HTTP on its own listener, bearer-token protected.
//!
//! Its routes are listed in [`routes::ROUTES`] (method, path template, summary): the router
//! answers 404 for a path no route has and 405 (with `Allow`) for a method it lacks, before any
//! handler runs. The OpenAPI document generated from the code (`openapi`) is served at
//! `GET /api/v1/openapi.json` and tested to list exactly those routes; `routes` says how to add
//! one.
//!
//! Every request but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`: the
//! bootstrap token `ztp serve` writes to its data directory, or a token made through
//! `/tokens`. A request passes, in this order: authentication (401), the route table (404,
//! 405), the route's access for the token's role (403, [`routes::Access::admits`]), tenancy
//! (another customer's objects answer 404, `access`), then its body is typed (400, `request`)
//! and its handler runs. Failed authentications are recorded and limited per address.
//!
//! Customers, devices, NMS connections, the registration outbox, license pools, tokens, the
//! audit trail, tenancy, bulk import, events, device timelines and webhooks are in
//! `customers`, `devices`, `nms`, `registrations`, `licenses`, `tokens`, `audit`, `access`,
//! `import`, `events`, `timeline` and `webhooks`; request bodies are typed in `request`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use http::header::{ALLOW, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Deserializer, Serialize};
use ztp_yang::{BootstrapServer, ConveyedInformation, Document, RedirectInformation};

use crate::address_policy::AddressPolicy;
use crate::domain::access::Principal;
use crate::http::{Body, BodyError, ConnectionInfo, EarlyError, Handler, read_body, response};
use crate::nms::Registrar;
use crate::store::timestamp;
use crate::store::{CustomerRecord, DeviceRecord, EventKind, NewEvent, Store, StoreError};
use crate::webhooks::Dispatcher;
use audit::{ACTOR, Target};
use devices::device_view;
use request::expect_empty;
use routes::{Access, NoRoute, Refused, RequestBody};

/// The API version prefix.
pub const PREFIX: &str = "/api/v1";

mod access;
mod audit;
pub mod client;
mod customers;
mod devices;
mod events;
mod import;
mod licenses;
mod nms;
pub mod openapi;
mod registrations;
mod request;
pub mod routes;
mod timeline;
mod tokens;
mod webhooks;

pub use audit::AuditEntryView;
pub use customers::{
    CertificateView, CreateCustomer, CustomerView, PatchCustomer, RuleSet, TargetView,
};
pub use devices::{CreateDevice, DeviceView, PatchDevice};
pub use events::{EventView, ProgressView};
pub use import::{ImportLimits, ImportReport, RowError, check_import};
pub use licenses::{
    CreatePool, ExpiringView, LicenseView, PatchPool, PoolView, RevokeLicense, TransferLicenses,
    UsageRow,
};
pub use nms::{
    ConnectionStatusView, CreateNms, FingerprintView, NmsView, PatchNms, ProbeStepView, ProbeView,
};
pub use registrations::{RegistrationView, RetriedView, RetryRegistrations};
pub use timeline::TimelineEntry;
pub use tokens::{CreateToken, CreatedToken, TokenView};
pub use webhooks::{
    CreateWebhook, DeliveryView, PatchWebhook, WebhookStatusView, WebhookTestView, WebhookView,
    WebhookWithSecret,
};

/// An error answer: `{"error": {"status": 404, "message": "…"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's parts.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// HTTP status.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

/// Absent → `None`, `null` → `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An API failure.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    /// For 405: the methods the resource has (the `Allow` header).
    allow: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            allow: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<StoreError> for ApiError {
    /// What the client is told: the object's problem in the API's terms, or that the database
    /// is busy or failed; the database's own words (SQL, files) go to the log only.
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => Self::not_found(e.to_string()),
            StoreError::Conflict { .. } | StoreError::InUse { .. } => {
                Self::new(StatusCode::CONFLICT, e.to_string())
            }
            e if e.is_disk_full() => {
                tracing::error!(error = %e, "admin API: the database's disk is full; free space \
                    on its volume (writes succeed again as soon as there is room)");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database's disk is full: nothing was changed; try again once space is \
                     freed",
                )
            }
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "admin API: the database is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is busy or unavailable; try again shortly",
                )
            }
            _ => {
                tracing::error!(error = %e, "admin API store failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request failed on the server's side (see its log)",
                )
            }
        }
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.to_string())
    }
}

impl From<NoRoute> for ApiError {
    fn from(e: NoRoute) -> Self {
        let status = match &e {
            NoRoute::UnknownPath { .. } => StatusCode::NOT_FOUND,
            NoRoute::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        };
        Self {
            status,
            message: e.to_string(),
            allow: e.allow(),
        }
    }
}

type ApiResult = Result<Response<Body>, ApiError>;

/// Limits of the admin API.
#[derive(Debug, Clone, Copy)]
pub struct AdminLimits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Time for a body to arrive.
    pub read_timeout: Duration,
    /// Failed authentications allowed per address and window.
    pub max_failed_auths: u32,
    /// The window.
    pub failed_auth_window: Duration,
    /// Limits of a CSV device import.
    pub import: ImportLimits,
}

/// The admin API.
#[derive(Debug)]
pub struct AdminApi {
    store: Store,
    outbox: Arc<Registrar>,
    webhooks: Arc<Dispatcher>,
    /// Where NMS hosts may be.
    nms_hosts: AddressPolicy,
    token_digest: Vec<u8>,
    failures: tokens::FailedLogins,
    max_body_bytes: usize,
    read_timeout: Duration,
    import_limits: ImportLimits,
}

impl Handler for AdminApi {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Arc<ConnectionInfo>,
    ) -> Response<Body> {
        let peer = connection.peer;
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        match self.route(request, peer).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%peer, %method, path, status = error.status.as_u16(), "{}", error.message);
                let mut response = json(
                    error.status,
                    &ErrorBody {
                        error: ErrorDetail {
                            status: error.status.as_u16(),
                            message: error.message,
                        },
                    },
                );
                let headers = response.headers_mut();
                match error.status {
                    StatusCode::TOO_MANY_REQUESTS => {
                        headers.insert(RETRY_AFTER, HeaderValue::from_static("60"));
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    }
                    StatusCode::UNAUTHORIZED => {
                        headers.insert(
                            WWW_AUTHENTICATE,
                            HeaderValue::from_static("Bearer realm=\"ztp admin API\""),
                        );
                    }
                    _ => {}
                }
                if let Some(allow) = error.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                    response.headers_mut().insert(ALLOW, allow);
                }
                response
            }
        }
    }

    /// A request hyper would refuse (see [`crate::http::early_errors`]): the API's JSON error.
    fn early_error(&self, error: &EarlyError, _connection: &ConnectionInfo) -> Response<Body> {
        json(
            error.status,
            &ErrorBody {
                error: ErrorDetail {
                    status: error.status.as_u16(),
                    message: error.message.clone(),
                },
            },
        )
    }
}

impl AdminApi {
    /// The API over the outbox's store, accepting the bootstrap `token` and stored tokens;
    /// webhook tests go through `webhooks`; NMS hosts are held to `nms_hosts`.
    pub fn new(
        outbox: Arc<Registrar>,
        webhooks: Arc<Dispatcher>,
        nms_hosts: AddressPolicy,
        token: &str,
        limits: AdminLimits,
    ) -> Self {
        let AdminLimits {
            max_body_bytes,
            read_timeout,
            ..
        } = limits;
        Self {
            store: outbox.store().clone(),
            outbox,
            webhooks,
            nms_hosts,
            token_digest: digest::digest(&digest::SHA256, token.as_bytes())
                .as_ref()
                .to_vec(),
            failures: tokens::FailedLogins::new(limits.max_failed_auths, limits.failed_auth_window),
            max_body_bytes,
            read_timeout,
            import_limits: limits.import,
        }
    }

    async fn route(&self, request: Request<Incoming>, peer: SocketAddr) -> ApiResult {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        // The route table decides what exists: a request it does not admit reaches no handler.
        // Only the probes are looked up before the token is checked, so that an unauthenticated
        // client learns nothing about other paths.
        let found = routes::find(&method, &path);
        if let Ok(route) = found
            && route.access == Access::Public
        {
            return self.probe(route.path).await;
        }
        let authorization = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let principal = self
            .authenticate(authorization.as_deref(), peer.ip())
            .await?;
        let route = found?;
        route.access.admits(&principal, &method)?;
        if route.access == Access::AnyToken {
            return match route.path {
                openapi::PATH => openapi::serve(),
                _ => Err(no_resource(&method, &path)),
            };
        }
        let mut query = query(request.uri().query());
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return Err(ApiError::not_found(format!("no resource at {path}")));
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let full: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let customer = self
            .tenancy(&principal, route, &method, &full, &mut query)
            .await?;
        // What a change touches is worked out before it runs; a read touches nothing.
        let target = (method != Method::GET).then(|| Target::new(&method, &segments, customer));
        if route.body == RequestBody::Csv {
            // A streamed body: not read into memory; limited by the import's own limits.
            let body = request.into_body();
            return self
                .recorded(&principal, peer, target, self.import_devices(body, &query))
                .await;
        }
        let (_, body) = read_body(request, self.max_body_bytes, self.read_timeout)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(_) => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
                }
                _ => ApiError::bad_request(e.to_string()),
            })?;
        if route.body == RequestBody::Empty {
            expect_empty(&body)?;
        }
        self.recorded(
            &principal,
            peer,
            target,
            self.dispatch(&principal, &method, &path, &segments, &query, &body),
        )
        .await
    }

    async fn dispatch(
        &self,
        principal: &Principal,
        method: &Method,
        path: &str,
        segments: &[&str],
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> ApiResult {
        match (method, segments) {
            (&Method::GET, ["audit"]) => self.audit_log(query).await,
            (_, ["tokens", rest @ ..]) => self.tokens_route(method, rest, query, body).await,
            (&Method::GET, ["customers"]) => self.list_customers(query).await,
            (&Method::POST, ["customers"]) => self.create_customer(parse(body)?).await,
            (&Method::GET, ["customers", name]) => {
                Ok(json(StatusCode::OK, &self.customer_view(name).await?))
            }
            (&Method::PATCH, ["customers", name]) => self.patch_customer(name, parse(body)?).await,
            (&Method::DELETE, ["customers", name]) => {
                self.store.delete_customer(name).await?;
                self.audit(None, format!("deleted customer {name}")).await;
                Ok(crate::http::empty(StatusCode::NO_CONTENT))
            }
            (&Method::GET, ["customers", name, "owner-ca"]) => {
                let record = self.customer_record(name).await?;
                Ok(response(
                    StatusCode::OK,
                    "application/x-pem-file",
                    record.owner_ca_pem,
                ))
            }
            (&Method::GET, ["customers", name, "targets"]) => {
                self.customer_record(name).await?;
                Ok(json(StatusCode::OK, &self.target_views(name).await?))
            }
            (&Method::POST, ["customers", name, "targets"]) => {
                self.put_target(name, parse(body)?).await
            }
            (&Method::DELETE, ["customers", name, "targets", target]) => {
                self.delete_target(name, target).await
            }
            (&Method::GET, ["customers", name, "rules"]) => {
                self.customer_record(name).await?;
                Ok(json(StatusCode::OK, &self.store.rules(name).await?))
            }
            (&Method::PUT, ["customers", name, "rules"]) => {
                self.set_rules(name, parse(body)?).await
            }
            (_, ["customers", customer, "nms", rest @ ..]) => {
                self.nms_route(method, customer, rest, query, body).await
            }
            (_, ["customers", customer, "webhooks", rest @ ..]) => {
                self.webhooks_route(method, customer, rest, query, body)
                    .await
            }
            (_, ["customers", customer, "license-pools", rest @ ..]) => {
                self.pools_route(method, customer, rest, query, body).await
            }
            (&Method::GET, ["devices", serial, "licenses"]) => self.device_licenses(serial).await,
            (&Method::GET, ["devices", serial, "timeline"]) => self.timeline(serial).await,
            (&Method::GET, ["customers", customer, "licenses", "expiring"]) => {
                self.expiring(customer, query).await
            }
            (&Method::GET, ["customers", customer, "license-usage"]) => {
                self.usage(customer, query).await
            }
            (&Method::POST, ["devices", serial, "licenses", "transfer"]) => {
                self.transfer_licenses(serial, parse(body)?).await
            }
            (&Method::POST, ["licenses", id, "revoke"]) => {
                self.revoke_license(id, parse(body)?).await
            }
            (&Method::GET, ["ssh-fingerprint"]) => {
                nms::ssh_fingerprint(&self.nms_hosts, query).await
            }
            (_, ["registrations", rest @ ..]) => {
                self.registrations_route(principal, method, rest, query, body)
                    .await
            }
            (&Method::GET, ["devices"]) => self.list_devices(query).await,
            (&Method::POST, ["devices"]) => self.create_device(parse(body)?).await,
            (&Method::GET, ["devices", serial]) => {
                let device = self.device_record(serial).await?;
                Ok(json(StatusCode::OK, &device_view(device)))
            }
            (&Method::PATCH, ["devices", serial]) => self.patch_device(serial, parse(body)?).await,
            (&Method::DELETE, ["devices", serial]) => {
                self.store.delete_device(serial).await?;
                self.audit(Some(serial), format!("deleted device {serial}"))
                    .await;
                Ok(crate::http::empty(StatusCode::NO_CONTENT))
            }
            (&Method::GET, ["devices", serial, "progress"]) => self.progress(serial).await,
            (&Method::GET, ["events"]) => self.list_events(query).await,
            _ => Err(no_resource(method, path)),
        }
    }

    /// `GET /healthz` and `GET /readyz`, which need no token.
    async fn probe(&self, path: &str) -> ApiResult {
        match path {
            "/healthz" => Ok(response(StatusCode::OK, "text/plain", "ok\n")),
            "/readyz" => match self.store.ping().await {
                Ok(()) => Ok(response(StatusCode::OK, "text/plain", "ready\n")),
                Err(e) => Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.to_string(),
                )),
            },
            _ => Err(no_resource(&Method::GET, path)),
        }
    }

    /// Records a change, with the token and address that made it.
    async fn audit(&self, serial: Option<&str>, detail: String) {
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
            serial: serial.map(str::to_owned),
            kind: EventKind::AdminChange,
            status: None,
            peer: actor.map(|(_, peer)| peer.to_string()),
            detail,
            notice: None,
        };
        if let Err(error) = self.store.record(&event).await {
            tracing::error!(%error, "could not record an admin event");
        }
    }

    async fn customer_record(&self, name: &str) -> Result<CustomerRecord, ApiError> {
        self.store
            .customer(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("customer {name:?} does not exist")))
    }

    async fn device_record(&self, serial: &str) -> Result<DeviceRecord, ApiError> {
        self.store
            .device(serial)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("device {serial:?} does not exist")))
    }
}

/// A route in the table with no handler: a bug, answered as the router answers unknown paths
/// (the e2e test `openapi::every_documented_route_is_answered` looks for this message).
fn no_resource(method: &Method, path: &str) -> ApiError {
    ApiError::not_found(format!("no resource {method} {path}"))
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => response(status, "application/json", body),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a response");
            crate::http::empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn query(query: Option<&str>) -> HashMap<String, String> {
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
fn page<T>(
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

fn limit(query: &HashMap<String, String>, default: u32, max: u32) -> Result<u32, ApiError> {
    match query.get("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1 to {max}"))),
    }
}

/// `body` as its request type `T` (see `request`), noted for the audit log of the running
/// change.
fn parse<T: request::Request>(body: &[u8]) -> Result<T, ApiError> {
    let typed = request::typed::<T>(body)?;
    audit::note_request(&typed);
    Ok(typed)
}

/// Refuses `name` for a new `what` when it would be taken for one of `existing` (409): the
/// same name, or one that differs only in case, separators or lookalike characters.
fn distinct<'a>(
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

fn normalize_pin(pin: &str) -> Result<String, ApiError> {
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
fn check_address(what: &str, host: &str, port: u16) -> Result<(), ApiError> {
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
