//! The journal's writes on SQLite: device observations, progress reports, events with their
//! webhook deliveries, and license allocations, each on the connection of the journal's
//! transaction.

use rusqlite::types::ToSql;

use super::connections::{execute_on, numbered, rows_on};
use crate::domain::notice::Notice;
use crate::domain::progress::ProgressReport;
use crate::domain::state::{DeviceState, Observation};
use crate::store::licenses::{self, Allocation, NewLicense};
use crate::store::{NewEvent, StoreError, corrupt, devices, events, now_ms, webhooks};
use ztp_certs::Serial;

/// Moves a device on by an observation, on `connection` (inside the journal's transaction).
/// With `presented` (a certificate's SHA-256, lowercase hex), a device whose certificate is
/// pinned to another one is left alone and reported missing.
pub(super) fn observe_on(
    connection: &rusqlite::Connection,
    serial: &str,
    observation: Observation,
    presented: Option<&str>,
) -> Result<DeviceState, StoreError> {
    // One statement: where the observation leads does not depend on the state before. (Not
    // `RETURNING state`: SQLite gathers returned rows in a temporary table, opened and dropped
    // for every statement; a state that does not move is read by its key instead.)
    let next = observation.moves_to();
    let changed = execute_on(
        connection,
        devices::observe_sql!(),
        &[
            &serial,
            &now_ms(),
            &next.map(DeviceState::as_str),
            &presented,
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "device",
            key: serial.to_owned(),
        });
    }
    if let Some(state) = next {
        return Ok(state);
    }
    let state: String = connection
        .prepare_cached("SELECT state FROM devices WHERE serial = $1")?
        .query_row(numbered(&[&serial]).as_slice(), |row| row.get(0))?;
    state.parse().map_err(corrupt("device state"))
}

/// Records `e` on `connection` (inside the journal's transaction), with its webhook
/// deliveries. Reads the row id instead of `RETURNING id`: with `RETURNING`, SQLite gathers
/// the returned row in a temporary table, opened and dropped for every statement.
pub(super) fn insert_event_on(
    connection: &rusqlite::Connection,
    e: &NewEvent,
) -> Result<(), StoreError> {
    let now = now_ms();
    let status = e.status.map(i32::from);
    let serial = e.serial.as_ref().map(Serial::as_str);
    execute_on(
        connection,
        events::insert_event_sql!(),
        &[
            &now,
            &serial,
            &e.kind.as_str(),
            &status,
            &e.peer,
            &e.detail,
            &e.request_id,
        ],
    )?;
    let id = connection.last_insert_rowid();
    if let (Some(notice), Some(serial)) = (e.notice, &e.serial) {
        enqueue_webhooks_on(connection, id, serial.as_str(), notice, now)?;
    }
    Ok(())
}

/// Keeps a device's progress report, on `connection` (inside the journal's transaction).
pub(super) fn insert_progress_on(
    connection: &rusqlite::Connection,
    serial: &str,
    report: &ProgressReport,
) -> Result<(), StoreError> {
    let (keys, anchors) = events::stored_lists(report);
    connection
        .prepare_cached(events::INSERT_PROGRESS)?
        .execute(
            numbered(&[
                &serial,
                &now_ms(),
                &report.progress_type,
                &report.message,
                &keys,
                &anchors,
            ])
            .as_slice(),
        )?;
    Ok(())
}

/// Queues the webhook deliveries of an event (see `webhooks::ENQUEUE`), on `connection`.
fn enqueue_webhooks_on(
    connection: &rusqlite::Connection,
    event_id: i64,
    serial: &str,
    notice: Notice,
    now: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(webhooks::ENQUEUE)?
        .execute(numbered(&[&event_id, &notice.as_str(), &now, &serial]).as_slice())?;
    Ok(())
}

/// Allocates `new` on `connection` (inside the journal's transaction, which holds the write
/// lock): the device's active license from the pool if it has one (another request allocated
/// it first), else a seat if one is free, clearing the device's shortage in the pool; when every
/// seat is taken, the shortage is recorded instead.
pub(super) fn allocate_on(
    connection: &rusqlite::Connection,
    new: &NewLicense,
) -> Result<Allocation, StoreError> {
    let held = rows_on(
        connection,
        licenses::HELD_LICENSE,
        &[&new.pool_id, &new.serial],
        |row| licenses::license(row),
    )?;
    if let Some(held) = held.into_iter().next() {
        return Ok(Allocation::Granted(held));
    }
    let now = now_ms();
    let seat = execute_on(connection, licenses::TAKE_SEAT, &[&new.pool_id])?;
    // The device's shortage in the pool, and when: `$1`, `$2`, `$3`.
    let shortage: [&dyn ToSql; 3] = [&new.pool_id, &new.serial, &now];
    if seat == 0 {
        let first = execute_on(connection, licenses::FIRST_SHORTAGE, &shortage)? == 1;
        if !first {
            execute_on(connection, licenses::LATER_SHORTAGE, &shortage)?;
        }
        return Ok(Allocation::NoSeat { first });
    }
    let granted = rows_on(
        connection,
        licenses::GRANT_LICENSE,
        &[&new.id, &new.pool_id, &new.serial, &new.product_id, &now],
        |row| licenses::license(row),
    )?
    .into_iter()
    .next()
    .ok_or_else(|| corrupt("license")("the insert returned no row".to_owned()))?;
    execute_on(connection, licenses::CLEAR_SHORTAGE, &shortage[..2])?;
    Ok(Allocation::Granted(granted))
}
