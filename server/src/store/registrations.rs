//! The registrations queue of the [outbox](super::outbox): each device's registration document
//! per NMS connection, its delivery state, and each connection's health.
//!
//! A registration is committed here before anything is sent. Claiming, leases, settling and the
//! connection's health are the outbox's ([`REGISTRATIONS`]); what is the registrations' own is
//! here: one row per device and connection whose content may change while it waits (its version
//! is bumped, and an attempt settles only the version it carried), and the administrators'
//! filters and retries.
//!
//! May import: the store's own modules and the domain.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use ztp_certs::Serial;

use super::columns::Columns;
use super::outbox::{Attempt, Claim, Health, Key, OutboxStatus, REGISTRATIONS, Settled};
use super::{NewEvent, Store, StoreError, corrupt, now_ms};
use crate::domain::delivery::RegistrationState;

/// A registration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationRecord {
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
    /// The XML document.
    pub content: String,
    /// Content version (bumped on every change).
    pub version: i64,
    /// Delivery state.
    pub state: RegistrationState,
    /// Attempts since the content last changed or an administrator asked for a retry.
    pub attempts: i64,
    /// When the next attempt is due (Unix ms).
    pub next_attempt_at: i64,
    /// Since when the current content waits (Unix ms).
    pub pending_since: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the current content was delivered (Unix ms).
    pub delivered_at: Option<i64>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// A registration to queue (or to refresh, when the device already has one for the connection).
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// The device, by the serial its certificate names.
    pub serial: Serial,
    /// The owner.
    pub customer: String,
    /// The connection.
    pub connection: String,
    /// The remote file name.
    pub file_name: String,
    /// The document.
    pub content: String,
}

/// Which registrations to list or retry.
#[derive(Debug, Clone, Default)]
pub struct RegistrationFilter {
    /// Only in this state.
    pub state: Option<RegistrationState>,
    /// Only of this customer.
    pub customer: Option<String>,
    /// Only to this connection (of `customer`).
    pub connection: Option<String>,
    /// Only of this device.
    pub serial: Option<String>,
}

/// The columns every query of this table reads (a macro: SQL must be a literal).
macro_rules! registration_columns {
    () => {
        "id, serial, customer, connection, file_name, content, version, state, attempts, \
         next_attempt_at, pending_since, last_error, delivered_at, created_at, updated_at"
    };
}

/// A device's registration with one connection (`$1` serial, `$2` customer, `$3` connection):
/// the devices' path.
pub(super) const REGISTRATION_FOR: &str = concat!(
    "SELECT ",
    registration_columns!(),
    " FROM registrations WHERE serial = $1 AND customer = $2 AND connection = $3"
);

pub(super) fn record(row: &impl Columns) -> Result<RegistrationRecord, StoreError> {
    let state: String = row.column("state")?;
    Ok(RegistrationRecord {
        id: row.column("id")?,
        serial: row.column("serial")?,
        customer: row.column("customer")?,
        connection: row.column("connection")?,
        file_name: row.column("file_name")?,
        content: row.column("content")?,
        version: row.column("version")?,
        state: state.parse().map_err(corrupt("registration state"))?,
        attempts: row.column("attempts")?,
        next_attempt_at: row.column("next_attempt_at")?,
        pending_since: row.column("pending_since")?,
        last_error: row.column("last_error")?,
        delivered_at: row.column("delivered_at")?,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
    })
}

fn records(rows: &[AnyRow]) -> Result<Vec<RegistrationRecord>, StoreError> {
    rows.iter().map(record).collect()
}

impl Store {
    /// Queues a registration at `now`, or refreshes the device's existing one for the
    /// connection: new content makes it pending and due now (version bumped, attempts reset,
    /// an attempt in flight no longer holding it); the same content changes nothing, so a device
    /// calling again is not registered again.
    pub async fn put_registration(
        &self,
        new: &NewRegistration,
        now: i64,
    ) -> Result<RegistrationRecord, StoreError> {
        let row = sqlx::query(concat!(
            "INSERT INTO registrations (serial, customer, connection, file_name, content, \
               version, state, attempts, next_attempt_at, pending_since, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, 'pending', 0, $6, $6, $6, $6) \
             ON CONFLICT (serial, customer, connection) DO UPDATE SET \
               file_name = excluded.file_name, \
               content = excluded.content, \
               version = registrations.version + 1, \
               state = 'pending', \
               attempts = 0, \
               next_attempt_at = excluded.next_attempt_at, \
               pending_since = excluded.pending_since, \
               last_error = NULL, \
               delivered_at = NULL, \
               leased_until = NULL, \
               updated_at = excluded.updated_at \
             WHERE registrations.content <> excluded.content \
                OR registrations.file_name <> excluded.file_name \
             RETURNING ",
            registration_columns!()
        ))
        .bind(new.serial.as_str())
        .bind(&new.customer)
        .bind(&new.connection)
        .bind(&new.file_name)
        .bind(&new.content)
        .bind(now)
        .fetch_all(self.pool())
        .await
        .map(super::first_returned)?;
        match row {
            Some(row) => record(&row),
            // The conflict's update was skipped: the stored registration is already this one.
            None => self
                .registration_for(&new.serial, &new.customer, &new.connection)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "registration",
                    key: format!("{}/{}/{}", new.serial, new.customer, new.connection),
                }),
        }
    }

    /// The device's registration with one connection, if any.
    pub async fn registration_for(
        &self,
        serial: &Serial,
        customer: &str,
        connection: &str,
    ) -> Result<Option<RegistrationRecord>, StoreError> {
        self.device_path()
            .registration_for(serial, customer, connection)
            .await
    }

    /// One registration.
    pub async fn registration(&self, id: i64) -> Result<RegistrationRecord, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            registration_columns!(),
            " FROM registrations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(record)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "registration",
            key: id.to_string(),
        })
    }

    /// Registrations matching `filter`, oldest first, after id `after`, at most `limit`.
    pub async fn registrations(
        &self,
        filter: &RegistrationFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RegistrationRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            registration_columns!(),
            " FROM registrations WHERE id > $1 \
               AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR customer = $3) \
               AND ($4 IS NULL OR connection = $4) AND ($5 IS NULL OR serial = $5) \
             ORDER BY id LIMIT $6"
        ))
        .bind(after)
        .bind(filter.state.map(RegistrationState::as_str))
        .bind(filter.customer.as_deref())
        .bind(filter.connection.as_deref())
        .bind(filter.serial.as_deref())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        records(&rows)
    }

    /// The connections (not switched `off`) that have registrations due at `now`.
    pub async fn due_connections(&self, now: i64) -> Result<Vec<(String, String)>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT i.customer, i.connection FROM registrations i \
             JOIN nms_connections r ON r.customer = i.customer AND r.name = i.connection \
             WHERE {} AND r.policy <> 'off'",
            REGISTRATIONS.due("i", 1)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("customer")?, row.try_get("connection")?)))
            .collect()
    }

    /// Claims up to `limit` registrations of one connection that are due at `now`: each gets
    /// its attempt counted and is leased until `lease_until`.
    pub async fn claim_registrations(
        &self,
        customer: &str,
        connection: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<RegistrationRecord>, StoreError> {
        let receiver = [Key::Text(customer), Key::Text(connection)];
        let claim = Claim {
            receiver: Some(&receiver),
            now,
            lease_until,
            per_receiver: limit,
            limit,
        };
        let rows = self
            .claim(&REGISTRATIONS, registration_columns!(), claim)
            .await?;
        let mut claimed = records(&rows)?;
        claimed.sort_by_key(|r| r.id);
        Ok(claimed)
    }

    /// Makes registrations claimed with a lease due again at once, each `(id, lease_until)`
    /// only if it is still pending under that very lease (not settled or claimed anew
    /// meanwhile). Returns how many were released.
    pub async fn release_registrations(&self, held: &[(i64, i64)]) -> Result<u64, StoreError> {
        self.release(&REGISTRATIONS, held).await
    }

    /// Records, at `now`, the attempts of a round on one connection (each carrying the version
    /// it attempted), the events they raise, and the connection's health, in one transaction.
    /// An attempt on a version whose content changed meanwhile does not apply: the newer
    /// version stays pending and is delivered next.
    pub async fn settle_registrations(
        &self,
        attempts: &[Attempt<'_>],
        events: &[NewEvent],
        health: &Health<'_>,
        now: i64,
    ) -> Result<Settled, StoreError> {
        self.settle(&REGISTRATIONS, attempts, health, events, now)
            .await
    }

    /// Makes the matching registrations pending and due now, with a fresh give-up clock (an
    /// administrator's retry; a delivered one is delivered again). Returns how many.
    pub async fn retry_registrations(
        &self,
        filter: &RegistrationFilter,
        id: Option<i64>,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        Ok(sqlx::query(
            "UPDATE registrations SET state = 'pending', attempts = 0, next_attempt_at = $1, \
               leased_until = NULL, pending_since = $1, updated_at = $1 \
             WHERE ($2 IS NULL OR id = $2) \
               AND ($3 IS NULL OR state = $3) AND ($4 IS NULL OR customer = $4) \
               AND ($5 IS NULL OR connection = $5) AND ($6 IS NULL OR serial = $6)",
        )
        .bind(now)
        .bind(id)
        .bind(filter.state.map(RegistrationState::as_str))
        .bind(filter.customer.as_deref())
        .bind(filter.connection.as_deref())
        .bind(filter.serial.as_deref())
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Makes a connection's pending registrations due now (its settings changed: the reason
    /// they were failing may be gone). Returns how many.
    pub async fn hasten_registrations(
        &self,
        customer: &str,
        connection: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE registrations SET next_attempt_at = $3, leased_until = NULL \
             WHERE customer = $1 AND connection = $2 AND state = 'pending' \
               AND (next_attempt_at > $3 OR leased_until > $3)",
        )
        .bind(customer)
        .bind(connection)
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// A connection's health and queue.
    pub async fn connection_status(
        &self,
        customer: &str,
        connection: &str,
    ) -> Result<OutboxStatus, StoreError> {
        self.status(
            &REGISTRATIONS,
            &[Key::Text(customer), Key::Text(connection)],
        )
        .await
    }
}

#[cfg(test)]
mod tests;
