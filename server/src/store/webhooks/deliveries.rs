//! The webhook deliveries queue of the [outbox](crate::store::outbox): one row per event and
//! subscription that asked for its notice, written in the event's own transaction
//! ([`enqueue`]). Claiming, leases, settling and the subscription's health are the outbox's
//! ([`WEBHOOK_DELIVERIES`]); what is the deliveries' own is here: what a claimed delivery
//! carries (its event and customer), the receiver's last HTTP status, and the listing and
//! retries administrators ask for.
//!
//! May import: the store's own modules and the domain.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::delivery::RegistrationState as DeliveryState;
use crate::domain::notice::Notice;
use crate::store::outbox::{Attempt, Claim, Health, Key, OutboxStatus, WEBHOOK_DELIVERIES};
use crate::store::{Store, StoreError, corrupt, now_ms};

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

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event_id, notice, state, attempts, next_attempt_at, last_status, \
         last_error, delivered_at, pending_since, created_at"
    };
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
pub(in crate::store) const ENQUEUE: &str = "INSERT INTO webhook_deliveries \
       (webhook_id, event_id, notice, state, attempts, next_attempt_at, pending_since, \
        created_at) \
     SELECT w.id, $1, $2, 'pending', 0, $3, $3, $3 \
     FROM webhooks w JOIN devices d ON d.customer = w.customer \
     WHERE d.serial = $4 AND w.enabled = 1 \
       AND (' ' || w.events || ' ') LIKE ('% ' || $2 || ' %')";

/// Queues `notice` of event `event_id` for every enabled subscription of the owner of
/// `serial` that asked for it, on the event's own connection (its transaction).
pub(in crate::store) async fn enqueue(
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

impl Store {
    /// Claims up to `limit` due deliveries until `lease_until`, counting the attempt, with what
    /// they carry: at most `per_webhook` of each subscription (oldest first), and none of a
    /// subscription with an attempt still running, so that a receiver never has more than
    /// `per_webhook` at once. That holds across instances on one PostgreSQL database too: two
    /// claims at once choose the same oldest deliveries, and the later one, re-checking rows
    /// the earlier leased meanwhile, skips them.
    pub async fn claim_webhook_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        per_webhook: u32,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let claim = Claim {
            receiver: None,
            now,
            lease_until,
            per_receiver: per_webhook,
            limit,
        };
        let claimed = self
            .claim(&WEBHOOK_DELIVERIES, delivery_columns!(), claim)
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

    /// Records, at `now`, how an attempt of a delivery to subscription `webhook_id` ended, and
    /// the subscription's health; a retry holds the subscription's other waiting deliveries back
    /// as long (the receiver sees a few attempts per retry while it is down, not its whole
    /// backlog). Returns whether the attempt applied (not when the delivery was removed or
    /// retried by an administrator meanwhile).
    pub async fn settle_webhook_delivery(
        &self,
        webhook_id: i64,
        attempt: &Attempt<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let receiver = [Key::Int(webhook_id)];
        let health = Health {
            receiver: &receiver,
            error: attempt.error,
            event: None,
        };
        let settled = self
            .settle(&WEBHOOK_DELIVERIES, &[*attempt], &health, &[], now)
            .await?;
        Ok(settled.applied.first().copied().unwrap_or(false))
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
        self.status(&WEBHOOK_DELIVERIES, &[Key::Int(webhook_id)])
            .await
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
