//! The probes of the admin listener, which need no token: liveness and readiness.

use http::StatusCode;

use super::context::Ctx;
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::http::response;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub(super) async fn healthz(_ctx: &Ctx) -> ApiResult {
    Ok(response(StatusCode::OK, "text/plain", "ok\n"))
}

/// Readiness: the database is reachable.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "The database cannot be reached", body = ErrorBody),
    ))]
pub(super) async fn readyz(ctx: &Ctx) -> ApiResult {
    match ctx.store.ping().await {
        Ok(()) => Ok(response(StatusCode::OK, "text/plain", "ready\n")),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
    }
}
