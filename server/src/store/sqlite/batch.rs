//! The journal's batches on SQLite: one `IMMEDIATE` transaction per batch on the writer's own
//! connection; should a statement fail, the batch is written again with each entry in its own
//! savepoint, so that only the failing entry is lost.

use rusqlite::TransactionBehavior;

use super::connections::Connections;
use super::writes::{allocate_on, insert_event_on, insert_progress_on, observe_on};
use crate::domain::state::Observation;
use crate::store::StoreError;
use crate::store::device_path::BatchWriter;
use crate::store::journal::{Entry, Outcome, Written};
use crate::store::licenses::Allocation;
use std::sync::Arc;

/// The journal's writer on SQLite: a connection of the devices' path, opened again after a
/// batch failed.
pub(super) struct SqliteWriter {
    connections: Arc<Connections>,
    connection: Option<rusqlite::Connection>,
}

impl SqliteWriter {
    pub(super) fn new(connections: Arc<Connections>) -> Self {
        Self {
            connections,
            connection: None,
        }
    }
}

impl BatchWriter for SqliteWriter {
    fn write(&mut self, entries: &[Entry]) -> Result<Vec<Outcome>, StoreError> {
        let mut connection = match self.connection.take() {
            Some(open) => open,
            None => self.connections.connect()?,
        };
        let results = write_batch(&mut connection, entries)?;
        // Kept only after a batch went through: one that failed may be broken.
        self.connection = Some(connection);
        Ok(results)
    }
}

/// Writes `entries` in one transaction; the commit's failure is the batch's.
fn write_batch(
    connection: &mut rusqlite::Connection,
    entries: &[Entry],
) -> Result<Vec<Outcome>, StoreError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(entries.len());
    let mut failed = false;
    for entry in entries {
        let result = apply(&tx, entry);
        failed |= result.as_ref().is_err_and(StoreError::is_unavailable);
        results.push(result);
    }
    if !failed {
        tx.commit()?;
        return Ok(results);
    }
    // A statement failed (SQLite may have kept part of the entry): again, each entry alone.
    tx.rollback()?;
    let mut tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let savepoint = tx.savepoint()?;
        let result = apply(&savepoint, entry);
        if result.is_ok() {
            savepoint.commit()?;
        }
        // Dropped without commit: rolled back.
        results.push(result);
    }
    tx.commit()?;
    Ok(results)
}

fn apply(connection: &rusqlite::Connection, entry: &Entry) -> Outcome {
    match entry {
        Entry::Event(event) => {
            insert_event_on(connection, event)?;
            Ok(Written::Event)
        }
        Entry::Observed {
            serial,
            observation,
            event,
        } => {
            let state = observe_on(connection, serial, *observation, None)?;
            if let Some(event) = event {
                insert_event_on(connection, &event(state))?;
            }
            Ok(Written::State(state))
        }
        Entry::Progress {
            serial,
            presented,
            report,
            event,
        } => {
            // The device first: a device that is gone (or pinned to another certificate) fails
            // the entry before it writes.
            let observation = Observation::Progress(report.milestone);
            let state = observe_on(connection, serial, observation, Some(presented))?;
            insert_progress_on(connection, serial, report)?;
            insert_event_on(connection, &event(state))?;
            Ok(Written::State(state))
        }
        Entry::Allocate { license, shortage } => {
            let allocation = allocate_on(connection, license)?;
            if allocation == (Allocation::NoSeat { first: true }) {
                insert_event_on(connection, shortage)?;
            }
            Ok(Written::Allocation(allocation))
        }
    }
}
