//! The registration outbox in the admin API: list, show (with the document), and retry, one or
//! many (dead letters, typically, once the NMS is fixed).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::context::{Call, Ctx, json, limit};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{RegistrationPath, RegistrationQuery};
use super::request::Request;
use crate::domain::delivery::RegistrationState;
use crate::store::timestamp;
use crate::store::{RegistrationFilter, RegistrationRecord};

/// A registration as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistrationView {
    /// Sequence number.
    pub id: i64,
    /// The device.
    pub serial: String,
    /// The owner.
    pub customer: String,
    /// The owner's NMS connection.
    pub connection: String,
    /// The remote file name.
    pub file_name: String,
    /// `pending`, `delivered` or `dead`.
    pub state: RegistrationState,
    /// Attempts since the content changed or the last retry.
    pub attempts: i64,
    /// For a pending registration: when the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the current content was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// Since when the current content waits.
    pub pending_since: String,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was last changed, RFC 3339.
    pub updated_at: String,
    /// The document (shown for one registration, not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Which registrations to retry; all matching ones are delivered again now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRegistrations {
    /// Only in this state (typically `dead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RegistrationState>,
    /// Only of this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Only to this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Only of this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

/// How many registrations or webhook deliveries a retry made due now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetriedView {
    /// How many were retried.
    pub retried: u64,
}

impl Request for RetryRegistrations {
    fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    fn filter(&mut self) -> Option<&mut Option<String>> {
        Some(&mut self.customer)
    }
}

/// The registration outbox.
#[utoipa::path(get, path = "/api/v1/registrations", tag = "registrations",
    params(RegistrationQuery),
    responses(
        (status = 200, description = "One page of registrations, by sequence number (without \
                                      their documents)", body = Vec<RegistrationView>),
        (status = 400, description = "A bad `state`, `after` or `limit`", body = ErrorBody),
    ))]
pub(super) async fn list_registrations(ctx: &Ctx, call: Call) -> ApiResult {
    let query = &call.query;
    let state = query
        .get("state")
        .map(|s| {
            s.parse::<RegistrationState>()
                .map_err(ApiError::bad_request)
        })
        .transpose()?;
    let after = query
        .get("after")
        .map(|a| registration_id(a))
        .transpose()?
        .unwrap_or(0);
    let filter = RegistrationFilter {
        state,
        customer: query.get("customer").cloned(),
        connection: query.get("connection").cloned(),
        serial: query.get("serial").cloned(),
    };
    let records = ctx
        .store
        .registrations(&filter, after, limit(query, 100, 1000)?)
        .await?;
    let views: Vec<RegistrationView> = records.into_iter().map(|r| view(r, false)).collect();
    Ok(json(StatusCode::OK, &views))
}

/// Deliver a registration again now.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/retry", tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "Due now", body = RegistrationView),
        (status = 400, description = "Not a registration id", body = ErrorBody),
        (status = 404, description = "No such registration", body = ErrorBody),
    ))]
pub(super) async fn retry_registration(ctx: &Ctx, call: Call) -> ApiResult {
    let id = registration_id(call.param("id"))?;
    let filter = RegistrationFilter::default();
    if ctx.store.retry_registrations(&filter, Some(id)).await? == 0 {
        return Err(ApiError::not_found(format!(
            "registration {id} does not exist"
        )));
    }
    ctx.outbox.wake();
    let record = ctx.store.registration(id).await?;
    ctx.audit(
        Some(&record.serial),
        format!(
            "retry of registration {id} ({} with NMS {}/{})",
            record.serial, record.customer, record.connection
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &view(record, false)))
}

/// Deliver all matching registrations again now (a token limited to a customer has had the
/// filter narrowed to its own by the router).
#[utoipa::path(post, path = "/api/v1/registrations/retry", tag = "registrations",
    description = "Typically `{\"state\": \"dead\"}` once the NMS is fixed.",
    request_body = RetryRegistrations,
    responses(
        (status = 200, description = "How many were retried", body = RetriedView),
        (status = 400, description = "A bad filter", body = ErrorBody),
    ))]
pub(super) async fn retry_registrations(
    ctx: &Ctx,
    _call: Call,
    retry: RetryRegistrations,
) -> ApiResult {
    let filter = RegistrationFilter {
        state: retry.state,
        customer: retry.customer,
        connection: retry.connection,
        serial: retry.serial,
    };
    let retried = ctx.store.retry_registrations(&filter, None).await?;
    if retried > 0 {
        ctx.outbox.wake();
    }
    ctx.audit(
        filter.serial.as_deref(),
        format!("retry of {retried} registration(s) ({filter:?})"),
    )
    .await;
    Ok(json(StatusCode::OK, &RetriedView { retried }))
}

/// Show a registration, with its document.
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registrations",
    params(RegistrationPath),
    responses(
        (status = 200, description = "The registration, with its document", body = RegistrationView),
        (status = 400, description = "Not a registration id", body = ErrorBody),
        (status = 404, description = "No such registration", body = ErrorBody),
    ))]
pub(super) async fn show_registration(ctx: &Ctx, call: Call) -> ApiResult {
    let record = ctx
        .store
        .registration(registration_id(call.param("id"))?)
        .await?;
    Ok(json(StatusCode::OK, &view(record, true)))
}

fn registration_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not a registration id")))
}

fn view(r: RegistrationRecord, with_content: bool) -> RegistrationView {
    RegistrationView {
        id: r.id,
        serial: r.serial,
        customer: r.customer,
        connection: r.connection,
        file_name: r.file_name,
        state: r.state,
        attempts: r.attempts,
        next_attempt_at: (r.state == RegistrationState::Pending)
            .then(|| timestamp(r.next_attempt_at)),
        last_error: r.last_error,
        delivered_at: r.delivered_at.map(timestamp),
        pending_since: timestamp(r.pending_since),
        created_at: timestamp(r.created_at),
        updated_at: timestamp(r.updated_at),
        content: with_content.then_some(r.content),
    }
}
