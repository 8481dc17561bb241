//! License pools in the admin API: create, list, show (allocated, free, short), extend or shrink
//! (never below what is allocated), renew; and a device's licenses.

use std::collections::HashMap;

use http::StatusCode;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::context::{Call, Ctx, distinct, json, page};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{
    CustomerPath, ExpiringQuery, LicensePath, Page, PoolPath, SerialPath, UsageQuery,
};
use crate::domain::licensing::{Scope, Term, Terms, check_terms};
use crate::domain::response::valid_name;
use crate::store::licenses::{ms_of, time_of};
use crate::store::timestamp;
use crate::store::{LicenseRecord, LicenseState, NewPool, PoolRecord};

mod wire;

use wire::{usage_csv, usage_table};

pub use wire::{
    CreatePool, ExpiringView, LicenseView, PatchPool, PoolView, RevokeLicense, TransferLicenses,
    UsageRow,
};

/// `POST /licenses/{id}/revoke`.
#[utoipa::path(post, path = "/api/v1/licenses/{id}/revoke", tag = "licenses",
    params(LicensePath),
    request_body = RevokeLicense,
    responses(
        (status = 200, description = "Revoked", body = LicenseView),
        (status = 404, description = "No such license", body = ErrorBody),
    ))]
pub(super) async fn revoke_license(ctx: &Ctx, call: Call, revoke: RevokeLicense) -> ApiResult {
    let id = call.param("id");
    let reason = revoke
        .reason
        .unwrap_or_else(|| "revoked by an administrator".into());
    let revoked = ctx.store.revoke_license(id, &reason).await?;
    ctx.audit(
        Some(&revoked.serial),
        format!("revoked license {id} of {} ({reason})", revoked.serial),
    )
    .await;
    let pools = owner_pools(ctx, &revoked.serial).await?;
    Ok(json(StatusCode::OK, &license_view(revoked, &pools)))
}

/// `POST /devices/{serial}/licenses/transfer`: RMA to a replacement device.
#[utoipa::path(post, path = "/api/v1/devices/{serial}/licenses/transfer", tag = "licenses",
    description = "The failed device's active licenses are revoked and reissued to its \
                   replacement, which must belong to the same customer.",
    params(SerialPath),
    request_body = TransferLicenses,
    responses(
        (status = 200, description = "The replacement's new licenses", body = Vec<LicenseView>),
        (status = 400, description = "The replacement is the device itself or another \
                                      customer's", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn transfer_licenses(
    ctx: &Ctx,
    call: Call,
    transfer: TransferLicenses,
) -> ApiResult {
    let from = call.param("serial");
    let failed = ctx.device_record(from).await?;
    let replacement = ctx.device_record(&transfer.to).await?;
    if failed.serial == replacement.serial {
        return Err(ApiError::bad_request("a device cannot replace itself"));
    }
    if replacement.customer != failed.customer {
        return Err(ApiError::bad_request(format!(
            "{} does not belong to the owner of {from}",
            replacement.serial
        )));
    }
    let moved = ctx
        .store
        .transfer_licenses(from, &replacement.serial, &replacement.model, || {
            crate::licensing::new_license_id()
        })
        .await?;
    ctx.audit(
        Some(from),
        format!(
            "moved {} license(s) of {from} to its replacement {}",
            moved.len(),
            replacement.serial
        ),
    )
    .await;
    let pools = owner_pools(ctx, from).await?;
    let views: Vec<LicenseView> = moved.into_iter().map(|l| license_view(l, &pools)).collect();
    Ok(json(StatusCode::OK, &views))
}

async fn owner_pools(ctx: &Ctx, serial: &str) -> Result<Vec<PoolRecord>, ApiError> {
    Ok(match ctx.device_record(serial).await?.customer {
        Some(customer) => ctx.store.license_pools(&customer).await?,
        None => Vec::new(),
    })
}

/// `GET /customers/{customer}/licenses/expiring?days=N`: active licenses that end within
/// `days` (default 30), soonest first.
#[utoipa::path(get, path = "/api/v1/customers/{name}/licenses/expiring", tag = "licenses",
    params(CustomerPath, ExpiringQuery),
    responses(
        (status = 200, description = "Active licenses ending within the window, soonest first",
            body = Vec<ExpiringView>),
        (status = 400, description = "A bad `days`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn expiring(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, query) = (call.param("name"), &call.query);
    let days = days(query)?;
    let (pools, licenses) = usage_inputs(ctx, customer).await?;
    let now = OffsetDateTime::now_utc();
    let mut views: Vec<ExpiringView> = ending_within(&pools, &licenses, now, days)
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
#[utoipa::path(get, path = "/api/v1/customers/{name}/license-usage", tag = "licenses",
    params(CustomerPath, UsageQuery),
    responses(
        (status = 200, description = "One row per pool", content(
            (Vec<UsageRow> = "application/json"),
            (String = "text/csv"),
            (String = "text/plain"),
        )),
        (status = 400, description = "A bad `days` or `format`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn license_usage(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, query) = (call.param("name"), &call.query);
    let days = days(query)?;
    let (pools, licenses) = usage_inputs(ctx, customer).await?;
    let shortages = ctx.store.license_shortages(customer).await?;
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
            expiring: ending_within(std::slice::from_ref(pool), &licenses, now, days).count(),
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
    ctx: &Ctx,
    customer: &str,
) -> Result<(Vec<PoolRecord>, Vec<LicenseRecord>), ApiError> {
    ctx.customer_record(customer).await?;
    Ok((
        ctx.store.license_pools(customer).await?,
        ctx.store.active_licenses(customer).await?,
    ))
}

/// `GET /devices/{serial}/licenses`.
#[utoipa::path(get, path = "/api/v1/devices/{serial}/licenses", tag = "licenses",
    params(SerialPath),
    responses(
        (status = 200, description = "The device's licenses", body = Vec<LicenseView>),
        (status = 404, description = "No such device", body = ErrorBody),
    ))]
pub(super) async fn device_licenses(ctx: &Ctx, call: Call) -> ApiResult {
    let serial = call.param("serial");
    let device = ctx.device_record(serial).await?;
    let pools = match &device.customer {
        Some(customer) => ctx.store.license_pools(customer).await?,
        None => Vec::new(),
    };
    let views: Vec<LicenseView> = ctx
        .store
        .licenses_of(serial)
        .await?
        .into_iter()
        .map(|l| license_view(l, &pools))
        .collect();
    Ok(json(StatusCode::OK, &views))
}

/// List a customer's license pools.
#[utoipa::path(get, path = "/api/v1/customers/{name}/license-pools", tag = "licenses",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of pools, by name", body = Vec<PoolView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn list_pools(ctx: &Ctx, call: Call) -> ApiResult {
    let views = page(
        pool_views(ctx, call.param("name")).await?,
        |p| &p.name,
        &call.query,
    )?;
    Ok(json(StatusCode::OK, &views))
}

/// Show a license pool.
#[utoipa::path(get, path = "/api/v1/customers/{name}/license-pools/{pool}", tag = "licenses",
    params(CustomerPath, PoolPath),
    responses(
        (status = 200, description = "The pool", body = PoolView),
        (status = 404, description = "No such customer or pool", body = ErrorBody),
    ))]
pub(super) async fn show_pool(ctx: &Ctx, call: Call) -> ApiResult {
    let pool = ctx
        .store
        .license_pool(call.param("name"), call.param("pool"))
        .await?;
    Ok(json(StatusCode::OK, &pool_view_of(ctx, pool).await?))
}

async fn pool_views(ctx: &Ctx, customer: &str) -> Result<Vec<PoolView>, ApiError> {
    ctx.customer_record(customer).await?;
    let shortages = ctx.store.license_shortages(customer).await?;
    Ok(ctx
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

async fn pool_view_of(ctx: &Ctx, pool: PoolRecord) -> Result<PoolView, ApiError> {
    let short = ctx
        .store
        .license_shortages(&pool.customer)
        .await?
        .into_iter()
        .find(|(id, _)| *id == pool.id)
        .map_or(0, |(_, n)| n);
    Ok(pool_view(pool, short))
}

/// Create a license pool.
#[utoipa::path(post, path = "/api/v1/customers/{name}/license-pools", tag = "licenses",
    params(CustomerPath),
    request_body = CreatePool,
    responses(
        (status = 201, description = "Created", body = PoolView),
        (status = 400, description = "A bad name, feature, seat count or terms", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The pool exists", body = ErrorBody),
    ))]
pub(super) async fn create_pool(ctx: &Ctx, call: Call, create: CreatePool) -> ApiResult {
    let customer = call.param("name");
    ctx.customer_record(customer).await?;
    if !valid_name(&create.name) {
        return Err(ApiError::bad_request(format!(
            "pool name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
            create.name
        )));
    }
    let pools = ctx.store.license_pools(customer).await?;
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
    let pool = ctx
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
    ctx.audit(
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

/// Extend, shrink or renew a license pool.
#[utoipa::path(patch, path = "/api/v1/customers/{name}/license-pools/{pool}", tag = "licenses",
    params(CustomerPath, PoolPath),
    request_body = PatchPool,
    responses(
        (status = 200, description = "Changed", body = PoolView),
        (status = 400, description = "Bad seats or terms", body = ErrorBody),
        (status = 404, description = "No such customer or pool", body = ErrorBody),
        (status = 409, description = "Fewer seats than are allocated", body = ErrorBody),
    ))]
pub(super) async fn patch_pool(ctx: &Ctx, call: Call, patch: PatchPool) -> ApiResult {
    let (customer, name) = (call.param("name"), call.param("pool"));
    let pool = ctx.store.license_pool(customer, name).await?;
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
    let changed = ctx
        .store
        .update_license_pool(customer, name, seats, &terms)
        .await?;
    ctx.audit(None, format!("changed license pool {customer}/{name}"))
        .await;
    Ok(json(StatusCode::OK, &pool_view_of(ctx, changed).await?))
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
fn ending_within<'a>(
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
