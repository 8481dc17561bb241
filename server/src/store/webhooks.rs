//! Customers' webhook subscriptions and the webhook outbox.
//!
//! A delivery row is written with the event that raises it (see [`enqueue`]), one per enabled
//! subscription of the device's owner that asked for the notice. The sender claims due rows
//! with a lease, posts them and settles each: delivered, retried later, or dead after the
//! give-up time. A subscription's health (last delivery, last error) is kept beside it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::direct::numbered;
use super::outbox::OutboxStatus;
use super::{Store, StoreError, conflict, corrupt, now_ms};
use crate::domain::delivery::RegistrationState as DeliveryState;
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

/// A delivery of one event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Id (also the receiver's idempotency key).
    pub id: i64,
    /// The subscription.
    pub webhook_id: i64,
    /// The event delivered.
    pub event_id: i64,
    /// What it tells.
    pub notice: Notice,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts so far (a claimed delivery counts its running attempt).
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
    /// Since when it waits (Unix ms): the give-up clock.
    pub pending_since: i64,
    /// Queued (Unix ms).
    pub created_at: i64,
}

/// A claimed delivery with what it carries: the event and the subscription's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: DeliveryRecord,
    /// The customer.
    pub customer: String,
    /// The device.
    pub serial: String,
    /// When the event happened (Unix ms).
    pub at: i64,
    /// The event's details.
    pub detail: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// It failed; try again at `retry_at`, or never (`None`: a dead letter).
    Failed {
        /// The receiver's status, if it answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at: Option<i64>,
    },
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only in this state.
    pub state: Option<DeliveryState>,
    /// Only with an id above this.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

macro_rules! webhook_columns {
    () => {
        "id, customer, name, url, events, ca_pem, secret, enabled, created_at, updated_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event_id, notice, state, attempts, next_attempt_at, last_status, \
         last_error, delivered_at, pending_since, created_at"
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

fn delivery(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    let notice: String = row.try_get("notice")?;
    let state: String = row.try_get("state")?;
    let status: Option<i32> = row.try_get("last_status")?;
    Ok(DeliveryRecord {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_id: row.try_get("event_id")?,
        notice: notice.parse().map_err(corrupt("webhook notice"))?,
        state: state.parse().map_err(corrupt("webhook delivery state"))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
        pending_since: row.try_get("pending_since")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Queues a notice for every enabled subscription of a device's owner that asked for it:
/// `$1` event id, `$2` notice, `$3` time, `$4` serial.
const ENQUEUE: &str = "INSERT INTO webhook_deliveries \
       (webhook_id, event_id, notice, state, attempts, next_attempt_at, pending_since, \
        created_at) \
     SELECT w.id, $1, $2, 'pending', 0, $3, $3, $3 \
     FROM webhooks w JOIN devices d ON d.customer = w.customer \
     WHERE d.serial = $4 AND w.enabled = 1 \
       AND (' ' || w.events || ' ') LIKE ('% ' || $2 || ' %')";

/// Queues `notice` of event `event_id` for every enabled subscription of the owner of
/// `serial` that asked for it, on the event's own connection (its transaction).
pub(super) async fn enqueue(
    connection: &mut sqlx::AnyConnection,
    event_id: i64,
    serial: &str,
    notice: Notice,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(ENQUEUE)
        .bind(event_id)
        .bind(notice.as_str())
        .bind(now)
        .bind(serial)
        .execute(connection)
        .await?;
    Ok(())
}

/// [`enqueue`] on a connection of the devices' path (the journal's transaction).
pub(super) fn enqueue_on(
    connection: &rusqlite::Connection,
    event_id: i64,
    serial: &str,
    notice: Notice,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(ENQUEUE)?
        .execute(numbered(&[&event_id, &notice.as_str(), &now, &serial]).as_slice())?;
    Ok(())
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

    /// Claims up to `limit` due deliveries until `lease_until`, counting the attempt, with what
    /// they carry: at most `per_webhook` of each subscription (oldest first), and none of a
    /// subscription with an attempt still running, so that a receiver never has more than
    /// `per_webhook` at once.
    pub async fn claim_webhook_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        per_webhook: u32,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        // The outer condition repeats "due": on PostgreSQL a row that another claim updated
        // meanwhile is re-checked against it and skipped.
        let claimed = sqlx::query(concat!(
            "UPDATE webhook_deliveries SET leased_until = $2, attempts = attempts + 1 \
             WHERE state = 'pending' AND next_attempt_at <= $1 \
               AND (leased_until IS NULL OR leased_until <= $1) AND id IN ( \
               SELECT id FROM ( \
                 SELECT d.id, d.next_attempt_at, ROW_NUMBER() OVER ( \
                   PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS n \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                   AND (d.leased_until IS NULL OR d.leased_until <= $1) AND w.enabled = 1 \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries r \
                     WHERE r.webhook_id = d.webhook_id AND r.leased_until > $1)) due \
               WHERE n <= $3 ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING ",
            delivery_columns!()
        ))
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(per_webhook))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(delivery)
        .collect::<Result<Vec<_>, _>>()?;
        let mut due = Vec::with_capacity(claimed.len());
        for delivery in claimed {
            let row = sqlx::query(
                "SELECT w.customer, e.serial, e.at, e.detail \
                 FROM webhooks w, events e WHERE w.id = $1 AND e.id = $2",
            )
            .bind(delivery.webhook_id)
            .bind(delivery.event_id)
            .fetch_optional(self.pool())
            .await?;
            // A subscription removed since the claim takes its deliveries with it.
            let Some(row) = row else { continue };
            let serial: Option<String> = row.try_get("serial")?;
            due.push(DueDelivery {
                customer: row.try_get("customer")?,
                serial: serial.unwrap_or_default(),
                at: row.try_get("at")?,
                detail: row.try_get("detail")?,
                delivery,
            });
        }
        due.sort_by_key(|d| d.delivery.id);
        Ok(due)
    }

    /// Records how an attempt of delivery `id` ended, and the subscription's health.
    pub async fn settle_webhook_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let webhook_id: Option<i64> = match outcome {
            DeliveryOutcome::Delivered { status } => {
                sqlx::query_scalar(
                    "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $2, \
                   last_status = $3, last_error = NULL, leased_until = NULL \
                 WHERE id = $1 AND state = 'pending' RETURNING webhook_id",
                )
                .bind(id)
                .bind(now)
                .bind(i32::from(*status))
                .fetch_optional(&mut *tx)
                .await?
            }
            DeliveryOutcome::Failed {
                status,
                error,
                retry_at,
            } => {
                sqlx::query_scalar(
                    "UPDATE webhook_deliveries SET \
                   state = CASE WHEN $4 IS NULL THEN 'dead' ELSE 'pending' END, \
                   next_attempt_at = COALESCE($4, next_attempt_at), \
                   last_status = $2, last_error = $3, leased_until = NULL \
                 WHERE id = $1 AND state = 'pending' RETURNING webhook_id",
                )
                .bind(id)
                .bind(status.map(i32::from))
                .bind(error)
                .bind(retry_at)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        if let Some(webhook_id) = webhook_id {
            let query = match outcome {
                DeliveryOutcome::Delivered { .. } => sqlx::query(
                    "UPDATE webhooks SET last_delivery_at = $2, last_error = NULL, \
                       last_error_at = NULL WHERE id = $1",
                )
                .bind(webhook_id)
                .bind(now),
                DeliveryOutcome::Failed { error, .. } => sqlx::query(
                    "UPDATE webhooks SET last_error = $2, last_error_at = $3 WHERE id = $1",
                )
                .bind(webhook_id)
                .bind(error)
                .bind(now),
            };
            query.execute(&mut *tx).await?;
            // What failed for one delivery would fail for the receiver's others: those waiting
            // are not tried before this one's retry (the receiver sees a few attempts per
            // retry while it is down, not its whole backlog).
            if let DeliveryOutcome::Failed {
                retry_at: Some(retry_at),
                ..
            } = outcome
            {
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = $2 \
                     WHERE webhook_id = $1 AND state = 'pending' AND leased_until IS NULL \
                       AND next_attempt_at < $2",
                )
                .bind(webhook_id)
                .bind(retry_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A subscription's deliveries, oldest first.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE webhook_id = $1 \
              AND ($2 IS NULL OR state = $2) AND id > $3 ORDER BY id LIMIT $4"
        ))
        .bind(webhook_id)
        .bind(filter.state.map(DeliveryState::as_str))
        .bind(filter.after.unwrap_or(0))
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(delivery)
        .collect()
    }

    /// A subscription's health and its deliveries by state, read in one statement (one
    /// snapshot: a delivery settled meanwhile shows in both or in neither).
    pub async fn webhook_health(&self, webhook_id: i64) -> Result<OutboxStatus, StoreError> {
        let row = sqlx::query(
            "SELECT w.last_error, w.last_error_at, w.last_delivery_at, \
               COALESCE(SUM(CASE WHEN d.state = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
               COALESCE(SUM(CASE WHEN d.state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
               COALESCE(SUM(CASE WHEN d.state = 'dead' THEN 1 ELSE 0 END), 0) AS dead \
             FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id \
             WHERE w.id = $1 GROUP BY w.id",
        )
        .bind(webhook_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "webhook",
            key: webhook_id.to_string(),
        })?;
        OutboxStatus::from_row(&row)
    }

    /// Makes a subscription's deliveries due now: delivery `id`, or all dead ones. Returns how
    /// many.
    pub async fn retry_webhook_deliveries(
        &self,
        webhook_id: i64,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let retried = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $2, \
               leased_until = NULL, \
               pending_since = CASE WHEN state = 'dead' THEN $2 ELSE pending_since END \
             WHERE webhook_id = $1 AND ($3 IS NULL OR id = $3) \
               AND (state = 'dead' OR ($3 IS NOT NULL AND state = 'pending'))",
        )
        .bind(webhook_id)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if let (Some(id), 0) = (id, retried) {
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2",
            )
            .bind(webhook_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound {
                    what: "webhook delivery",
                    key: id.to_string(),
                });
            }
        }
        Ok(retried)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{add_device, new_customer, store};
    use crate::store::{EventKind, NewEvent};

    fn hook(name: &str, notices: &[Notice]) -> NewWebhook {
        NewWebhook {
            customer: "acme".into(),
            name: name.into(),
            url: "https://hooks.acme.example/ztp".into(),
            notices: notices.to_vec(),
            ca_pem: None,
            secret: "s3cret".into(),
            enabled: true,
        }
    }

    fn event(serial: &str, kind: EventKind, notice: Option<Notice>) -> NewEvent {
        NewEvent {
            serial: Some(serial.into()),
            kind,
            status: None,
            peer: None,
            detail: "detail".into(),
            notice,
        }
    }

    /// Claims what is due now, leased for a minute: up to `per_webhook` of each subscription
    /// and `limit` in all.
    async fn claim_due(store: &Store, per_webhook: u32, limit: u32) -> Vec<DueDelivery> {
        let now = now_ms();
        store
            .claim_webhook_deliveries(now, now + 60_000, per_webhook, limit)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_event_the_journal_records_queues_its_delivery_naming_that_event() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&store, "SN-1", "acme").await;
        store
            .insert_webhook(&hook("all", &Notice::ALL))
            .await
            .unwrap();
        let journal = crate::store::journal::Journal::start(&store);
        let registered = Some(Notice::RegisteredInNms);
        for kind in [EventKind::BootstrapServed, EventKind::RegistrationDelivered] {
            let notice = registered.filter(|_| kind == EventKind::RegistrationDelivered);
            journal.record(event("SN-1", kind, notice)).await.unwrap();
        }
        let event_id: i64 =
            sqlx::query_scalar("SELECT id FROM events WHERE kind = 'registration-delivered'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        let due = claim_due(&store, 4, 10).await;
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].delivery.event_id, event_id);
    }

    #[tokio::test]
    async fn an_event_queues_a_delivery_for_each_subscription_that_asked() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        store.insert_customer(&new_customer("other")).await.unwrap();
        for (serial, customer) in [("SN-1", "acme"), ("SN-2", "other")] {
            add_device(&store, serial, customer).await;
        }
        let all = store
            .insert_webhook(&hook("all", &Notice::ALL))
            .await
            .unwrap();
        let shortages = store
            .insert_webhook(&hook("shortages", &[Notice::LicenseShortage]))
            .await
            .unwrap();
        let mut off = hook("off", &Notice::ALL);
        off.enabled = false;
        store.insert_webhook(&off).await.unwrap();
        assert_eq!(all.secret, "s3cret", "the secret opens");

        let registered = Some(Notice::RegisteredInNms);
        store
            .record(&event("SN-1", EventKind::RegistrationDelivered, registered))
            .await
            .unwrap();
        store
            .record(&event("SN-2", EventKind::RegistrationDelivered, registered))
            .await
            .unwrap();
        store
            .record(&event("SN-1", EventKind::BootstrapServed, None))
            .await
            .unwrap();

        let counts = |id| {
            let store = store.clone();
            async move { store.webhook_health(id).await.unwrap().counts() }
        };
        assert_eq!(counts(all.id).await, (1, 0, 0), "acme's device only");
        assert_eq!(counts(shortages.id).await, (0, 0, 0), "not subscribed");

        let due = claim_due(&store, 4, 10).await;
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].customer.as_str(), due[0].serial.as_str()),
            ("acme", "SN-1")
        );
        assert!(claim_due(&store, 4, 10).await.is_empty(), "leased");
        let id = due[0].delivery.id;
        let failed = DeliveryOutcome::Failed {
            status: Some(500),
            error: "HTTP 500".into(),
            retry_at: None,
        };
        store.settle_webhook_delivery(id, &failed).await.unwrap();
        assert_eq!(counts(all.id).await, (0, 0, 1), "a dead letter");
        let health = store.webhook_health(all.id).await.unwrap();
        assert_eq!(health.last_error.as_deref(), Some("HTTP 500"));

        assert_eq!(
            store.retry_webhook_deliveries(all.id, None).await.unwrap(),
            1
        );
        let due = claim_due(&store, 4, 10).await;
        assert_eq!(due[0].delivery.attempts, 2);
        store
            .settle_webhook_delivery(id, &DeliveryOutcome::Delivered { status: 204 })
            .await
            .unwrap();
        assert_eq!(counts(all.id).await, (0, 1, 0));
        let health = store.webhook_health(all.id).await.unwrap();
        assert_eq!(health.last_error, None);
        assert!(health.last_delivery_at.is_some());
        assert!(matches!(
            store.retry_webhook_deliveries(all.id, Some(9999)).await,
            Err(StoreError::NotFound { .. })
        ));

        store.delete_webhook("acme", "all").await.unwrap();
        assert!(matches!(
            store.webhook("acme", "all").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn a_delivered_registration_notifies_in_the_same_transaction_as_its_settlement() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&store, "SN-1", "acme").await;
        let hook = store
            .insert_webhook(&hook("nms", &[Notice::RegisteredInNms]))
            .await
            .unwrap();
        let health = crate::store::Health {
            customer: "acme",
            connection: "main",
            error: None,
            event: event("SN-1", EventKind::NmsRecovered, None),
        };
        let delivered = event(
            "SN-1",
            EventKind::RegistrationDelivered,
            Notice::of(EventKind::RegistrationDelivered, None),
        );
        store
            .settle_registrations(&[], &[delivered], &health)
            .await
            .unwrap();
        assert_eq!(
            store.webhook_health(hook.id).await.unwrap().counts(),
            (1, 0, 0)
        );
        let due = store
            .claim_webhook_deliveries(now_ms(), now_ms() + 1000, 4, 10)
            .await
            .unwrap();
        assert_eq!(due[0].delivery.notice, Notice::RegisteredInNms);
    }

    #[tokio::test]
    async fn a_claim_takes_a_few_of_each_subscription_so_one_backlog_does_not_starve_others() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&store, "SN-1", "acme").await;
        let busy = store
            .insert_webhook(&hook("busy", &[Notice::LicenseShortage]))
            .await
            .unwrap();
        for _ in 0..10 {
            store
                .record(&event(
                    "SN-1",
                    EventKind::LicenseShortage,
                    Some(Notice::LicenseShortage),
                ))
                .await
                .unwrap();
        }
        let quiet = store
            .insert_webhook(&hook("quiet", &[Notice::LicenseShortage]))
            .await
            .unwrap();
        store
            .record(&event(
                "SN-1",
                EventKind::LicenseShortage,
                Some(Notice::LicenseShortage),
            ))
            .await
            .unwrap();
        let due = claim_due(&store, 3, 100).await;
        let of = |id| due.iter().filter(|d| d.delivery.webhook_id == id).count();
        assert_eq!((of(busy.id), of(quiet.id)), (3, 1));

        // A receiver that fails gets none of its other deliveries before the failed one's
        // retry: they wait as long.
        let retry_at = now_ms() + 60_000;
        for d in due.iter().filter(|d| d.delivery.webhook_id == busy.id) {
            let failed = DeliveryOutcome::Failed {
                status: None,
                error: "connection refused".into(),
                retry_at: Some(retry_at),
            };
            store
                .settle_webhook_delivery(d.delivery.id, &failed)
                .await
                .unwrap();
        }
        let later = now_ms() + 1_000;
        let due = store
            .claim_webhook_deliveries(later, later + 60_000, 3, 100)
            .await
            .unwrap();
        assert!(
            due.iter().all(|d| d.delivery.webhook_id != busy.id),
            "the failing receiver's backlog waits"
        );
        assert_eq!(
            store.webhook_health(busy.id).await.unwrap().counts(),
            (11, 0, 0),
            "all still pending"
        );
    }
}
