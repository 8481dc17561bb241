//! What an outbox reports about one receiver (an NMS connection, a webhook): its health and its
//! items by state.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::StoreError;

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
