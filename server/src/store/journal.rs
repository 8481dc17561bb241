//! The journal: what devices did (state changes, progress reports, events) and the licenses
//! they were allocated, written with group commit.
//!
//! Requests hand their writes to one writer thread and wait for its acknowledgement. The writer
//! takes whatever has queued up while its previous transaction committed, up to
//! [`MAX_BATCH`], and hands it to the backend's [`BatchWriter`], which writes it in one
//! transaction. An entry whose device is gone fails before it writes anything; should any other
//! statement fail, only the failing entry is lost (and reported to its request). A request is acknowledged only once the transaction holding
//! its entry has committed, so an answered device's record is as durable as the database makes
//! a commit; yet a surge of devices costs one commit per batch instead of several per device.
//!
//! Before each commit the writer may wait, up to [`COMMIT_DELAY`], for more entries. In a
//! surge (many devices connected, [`Journal::device_connections`]) it sleeps the whole delay:
//! the CPUs are busy with handshakes, and each commit saved is CPU for them. Otherwise it
//! waits only for the device requests on their way to the journal ([`Journal::expect_entry`]),
//! woken as soon as the last of them has handed its entry; when none is, it commits at once (a
//! lone entry waits for nothing).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};
use ztp_certs::Serial;

use tokio::sync::{mpsc, oneshot};

use super::device_path::BatchWriter;
use super::licenses::{Allocation, NewLicense};
use super::{NewEvent, Store, StoreError};
use crate::domain::progress::ProgressReport;
use crate::domain::state::{DeviceState, Observation};
use crate::telemetry::OpenConnections;
use crate::telemetry::metrics::JournalMetrics;

/// Entries written in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// Device connections open (handshakes and requests) from which on the writer sleeps the
/// whole [`COMMIT_DELAY`] before each commit: with this many, a device waits longer for the
/// CPU than for the delay; with fewer, it is the delay that would keep devices waiting
/// (docs/benchmarks.md, "Tuning constants", says how the value was chosen).
const SURGE: usize = 32;

/// How long the writer waits at most for more entries before it commits. The devices whose
/// entries a commit acknowledges go on together, so a longer delay makes waves of work with
/// idle CPUs between them, and a shorter one more commits (each writes its pages and syncs
/// once). The value keeps the CPUs busy in a surge without committing each entry alone
/// (docs/benchmarks.md, "Tuning constants").
const COMMIT_DELAY: Duration = Duration::from_millis(1);

/// Entries waiting for the writer at most; requests beyond wait for room.
const QUEUE: usize = 4096;

/// The event an entry records, made once the device's new state is known (possibly twice: a
/// batch may be written again).
pub type EventOf = Box<dyn Fn(DeviceState) -> NewEvent + Send + Sync>;

/// One write (a [`BatchWriter`] applies it).
pub(crate) enum Entry {
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
        report: Box<ProgressReport>,
        event: EventOf,
    },
    /// A license is allocated to a device; a pool without a free seat records the device's
    /// shortage instead, and the first time also the event `shortage`.
    Allocate {
        license: NewLicense,
        shortage: Box<NewEvent>,
    },
}

impl Entry {
    /// The entry with the events it records stamped with the device call `id` that wrote it.
    fn of_request(self, id: String) -> Self {
        let stamped = |event: EventOf, id: String| -> EventOf {
            Box::new(move |state| NewEvent {
                request_id: Some(id.clone()),
                ..event(state)
            })
        };
        match self {
            Self::Event(event) => Self::Event(NewEvent {
                request_id: Some(id),
                ..event
            }),
            Self::Observed {
                serial,
                observation,
                event,
            } => Self::Observed {
                serial,
                observation,
                event: event.map(|event| stamped(event, id)),
            },
            Self::Progress {
                serial,
                presented,
                report,
                event,
            } => Self::Progress {
                serial,
                presented,
                report,
                event: stamped(event, id),
            },
            Self::Allocate { license, shortage } => Self::Allocate {
                license,
                shortage: Box::new(NewEvent {
                    request_id: Some(id),
                    ..*shortage
                }),
            },
        }
    }
}

/// What an entry wrote, for its request.
#[derive(Debug)]
pub(crate) enum Written {
    /// An event.
    Event,
    /// The device's new state.
    State(DeviceState),
    /// The allocation's outcome.
    Allocation(Allocation),
}

/// An entry's outcome.
pub(crate) type Outcome = Result<Written, StoreError>;

struct Job {
    entry: Entry,
    done: oneshot::Sender<Outcome>,
}

/// A handle on the journal's writer (cheap to clone).
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::Sender<Job>,
    /// Device requests on their way to the journal (see [`Journal::expect_entry`]).
    coming: Arc<Coming>,
    /// The device listener's open connections (see [`Journal::device_connections`]).
    connections: OpenConnections,
    /// Transactions committed.
    commits: Arc<AtomicU64>,
    /// How long commits take, how many entries each carries.
    metrics: JournalMetrics,
}

/// The device requests on their way to the journal, and the writer to wake when the last of
/// them has handed its entry.
#[derive(Debug)]
struct Coming {
    /// Their number (the writer reads it too).
    requests: Arc<AtomicUsize>,
    writer: Thread,
}

/// A device request on its way to the journal with its last entry. It goes with that entry
/// ([`Journal::observe`], [`Journal::progress`]); a request that ends without one drops it.
#[derive(Debug)]
pub struct UnderWay(Arc<Coming>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl UnderWay {
    /// Awaits `work` with the request not counted as on its way meanwhile: for a wait on
    /// something else than its own work (its NMS, an entry of its own that the writer must
    /// commit first), so that the writer does not wait for a request that waits for it.
    pub async fn aside<T>(&self, work: impl Future<Output = T>) -> T {
        self.0.leave();
        // Counted again when the wait ends, or when it is abandoned.
        let _back = Back(&self.0);
        work.await
    }
}

/// Counts a request set aside ([`UnderWay::aside`]) as on its way again when dropped.
struct Back<'a>(&'a Coming);

impl Drop for Back<'_> {
    fn drop(&mut self) {
        self.0.requests.fetch_add(1, Ordering::AcqRel);
    }
}

impl Coming {
    /// One request fewer on its way; the last one wakes a writer waiting for it.
    fn leave(&self) {
        if self.requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.writer.unpark();
        }
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
        Self::start_with(store, COMMIT_DELAY)
    }

    /// [`Journal::start`] with another wait before a commit than [`COMMIT_DELAY`].
    pub(crate) fn start_with(store: &Store, commit_delay: Duration) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let writer = store.device_path().writer();
        let requests = Arc::new(AtomicUsize::new(0));
        let connections = OpenConnections::default();
        let commits = Arc::new(AtomicU64::new(0));
        let metrics = JournalMetrics::default();
        let pacing = Pacing {
            coming: Arc::clone(&requests),
            connections: connections.clone(),
            delay: commit_delay,
            commits: Arc::clone(&commits),
            metrics: metrics.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("ztp-journal".into())
            .spawn(move || write(writer, queue, &pacing))
            // Only at start-up, and without it nothing could be recorded.
            .expect("the journal's writer thread starts");
        let coming = Coming {
            requests,
            writer: writer.thread().clone(),
        };
        Self {
            jobs,
            coming: Arc::new(coming),
            connections,
            commits,
            metrics,
        }
    }

    /// What the writer counts: its commits' time and size.
    pub fn metrics(&self) -> &JournalMetrics {
        &self.metrics
    }

    /// Transactions the writer has committed so far (the entries of a batch share one).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The counter the device listener counts its open connections into: the writer's measure
    /// of a surge.
    pub fn device_connections(&self) -> OpenConnections {
        self.connections.clone()
    }

    /// Counts a device request as on its way to the journal until the returned guard goes
    /// with its last entry or is dropped: before a commit, the writer waits for the requests
    /// on their way (up to [`COMMIT_DELAY`]), so that one commit carries their entries too.
    /// Its waits on other things are set aside ([`UnderWay::aside`]).
    pub fn expect_entry(&self) -> UnderWay {
        self.coming.requests.fetch_add(1, Ordering::AcqRel);
        UnderWay(Arc::clone(&self.coming))
    }

    /// Records `event`.
    pub async fn record(&self, event: NewEvent) -> Result<(), StoreError> {
        self.submit(Entry::Event(event), None).await.map(|_| ())
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
        match self.submit(entry, None).await? {
            Written::Allocation(allocation) => Ok(allocation),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves `serial` on by `observation` and records the event `event` makes of its new
    /// state (none: no event): the last entry of the request `under_way`. Returns the new
    /// state.
    pub async fn observe(
        &self,
        serial: &Serial,
        observation: Observation,
        event: Option<EventOf>,
        under_way: UnderWay,
    ) -> Result<DeviceState, StoreError> {
        let entry = Entry::Observed {
            serial: serial.to_string(),
            observation,
            event,
        };
        self.state_of(entry, under_way).await
    }

    /// Keeps `serial`'s progress `report`, moves its state on and records the event `event`
    /// makes of the new state. Returns the new state; [`StoreError::NotFound`] when the device
    /// does not exist or its certificate is pinned to another than `presented` (the SHA-256 of
    /// the one it presented, lowercase hex). The last entry of the request `under_way`.
    pub async fn progress(
        &self,
        serial: &Serial,
        presented: &str,
        report: &ProgressReport,
        event: EventOf,
        under_way: UnderWay,
    ) -> Result<DeviceState, StoreError> {
        let entry = Entry::Progress {
            serial: serial.to_string(),
            presented: presented.to_owned(),
            report: Box::new(report.clone()),
            event,
        };
        self.state_of(entry, under_way).await
    }

    async fn state_of(&self, entry: Entry, under_way: UnderWay) -> Result<DeviceState, StoreError> {
        match self.submit(entry, Some(under_way)).await? {
            Written::State(state) => Ok(state),
            other => Err(unexpected(&other)),
        }
    }

    /// Queues `entry` (the last of the request `last_of`, if any) and waits for its outcome.
    async fn submit(&self, entry: Entry, last_of: Option<UnderWay>) -> Outcome {
        let entry = match crate::telemetry::request::current() {
            Some(id) => entry.of_request(id),
            None => entry,
        };
        let (done, answer) = oneshot::channel();
        let queued = self.jobs.send(Job { entry, done }).await;
        // Queued: the request is no longer on its way; the writer need not wait for it.
        drop(last_of);
        queued.map_err(|_| stopped())?;
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

/// The writer: batches of what queued up, one transaction each.
fn write(mut writer: Box<dyn BatchWriter>, mut queue: mpsc::Receiver<Job>, pacing: &Pacing) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        gather(&mut queue, &mut batch, pacing);
        let (entries, waiting): (Vec<Entry>, Vec<_>) =
            batch.drain(..).map(|job| (job.entry, job.done)).unzip();
        let start = Instant::now();
        let results = match writer.write(&entries) {
            Ok(results) => {
                pacing.commits.fetch_add(1, Ordering::Relaxed);
                pacing.metrics.committed(entries.len(), start.elapsed());
                results
            }
            Err(error) => {
                tracing::warn!(%error, entries = waiting.len(), "journal: a batch failed");
                let message = error.to_string();
                waiting
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(message.clone())))
                    .collect()
            }
        };
        for (done, result) in waiting.into_iter().zip(results) {
            // A request that gave up waiting no longer listens; its entry is written anyway.
            let _ = done.send(result);
        }
    }
}

/// How the writer paces its commits: the device requests on their way to it, the device
/// listener's open connections, the longest wait before a commit; and the commits it made.
struct Pacing {
    coming: Arc<AtomicUsize>,
    connections: OpenConnections,
    delay: Duration,
    commits: Arc<AtomicU64>,
    metrics: JournalMetrics,
}

/// Adds what is queued to `batch`, first waiting up to the commit delay for more: one commit
/// writes each page it touched once, however many entries changed it, and syncs the log once.
/// In a surge, sleeps the whole delay, as entries arrive all along it. Otherwise waits for
/// the requests on their way only, parked until the last of them wakes it (see [`UnderWay`]);
/// with none on its way, commits at once.
fn gather(queue: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, pacing: &Pacing) {
    let deadline = Instant::now() + pacing.delay;
    if pacing.connections.count() >= SURGE {
        std::thread::sleep(pacing.delay);
    }
    loop {
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        if batch.len() >= MAX_BATCH || pacing.coming.load(Ordering::Acquire) == 0 || now >= deadline
        {
            return;
        }
        // Woken early when the last one comes (or spuriously: the loop checks again).
        std::thread::park_timeout(deadline - now);
    }
}

#[cfg(test)]
mod tests;
