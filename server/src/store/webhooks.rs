//! Customers' webhook subscriptions (here) and the queue of their deliveries ([`deliveries`]).
//!
//! A subscription's secret is sealed at rest and opened when read. Its health (last delivery,
//! last error) is kept beside it by the [outbox](super::outbox).
//!
//! May import: the store's own modules, the domain and the secrets.

mod deliveries;
#[cfg(test)]
mod tests;

pub use deliveries::{DeliveryFilter, DeliveryRecord, DueDelivery};
pub(super) use deliveries::{ENQUEUE, enqueue};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::notice::Notice;

/// A webhook subscription as stored, its secret opened (never hand this to an API response).
/// Its health and deliveries are read apart, in one snapshot ([`Store::webhook_health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    /// Id.
    pub id: i64,
    /// The owning customer.
    pub customer: String,
    /// The name, unique per customer.
    pub name: String,
    /// Where events are posted (`https://…`).
    pub url: String,
    /// The notices subscribed to.
    pub notices: Vec<Notice>,
    /// Certificates (PEM) the receiver's chain must lead to; `None`: the system's roots.
    pub ca_pem: Option<String>,
    /// The HMAC key.
    pub secret: String,
    /// Whether events are delivered.
    pub enabled: bool,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// A new subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// The owning customer.
    pub customer: String,
    /// The name.
    pub name: String,
    /// Where events are posted.
    pub url: String,
    /// The notices subscribed to.
    pub notices: Vec<Notice>,
    /// Trust anchors of the receiver, if not the system's.
    pub ca_pem: Option<String>,
    /// The HMAC key.
    pub secret: String,
    /// Whether events are delivered.
    pub enabled: bool,
}

/// Changes to a subscription (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookUpdate {
    /// A new URL.
    pub url: Option<String>,
    /// New notices.
    pub notices: Option<Vec<Notice>>,
    /// New trust anchors (`Some(None)`: the system's roots).
    pub ca_pem: Option<Option<String>>,
    /// A new HMAC key.
    pub secret: Option<String>,
    /// Enabled or disabled.
    pub enabled: Option<bool>,
}

macro_rules! webhook_columns {
    () => {
        "id, customer, name, url, events, ca_pem, secret, enabled, created_at, updated_at"
    };
}

pub(super) fn secret_field(customer: &str, name: &str) -> String {
    format!("webhooks.secret:{customer}/{name}")
}

fn not_found(customer: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        what: "webhook",
        key: format!("{customer}/{name}"),
    }
}

fn notices_text(notices: &[Notice]) -> String {
    notices
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn webhook(row: &AnyRow) -> Result<WebhookRecord, StoreError> {
    let events: String = row.try_get("events")?;
    Ok(WebhookRecord {
        id: row.try_get("id")?,
        customer: row.try_get("customer")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        notices: events
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(corrupt("webhook events"))?,
        ca_pem: row.try_get("ca_pem")?,
        secret: row.try_get("secret")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    fn reveal_webhook(&self, mut record: WebhookRecord) -> Result<WebhookRecord, StoreError> {
        record.secret = self.open_secret(
            &secret_field(&record.customer, &record.name),
            &record.secret,
        )?;
        Ok(record)
    }

    /// Stores a new subscription.
    pub async fn insert_webhook(&self, w: &NewWebhook) -> Result<WebhookRecord, StoreError> {
        self.require_customer(&w.customer).await?;
        let now = now_ms();
        let row = sqlx::query(concat!(
            "INSERT INTO webhooks (customer, name, url, events, ca_pem, secret, enabled, \
               created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
            webhook_columns!()
        ))
        .bind(&w.customer)
        .bind(&w.name)
        .bind(&w.url)
        .bind(notices_text(&w.notices))
        .bind(&w.ca_pem)
        .bind(self.seal(&secret_field(&w.customer, &w.name), &w.secret)?)
        .bind(i64::from(w.enabled))
        .bind(now)
        .fetch_all(self.pool())
        .await
        .and_then(super::only_returned)
        .map_err(conflict("webhook", &format!("{}/{}", w.customer, w.name)))?;
        self.reveal_webhook(webhook(&row)?)
    }

    /// One subscription.
    pub async fn webhook(&self, customer: &str, name: &str) -> Result<WebhookRecord, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE customer = $1 AND name = $2"
        ))
        .bind(customer)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| self.reveal_webhook(webhook(row)?))
        .transpose()?
        .ok_or_else(|| not_found(customer, name))
    }

    /// A subscription by id.
    pub async fn webhook_by_id(&self, id: i64) -> Result<Option<WebhookRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| self.reveal_webhook(webhook(row)?))
        .transpose()
    }

    /// A customer's subscriptions, by name.
    pub async fn webhooks(&self, customer: &str) -> Result<Vec<WebhookRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE customer = $1 ORDER BY name"
        ))
        .bind(customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| self.reveal_webhook(webhook(row)?))
        .collect()
    }

    /// Changes a subscription.
    pub async fn update_webhook(
        &self,
        customer: &str,
        name: &str,
        u: &WebhookUpdate,
    ) -> Result<WebhookRecord, StoreError> {
        let secret = u
            .secret
            .as_deref()
            .map(|s| self.seal(&secret_field(customer, name), s))
            .transpose()?;
        let row = sqlx::query(concat!(
            "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events), \
               ca_pem = CASE WHEN $5 THEN $6 ELSE ca_pem END, \
               secret = COALESCE($7, secret), enabled = COALESCE($8, enabled), \
               updated_at = $9 \
             WHERE customer = $1 AND name = $2 RETURNING ",
            webhook_columns!()
        ))
        .bind(customer)
        .bind(name)
        .bind(&u.url)
        .bind(u.notices.as_deref().map(notices_text))
        .bind(u.ca_pem.is_some())
        .bind(u.ca_pem.clone().flatten())
        .bind(secret)
        .bind(u.enabled.map(i64::from))
        .bind(now_ms())
        .fetch_all(self.pool())
        .await
        .map(super::first_returned)?
        .ok_or_else(|| not_found(customer, name))?;
        self.reveal_webhook(webhook(&row)?)
    }

    /// Removes a subscription and its deliveries.
    pub async fn delete_webhook(&self, customer: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM webhooks WHERE customer = $1 AND name = $2 RETURNING id",
        )
        .bind(customer)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or_else(|| not_found(customer, name))?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
