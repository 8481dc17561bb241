//! The journal's batches on PostgreSQL: one transaction per batch on the writer's own
//! connection, which lives on a runtime of the journal's thread, its entries written together
//! in a few statements ([`bulk`]). Should a statement fail (which aborts a PostgreSQL
//! transaction), the batch is written again with each entry in its own savepoint, so that only
//! the failing entry is lost.

use sqlx::AnyConnection;
use sqlx::Connection;

use super::bulk;
use super::writes::{allocate, observe, progress};
use crate::domain::state::Observation;
use crate::store::StoreError;
use crate::store::device_path::BatchWriter;
use crate::store::events::insert_event;
use crate::store::journal::{Entry, Outcome, Written};
use crate::store::licenses::Allocation;

/// The journal's writer on PostgreSQL: a connection opened again after a batch failed.
pub(super) struct PgWriter {
    url: String,
    runtime: Option<tokio::runtime::Runtime>,
    connection: Option<AnyConnection>,
}

impl PgWriter {
    pub(super) fn new(url: String) -> Self {
        Self {
            url,
            runtime: None,
            connection: None,
        }
    }
}

impl BatchWriter for PgWriter {
    fn write(&mut self, entries: &[Entry]) -> Result<Vec<Outcome>, StoreError> {
        let runtime = match self.runtime.take() {
            Some(runtime) => runtime,
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Unavailable(format!("the journal's runtime: {e}")))?,
        };
        let written = runtime.block_on(async {
            let mut connection = match self.connection.take() {
                Some(open) => open,
                None => AnyConnection::connect(&self.url).await?,
            };
            let results = write_batch(&mut connection, entries).await?;
            // Kept only after a batch went through: one that failed may be broken.
            self.connection = Some(connection);
            Ok(results)
        });
        self.runtime = Some(runtime);
        written
    }
}

/// Writes `entries` in one transaction, in a few statements ([`bulk`]); should one fail, in
/// one statement each, every entry in a savepoint of its own. The commit's failure is the
/// batch's.
async fn write_batch(
    connection: &mut AnyConnection,
    entries: &[Entry],
) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = connection.begin().await?;
    match bulk::write(&mut tx, entries).await {
        Ok(results) => {
            tx.commit().await?;
            return Ok(results);
        }
        Err(error) => {
            tracing::debug!(%error, "the batch is written again, entry by entry")
        }
    }
    tx.rollback().await?;
    let mut tx = connection.begin().await?;
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut savepoint = tx.begin().await?;
        let result = apply(&mut savepoint, entry).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

async fn apply(connection: &mut AnyConnection, entry: &Entry) -> Outcome {
    match entry {
        Entry::Event(event) => {
            insert_event(connection, event).await?;
            Ok(Written::Event)
        }
        Entry::Observed {
            serial,
            observation,
            event,
        } => {
            let state = observe(connection, serial, *observation, None).await?;
            if let Some(event) = event {
                insert_event(connection, &event(state)).await?;
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
            let state = observe(connection, serial, observation, Some(presented)).await?;
            progress(connection, serial, report).await?;
            insert_event(connection, &event(state)).await?;
            Ok(Written::State(state))
        }
        Entry::Allocate { license, shortage } => {
            let allocation = allocate(connection, license).await?;
            if allocation == (Allocation::NoSeat { first: true }) {
                insert_event(connection, shortage).await?;
            }
            Ok(Written::Allocation(allocation))
        }
    }
}
