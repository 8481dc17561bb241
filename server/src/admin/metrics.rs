//! `GET /metrics`: the Prometheus exposition. The gauges the database holds (outbox backlogs,
//! license seats) are read first, then every family is encoded (see
//! [`crate::telemetry::metrics`]). It needs a manufacturer's token (a read-only one is
//! enough): the labels name customers, which a customer's token must not learn of each other.

use http::StatusCode;

use super::context::Ctx;
use super::error::ApiResult;
use crate::http::response;
use crate::store::outbox::Backlog;
use crate::store::{PoolRecord, StoreError};
use crate::telemetry::metrics::{self, Seats};

/// Every metric family of this instance, in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "The metrics, in Prometheus' text format 0.0.4",
            body = String, content_type = "text/plain"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "A token limited to a customer"),
    ))]
pub(super) async fn metrics(ctx: &Ctx) -> ApiResult {
    let now = ctx.outbox.clock().now_ms();
    let gauges = ctx.metrics.gauges();
    // The database away: its gauges are left out (the counters still tell), not stale.
    gauges.nms_backlogs(&ages(read(ctx.store.nms_backlogs().await), now));
    gauges.webhook_backlogs(&ages(read(ctx.store.webhook_backlogs().await), now));
    gauges.license_seats(
        &read(ctx.store.all_license_pools().await)
            .iter()
            .map(seats)
            .collect::<Vec<_>>(),
    );
    Ok(response(
        StatusCode::OK,
        metrics::CONTENT_TYPE,
        ctx.metrics.encode(),
    ))
}

fn read<T>(result: Result<Vec<T>, StoreError>) -> Vec<T> {
    result.unwrap_or_else(|error| {
        tracing::warn!(%error, "metrics: the database's gauges are left out");
        Vec::new()
    })
}

/// The backlogs as the gauges show them at `now` (Unix ms).
fn ages(backlogs: Vec<Backlog>, now: i64) -> Vec<metrics::Backlog> {
    backlogs
        .into_iter()
        .map(|backlog| metrics::Backlog {
            customer: backlog.customer,
            receiver: backlog.receiver,
            depth: backlog.pending,
            // Milliseconds to seconds: exact to well below a scrape's resolution.
            oldest_age_secs: backlog
                .oldest_since
                .map_or(0.0, |since| (now - since).max(0) as f64 / 1000.0),
        })
        .collect()
}

fn seats(pool: &PoolRecord) -> Seats {
    Seats {
        customer: pool.customer.clone(),
        pool: pool.name.clone(),
        free: pool
            .seats
            .map(|seats| i64::from(seats) - i64::from(pool.allocated)),
        allocated: i64::from(pool.allocated),
    }
}
