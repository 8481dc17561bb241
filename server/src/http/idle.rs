//! Deadlines for connections that ask nothing. hyper times a request head only once its first
//! byte arrives, so a client that completes the TLS handshake and then says nothing would hold
//! its connection (and its slot) for ever. A connection's [`Activity`] counts its requests: with
//! none in flight, it is closed when no request has begun within the first request's deadline
//! after the handshake or, between requests, within the keep-alive deadline after the last
//! answer. Bytes alone do not count: an HTTP/2 client answers pings without asking anything, and
//! a client that does not read its answer makes no progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// What one connection's requests did, shared by them and the connection's watch.
#[derive(Debug)]
pub(super) struct Activity {
    /// When the connection was ready for requests (after its TLS handshake).
    start: Instant,
    /// When a request last began or ended, in milliseconds since `start`.
    last: AtomicU64,
    /// Requests being handled.
    in_flight: AtomicUsize,
    /// Requests answered so far.
    answered: AtomicU64,
}

impl Activity {
    /// A connection ready for requests now.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// A request begins; dropping the guard ends it.
    pub(super) fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(Arc::clone(self))
    }

    /// When the connection is to be closed unless a request begins first; `None` while a
    /// request is being handled (its own deadlines apply).
    pub(super) fn deadline(&self, first: Duration, keep_alive: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let wait = if self.answered.load(Ordering::Relaxed) == 0 {
            first
        } else {
            keep_alive
        };
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        Some(self.start + last + wait)
    }
}

/// A request being handled: while one is, the connection is not idle.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(10);
    const KEEP_ALIVE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn the_deadline_follows_the_requests() {
        let activity = Activity::new();
        let start = Instant::now();
        assert_eq!(
            activity.deadline(FIRST, KEEP_ALIVE),
            Some(start + FIRST),
            "a first request is due soon after the handshake"
        );

        tokio::time::advance(Duration::from_secs(4)).await;
        let request = activity.request();
        // While a request is handled, the connection is not idle, however long it takes.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(activity.deadline(FIRST, KEEP_ALIVE), None);
        let second = activity.request();
        drop(request);
        assert_eq!(activity.deadline(FIRST, KEEP_ALIVE), None, "one is left");
        drop(second);
        assert_eq!(
            activity.deadline(FIRST, KEEP_ALIVE),
            Some(Instant::now() + KEEP_ALIVE),
            "between requests, the keep-alive deadline runs from the last answer"
        );
    }
}
