//! Events (`GET /events`, newest first) and a device's progress reports
//! (`GET /devices/{serial}/progress`), each with its time as RFC 3339 beside the stored
//! Unix-millisecond `at`.

use std::collections::HashMap;

use http::StatusCode;
use serde::Serialize;

use super::{AdminApi, ApiError, ApiResult, json, limit, timestamp};
use crate::store::events::ProgressRecord;
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

impl AdminApi {
    /// `GET /events?serial=&kind=&customer=&before=&limit=`.
    pub(super) async fn list_events(&self, query: &HashMap<String, String>) -> ApiResult {
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
        let events: Vec<EventRecord> = self.store.events(&filter).await?;
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
    pub(super) async fn progress(&self, serial: &str) -> ApiResult {
        self.device_record(serial).await?;
        let reports: Vec<ProgressRecord> = self.store.progress_reports(serial).await?;
        let views: Vec<ProgressView> = reports
            .into_iter()
            .map(|report| ProgressView {
                time: timestamp(report.at),
                report,
            })
            .collect();
        Ok(json(StatusCode::OK, &views))
    }
}
