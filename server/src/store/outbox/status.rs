//! What an outbox reports about one receiver (an NMS connection, a webhook): its health and its
//! items by state.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::Queue;
use crate::store::{Store, StoreError};

/// An outbox's health and queue, as its delivery worker left them and as of one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStatus {
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// Since when attempts fail with it (Unix ms).
    pub last_error_at: Option<i64>,
    /// The last successful delivery (Unix ms).
    pub last_delivery_at: Option<i64>,
    /// Items waiting.
    pub pending: i64,
    /// Items delivered.
    pub delivered: i64,
    /// Items given up (dead letters).
    pub dead: i64,
}

impl OutboxStatus {
    /// `failing` (the last attempt failed), `ok` (the last one succeeded) or `unknown`
    /// (nothing attempted yet).
    pub fn state(&self) -> &'static str {
        match (&self.last_error, self.last_delivery_at) {
            (Some(_), _) => "failing",
            (None, Some(_)) => "ok",
            (None, None) => "unknown",
        }
    }

    /// `(pending, delivered, dead)`.
    pub fn counts(&self) -> (i64, i64, i64) {
        (self.pending, self.delivered, self.dead)
    }

    /// Reads a row with the columns `last_error, last_error_at, last_delivery_at, pending,
    /// delivered, dead`.
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            last_error: row.try_get("last_error")?,
            last_error_at: row.try_get("last_error_at")?,
            last_delivery_at: row.try_get("last_delivery_at")?,
            pending: row.try_get("pending")?,
            delivered: row.try_get("delivered")?,
            dead: row.try_get("dead")?,
        })
    }
}

/// One receiver's backlog: the items waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// The receiver's owner.
    pub customer: String,
    /// The receiver's name.
    pub receiver: String,
    /// Items waiting.
    pub pending: i64,
    /// Since when the oldest of them waits (Unix ms; `None`: none waits).
    pub oldest_since: Option<i64>,
}

impl Store {
    /// Every receiver's backlog in `queue`, receivers without one included (with none
    /// waiting), by owner and name. One statement per scrape of the metrics: a group over
    /// the pending items, which the claim's index on `state` narrows.
    pub(crate) async fn backlogs(&self, queue: &Queue) -> Result<Vec<Backlog>, StoreError> {
        let sql = format!(
            "SELECT r.customer, r.name, COUNT(i.state) AS pending, \
               MIN(i.pending_since) AS oldest_since \
             FROM {} r LEFT JOIN {} i ON {} AND i.state = 'pending' \
             GROUP BY r.customer, r.name ORDER BY r.customer, r.name",
            queue.receivers,
            queue.items,
            queue.join("i", "r"),
        );
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(Backlog {
                    customer: row.try_get("customer")?,
                    receiver: row.try_get("name")?,
                    pending: row.try_get("pending")?,
                    oldest_since: row.try_get("oldest_since")?,
                })
            })
            .collect()
    }

    /// Every NMS connection's backlog of registrations.
    pub async fn nms_backlogs(&self) -> Result<Vec<Backlog>, StoreError> {
        self.backlogs(&super::REGISTRATIONS).await
    }

    /// Every webhook's backlog of deliveries.
    pub async fn webhook_backlogs(&self) -> Result<Vec<Backlog>, StoreError> {
        self.backlogs(&super::WEBHOOK_DELIVERIES).await
    }
}
