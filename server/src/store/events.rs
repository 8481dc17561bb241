//! What happened: bootstrap requests and refusals, progress reports, admin changes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use ztp_certs::Serial;

use super::{Store, StoreError, corrupt, now_ms};
pub use crate::domain::event::EventKind;
use crate::domain::notice::Notice;
use crate::domain::progress::ProgressReport;

/// The statement that records an event (`$1` time, `$2` serial, `$3` kind, `$4` status, `$5`
/// peer, `$6` detail, `$7` request id), with `$tail` appended. The sqlx path appends
/// `RETURNING id` (its `Any` driver reports no row id); the devices' path reads the row id
/// instead, since `RETURNING` has SQLite gather the returned row in a temporary table, opened
/// and dropped for every statement.
macro_rules! insert_event_sql {
    ($($tail:literal)?) => {
        concat!(
            "INSERT INTO events (at, serial, kind, status, peer, detail, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
            $(, $tail)?
        )
    };
}
pub(super) use insert_event_sql;

/// The statement that keeps a progress report (`$1` serial, `$2` time, `$3` type, `$4`
/// message, `$5` host keys, `$6` trust anchors: see [`stored_lists`]).
pub(super) const INSERT_PROGRESS: &str = "INSERT INTO progress_reports \
       (serial, at, progress_type, message, ssh_host_keys, trust_anchor_certs) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Records `e` on `connection` (inside a transaction when `e` raises a notice: the event and
/// its webhook deliveries are written together, or neither is).
pub(crate) async fn insert_event(
    connection: &mut sqlx::AnyConnection,
    e: &NewEvent,
) -> Result<(), StoreError> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(insert_event_sql!(" RETURNING id"))
        .bind(now)
        .bind(e.serial.as_ref().map(Serial::as_str))
        .bind(e.kind.as_str())
        .bind(e.status.map(i32::from))
        .bind(&e.peer)
        .bind(&e.detail)
        .bind(&e.request_id)
        .fetch_all(&mut *connection)
        .await
        .and_then(super::only_returned)?;
    if let (Some(notice), Some(serial)) = (e.notice, &e.serial) {
        super::webhooks::enqueue(connection, id, serial.as_str(), notice, now).await?;
    }
    Ok(())
}

/// A progress report's host keys and trust anchors as stored (JSON lists of base64; `None`
/// for an empty list).
pub(super) fn stored_lists(report: &ProgressReport) -> (Option<String>, Option<String>) {
    let keys: Vec<StoredHostKey> = report
        .ssh_host_keys
        .iter()
        .map(|k| StoredHostKey {
            algorithm: k.algorithm.clone(),
            key_data: BASE64.encode(&k.key_data),
        })
        .collect();
    let anchors: Vec<String> = report
        .trust_anchor_certs
        .iter()
        .map(|c| BASE64.encode(c))
        .collect();
    let json = |empty: bool, value: String| (!empty).then_some(value);
    let keys = json(keys.is_empty(), serde_json::json!(keys).to_string());
    let anchors = json(anchors.is_empty(), serde_json::json!(anchors).to_string());
    (keys, anchors)
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The device concerned (for a refusal: the serial its certificate claims, if readable).
    pub serial: Option<Serial>,
    /// What happened.
    pub kind: EventKind,
    /// The HTTP status answered.
    pub status: Option<u16>,
    /// The peer's address.
    pub peer: Option<String>,
    /// Details for a person.
    pub detail: String,
    /// The webhook notice it raises for the device's owner.
    pub notice: Option<Notice>,
    /// The device call that wrote it (its `x-request-id`), if a device call did.
    pub request_id: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Sequence number.
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// The device concerned.
    #[schema(required = true)]
    pub serial: Option<String>,
    /// What happened (an [`EventKind`] name).
    pub kind: String,
    /// The HTTP status answered.
    #[schema(required = true)]
    pub status: Option<u16>,
    /// The peer's address.
    #[schema(required = true)]
    pub peer: Option<String>,
    /// Details.
    pub detail: String,
    /// The device call that wrote it (the `x-request-id` it was answered with, and the
    /// `request` of its log lines); none for what no device call wrote.
    #[schema(required = true)]
    pub request_id: Option<String>,
}

/// Which events to list: newest first, `limit` of them, before event `before` if given.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this device's.
    pub serial: Option<String>,
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only events older than this id (for paging).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
    /// Only events of this customer's devices.
    pub customer: Option<String>,
}

/// A progress report as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgressRecord {
    /// Sequence number.
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// The progress type.
    pub progress_type: String,
    /// The device's message.
    #[schema(required = true)]
    pub message: Option<String>,
    /// SSH host keys from bootstrap-complete.
    pub ssh_host_keys: Vec<StoredHostKey>,
    /// Trust-anchor certificate bags from bootstrap-complete (base64 DER CMS).
    pub trust_anchor_certs: Vec<String>,
}

/// An SSH host key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredHostKey {
    /// The algorithm name.
    pub algorithm: String,
    /// The key blob, base64.
    pub key_data: String,
}

fn event(row: &AnyRow) -> Result<EventRecord, StoreError> {
    let status: Option<i32> = row.try_get("status")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        serial: row.try_get("serial")?,
        kind: row.try_get("kind")?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        peer: row.try_get("peer")?,
        detail: row.try_get("detail")?,
        request_id: row.try_get("request_id")?,
    })
}

fn progress(row: &AnyRow) -> Result<ProgressRecord, StoreError> {
    let keys: Option<String> = row.try_get("ssh_host_keys")?;
    let anchors: Option<String> = row.try_get("trust_anchor_certs")?;
    Ok(ProgressRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        progress_type: row.try_get("progress_type")?,
        message: row.try_get("message")?,
        ssh_host_keys: json_list(keys)?,
        trust_anchor_certs: json_list(anchors)?,
    })
}

/// A JSON list column: absent means empty.
fn json_list<T: serde::de::DeserializeOwned>(json: Option<String>) -> Result<Vec<T>, StoreError> {
    json.map(|j| serde_json::from_str(&j).map_err(|e| corrupt("progress report")(e.to_string())))
        .transpose()
        .map(Option::unwrap_or_default)
}

impl Store {
    /// Records an event (with the webhook deliveries it raises).
    pub async fn record(&self, e: &NewEvent) -> Result<(), StoreError> {
        if e.notice.is_some() {
            let mut tx = self.pool().begin().await?;
            insert_event(&mut tx, e).await?;
            tx.commit().await?;
        } else {
            insert_event(&mut *self.pool().acquire().await?, e).await?;
        }
        Ok(())
    }

    /// Events matching `filter`, newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        sqlx::query(
            "SELECT id, at, serial, kind, status, peer, detail, request_id FROM events \
             WHERE ($1 IS NULL OR serial = $1) AND ($2 IS NULL OR kind = $2) \
               AND ($3 IS NULL OR id < $3) \
               AND ($5 IS NULL OR serial IN (SELECT serial FROM devices WHERE customer = $5)) \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(&filter.serial)
        .bind(filter.kind.map(EventKind::as_str))
        .bind(filter.before)
        .bind(i64::from(filter.limit))
        .bind(&filter.customer)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(event)
        .collect()
    }

    /// A device's progress reports, oldest first.
    pub async fn progress_reports(&self, serial: &str) -> Result<Vec<ProgressRecord>, StoreError> {
        sqlx::query(
            "SELECT id, at, progress_type, message, ssh_host_keys, trust_anchor_certs \
             FROM progress_reports WHERE serial = $1 ORDER BY id",
        )
        .bind(serial)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(progress)
        .collect()
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::testing::store;

    fn refused(serial: &str) -> NewEvent {
        NewEvent {
            serial: Some(Serial::parse(serial).unwrap()),
            kind: EventKind::BootstrapRefused,
            status: Some(401),
            peer: Some("127.0.0.1:5555".into()),
            detail: "certificate revoked".into(),
            notice: None,
            request_id: None,
        }
    }

    #[tokio::test]
    async fn events_list_newest_first_and_filter() {
        let (store, _dir) = store().await;
        store.record(&refused("SN-1")).await.unwrap();
        store.record(&refused("SN-2")).await.unwrap();
        store
            .record(&NewEvent {
                kind: EventKind::BootstrapServed,
                status: Some(200),
                ..refused("SN-1")
            })
            .await
            .unwrap();
        let all = store
            .events(&EventFilter {
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].kind, "bootstrap-served");
        assert_eq!(all[0].status, Some(200));
        let sn1 = EventFilter {
            serial: Some("SN-1".into()),
            kind: Some(EventKind::BootstrapRefused),
            limit: 10,
            ..EventFilter::default()
        };
        let events = store.events(&sn1).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].detail, "certificate revoked");
        let older = EventFilter {
            before: Some(all[0].id),
            limit: 1,
            ..EventFilter::default()
        };
        assert_eq!(store.events(&older).await.unwrap()[0].id, all[1].id);
    }
}
