//! Events (`GET /events`, newest first) and a device's progress reports
//! (`GET /devices/{serial}/progress`), each with its time as RFC 3339 beside the stored
//! Unix-millisecond `at`.

use http::StatusCode;
use serde::Serialize;

use super::context::{Call, Ctx, json, limit};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{EventQuery, SerialPath};
use crate::store::events::ProgressRecord;
use crate::store::timestamp;
use crate::store::{EventFilter, EventKind, EventRecord};

/// An event as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// The stored event.
    #[serde(flatten)]
    pub event: EventRecord,
    /// `at` as RFC 3339 (UTC, milliseconds).
    pub time: String,
}

/// A progress report as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgressView {
    /// The stored report.
    #[serde(flatten)]
    pub report: ProgressRecord,
    /// `at` as RFC 3339 (UTC, milliseconds).
    pub time: String,
}

/// `GET /events?serial=&kind=&customer=&before=&limit=`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "One page of events, newest first", body = Vec<EventView>),
        (status = 400, description = "A bad `kind`, `before` or `limit`", body = ErrorBody),
    ))]
pub(super) async fn list_events(ctx: &Ctx, call: Call) -> ApiResult {
    let query = &call.query;
    let kind = query
        .get("kind")
        .map(|k| {
            serde_json::from_value::<EventKind>(serde_json::Value::String(k.clone()))
                .map_err(|_| ApiError::bad_request(format!("unknown event kind {k:?}")))
        })
        .transpose()?;
    let before = query
        .get("before")
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| ApiError::bad_request("before must be an event id"))
        })
        .transpose()?;
    let filter = EventFilter {
        serial: query.get("serial").cloned(),
        kind,
        before,
        limit: limit(query, 100, 1000)?,
        customer: query.get("customer").cloned(),
    };
    let events: Vec<EventRecord> = ctx.store.events(&filter).await?;
    let views: Vec<EventView> = events
        .into_iter()
        .map(|event| EventView {
            time: timestamp(event.at),
            event,
        })
        .collect();
    Ok(json(StatusCode::OK, &views))
}

/// `GET /devices/{serial}/progress`.
#[utoipa::path(get, path = "/api/v1/devices/{serial}/progress", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "Its progress reports, oldest first", body = Vec<ProgressView>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn device_progress(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    ctx.device_record(serial).await?;
    let reports: Vec<ProgressRecord> = ctx.store.progress_reports(serial).await?;
    let views: Vec<ProgressView> = reports
        .into_iter()
        .map(|report| ProgressView {
            time: timestamp(report.at),
            report,
        })
        .collect();
    Ok(json(StatusCode::OK, &views))
}
