//! The wire types of the license routes: pools, licenses and the usage report as the API
//! shows them, and the requests that create, change, revoke and transfer.

use serde::{Deserialize, Serialize};

use super::super::request::Request;
use crate::csv_export::CsvExport;
use crate::domain::licensing::Term;

/// A license pool as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoolView {
    /// Name, unique per customer.
    pub name: String,
    /// Feature tag.
    pub feature: String,
    /// `perpetual`, `subscription` or `evaluation`.
    #[serde(rename = "type")]
    pub term: Term,
    /// Seats; absent for an uncounted pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Licenses allocated.
    pub allocated: u32,
    /// Seats free; absent for an uncounted pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<u32>,
    /// Devices the pool had no seat for (until they get one).
    pub short: i64,
    /// Subscription start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// Subscription end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Evaluation period, from first conveyance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_days: Option<u32>,
    /// The models that draw from it (every model when empty), unless `serials` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Exactly these devices draw from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serials: Option<Vec<String>>,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was last changed, RFC 3339.
    pub updated_at: String,
}

/// A pool to create.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePool {
    /// The pool's name, unique per customer.
    pub name: String,
    /// Feature tag.
    pub feature: String,
    /// Type.
    #[serde(rename = "type")]
    pub term: Term,
    /// Seats; absent for an uncounted pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Subscription start (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// Subscription end (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Evaluation period in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_days: Option<u32>,
    /// Models drawing from it (default: every model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Devices drawing from it (instead of models).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serials: Vec<String>,
}

/// Changes to a pool; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPool {
    /// New seat count (never below what is allocated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u32>,
    /// Make the pool uncounted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncounted: bool,
    /// New subscription end (renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// New evaluation period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_days: Option<u32>,
}

/// A license that ends soon.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpiringView {
    /// License id.
    pub id: String,
    /// Its device.
    pub serial: String,
    /// Its pool.
    pub pool: String,
    /// Feature tag.
    pub feature: String,
    /// When it ends.
    pub ends_at: String,
}

/// One pool in the usage report.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// Pool name.
    pub pool: String,
    /// Feature tag.
    pub feature: String,
    /// Type.
    #[serde(rename = "type")]
    pub term: Term,
    /// Seats (absent: uncounted).
    #[schema(required = true)]
    pub seats: Option<u32>,
    /// Allocated.
    pub allocated: u32,
    /// Free (absent: uncounted).
    #[schema(required = true)]
    pub free: Option<u32>,
    /// Active licenses ending within the report's window.
    pub expiring: usize,
    /// Active licenses past their end (subscription ended, evaluation used up): no longer
    /// conveyed.
    pub ended: usize,
    /// Devices short of a seat.
    pub short: i64,
    /// The pool's state in words: active, ends on…, ended on…, evaluation of N days.
    pub status: String,
}

/// A revocation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeLicense {
    /// Why (kept with the license).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An RMA transfer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferLicenses {
    /// The replacement device's serial.
    pub to: String,
}

/// A device's license as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenseView {
    /// License id.
    pub id: String,
    /// Its pool.
    pub pool: String,
    /// Feature tag.
    pub feature: String,
    /// `active` or `revoked`.
    pub state: String,
    /// Product id it is locked to.
    pub product_id: String,
    /// First issued.
    pub issued_at: String,
    /// When it was revoked, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    /// RMA: the license that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

impl Request for CreatePool {}

impl Request for PatchPool {}

impl Request for RevokeLicense {}

impl Request for TransferLicenses {}

/// The usage report's header and rows, as text cells.
fn usage_cells(rows: &[UsageRow]) -> Vec<Vec<String>> {
    let header = [
        "pool",
        "feature",
        "type",
        "seats",
        "allocated",
        "free",
        "expiring",
        "ended",
        "short",
        "status",
    ];
    let mut cells = vec![header.map(str::to_owned).to_vec()];
    for r in rows {
        cells.push(vec![
            r.pool.clone(),
            r.feature.clone(),
            r.term.to_string(),
            r.seats
                .map_or_else(|| "uncounted".into(), |s| s.to_string()),
            r.allocated.to_string(),
            r.free.map_or_else(String::new, |f| f.to_string()),
            r.expiring.to_string(),
            r.ended.to_string(),
            r.short.to_string(),
            r.status.clone(),
        ]);
    }
    cells
}

pub(super) fn usage_csv(rows: &[UsageRow]) -> String {
    let mut out = CsvExport::new();
    for row in usage_cells(rows) {
        out.row(row);
    }
    out.finish()
}

pub(super) fn usage_table(rows: &[UsageRow]) -> String {
    let table = usage_cells(rows);
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|r| r.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
