//! A bounded pool of sessions to one endpoint, reused across deliveries.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;
use tracing::debug;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::file_name::check_remote_name;
use crate::session::Session;

/// Sessions to one endpoint: at most `max_sessions` connections at a time, kept open between
/// deliveries.
///
/// Each endpoint gets its own pool, so a slow or unreachable NMS only ever holds its own
/// sessions: other endpoints' deliveries never wait for it. A session that fails an operation is
/// dropped and the next delivery connects afresh; when a *reused* session fails with a
/// transient error, the operation is retried once on a new connection (safe, because an upload
/// of the same name and content is idempotent). Cloning a `Pool` shares it.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    max_sessions: usize,
    /// One permit per session that may exist; held while a session is in use.
    permits: Semaphore,
    /// Authenticated sessions not in use.
    idle: Mutex<Vec<Session>>,
    /// Connections opened over the pool's life.
    connections: AtomicU64,
}

/// What to do with a session.
#[derive(Clone, Copy)]
enum Operation<'a> {
    Upload { name: &'a str, bytes: &'a [u8] },
    Remove { name: &'a str },
}

impl Pool {
    /// A pool for `endpoint` with at most `max_sessions` connections (at least one).
    pub fn new(endpoint: Endpoint, max_sessions: usize) -> Self {
        let max_sessions = max_sessions.max(1);
        Self {
            inner: Arc::new(Inner {
                endpoint,
                max_sessions,
                permits: Semaphore::new(max_sessions),
                idle: Mutex::new(Vec::new()),
                connections: AtomicU64::new(0),
            }),
        }
    }

    /// The endpoint this pool delivers to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The most connections this pool opens at a time.
    pub fn max_sessions(&self) -> usize {
        self.inner.max_sessions
    }

    /// Uploads `bytes` as `name` (see [`Session::upload`]), waiting for a free session if all
    /// `max_sessions` are busy.
    pub async fn upload(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.run(Operation::Upload { name, bytes }).await
    }

    /// Removes `name` (see [`Session::remove`]).
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        self.run(Operation::Remove { name }).await
    }

    /// How many connections the pool has opened since it was made.
    pub fn connections_opened(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// How many sessions are open and waiting for work.
    pub fn idle_sessions(&self) -> usize {
        self.idle().len()
    }

    /// Refuses further work (with [`Error::PoolClosed`]) and disconnects the idle sessions.
    pub async fn close(&self) {
        self.inner.permits.close();
        let sessions = std::mem::take(&mut *self.idle());
        for session in sessions {
            if let Err(e) = session.close().await {
                debug!(error = %e, "closing pooled session");
            }
        }
    }

    async fn run(&self, operation: Operation<'_>) -> Result<(), Error> {
        operation.check()?;
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| Error::PoolClosed)?;
        if let Some(mut session) = self.take_idle() {
            match operation.run(&mut session).await {
                Ok(()) => {
                    self.put_back(session);
                    return Ok(());
                }
                Err(e) if e.is_transient() => {
                    debug!(error = %e, "reused session failed; retrying on a new connection");
                }
                Err(e) => return Err(e),
            }
        }
        let mut session = Session::connect(&self.inner.endpoint).await?;
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        operation.run(&mut session).await?;
        self.put_back(session);
        Ok(())
    }

    /// An idle session that is not known to be closed; closed ones are dropped.
    fn take_idle(&self) -> Option<Session> {
        let mut idle = self.idle();
        while let Some(session) = idle.pop() {
            if !session.is_closed() {
                return Some(session);
            }
        }
        None
    }

    fn put_back(&self, session: Session) {
        if !self.inner.permits.is_closed() {
            self.idle().push(session);
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        // The vector stays consistent even if a holder panicked: no invariant spans the lock.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.inner.endpoint.address())
            .field("max_sessions", &self.inner.max_sessions)
            .field("idle", &self.idle_sessions())
            .field("connections_opened", &self.connections_opened())
            .finish()
    }
}

impl Operation<'_> {
    fn check(self) -> Result<(), Error> {
        let (Self::Upload { name, .. } | Self::Remove { name }) = self;
        Ok(check_remote_name(name)?)
    }

    async fn run(self, session: &mut Session) -> Result<(), Error> {
        match self {
            Self::Upload { name, bytes } => session.upload(name, bytes).await,
            Self::Remove { name } => session.remove(name).await,
        }
    }
}
