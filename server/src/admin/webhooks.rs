//! Webhook subscriptions in the admin API: a customer's receivers of device events, their
//! deliveries, a test delivery, and retries of dead letters.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::registrations::RetriedView;
use super::request::Request;
use super::{
    AdminApi, ApiError, ApiResult, distinct, json, limit, nullable, page, parse, timestamp,
};
use crate::domain::delivery::RegistrationState as DeliveryState;
use crate::domain::notice::Notice;
use crate::domain::response::valid_name;
use crate::secrets::Secret;
use crate::store::now_ms;
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
    /// Created.
    pub created_at: String,
    /// Last changed.
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

impl AdminApi {
    /// `/customers/{customer}/webhooks[/{hook}[/test|/deliveries[/retry|/{id}/retry]]]`.
    pub(super) async fn webhooks_route(
        &self,
        method: &Method,
        customer: &str,
        rest: &[&str],
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> ApiResult {
        match (method, rest) {
            (&Method::GET, []) => self.list_webhooks(customer, query).await,
            (&Method::POST, []) => self.create_webhook(customer, parse(body)?).await,
            (&Method::GET, [hook]) => {
                let record = self.store.webhook(customer, hook).await?;
                Ok(json(StatusCode::OK, &self.webhook_view(&record).await?))
            }
            (&Method::PATCH, [hook]) => self.patch_webhook(customer, hook, parse(body)?).await,
            (&Method::DELETE, [hook]) => {
                self.store.delete_webhook(customer, hook).await?;
                self.audit(None, format!("removed webhook {customer}/{hook}"))
                    .await;
                Ok(crate::http::empty(StatusCode::NO_CONTENT))
            }
            (&Method::POST, [hook, "test"]) => self.test_webhook(customer, hook).await,
            (&Method::GET, [hook, "deliveries"]) => {
                self.list_deliveries(customer, hook, query).await
            }
            (&Method::POST, [hook, "deliveries", "retry"]) => {
                self.retry_deliveries(customer, hook, None).await
            }
            (&Method::POST, [hook, "deliveries", id, "retry"]) => {
                let id = id.parse().map_err(|_| {
                    ApiError::not_found(format!("webhook delivery {id:?} does not exist"))
                })?;
                self.retry_deliveries(customer, hook, Some(id)).await
            }
            _ => Err(ApiError::not_found(format!(
                "no resource {method} /customers/{customer}/webhooks/{}",
                rest.join("/")
            ))),
        }
    }

    async fn list_webhooks(&self, customer: &str, query: &HashMap<String, String>) -> ApiResult {
        self.customer_record(customer).await?;
        let hooks = self.store.webhooks(customer).await?;
        let mut views = Vec::new();
        for record in page(hooks, |h| &h.name, query)? {
            views.push(self.webhook_view(&record).await?);
        }
        Ok(json(StatusCode::OK, &views))
    }

    async fn create_webhook(&self, customer: &str, create: CreateWebhook) -> ApiResult {
        self.customer_record(customer).await?;
        if !valid_name(&create.name) {
            return Err(ApiError::bad_request(format!(
                "webhook name {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
                create.name
            )));
        }
        let hooks = self.store.webhooks(customer).await?;
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
        let stored = self
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
        self.audit(
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
            webhook: self.webhook_view(&stored).await?,
            secret: stored.secret,
        };
        Ok(json(StatusCode::CREATED, &view))
    }

    async fn patch_webhook(&self, customer: &str, name: &str, patch: PatchWebhook) -> ApiResult {
        self.store.webhook(customer, name).await?;
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
        let stored = self.store.update_webhook(customer, name, &update).await?;
        self.audit(
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
        let view = self.webhook_view(&stored).await?;
        if patch.rotate_secret {
            let shown = WebhookWithSecret {
                webhook: view,
                secret: stored.secret,
            };
            return Ok(json(StatusCode::OK, &shown));
        }
        Ok(json(StatusCode::OK, &view))
    }

    async fn test_webhook(&self, customer: &str, name: &str) -> ApiResult {
        let record = self.store.webhook(customer, name).await?;
        let result = self
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
        self.audit(
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
        &self,
        customer: &str,
        name: &str,
        query: &HashMap<String, String>,
    ) -> ApiResult {
        let hook = self.store.webhook(customer, name).await?;
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
        let deliveries = self.store.webhook_deliveries(hook.id, &filter).await?;
        let views: Vec<DeliveryView> = deliveries.iter().map(delivery_view).collect();
        Ok(json(StatusCode::OK, &views))
    }

    async fn retry_deliveries(&self, customer: &str, name: &str, id: Option<i64>) -> ApiResult {
        let hook = self.store.webhook(customer, name).await?;
        let retried = self.store.retry_webhook_deliveries(hook.id, id).await?;
        let what = id.map_or_else(
            || "dead deliveries".to_owned(),
            |id| format!("delivery {id}"),
        );
        self.audit(
            None,
            format!("retried {retried} of webhook {customer}/{name}'s {what}"),
        )
        .await;
        Ok(json(StatusCode::OK, &RetriedView { retried }))
    }

    async fn webhook_view(&self, record: &WebhookRecord) -> Result<WebhookView, ApiError> {
        // The health with the counts, read together in one snapshot.
        let health = self.store.webhook_health(record.id).await?;
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
