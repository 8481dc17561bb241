//! A batch of the journal's entries written in a few statements whatever its size: the devices
//! it moves in one `UPDATE`, their progress reports in one `INSERT`, its events in another.
//! Each statement takes its rows as one JSON parameter (`json_to_recordset`), so a batch costs
//! the same few round trips for one entry or hundreds; the events' webhook deliveries are
//! queued by the same statement. License allocations are written one by one (each waits on its
//! pool's row). Events are recorded in their entries' order.
//!
//! A device named twice in a batch is moved in a second round, after the first: each round's
//! `UPDATE` names a device at most once, so every entry sees the state the one before left.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};
use ztp_certs::Serial;

use super::writes::allocate;
use crate::domain::notice::Notice;
use crate::domain::state::{DeviceState, Observation};
use crate::store::events::{self, NewEvent};
use crate::store::journal::{Entry, Outcome, Written};
use crate::store::licenses::Allocation;
use crate::store::{StoreError, corrupt, now_ms};

/// Moves the devices of one round (`devices::observe_sql`, for many devices at once): `$1`
/// the rows (serial, the state it moves to or null, the certificate fingerprint presented or
/// null), `$2` the time. Returns each device found and its new state.
const MOVE_DEVICES: &str = "UPDATE devices AS d SET last_contact_at = $2, \
       state_changed_at = CASE WHEN m.moves_to IS NULL OR d.state = m.moves_to \
         THEN d.state_changed_at ELSE $2 END, \
       state = COALESCE(m.moves_to, d.state) \
     FROM json_to_recordset($1::json) AS m(serial text, moves_to text, presented text) \
     WHERE d.serial = m.serial \
       AND (m.presented IS NULL OR d.certificate_pin IS NULL \
            OR lower(d.certificate_pin) = m.presented) \
     RETURNING d.serial, d.state";

/// Keeps progress reports (`events::INSERT_PROGRESS`, for many at once), in their order.
const INSERT_PROGRESS: &str = "INSERT INTO progress_reports \
       (serial, at, progress_type, message, ssh_host_keys, trust_anchor_certs) \
     SELECT p.serial, $2, p.progress_type, p.message, p.ssh_host_keys, p.trust_anchor_certs \
     FROM json_to_recordset($1::json) AS p(ord bigint, serial text, progress_type text, \
       message text, ssh_host_keys text, trust_anchor_certs text) \
     ORDER BY p.ord";

/// Records events (`events::insert_event_sql`, for many at once) in their order, and queues
/// the webhook deliveries of those raising a notice (`webhooks::ENQUEUE`, likewise): `$1` the
/// rows, `$2` the time. Each event's id is drawn from the identity's sequence in the rows'
/// order, so that a delivery can name its event in the same statement.
const INSERT_EVENTS: &str = "WITH e AS ( \
       SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id, r.* \
       FROM json_to_recordset($1::json) AS r(serial text, kind text, status integer, \
         peer text, detail text, notice text, request_id text)), \
     recorded AS ( \
       INSERT INTO events (id, at, serial, kind, status, peer, detail, request_id) \
       SELECT id, $2, serial, kind, status, peer, detail, request_id FROM e) \
     INSERT INTO webhook_deliveries \
       (webhook_id, event_id, notice, state, attempts, next_attempt_at, pending_since, \
        created_at) \
     SELECT w.id, e.id, e.notice, 'pending', 0, $2, $2, $2 \
     FROM e JOIN devices d ON d.serial = e.serial JOIN webhooks w ON w.customer = d.customer \
     WHERE e.notice IS NOT NULL AND w.enabled = 1 \
       AND (' ' || w.events || ' ') LIKE ('% ' || e.notice || ' %')";

/// Writes `entries` on `connection` (in the caller's transaction): each entry's outcome, an
/// entry whose device is gone failing alone before it writes anything. Any other failure is
/// the batch's: the caller rolls back and writes the entries one by one.
pub(super) async fn write(
    connection: &mut AnyConnection,
    entries: &[Entry],
) -> Result<Vec<Outcome>, StoreError> {
    let now = now_ms();
    let mut outcomes: Vec<Option<Outcome>> = entries.iter().map(|_| None).collect();
    // Each entry's events, by entry, so that they are recorded in the entries' order.
    let mut events: Vec<Vec<NewEvent>> = entries.iter().map(|_| Vec::new()).collect();
    let mut reports = Vec::new();

    let mut waiting: Vec<usize> = (0..entries.len())
        .filter(|&i| moves(&entries[i]).is_some())
        .collect();
    while !waiting.is_empty() {
        let (round, later) = one_round(entries, waiting);
        let rows: Vec<Value> = round
            .iter()
            .filter_map(|&i| moves(&entries[i]))
            .map(|(serial, moves_to, presented)| {
                json!({"serial": serial, "moves_to": moves_to, "presented": presented})
            })
            .collect();
        let moved = move_devices(connection, rows, now).await?;
        for i in round {
            let (serial, _, _) = moves(&entries[i]).expect("a moving entry");
            let Some(&state) = moved.get(serial) else {
                outcomes[i] = Some(Err(StoreError::NotFound {
                    what: "device",
                    key: serial.to_owned(),
                }));
                continue;
            };
            match &entries[i] {
                Entry::Observed { event, .. } => events[i].extend(event.as_ref().map(|e| e(state))),
                Entry::Progress { report, event, .. } => {
                    let (keys, anchors) = events::stored_lists(report);
                    reports.push(json!({
                        "ord": i,
                        "serial": serial,
                        "progress_type": report.progress_type,
                        "message": report.message,
                        "ssh_host_keys": keys,
                        "trust_anchor_certs": anchors,
                    }));
                    events[i].push(event(state));
                }
                Entry::Event(_) | Entry::Allocate { .. } => unreachable!("not a moving entry"),
            }
            outcomes[i] = Some(Ok(Written::State(state)));
        }
        waiting = later;
    }
    if !reports.is_empty() {
        sqlx::query(INSERT_PROGRESS)
            .bind(Value::Array(reports).to_string())
            .bind(now)
            .execute(&mut *connection)
            .await?;
    }

    for (i, entry) in entries.iter().enumerate() {
        match entry {
            Entry::Event(event) => {
                events[i].push(event.clone());
                outcomes[i] = Some(Ok(Written::Event));
            }
            Entry::Allocate { license, shortage } => {
                let allocation = allocate(connection, license).await?;
                if allocation == (Allocation::NoSeat { first: true }) {
                    events[i].push(shortage.as_ref().clone());
                }
                outcomes[i] = Some(Ok(Written::Allocation(allocation)));
            }
            Entry::Observed { .. } | Entry::Progress { .. } => {}
        }
    }
    record(connection, events.into_iter().flatten(), now).await?;

    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every entry written"))
        .collect())
}

/// What a moving entry asks of its device: its serial, the state it moves to, the certificate
/// fingerprint it presented; `None` for an entry that moves no device.
fn moves(entry: &Entry) -> Option<(&str, Option<&'static str>, Option<&str>)> {
    match entry {
        Entry::Observed {
            serial,
            observation,
            ..
        } => Some((
            serial,
            observation.moves_to().map(DeviceState::as_str),
            None,
        )),
        Entry::Progress {
            serial,
            presented,
            report,
            ..
        } => {
            let observation = Observation::Progress(report.milestone);
            let moves_to = observation.moves_to().map(DeviceState::as_str);
            Some((serial, moves_to, Some(presented)))
        }
        Entry::Event(_) | Entry::Allocate { .. } => None,
    }
}

/// Splits `waiting` (entries' indices, in order) into the first entry of each device, and the
/// rest for later rounds.
fn one_round(entries: &[Entry], waiting: Vec<usize>) -> (Vec<usize>, Vec<usize>) {
    let mut named = HashSet::new();
    waiting.into_iter().partition(|&i| {
        let (serial, _, _) = moves(&entries[i]).expect("a moving entry");
        named.insert(serial)
    })
}

/// Moves the devices of `rows` at `now`: the new state of each device found.
async fn move_devices(
    connection: &mut AnyConnection,
    rows: Vec<Value>,
    now: i64,
) -> Result<HashMap<String, DeviceState>, StoreError> {
    let moved = sqlx::query(MOVE_DEVICES)
        .bind(Value::Array(rows).to_string())
        .bind(now)
        .fetch_all(&mut *connection)
        .await?;
    moved
        .iter()
        .map(|row| {
            let serial: String = row.try_get(0)?;
            let state: String = row.try_get(1)?;
            Ok((serial, state.parse().map_err(corrupt("device state"))?))
        })
        .collect()
}

/// Records `events` in their order, with the webhook deliveries their notices raise.
async fn record(
    connection: &mut AnyConnection,
    events: impl Iterator<Item = NewEvent>,
    now: i64,
) -> Result<(), StoreError> {
    let rows: Vec<Value> = events
        .map(|event| {
            json!({
                "serial": event.serial.as_ref().map(Serial::as_str),
                "kind": event.kind.as_str(),
                "status": event.status,
                "peer": event.peer,
                "detail": event.detail,
                "request_id": event.request_id,
                "notice": event.notice.map(Notice::as_str),
            })
        })
        .collect();
    if !rows.is_empty() {
        sqlx::query(INSERT_EVENTS)
            .bind(Value::Array(rows).to_string())
            .bind(now)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}
