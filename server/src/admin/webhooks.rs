//! Webhook subscriptions in the admin API: a customer's receivers of device events, their
//! deliveries, a test delivery, and retries of dead letters.

use std::collections::HashMap;

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::context::{Call, Ctx, distinct, json, limit, nullable, page};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::openapi::params::{CustomerPath, DeliveryPath, DeliveryQuery, Page, WebhookPath};
use super::registrations::RetriedView;
use super::request::Request;
use crate::domain::delivery::RegistrationState as DeliveryState;
use crate::domain::notice::Notice;
use crate::domain::response::valid_name;
use crate::secrets::Secret;
use crate::store::now_ms;
use crate::store::timestamp;
use crate::store::webhooks::{
    DeliveryFilter, DeliveryRecord, NewWebhook, WebhookRecord, WebhookUpdate,
};
use crate::webhooks::{EventBody, WebhookUrl, new_secret, sender};

/// A webhook subscription as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// Name, unique per customer.
    pub name: String,
    /// The receiver (`https://…`).
    pub url: String,
    /// The device events delivered.
    pub events: Vec<Notice>,
    /// The CA certificates (PEM) the receiver's certificate must lead to; absent: the system's
    /// trust anchors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Whether events are delivered (disabled: none are queued).
    pub enabled: bool,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it was last changed, RFC 3339.
    pub updated_at: String,
    /// Health and queue.
    #[serde(default)]
    pub status: WebhookStatusView,
}

/// A receiver's health and delivery queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookStatusView {
    /// `ok`, `failing`, or `unknown` (nothing attempted yet).
    pub state: String,
    /// The last failure, until a delivery succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
    /// The last successful delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery_at: Option<String>,
    /// Deliveries waiting.
    pub pending: i64,
    /// Deliveries delivered.
    pub delivered: i64,
    /// Dead letters.
    pub dead: i64,
}

/// A subscription with its secret: the answer to a creation or a secret rotation, the only
/// time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The HMAC-SHA256 key of the `ztp-signature` header.
    pub secret: String,
}

/// A subscription to add.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Name: 1 to 64 of `[A-Za-z0-9._-]`.
    pub name: String,
    /// The receiver: `https://host[:port]/path`.
    pub url: String,
    /// The device events to deliver (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Notice>>,
    /// CA certificates (PEM) for the receiver, if not the system's trust anchors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The HMAC key, if the customer chose one (at least 16 characters); otherwise ztp makes
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
    /// Whether events are delivered (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Changes to a subscription.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhook {
    /// A new receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// New events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Notice>>,
    /// New CA certificates; `null`: the system's trust anchors.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_pem: Option<Option<String>>,
    /// Enable or disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replace the secret with a new one made by ztp (shown in the answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate_secret: bool,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Id (the receiver's idempotency key, `ztp-delivery`).
    pub id: i64,
    /// The event delivered.
    pub event_id: i64,
    /// `device.<event>`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The receiver's last HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// Queued.
    pub created_at: String,
}

/// The result of a test delivery.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookTestView {
    /// Whether the receiver answered 2xx.
    pub ok: bool,
    /// Its HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Request for CreateWebhook {}

impl Request for PatchWebhook {}

/// List a customer's webhooks.
#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks", tag = "webhooks",
    params(CustomerPath, Page),
    responses(
        (status = 200, description = "One page of webhooks, by name", body = Vec<WebhookView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ))]
pub(super) async fn list_webhooks(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, query) = (call.param("name"), &call.query);
    ctx.customer_record(customer).await?;
    let hooks = ctx.store.webhooks(customer).await?;
    let mut views = Vec::new();
    for record in page(hooks, |h| &h.name, query)? {
        views.push(webhook_view(ctx, &record).await?);
    }
    Ok(json(StatusCode::OK, &views))
}

/// Add a webhook.
#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks", tag = "webhooks",
    params(CustomerPath),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Added, with its secret (shown this once)",
            body = WebhookWithSecret),
        (status = 400, description = "A bad name, URL, event, CA certificate or secret",
            body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "The webhook exists", body = ErrorBody),
    ))]
pub(super) async fn create_webhook(ctx: &Ctx, call: Call, create: CreateWebhook) -> ApiResult {
    let customer = call.param("name");
    ctx.customer_record(customer).await?;
    if !valid_name(&create.name) {
        return Err(ApiError::bad_request(format!(
            "webhook name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
            create.name
        )));
    }
    let hooks = ctx.store.webhooks(customer).await?;
    distinct(
        "webhook",
        &create.name,
        hooks.iter().map(|h| h.name.as_str()),
    )?;
    let notices = check_events(create.events.unwrap_or_else(|| Notice::ALL.to_vec()))?;
    check_url(&create.url)?;
    check_ca(create.ca_pem.as_deref())?;
    let secret = match create.secret {
        Some(secret) if secret.expose().chars().count() < 16 => {
            return Err(ApiError::bad_request(
                "a webhook secret needs at least 16 characters",
            ));
        }
        Some(secret) => secret.into_exposed(),
        None => fresh_secret()?,
    };
    let stored = ctx
        .store
        .insert_webhook(&NewWebhook {
            customer: customer.to_owned(),
            name: create.name,
            url: create.url,
            notices,
            ca_pem: create.ca_pem,
            secret,
            enabled: create.enabled,
        })
        .await?;
    ctx.audit(
        None,
        format!(
            "added webhook {customer}/{} to {} for {}",
            stored.name,
            stored.url,
            events_text(&stored.notices)
        ),
    )
    .await;
    let view = WebhookWithSecret {
        webhook: webhook_view(ctx, &stored).await?,
        secret: stored.secret,
    };
    Ok(json(StatusCode::CREATED, &view))
}

/// Change a webhook.
#[utoipa::path(patch, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    request_body = PatchWebhook,
    responses(
        (status = 200, description = "Changed; with `rotate_secret`, the new `secret` is added \
                                      (shown this once)", body = WebhookView),
        (status = 400, description = "A bad URL, event or CA certificate", body = ErrorBody),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn patch_webhook(ctx: &Ctx, call: Call, patch: PatchWebhook) -> ApiResult {
    let (customer, name) = (call.param("name"), call.param("hook"));
    ctx.store.webhook(customer, name).await?;
    if let Some(url) = &patch.url {
        check_url(url)?;
    }
    if let Some(Some(pem)) = &patch.ca_pem {
        check_ca(Some(pem))?;
    }
    let update = WebhookUpdate {
        url: patch.url,
        notices: patch.events.map(check_events).transpose()?,
        ca_pem: patch.ca_pem,
        secret: patch.rotate_secret.then(fresh_secret).transpose()?,
        enabled: patch.enabled,
    };
    let stored = ctx.store.update_webhook(customer, name, &update).await?;
    ctx.audit(
        None,
        format!(
            "changed webhook {customer}/{name}: {} for {}{}{}",
            stored.url,
            events_text(&stored.notices),
            if stored.enabled { "" } else { ", disabled" },
            if patch.rotate_secret {
                ", new secret"
            } else {
                ""
            }
        ),
    )
    .await;
    let view = webhook_view(ctx, &stored).await?;
    if patch.rotate_secret {
        let shown = WebhookWithSecret {
            webhook: view,
            secret: stored.secret,
        };
        return Ok(json(StatusCode::OK, &shown));
    }
    Ok(json(StatusCode::OK, &view))
}

/// Post a signed ping to the receiver now.
#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/test", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "The receiver's answer (a failed test is still a 200)",
            body = WebhookTestView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn test_webhook(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, name) = (call.param("name"), call.param("hook"));
    let record = ctx.store.webhook(customer, name).await?;
    let result = ctx
        .webhooks
        .send(&record, &EventBody::ping(customer, now_ms()))
        .await;
    let view = match result {
        Ok(status) => WebhookTestView {
            ok: true,
            status: Some(status),
            error: None,
        },
        Err(error) => WebhookTestView {
            ok: false,
            status: error.status(),
            error: Some(error.to_string()),
        },
    };
    ctx.audit(
        None,
        format!(
            "tested webhook {customer}/{name}: {}",
            if view.ok { "ok" } else { "failed" }
        ),
    )
    .await;
    Ok(json(StatusCode::OK, &view))
}

async fn list_deliveries(
    ctx: &Ctx,
    customer: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> ApiResult {
    let hook = ctx.store.webhook(customer, name).await?;
    let state = query
        .get("state")
        .map(|s| s.parse::<DeliveryState>().map_err(ApiError::bad_request))
        .transpose()?;
    let after = query
        .get("after")
        .map(|a| {
            a.parse::<i64>()
                .map_err(|_| ApiError::bad_request("after must be a delivery id"))
        })
        .transpose()?;
    let filter = DeliveryFilter {
        state,
        after,
        limit: limit(query, 100, 1000)?,
    };
    let deliveries = ctx.store.webhook_deliveries(hook.id, &filter).await?;
    let views: Vec<DeliveryView> = deliveries.iter().map(delivery_view).collect();
    Ok(json(StatusCode::OK, &views))
}

async fn retry_deliveries(ctx: &Ctx, customer: &str, name: &str, id: Option<i64>) -> ApiResult {
    let hook = ctx.store.webhook(customer, name).await?;
    let retried = ctx.store.retry_webhook_deliveries(hook.id, id).await?;
    let what = id.map_or_else(
        || "dead deliveries".to_owned(),
        |id| format!("delivery {id}"),
    );
    ctx.audit(
        None,
        format!("retried {retried} of webhook {customer}/{name}'s {what}"),
    )
    .await;
    Ok(json(StatusCode::OK, &RetriedView { retried }))
}

/// Show a webhook.
#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn show_webhook(ctx: &Ctx, call: Call) -> ApiResult {
    let record = ctx
        .store
        .webhook(call.param("name"), call.param("hook"))
        .await?;
    Ok(json(StatusCode::OK, &webhook_view(ctx, &record).await?))
}

/// Remove a webhook.
#[utoipa::path(delete, path = "/api/v1/customers/{name}/webhooks/{hook}", tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn delete_webhook(ctx: &Ctx, call: Call) -> ApiResult {
    let (customer, hook) = (call.param("name"), call.param("hook"));
    ctx.store.delete_webhook(customer, hook).await?;
    ctx.audit(None, format!("removed webhook {customer}/{hook}"))
        .await;
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

/// A webhook's deliveries.
#[utoipa::path(get, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries",
    tag = "webhooks",
    params(CustomerPath, WebhookPath, DeliveryQuery),
    responses(
        (status = 200, description = "One page of deliveries, oldest first",
            body = Vec<DeliveryView>),
        (status = 400, description = "A bad `state`, `after` or `limit`", body = ErrorBody),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn webhook_deliveries(ctx: &Ctx, call: Call) -> ApiResult {
    list_deliveries(ctx, call.param("name"), call.param("hook"), &call.query).await
}

/// Retry a webhook's dead letters now.
#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries/retry",
    tag = "webhooks",
    params(CustomerPath, WebhookPath),
    responses(
        (status = 200, description = "How many dead letters are due again", body = RetriedView),
        (status = 404, description = "No such customer or webhook", body = ErrorBody),
    ))]
pub(super) async fn retry_webhook_deliveries(ctx: &Ctx, call: Call) -> ApiResult {
    retry_deliveries(ctx, call.param("name"), call.param("hook"), None).await
}

/// Retry one delivery now.
#[utoipa::path(post, path = "/api/v1/customers/{name}/webhooks/{hook}/deliveries/{id}/retry",
    tag = "webhooks",
    params(CustomerPath, WebhookPath, DeliveryPath),
    responses(
        (status = 200, description = "1 if it is due again, 0 if it was delivered",
            body = RetriedView),
        (status = 404, description = "No such customer, webhook or delivery", body = ErrorBody),
    ))]
pub(super) async fn retry_webhook_delivery(ctx: &Ctx, call: Call) -> ApiResult {
    let id = call.param("id");
    let id = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("webhook delivery {id:?} does not exist")))?;
    retry_deliveries(ctx, call.param("name"), call.param("hook"), Some(id)).await
}

async fn webhook_view(ctx: &Ctx, record: &WebhookRecord) -> Result<WebhookView, ApiError> {
    // The health with the counts, read together in one snapshot.
    let health = ctx.store.webhook_health(record.id).await?;
    Ok(WebhookView {
        name: record.name.clone(),
        url: record.url.clone(),
        events: record.notices.clone(),
        ca_pem: record.ca_pem.clone(),
        enabled: record.enabled,
        created_at: timestamp(record.created_at),
        updated_at: timestamp(record.updated_at),
        status: WebhookStatusView {
            state: health.state().into(),
            last_error: health.last_error,
            last_error_at: health.last_error_at.map(timestamp),
            last_delivery_at: health.last_delivery_at.map(timestamp),
            pending: health.pending,
            delivered: health.delivered,
            dead: health.dead,
        },
    })
}

fn delivery_view(d: &DeliveryRecord) -> DeliveryView {
    DeliveryView {
        id: d.id,
        event_id: d.event_id,
        event_type: d.notice.event_type(),
        state: d.state,
        attempts: d.attempts,
        next_attempt_at: (d.state == DeliveryState::Pending).then(|| timestamp(d.next_attempt_at)),
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        delivered_at: d.delivered_at.map(timestamp),
        created_at: timestamp(d.created_at),
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    WebhookUrl::parse(url)
        .map(|_| ())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn check_ca(pem: Option<&str>) -> Result<(), ApiError> {
    match pem {
        Some(pem) => sender::check_anchors(pem).map_err(|e| ApiError::bad_request(e.to_string())),
        None => Ok(()),
    }
}

fn check_events(mut events: Vec<Notice>) -> Result<Vec<Notice>, ApiError> {
    events.sort_by_key(|n| Notice::ALL.iter().position(|a| a == n));
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::bad_request(format!(
            "a webhook needs at least one of the events {}",
            events_text(&Notice::ALL)
        )));
    }
    Ok(events)
}

fn events_text(notices: &[Notice]) -> String {
    notices
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn fresh_secret() -> Result<String, ApiError> {
    new_secret().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the system's random generator failed",
        )
    })
}
