//! A device's timeline (`GET /devices/{serial}/timeline`): what happened to it, oldest first —
//! bootstrap attempts and their results, progress reports, NMS deliveries, licenses issued and
//! revoked, and administrators' changes.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::context::{Call, Ctx, json};
use super::error::{ApiResult, ErrorBody};
use super::openapi::params::SerialPath;
use crate::store::timestamp;
use crate::store::{EventFilter, LicenseState};

/// Events read into a timeline at most (the newest).
const MAX_EVENTS: u32 = 1000;

/// One moment in a device's life.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When it happened, RFC 3339.
    pub at: String,
    /// What kind of thing: an event kind, `license-issued` or `license-revoked`.
    pub what: String,
    /// The HTTP status answered, for requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What happened, in one line.
    pub detail: String,
}

/// `GET /devices/{serial}/timeline`.
#[utoipa::path(get, path = "/api/v1/devices/{serial}/timeline", tag = "devices",
    params(SerialPath),
    responses(
        (status = 200, description = "Bootstrap attempts, progress, NMS deliveries, licenses and \
                                      changes, oldest first", body = Vec<TimelineEntry>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn device_timeline(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    let device = ctx.device_record(serial).await?;
    let mut moments: Vec<(i64, TimelineEntry)> = Vec::new();
    let events = ctx
        .store
        .events(&EventFilter {
            serial: Some(serial.to_owned()),
            limit: MAX_EVENTS,
            ..EventFilter::default()
        })
        .await?;
    // The store lists events newest first: taken oldest first, so that events of one
    // millisecond keep the order they were written in through the stable sort below.
    for e in events.into_iter().rev() {
        moments.push((
            e.at,
            TimelineEntry {
                at: timestamp(e.at),
                what: e.kind,
                status: e.status,
                detail: e.detail,
            },
        ));
    }
    let pools = match &device.customer {
        Some(customer) => ctx.store.license_pools(customer).await?,
        None => Vec::new(),
    };
    for license in ctx.store.licenses_of(serial).await? {
        let pool = pools.iter().find(|p| p.id == license.pool_id).map_or_else(
            || license.pool_id.to_string(),
            |p| format!("{} ({})", p.name, p.feature),
        );
        moments.push((
            license.issued_at,
            TimelineEntry {
                at: timestamp(license.issued_at),
                what: "license-issued".into(),
                status: None,
                detail: format!("license {} of pool {pool}", license.id),
            },
        ));
        if let (LicenseState::Revoked, Some(at)) = (license.state, license.revoked_at) {
            moments.push((
                at,
                TimelineEntry {
                    at: timestamp(at),
                    what: "license-revoked".into(),
                    status: None,
                    detail: format!(
                        "license {} of pool {pool}: {}",
                        license.id,
                        license.revoke_reason.as_deref().unwrap_or("revoked")
                    ),
                },
            ));
        }
    }
    moments.sort_by_key(|(at, _)| *at);
    let entries: Vec<TimelineEntry> = moments.into_iter().map(|(_, e)| e).collect();
    Ok(json(StatusCode::OK, &entries))
}
