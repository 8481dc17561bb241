//! The router: the one place a request passes through, by its route's declarations.
//!
//! In this order: the route table finds the route (only the probes before the token is
//! checked, so that an unauthenticated client learns nothing of other paths); the token is
//! authenticated (401, 429; `auth::token`); the table answers an unknown path 404 and an
//! unknown method 405; the route's access admits the token's role (403); its tenancy finds the
//! customer the object belongs to and holds a token limited to a customer to its own (404, as
//! for a missing object; `access`); the body is read and typed as the route declares (400,
//! 413); the handler runs; the change is recorded in the audit log as the route declares
//! (`audit`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::PREFIX;
use super::access::tenancy;
use super::audit::{Target, recorded};
use super::context::{Call, Ctx, Payload, json, query};
use super::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use super::import::ImportLimits;
use super::reload::Reload;
use super::request::expect_empty;
use super::routes::{self, Access, Handler, Tenancy};
use crate::address_policy::AddressPolicy;
use crate::auth::token::TokenAuthenticator;
use crate::http::{self as transport, Body, BodyError, ConnectionInfo, EarlyError, read_body};
use crate::nms::Registrar;
use crate::telemetry::Draining;
use crate::telemetry::metrics::Metrics;
use crate::webhooks::Dispatcher;

/// Limits of the admin API.
#[derive(Debug, Clone, Copy)]
pub struct AdminLimits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Time for a body to arrive.
    pub read_timeout: Duration,
    /// Failed authentications allowed per address and window.
    pub max_failed_auths: u32,
    /// The window those failures are counted in; the count starts again after it.
    pub failed_auth_window: Duration,
    /// Limits of a CSV device import.
    pub import: ImportLimits,
}

/// The admin API: the listener's handler, routing each request by the route table.
#[derive(Debug)]
pub struct AdminApi {
    ctx: Ctx,
    tokens: TokenAuthenticator,
    max_body_bytes: usize,
}

impl AdminApi {
    /// The API over the outbox's store, accepting the bootstrap `token` and stored tokens;
    /// webhook tests go through `webhooks`; NMS hosts are held to `nms_hosts`; the readiness
    /// probe reads `draining`; `/metrics` exposes `metrics`; `/api/v1/reload` runs `reload`.
    pub fn new(
        outbox: Arc<Registrar>,
        webhooks: Arc<Dispatcher>,
        nms_hosts: AddressPolicy,
        token: &str,
        limits: AdminLimits,
        draining: Draining,
        metrics: Metrics,
        reload: Arc<dyn Reload>,
    ) -> Self {
        let store = outbox.store().clone();
        Self {
            tokens: TokenAuthenticator::new(
                store.clone(),
                token,
                limits.max_failed_auths,
                limits.failed_auth_window,
                Arc::clone(outbox.clock()),
            ),
            ctx: Ctx {
                store,
                outbox,
                webhooks,
                nms_hosts,
                read_timeout: limits.read_timeout,
                import_limits: limits.import,
                draining,
                metrics,
                reload,
                owner_key_modules: Vec::new(),
                voucher_import_anchors: Vec::new(),
            },
            max_body_bytes: limits.max_body_bytes,
        }
    }

    /// Owners' signing keys may be on the PKCS#11 `modules` (`manufacturer.owner_key_modules`).
    pub fn with_owner_key_modules(mut self, modules: Vec<std::path::PathBuf>) -> Self {
        self.ctx.owner_key_modules = modules;
        self
    }

    /// Vouchers may be imported when signed under one of the CAs in these files (read at each
    /// import, so a changed file needs no restart).
    pub fn with_voucher_import_anchors(mut self, files: Vec<std::path::PathBuf>) -> Self {
        self.ctx.voucher_import_anchors = files;
        self
    }

    async fn route(&self, request: Request<Incoming>, peer: SocketAddr) -> ApiResult {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let found = routes::find(&method, &path);
        if let Ok(route) = found
            && route.access == Access::Public
            && let Handler::Bare(handler) = route.handler
        {
            return handler(&self.ctx).await;
        }
        let authorization = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = self.tokens.authenticate(authorization, peer.ip()).await?;
        let route = found?;
        route.access.admits(&principal, &method)?;
        let handler = match route.handler {
            Handler::Bare(handler) => return handler(&self.ctx).await,
            Handler::Empty(h) | Handler::Json(h) | Handler::Csv(h) => h,
        };
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return Err(ApiError::not_found(format!("no resource at {path}")));
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let full: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut query = query(request.uri().query());
        let customer = tenancy(&self.ctx, &principal, route, &full, &mut query).await?;
        // What a change touches is worked out before it runs (a deleted device's owner is gone
        // after); a read touches nothing.
        let target = route
            .audit
            .map(|audit| Target::new(audit, &segments, customer));
        let params = route
            .parameters(&full)
            .map(|(name, value)| (name, value.to_owned()))
            .collect();
        let body = match route.handler {
            // A streamed body: not read into memory; limited by the import's own limits.
            Handler::Csv(_) => Payload::Stream(request.into_body()),
            _ => {
                let body = self.read(request).await?;
                if matches!(route.handler, Handler::Empty(_)) {
                    expect_empty(&body)?;
                }
                Payload::Read(body)
            }
        };
        let narrow_to = principal
            .customer
            .clone()
            .filter(|_| route.tenancy == Tenancy::Filter);
        let call = Call {
            params,
            query,
            narrow_to,
            body,
        };
        recorded(
            &self.ctx,
            &principal,
            peer,
            target,
            handler(&self.ctx, call),
        )
        .await
    }

    /// The whole body, within the listener's limits (413 when larger, 400 when it breaks off).
    async fn read(&self, request: Request<Incoming>) -> Result<bytes::Bytes, ApiError> {
        let (_, body) = read_body(request, self.max_body_bytes, self.ctx.read_timeout)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(_) => {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
                }
                _ => ApiError::bad_request(e.to_string()),
            })?;
        Ok(body)
    }
}

impl transport::Handler for AdminApi {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Arc<ConnectionInfo>,
    ) -> Response<Body> {
        let peer = connection.peer;
        let method: Method = request.method().clone();
        let path = request.uri().path().to_owned();
        match self.route(request, peer).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%peer, %method, path, status = error.status.as_u16(), "{}", error.message);
                error.into_response()
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
