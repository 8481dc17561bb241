//! The journal: what devices did (state changes, progress reports, events) and the licenses
//! they were allocated, written with group commit.
//!
//! Requests hand their writes to one writer thread and wait for its acknowledgement. The writer
//! takes whatever has queued up while its previous transaction committed, up to
//! [`MAX_BATCH`], and writes it in one transaction on its own connection of the devices' path
//! ([`super::direct`]: no thread switch per statement). An entry whose device is gone fails
//! before it writes anything; should any other statement fail, the batch is rolled back and
//! written again with each entry in its own savepoint, so that only the failing entry is lost
//! (and reported to its request). A request is acknowledged only once the transaction holding
//! its entry has committed, so an answered device's record is as durable as the database makes
//! a commit; yet a surge of devices costs one commit per batch instead of several per device.
//! While many device requests are under way ([`Journal::expect_entry`]), the writer waits
//! [`COMMIT_DELAY`] before each commit so that the batch carries more of them; an idle journal
//! adds no wait: a lone entry is written at once.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::TransactionBehavior;
use tokio::sync::{mpsc, oneshot};
use ztp_yang::ReportProgressInput;

use super::devices::observe_on;
use super::direct::Direct;
use super::events::{insert_event_on, insert_progress_on};
use super::licenses::{Allocation, NewLicense, allocate_on};
use super::{NewEvent, Store, StoreError};
use crate::domain::state::{DeviceState, Observation};

/// Entries written in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// Device requests under way from which on the journal is busy.
const BUSY: usize = 8;

/// How long a busy writer waits for more entries before it commits.
const COMMIT_DELAY: Duration = Duration::from_millis(2);

/// Entries waiting for the writer at most; requests beyond wait for room.
const QUEUE: usize = 4096;

/// The event an entry records, made once the device's new state is known (possibly twice: a
/// batch may be written again).
pub type EventOf = Box<dyn Fn(DeviceState) -> NewEvent + Send + Sync>;

/// One write.
enum Entry {
    /// An event.
    Event(NewEvent),
    /// A device was observed: its state moves on, and the event is recorded.
    Observed {
        serial: String,
        observation: Observation,
        event: Option<EventOf>,
    },
    /// A device reported progress: the report is kept, its state moves on, the event is
    /// recorded; a device pinned to another certificate than `presented` is not found.
    Progress {
        serial: String,
        presented: String,
        report: Box<ReportProgressInput>,
        event: EventOf,
    },
    /// A license is allocated to a device; a pool without a free seat records the device's
    /// shortage instead, and the first time also the event `shortage`.
    Allocate {
        license: NewLicense,
        shortage: Box<NewEvent>,
    },
}

/// What an entry wrote, for its request.
#[derive(Debug)]
enum Written {
    /// An event.
    Event,
    /// The device's new state.
    State(DeviceState),
    /// The allocation's outcome.
    Allocation(Allocation),
}

type Outcome = Result<Written, StoreError>;

struct Job {
    entry: Entry,
    done: oneshot::Sender<Outcome>,
}

/// A handle on the journal's writer (cheap to clone).
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::Sender<Job>,
    /// Device requests under way, which will write (see [`Journal::expect_entry`]).
    under_way: Arc<AtomicUsize>,
}

/// A device request under way, which will hand the journal an entry; dropped when it ends.
#[derive(Debug)]
pub struct UnderWay(Arc<AtomicUsize>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("queued", &(QUEUE - self.jobs.capacity()))
            .finish()
    }
}

impl Journal {
    /// Starts the writer thread over `store`. It runs until every handle is dropped, writing
    /// what was queued.
    pub fn start(store: &Store) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let direct = store.direct_shared();
        let under_way = Arc::new(AtomicUsize::new(0));
        let requests = Arc::clone(&under_way);
        std::thread::Builder::new()
            .name("ztp-journal".into())
            .spawn(move || write(&direct, queue, &requests))
            // Only at start-up, and without it nothing could be recorded.
            .expect("the journal's writer thread starts");
        Self { jobs, under_way }
    }

    /// Counts a device request as under way until the returned guard is dropped: while many
    /// are, the writer waits a moment before each commit, so that one commit carries more of
    /// their entries.
    pub fn expect_entry(&self) -> UnderWay {
        self.under_way.fetch_add(1, Ordering::Relaxed);
        UnderWay(Arc::clone(&self.under_way))
    }

    /// Records `event`.
    pub async fn record(&self, event: NewEvent) -> Result<(), StoreError> {
        self.submit(Entry::Event(event)).await.map(|_| ())
    }

    /// Allocates `license` to its device: the license the device already holds from the pool,
    /// a new one when a seat is free, or [`Allocation::NoSeat`] (the device's shortage is
    /// recorded, and the first time the event `shortage` too). Allocations are written one
    /// after another by the writer, so a counted pool is never over-allocated.
    pub async fn allocate(
        &self,
        license: NewLicense,
        shortage: NewEvent,
    ) -> Result<Allocation, StoreError> {
        let entry = Entry::Allocate {
            license,
            shortage: Box::new(shortage),
        };
        match self.submit(entry).await? {
            Written::Allocation(allocation) => Ok(allocation),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves `serial` on by `observation` and records the event `event` makes of its new
    /// state (none: no event). Returns the new state.
    pub async fn observe(
        &self,
        serial: &str,
        observation: Observation,
        event: Option<EventOf>,
    ) -> Result<DeviceState, StoreError> {
        let entry = Entry::Observed {
            serial: serial.to_owned(),
            observation,
            event,
        };
        self.state_of(entry).await
    }

    /// Keeps `serial`'s progress `report`, moves its state on and records the event `event`
    /// makes of the new state. Returns the new state; [`StoreError::NotFound`] when the device
    /// does not exist or its certificate is pinned to another than `presented` (the SHA-256 of
    /// the one it presented, lowercase hex).
    pub async fn progress(
        &self,
        serial: &str,
        presented: &str,
        report: &ReportProgressInput,
        event: EventOf,
    ) -> Result<DeviceState, StoreError> {
        let entry = Entry::Progress {
            serial: serial.to_owned(),
            presented: presented.to_owned(),
            report: Box::new(report.clone()),
            event,
        };
        self.state_of(entry).await
    }

    async fn state_of(&self, entry: Entry) -> Result<DeviceState, StoreError> {
        match self.submit(entry).await? {
            Written::State(state) => Ok(state),
            other => Err(unexpected(&other)),
        }
    }

    async fn submit(&self, entry: Entry) -> Outcome {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job { entry, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// An entry's answer of another kind than the entry's (a bug).
fn unexpected(written: &Written) -> StoreError {
    StoreError::Corrupt {
        what: "journal answer",
        reason: format!("unexpected {written:?}"),
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the journal's writer stopped".into())
}

/// The writer: batches of what queued up, one transaction each. A connection that failed is
/// opened again for the next batch.
fn write(direct: &Direct, mut queue: mpsc::Receiver<Job>, under_way: &AtomicUsize) {
    let mut connection = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        gather(
            &mut queue,
            &mut batch,
            under_way.load(Ordering::Relaxed) >= BUSY,
        );
        let (entries, waiting): (Vec<Entry>, Vec<_>) =
            batch.drain(..).map(|job| (job.entry, job.done)).unzip();
        let written = match connection.take() {
            Some(open) => Ok(open),
            None => direct.connect(),
        }
        .and_then(|mut open| {
            let results = write_batch(&mut open, &entries)?;
            connection = Some(open);
            Ok(results)
        });
        let results = written.unwrap_or_else(|error| {
            tracing::warn!(%error, entries = waiting.len(), "journal: a batch failed");
            let message = error.to_string();
            waiting
                .iter()
                .map(|_| Err(StoreError::Unavailable(message.clone())))
                .collect()
        });
        for (done, result) in waiting.into_iter().zip(results) {
            // A request that gave up waiting no longer listens; its entry is written anyway.
            let _ = done.send(result);
        }
    }
}

/// Adds what is queued to `batch`. When the journal is `busy` (many device requests under
/// way), first waits [`COMMIT_DELAY`] for more: one commit writes each page it touched once,
/// however many entries changed it, so a surge costs fewer commits. A quiet journal commits at
/// once.
fn gather(queue: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, busy: bool) {
    if busy {
        std::thread::sleep(COMMIT_DELAY);
    }
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
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
            let observation = Observation::Progress(report.progress_type);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventKind;
    use crate::store::testing::{add_device, new_customer, store};

    fn event(serial: &str) -> EventOf {
        let serial = serial.to_owned();
        Box::new(move |state| NewEvent {
            serial: Some(serial.clone()),
            kind: EventKind::BootstrapServed,
            status: Some(200),
            peer: None,
            detail: format!("now {state}"),
            notice: None,
        })
    }

    #[tokio::test]
    async fn concurrent_entries_are_written_together_and_a_missing_device_fails_alone() {
        let (store, _dir) = store().await;
        store.insert_customer(&new_customer("acme")).await.unwrap();
        add_device(&store, "SN-1", "acme").await;
        let journal = Journal::start(&store);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let journal = journal.clone();
            let serial = if i == 25 { "SN-GONE" } else { "SN-1" };
            tasks.spawn(async move {
                journal
                    .observe(serial, Observation::Redirected, Some(event(serial)))
                    .await
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            outcomes.push(joined.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 49);
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(StoreError::NotFound { what: "device", .. })))
        );
        assert!(
            outcomes
                .iter()
                .flatten()
                .all(|state| *state == DeviceState::Redirected)
        );
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(events, 49, "the missing device's entry wrote nothing");

        // A progress report keeps the report and moves the state on.
        let report = ReportProgressInput::new(ztp_yang::ProgressType::BootstrapComplete);
        let state = journal.progress("SN-1", "ab", &report, event("SN-1")).await;
        assert_eq!(state.unwrap(), DeviceState::Completed);
        assert_eq!(store.progress_reports("SN-1").await.unwrap().len(), 1);
        assert!(matches!(
            journal
                .progress("SN-GONE", "ab", &report, event("SN-GONE"))
                .await,
            Err(StoreError::NotFound { .. })
        ));

        // A device pinned to another certificate is not moved and its report not kept.
        sqlx::query("UPDATE devices SET certificate_pin = 'AA' WHERE serial = 'SN-1'")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            journal.progress("SN-1", "bb", &report, event("SN-1")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.progress_reports("SN-1").await.unwrap().len(), 1);
        assert!(
            journal
                .progress("SN-1", "aa", &report, event("SN-1"))
                .await
                .is_ok()
        );
    }
}
