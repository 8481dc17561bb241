//! The registration outbox: each device's registration document per NMS connection, its
//! delivery state and retry schedule, and each connection's health.
//!
//! A registration is committed here before anything is sent. Delivery workers *claim* due rows
//! by moving their `next_attempt_at` to the end of a lease, so that two workers (two ztp
//! instances on one database) never attempt the same row at once, and a worker that dies
//! mid-attempt only delays the row until its lease ends.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::direct::Columns;
use super::events::insert_event;
use super::outbox::OutboxStatus;
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
    /// The device.
    pub serial: String,
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

/// How an attempt on one version of a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The NMS has it.
    Delivered {
        /// The registration.
        id: i64,
        /// The version delivered.
        version: i64,
    },
    /// It failed: retried at `retry_at`, or a dead letter when `None`.
    Failed {
        /// The registration.
        id: i64,
        /// The version attempted.
        version: i64,
        /// Why.
        error: &'a str,
        /// The next attempt.
        retry_at: Option<i64>,
    },
}

/// A connection's health after a round: `error` is the failure that made the whole round fail,
/// `None` after a delivery. `event` is recorded when the health changes (a new alarm, a
/// different one, or the end of one), never once per attempt.
#[derive(Debug, Clone)]
pub struct Health<'a> {
    /// The customer.
    pub customer: &'a str,
    /// The connection.
    pub connection: &'a str,
    /// The failure, or `None`.
    pub error: Option<&'a str>,
    /// The event to record if this is news.
    pub event: NewEvent,
}

/// What [`Store::settle_registrations`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Per outcome, whether it applied.
    pub applied: Vec<bool>,
    /// Whether the connection's health changed (and its event was recorded).
    pub health_changed: bool,
}

/// The columns every query of this table reads (a macro: SQL must be a literal).
macro_rules! registration_columns {
    () => {
        "id, serial, customer, connection, file_name, content, version, state, attempts, \
         next_attempt_at, pending_since, last_error, delivered_at, created_at, updated_at"
    };
}

fn record(row: &impl Columns) -> Result<RegistrationRecord, StoreError> {
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
    /// Queues a registration, or refreshes the device's existing one for the connection: new
    /// content makes it pending and due now (version bumped, attempts reset); the same content
    /// changes nothing, so a device calling again is not registered again.
    pub async fn put_registration(
        &self,
        new: &NewRegistration,
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
               updated_at = excluded.updated_at \
             WHERE registrations.content <> excluded.content \
                OR registrations.file_name <> excluded.file_name \
             RETURNING ",
            registration_columns!()
        ))
        .bind(&new.serial)
        .bind(&new.customer)
        .bind(&new.connection)
        .bind(&new.file_name)
        .bind(&new.content)
        .bind(now_ms())
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
        serial: &str,
        customer: &str,
        connection: &str,
    ) -> Result<Option<RegistrationRecord>, StoreError> {
        // The devices' path: inline, without a thread switch (see `direct`).
        let found = self.direct().rows(
            concat!(
                "SELECT ",
                registration_columns!(),
                " FROM registrations WHERE serial = $1 AND customer = $2 AND connection = $3"
            ),
            &[&serial, &customer, &connection],
            |row| record(row),
        )?;
        Ok(found.into_iter().next())
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
        let rows = sqlx::query(
            "SELECT DISTINCT r.customer, r.connection FROM registrations r \
             JOIN nms_connections c ON c.customer = r.customer AND c.name = r.connection \
             WHERE r.state = 'pending' AND r.next_attempt_at <= $1 AND c.policy <> 'off'",
        )
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
        // The outer condition repeats "due": on PostgreSQL a row that another claim updated
        // meanwhile is re-checked against it and skipped.
        let rows = sqlx::query(concat!(
            "UPDATE registrations SET next_attempt_at = $4, attempts = attempts + 1 \
             WHERE state = 'pending' AND next_attempt_at <= $3 AND id IN ( \
               SELECT id FROM registrations WHERE customer = $1 AND connection = $2 \
                 AND state = 'pending' AND next_attempt_at <= $3 \
               ORDER BY next_attempt_at, id LIMIT $5) \
             RETURNING ",
            registration_columns!()
        ))
        .bind(customer)
        .bind(connection)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut claimed = records(&rows)?;
        claimed.sort_by_key(|r| r.id);
        Ok(claimed)
    }

    /// Makes registrations claimed with a lease due at `now` again, each `(id, lease_until)`
    /// only if it is still pending under that very lease (not settled or claimed anew
    /// meanwhile). Returns how many were released.
    pub async fn release_registrations(
        &self,
        held: &[(i64, i64)],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut released = 0;
        for (id, lease_until) in held {
            released += sqlx::query(
                "UPDATE registrations SET next_attempt_at = $3 \
                 WHERE id = $1 AND next_attempt_at = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(lease_until)
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(released)
    }

    /// Records the outcomes of a round of attempts, the events they raise, and the
    /// connection's health, in one transaction. Returns, per outcome, whether it applied (an
    /// outcome for a version whose content changed meanwhile does not: the newer version stays
    /// pending and is delivered next), and whether the health changed (then its event was
    /// recorded too).
    pub async fn settle_registrations(
        &self,
        outcomes: &[Outcome<'_>],
        events: &[NewEvent],
        health: &Health<'_>,
    ) -> Result<Settled, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        // Every statement here writes, so SQLite takes the write lock with the first one and
        // never has to upgrade a read lock (which could fail with SQLITE_BUSY).
        let health_changed = match health.error {
            None => {
                sqlx::query(
                    "UPDATE nms_connections SET last_delivery_at = $3 \
                     WHERE customer = $1 AND name = $2",
                )
                .bind(health.customer)
                .bind(health.connection)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE nms_connections SET last_error = NULL, last_error_at = NULL \
                     WHERE customer = $1 AND name = $2 AND last_error IS NOT NULL",
                )
                .bind(health.customer)
                .bind(health.connection)
                .execute(&mut *tx)
                .await?
            }
            Some(error) => {
                sqlx::query(
                    "UPDATE nms_connections SET last_error = $3, last_error_at = $4 \
                     WHERE customer = $1 AND name = $2 \
                       AND (last_error IS NULL OR last_error <> $3)",
                )
                .bind(health.customer)
                .bind(health.connection)
                .bind(error)
                .bind(now)
                .execute(&mut *tx)
                .await?
            }
        }
        .rows_affected()
            > 0;
        if health_changed {
            insert_event(&mut tx, &health.event).await?;
        }
        let mut applied = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            let query = match *outcome {
                Outcome::Delivered { id, version } => sqlx::query(
                    "UPDATE registrations SET state = 'delivered', delivered_at = $3, \
                       last_error = NULL, updated_at = $3 \
                     WHERE id = $1 AND version = $2 AND state = 'pending'",
                )
                .bind(id)
                .bind(version)
                .bind(now),
                Outcome::Failed {
                    id,
                    version,
                    error,
                    retry_at,
                } => sqlx::query(
                    "UPDATE registrations SET state = $3, last_error = $4, next_attempt_at = $5, \
                       updated_at = $6 \
                     WHERE id = $1 AND version = $2 AND state = 'pending'",
                )
                .bind(id)
                .bind(version)
                .bind(match retry_at {
                    Some(_) => RegistrationState::Pending.as_str(),
                    None => RegistrationState::Dead.as_str(),
                })
                .bind(error)
                .bind(retry_at.unwrap_or(now))
                .bind(now),
            };
            applied.push(query.execute(&mut *tx).await?.rows_affected() == 1);
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(Settled {
            applied,
            health_changed,
        })
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
               pending_since = $1, updated_at = $1 \
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
            "UPDATE registrations SET next_attempt_at = $3 \
             WHERE customer = $1 AND connection = $2 AND state = 'pending' \
               AND next_attempt_at > $3",
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
        let row = sqlx::query(
            "SELECT last_error, last_error_at, last_delivery_at, \
               (SELECT COUNT(*) FROM registrations r WHERE r.customer = c.customer \
                  AND r.connection = c.name AND r.state = 'pending') AS pending, \
               (SELECT COUNT(*) FROM registrations r WHERE r.customer = c.customer \
                  AND r.connection = c.name AND r.state = 'delivered') AS delivered, \
               (SELECT COUNT(*) FROM registrations r WHERE r.customer = c.customer \
                  AND r.connection = c.name AND r.state = 'dead') AS dead \
             FROM nms_connections c WHERE c.customer = $1 AND c.name = $2",
        )
        .bind(customer)
        .bind(connection)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "NMS connection",
            key: format!("{customer}/{connection}"),
        })?;
        OutboxStatus::from_row(&row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::delivery::DeliveryPolicy;
    use crate::store::NmsConnectionRecord;
    use crate::store::testing::{new_customer, store};

    async fn with_connection() -> (Store, tempfile::TempDir) {
        let (store, dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        store
            .put_nms_connection(&NmsConnectionRecord {
                customer: "acme".into(),
                name: "main".into(),
                host: "127.0.0.1".into(),
                port: 22,
                username: "ztp".into(),
                password: Some("secret".into()),
                private_key_pem: None,
                pins: vec!["SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s".into()],
                directory: "incoming".into(),
                policy: DeliveryPolicy::NmsFirst,
                created_at: 0,
                updated_at: 0,
            })
            .await
            .unwrap();
        (store, dir)
    }

    fn delivered(id: i64, version: i64) -> Outcome<'static> {
        Outcome::Delivered { id, version }
    }

    fn failed(id: i64, error: &str, retry_at: Option<i64>) -> Outcome<'_> {
        Outcome::Failed {
            id,
            version: 1,
            error,
            retry_at,
        }
    }

    fn health(error: Option<&str>) -> Health<'_> {
        Health {
            customer: "acme",
            connection: "main",
            error,
            event: NewEvent {
                serial: None,
                kind: crate::store::EventKind::NmsFailing,
                status: None,
                peer: None,
                detail: format!("{error:?}"),
                notice: None,
            },
        }
    }

    async fn settle(store: &Store, outcome: Outcome<'_>) -> Vec<bool> {
        store
            .settle_registrations(&[outcome], &[], &health(None))
            .await
            .unwrap()
            .applied
    }

    fn new(serial: &str, content: &str) -> NewRegistration {
        NewRegistration {
            serial: serial.into(),
            customer: "acme".into(),
            connection: "main".into(),
            file_name: format!("{serial}.xml"),
            content: content.into(),
        }
    }

    #[tokio::test]
    async fn the_same_content_is_queued_once_and_new_content_is_queued_again() {
        let (store, _dir) = with_connection().await;
        let first = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        assert_eq!(
            (first.state, first.version),
            (RegistrationState::Pending, 1)
        );

        let claimed = store
            .claim_registrations("acme", "main", now_ms(), now_ms() + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(settle(&store, delivered(first.id, 1)).await, [true]);

        let again = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        assert_eq!(
            (again.id, again.state, again.version),
            (first.id, RegistrationState::Delivered, 1),
            "the same content: nothing to deliver"
        );
        let changed = store.put_registration(&new("SN-1", "<b/>")).await.unwrap();
        assert_eq!(
            (changed.id, changed.state, changed.version, changed.attempts),
            (first.id, RegistrationState::Pending, 2, 0)
        );
    }

    #[tokio::test]
    async fn a_released_claim_is_due_at_once_and_a_settled_one_is_not_touched() {
        let (store, _dir) = with_connection().await;
        let a = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        let b = store.put_registration(&new("SN-2", "<b/>")).await.unwrap();
        let now = now_ms();
        let lease = now + 600_000;
        let claimed = store
            .claim_registrations("acme", "main", now, lease, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2);
        assert_eq!(settle(&store, delivered(b.id, 1)).await, [true]);
        let released = store
            .release_registrations(&[(a.id, lease), (b.id, lease), (a.id + 99, lease)], now)
            .await
            .unwrap();
        assert_eq!(released, 1, "only the pending one under its lease");
        let again = store
            .claim_registrations("acme", "main", now, now + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
        // A lease that changed meanwhile (claimed anew) is not released by the old one.
        assert_eq!(
            store
                .release_registrations(&[(a.id, lease)], now)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn a_claim_leases_rows_and_a_stale_version_is_not_marked_delivered() {
        let (store, _dir) = with_connection().await;
        let r = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        let now = now_ms();
        let claimed = store
            .claim_registrations("acme", "main", now, now + 60_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            store
                .claim_registrations("acme", "main", now, now + 60_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased rows are not claimed twice"
        );
        assert!(store.due_connections(now).await.unwrap().is_empty());
        assert_eq!(
            store.due_connections(now + 60_000).await.unwrap(),
            [("acme".to_owned(), "main".to_owned())],
            "a lease that ran out makes the row due again"
        );

        // The device reported new host keys while the old content was on its way.
        store.put_registration(&new("SN-1", "<b/>")).await.unwrap();
        assert_eq!(settle(&store, delivered(r.id, 1)).await, [false]);
        let now = store.registration(r.id).await.unwrap();
        assert_eq!((now.state, now.version), (RegistrationState::Pending, 2));
    }

    #[tokio::test]
    async fn failures_retry_or_die_and_an_administrator_revives_dead_letters() {
        let (store, _dir) = with_connection().await;
        let r = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        settle(
            &store,
            failed(r.id, "connection refused", Some(now_ms() + 5_000)),
        )
        .await;
        let retrying = store.registration(r.id).await.unwrap();
        assert_eq!(retrying.state, RegistrationState::Pending);
        assert_eq!(retrying.last_error.as_deref(), Some("connection refused"));
        assert_eq!(store.hasten_registrations("acme", "main").await.unwrap(), 1);

        settle(&store, failed(r.id, "gave up", None)).await;
        let dead = RegistrationFilter {
            state: Some(RegistrationState::Dead),
            ..RegistrationFilter::default()
        };
        assert_eq!(store.registrations(&dead, 0, 10).await.unwrap().len(), 1);
        let status = store.connection_status("acme", "main").await.unwrap();
        assert_eq!((status.pending, status.dead), (0, 1));

        assert_eq!(store.retry_registrations(&dead, None).await.unwrap(), 1);
        let revived = store.registration(r.id).await.unwrap();
        assert_eq!(
            (revived.state, revived.attempts),
            (RegistrationState::Pending, 0)
        );
    }

    #[tokio::test]
    async fn connection_health_reports_changes_only_with_one_event_each() {
        let (store, _dir) = with_connection().await;
        let h = async |error| {
            store
                .settle_registrations(&[], &[], &health(error))
                .await
                .unwrap()
                .health_changed
        };
        assert!(h(Some("refused")).await, "a new alarm");
        assert!(!h(Some("refused")).await, "the same alarm again");
        assert!(h(Some("mismatch")).await, "a different one");
        assert!(h(None).await, "the end of the alarm");
        assert!(!h(None).await);
        let status = store.connection_status("acme", "main").await.unwrap();
        assert_eq!(status.last_error, None);
        assert!(status.last_delivery_at.is_some());
        let events = store
            .events(&crate::store::EventFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 3, "one event per change: {events:#?}");
    }

    #[tokio::test]
    async fn deleting_a_device_removes_its_registrations() {
        let (store, _dir) = with_connection().await;
        store
            .insert_device(&crate::store::NewDevice {
                serial: "SN-1".into(),
                model: "uCPE-100".into(),
                customer: Some("acme".into()),
                certificate_pin: None,
            })
            .await
            .unwrap();
        let r = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        store.delete_device("SN-1").await.unwrap();
        assert!(matches!(
            store.registration(r.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.due_connections(now_ms()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn removing_a_connection_removes_its_registrations() {
        let (store, _dir) = with_connection().await;
        let r = store.put_registration(&new("SN-1", "<a/>")).await.unwrap();
        store.delete_nms_connection("acme", "main").await.unwrap();
        assert!(matches!(
            store.registration(r.id).await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
