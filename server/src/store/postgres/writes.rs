//! The journal's writes on PostgreSQL: device observations, progress reports and license
//! allocations, in the dialect both backends share (events come from `events::insert_event`).

use sqlx::AnyConnection;

use crate::domain::progress::ProgressReport;
use crate::domain::state::{DeviceState, Observation};
use crate::store::licenses::{self, Allocation, NewLicense};
use crate::store::{StoreError, corrupt, devices, events, now_ms};

/// Moves a device on by an observation (see `devices::observe_sql`): its new state.
pub(super) async fn observe(
    connection: &mut AnyConnection,
    serial: &str,
    observation: Observation,
    presented: Option<&str>,
) -> Result<DeviceState, StoreError> {
    let state: Option<String> = sqlx::query_scalar(devices::observe_sql!(" RETURNING state"))
        .bind(serial)
        .bind(now_ms())
        .bind(observation.moves_to().map(DeviceState::as_str))
        .bind(presented)
        .fetch_optional(&mut *connection)
        .await?;
    let state = state.ok_or_else(|| StoreError::NotFound {
        what: "device",
        key: serial.to_owned(),
    })?;
    state.parse().map_err(corrupt("device state"))
}

/// Keeps a device's progress report.
pub(super) async fn progress(
    connection: &mut AnyConnection,
    serial: &str,
    report: &ProgressReport,
) -> Result<(), StoreError> {
    let (keys, anchors) = events::stored_lists(report);
    sqlx::query(events::INSERT_PROGRESS)
        .bind(serial)
        .bind(now_ms())
        .bind(report.progress_type)
        .bind(&report.message)
        .bind(keys)
        .bind(anchors)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Allocates `new`: the device's active license from the pool if it has one, else a seat if
/// one is free (the conditional update waits for a concurrent one on the pool's row, then
/// sees its outcome, so a counted pool is exact across instances), clearing the device's
/// shortage; when every seat is taken, the shortage is recorded instead.
pub(super) async fn allocate(
    connection: &mut AnyConnection,
    new: &NewLicense,
) -> Result<Allocation, StoreError> {
    let held = sqlx::query(licenses::HELD_LICENSE)
        .bind(new.pool_id)
        .bind(&new.serial)
        .fetch_optional(&mut *connection)
        .await?;
    if let Some(held) = held {
        return Ok(Allocation::Granted(licenses::license(&held)?));
    }
    let now = now_ms();
    let seat = sqlx::query(licenses::TAKE_SEAT)
        .bind(new.pool_id)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    if seat == 0 {
        let first = sqlx::query(licenses::FIRST_SHORTAGE)
            .bind(new.pool_id)
            .bind(&new.serial)
            .bind(now)
            .execute(&mut *connection)
            .await?
            .rows_affected()
            == 1;
        if !first {
            sqlx::query(licenses::LATER_SHORTAGE)
                .bind(new.pool_id)
                .bind(&new.serial)
                .bind(now)
                .execute(&mut *connection)
                .await?;
        }
        return Ok(Allocation::NoSeat { first });
    }
    let granted = sqlx::query(licenses::GRANT_LICENSE)
        .bind(&new.id)
        .bind(new.pool_id)
        .bind(&new.serial)
        .bind(&new.product_id)
        .bind(now)
        .fetch_one(&mut *connection)
        .await?;
    sqlx::query(licenses::CLEAR_SHORTAGE)
        .bind(new.pool_id)
        .bind(&new.serial)
        .execute(&mut *connection)
        .await?;
    Ok(Allocation::Granted(licenses::license(&granted)?))
}
