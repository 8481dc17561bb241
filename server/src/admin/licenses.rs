//! License pools in the admin API: create, list, show (allocated, free, short), extend or shrink
//! (never below what is allocated), renew; and a device's licenses.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::request::Request;
use super::{AdminApi, ApiError, ApiResult, distinct, json, page, parse, timestamp};
use crate::csv_export::CsvExport;
use crate::domain::licensing::{Scope, Term, Terms, check_terms};
use crate::domain::response::valid_name;
use crate::store::licenses::{ms_of, time_of};
use crate::store::{LicenseRecord, LicenseState, NewPool, PoolRecord};

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
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// A pool to create.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePool {
    /// Name.
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
    /// Revoked.
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

impl AdminApi {
    /// `/customers/{customer}/license-pools[/{pool}]`.
    pub(super) async fn pools_route(
        &self,
        method: &Method,
        customer: &str,
        rest: &[&str],
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> ApiResult {
        match (method, rest) {
            (&Method::GET, []) => {
                let views = page(self.pool_views(customer).await?, |p| &p.name, query)?;
                Ok(json(StatusCode::OK, &views))
            }
            (&Method::POST, []) => self.create_pool(customer, parse(body)?).await,
            (&Method::GET, [name]) => {
                let pool = self.store.license_pool(customer, name).await?;
                Ok(json(StatusCode::OK, &self.pool_view(pool).await?))
            }
            (&Method::PATCH, [name]) => self.patch_pool(customer, name, parse(body)?).await,
            _ => Err(ApiError::not_found(format!(
                "no resource {method} /customers/{customer}/license-pools/{}",
                rest.join("/")
            ))),
        }
    }

    /// `POST /licenses/{id}/revoke`.
    pub(super) async fn revoke_license(&self, id: &str, revoke: RevokeLicense) -> ApiResult {
        let reason = revoke
            .reason
            .unwrap_or_else(|| "revoked by an administrator".into());
        let revoked = self.store.revoke_license(id, &reason).await?;
        self.audit(
            Some(&revoked.serial),
            format!("revoked license {id} of {} ({reason})", revoked.serial),
        )
        .await;
        let pools = self.owner_pools(&revoked.serial).await?;
        Ok(json(StatusCode::OK, &license_view(revoked, &pools)))
    }

    /// `POST /devices/{serial}/licenses/transfer`: RMA to a replacement device.
    pub(super) async fn transfer_licenses(
        &self,
        from: &str,
        transfer: TransferLicenses,
    ) -> ApiResult {
        let failed = self.device_record(from).await?;
        let replacement = self.device_record(&transfer.to).await?;
        if failed.serial == replacement.serial {
            return Err(ApiError::bad_request("a device cannot replace itself"));
        }
        if replacement.customer != failed.customer {
            return Err(ApiError::bad_request(format!(
                "{} does not belong to the owner of {from}",
                replacement.serial
            )));
        }
        let moved = self
            .store
            .transfer_licenses(from, &replacement.serial, &replacement.model, || {
                crate::licensing::new_license_id()
            })
            .await?;
        self.audit(
            Some(from),
            format!(
                "moved {} license(s) of {from} to its replacement {}",
                moved.len(),
                replacement.serial
            ),
        )
        .await;
        let pools = self.owner_pools(from).await?;
        let views: Vec<LicenseView> = moved.into_iter().map(|l| license_view(l, &pools)).collect();
        Ok(json(StatusCode::OK, &views))
    }

    async fn owner_pools(&self, serial: &str) -> Result<Vec<PoolRecord>, ApiError> {
        Ok(match self.device_record(serial).await?.customer {
            Some(customer) => self.store.license_pools(&customer).await?,
            None => Vec::new(),
        })
    }

    /// `GET /customers/{customer}/licenses/expiring?days=N`: active licenses that end within
    /// `days` (default 30), soonest first.
    pub(super) async fn expiring(
        &self,
        customer: &str,
        query: &HashMap<String, String>,
    ) -> ApiResult {
        let days = days(query)?;
        let (pools, licenses) = self.usage_inputs(customer).await?;
        let now = OffsetDateTime::now_utc();
        let mut views: Vec<ExpiringView> = expiring(&pools, &licenses, now, days)
            .map(|(pool, license, ends)| ExpiringView {
                id: license.id.clone(),
                serial: license.serial.clone(),
                pool: pool.name.clone(),
                feature: pool.feature.clone(),
                ends_at: timestamp(ms_of(ends)),
            })
            .collect();
        views.sort_by(|a, b| a.ends_at.cmp(&b.ends_at));
        Ok(json(StatusCode::OK, &views))
    }

    /// `GET /customers/{customer}/license-usage?days=N&format=json|csv|table`.
    pub(super) async fn usage(&self, customer: &str, query: &HashMap<String, String>) -> ApiResult {
        let days = days(query)?;
        let (pools, licenses) = self.usage_inputs(customer).await?;
        let shortages = self.store.license_shortages(customer).await?;
        let now = OffsetDateTime::now_utc();
        let rows: Vec<UsageRow> = pools
            .iter()
            .map(|pool| UsageRow {
                pool: pool.name.clone(),
                feature: pool.feature.clone(),
                term: pool.terms.term,
                seats: pool.seats,
                allocated: pool.allocated,
                free: pool.seats.map(|s| s.saturating_sub(pool.allocated)),
                expiring: expiring(std::slice::from_ref(pool), &licenses, now, days).count(),
                ended: ended(pool, &licenses, now),
                short: shortages
                    .iter()
                    .find(|(id, _)| *id == pool.id)
                    .map_or(0, |(_, n)| *n),
                status: status(pool, now),
            })
            .collect();
        match query.get("format").map(String::as_str) {
            None | Some("json") => Ok(json(StatusCode::OK, &rows)),
            Some("csv") => Ok(crate::http::response(
                StatusCode::OK,
                "text/csv; charset=utf-8",
                usage_csv(&rows),
            )),
            Some("table") => Ok(crate::http::response(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                usage_table(&rows),
            )),
            Some(other) => Err(ApiError::bad_request(format!(
                "format {other:?}: use json, csv or table"
            ))),
        }
    }

    async fn usage_inputs(
        &self,
        customer: &str,
    ) -> Result<(Vec<PoolRecord>, Vec<LicenseRecord>), ApiError> {
        self.customer_record(customer).await?;
        Ok((
            self.store.license_pools(customer).await?,
            self.store.active_licenses(customer).await?,
        ))
    }

    /// `GET /devices/{serial}/licenses`.
    pub(super) async fn device_licenses(&self, serial: &str) -> ApiResult {
        let device = self.device_record(serial).await?;
        let pools = match &device.customer {
            Some(customer) => self.store.license_pools(customer).await?,
            None => Vec::new(),
        };
        let views: Vec<LicenseView> = self
            .store
            .licenses_of(serial)
            .await?
            .into_iter()
            .map(|l| license_view(l, &pools))
            .collect();
        Ok(json(StatusCode::OK, &views))
    }

    async fn pool_views(&self, customer: &str) -> Result<Vec<PoolView>, ApiError> {
        self.customer_record(customer).await?;
        let shortages = self.store.license_shortages(customer).await?;
        Ok(self
            .store
            .license_pools(customer)
            .await?
            .into_iter()
            .map(|p| {
                let short = shortages
                    .iter()
                    .find(|(id, _)| *id == p.id)
                    .map_or(0, |(_, n)| *n);
                pool_view(p, short)
            })
            .collect())
    }

    async fn pool_view(&self, pool: PoolRecord) -> Result<PoolView, ApiError> {
        let short = self
            .store
            .license_shortages(&pool.customer)
            .await?
            .into_iter()
            .find(|(id, _)| *id == pool.id)
            .map_or(0, |(_, n)| n);
        Ok(pool_view(pool, short))
    }

    async fn create_pool(&self, customer: &str, create: CreatePool) -> ApiResult {
        self.customer_record(customer).await?;
        if !valid_name(&create.name) {
            return Err(ApiError::bad_request(format!(
                "pool name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
                create.name
            )));
        }
        let pools = self.store.license_pools(customer).await?;
        distinct(
            "license pool",
            &create.name,
            pools.iter().map(|p| p.name.as_str()),
        )?;
        if !valid_feature(&create.feature) {
            return Err(ApiError::bad_request(format!(
                "feature tag {:?} must be 1 to 64 letters, digits, '.', '_' or '-', starting \
                 with a letter or digit",
                create.feature
            )));
        }
        if create.seats == Some(0) {
            return Err(ApiError::bad_request(
                "a counted pool has at least one seat",
            ));
        }
        let terms = Terms {
            term: create.term,
            starts_at: create.starts_at.as_deref().map(when).transpose()?,
            ends_at: create.ends_at.as_deref().map(when).transpose()?,
            evaluation_days: create.evaluation_days,
        };
        check_terms(&terms).map_err(ApiError::bad_request)?;
        let scope = match (create.models.is_empty(), create.serials.is_empty()) {
            (_, true) => Scope::Models(create.models),
            (true, false) => Scope::Serials(create.serials),
            (false, false) => {
                return Err(ApiError::bad_request(
                    "a pool is for models or for serials, not both",
                ));
            }
        };
        let pool = self
            .store
            .insert_license_pool(&NewPool {
                customer: customer.to_owned(),
                name: create.name,
                feature: create.feature,
                terms,
                seats: create.seats,
                scope,
            })
            .await?;
        self.audit(
            None,
            format!(
                "created license pool {customer}/{} ({}, {}, {})",
                pool.name,
                pool.feature,
                pool.terms.term,
                pool.seats
                    .map_or_else(|| "uncounted".to_owned(), |n| format!("{n} seats"))
            ),
        )
        .await;
        Ok(json(StatusCode::CREATED, &pool_view(pool, 0)))
    }

    async fn patch_pool(&self, customer: &str, name: &str, patch: PatchPool) -> ApiResult {
        let pool = self.store.license_pool(customer, name).await?;
        let seats = match (patch.seats, patch.uncounted) {
            (Some(_), true) => {
                return Err(ApiError::bad_request("give seats or uncounted, not both"));
            }
            (Some(0), false) => {
                return Err(ApiError::bad_request(
                    "a counted pool has at least one seat",
                ));
            }
            (Some(n), false) => Some(n),
            (None, true) => None,
            (None, false) => pool.seats,
        };
        let mut terms = pool.terms.clone();
        if let Some(ends_at) = &patch.ends_at {
            terms.ends_at = Some(when(ends_at)?);
        }
        if let Some(days) = patch.evaluation_days {
            terms.evaluation_days = Some(days);
        }
        check_terms(&terms).map_err(ApiError::bad_request)?;
        let changed = self
            .store
            .update_license_pool(customer, name, seats, &terms)
            .await?;
        self.audit(None, format!("changed license pool {customer}/{name}"))
            .await;
        Ok(json(StatusCode::OK, &self.pool_view(changed).await?))
    }
}

fn days(query: &HashMap<String, String>) -> Result<i64, ApiError> {
    query.get("days").map_or(Ok(30), |d| {
        d.parse::<i64>()
            .ok()
            .filter(|d| (0..=3650).contains(d))
            .ok_or_else(|| ApiError::bad_request("days must be 0 to 3650"))
    })
}

/// Active licenses of `pools` that end within `days` of `now` (not already ended), with their
/// pool and end.
fn expiring<'a>(
    pools: &'a [PoolRecord],
    licenses: &'a [LicenseRecord],
    now: OffsetDateTime,
    days: i64,
) -> impl Iterator<Item = (&'a PoolRecord, &'a LicenseRecord, OffsetDateTime)> {
    let horizon = now + time::Duration::days(days);
    licenses.iter().filter_map(move |license| {
        let pool = pools.iter().find(|p| p.id == license.pool_id)?;
        let ends = pool.terms.validity(time_of(license.issued_at)).not_after?;
        (now < ends && ends <= horizon).then_some((pool, license, ends))
    })
}

/// Active licenses of `pool` whose validity is over.
fn ended(pool: &PoolRecord, licenses: &[LicenseRecord], now: OffsetDateTime) -> usize {
    licenses
        .iter()
        .filter(|l| l.pool_id == pool.id)
        .filter(|l| pool.terms.still_valid(time_of(l.issued_at), now).is_err())
        .count()
}

fn status(pool: &PoolRecord, now: OffsetDateTime) -> String {
    let day = |t: OffsetDateTime| t.date().to_string();
    match (
        pool.terms.term,
        pool.terms.ends_at,
        pool.terms.evaluation_days,
    ) {
        (Term::Subscription, Some(end), _) if end <= now => format!("ended {}", day(end)),
        (Term::Subscription, Some(end), _) => format!("ends {}", day(end)),
        (Term::Evaluation, _, Some(days)) => format!("evaluation of {days} days from first use"),
        _ => "active".into(),
    }
}

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

fn usage_csv(rows: &[UsageRow]) -> String {
    let mut out = CsvExport::new();
    for row in usage_cells(rows) {
        out.row(row);
    }
    out.finish()
}

fn usage_table(rows: &[UsageRow]) -> String {
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

fn valid_feature(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A date and time as RFC 3339, or a date (`YYYY-MM-DD`, midnight UTC).
pub(super) fn when(text: &str) -> Result<OffsetDateTime, ApiError> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 date and time"
            ))
        })
}

fn pool_view(p: PoolRecord, short: i64) -> PoolView {
    let (models, serials) = match p.scope {
        Scope::Models(models) => (Some(models), None),
        Scope::Serials(serials) => (None, Some(serials)),
    };
    PoolView {
        name: p.name,
        feature: p.feature,
        term: p.terms.term,
        seats: p.seats,
        allocated: p.allocated,
        free: p.seats.map(|s| s.saturating_sub(p.allocated)),
        short,
        starts_at: p.terms.starts_at.map(|t| timestamp(ms_of(t))),
        ends_at: p.terms.ends_at.map(|t| timestamp(ms_of(t))),
        evaluation_days: p.terms.evaluation_days,
        models,
        serials,
        created_at: timestamp(p.created_at),
        updated_at: timestamp(p.updated_at),
    }
}

fn license_view(l: LicenseRecord, pools: &[PoolRecord]) -> LicenseView {
    let pool = pools.iter().find(|p| p.id == l.pool_id);
    LicenseView {
        id: l.id,
        pool: pool.map_or_else(|| l.pool_id.to_string(), |p| p.name.clone()),
        feature: pool.map(|p| p.feature.clone()).unwrap_or_default(),
        state: match l.state {
            LicenseState::Active => "active",
            LicenseState::Revoked => "revoked",
        }
        .into(),
        product_id: l.product_id,
        issued_at: timestamp(l.issued_at),
        revoked_at: l.revoked_at.map(timestamp),
        revoke_reason: l.revoke_reason,
        replaced_by: l.replaced_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_or_plain_days() {
        assert_eq!(
            when("2027-01-01").unwrap(),
            time::macros::datetime!(2027-01-01 0:00 UTC)
        );
        assert_eq!(
            when("2027-01-01T12:30:00Z").unwrap(),
            time::macros::datetime!(2027-01-01 12:30 UTC)
        );
        assert!(when("next year").is_err());
        assert!(valid_feature("ESS-ED-100G-SIA3"));
        assert!(!valid_feature("-x"));
        assert!(!valid_feature("a b"));
    }
}
