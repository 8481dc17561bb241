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

/// Readiness: not draining, the database reachable and at the schema this ztp knows (a newer
/// ztp may have migrated it meanwhile). Signing keys and certificates are loaded before the
/// listeners open, so a listener that answers has them.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "Draining, the database cannot be reached, or its schema \
            is not this ztp's", body = ErrorBody),
    ))]
pub(super) async fn readyz(ctx: &Ctx) -> ApiResult {
    let unready = |reason: String| Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason));
    if ctx.draining.is_draining() {
        return unready("draining: stopping after the open requests".into());
    }
    let schema = match ctx.store.schema_version().await {
        Ok(schema) => schema,
        Err(e) => return unready(e.to_string()),
    };
    let known = ctx.store.known_schema_version();
    if schema != known {
        return unready(format!(
            "the database is at migration {}, this ztp at {}",
            schema.unwrap_or_default(),
            known.unwrap_or_default()
        ));
    }
    Ok(response(StatusCode::OK, "text/plain", "ready\n"))
}
