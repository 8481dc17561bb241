//! What time it is: the [`Clock`] the outbox, its leases and backoff, and the delivery workers
//! read instead of the system's time, so that tests move time by hand.
//!
//! Owns the trait and its two clocks; imports only `std` (the domain imports nothing else).
//! Times are Unix milliseconds, as the store keeps them.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in Unix milliseconds. Shared between tasks, hence `Send + Sync`.
pub trait Clock: Debug + Send + Sync {
    /// The current time, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock: what a running server uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until told to move: tests set it and advance it, and every reader
/// sees the same time (it is shared by reference, e.g. in an `Arc`).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock that reads `now_ms` until moved.
    pub fn new(now_ms: i64) -> Self {
        Self {
            now: AtomicI64::new(now_ms),
        }
    }

    /// A clock that starts at the system's current time (so that rows it stamps sort among rows
    /// stamped by the wall clock).
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward by `by` (saturating); returns the new time.
    pub fn advance(&self, by: Duration) -> i64 {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let before = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            })
            .unwrap_or_else(|now| now);
        before.saturating_add(by)
    }

    /// Sets the clock to `now_ms` (backwards too: a test of a clock step).
    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// `d` in whole milliseconds, saturating: the unit the clock and the store count in.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.advance(Duration::from_secs(2)), 3_000);
        assert_eq!(clock.now_ms(), 3_000);
        clock.set(500);
        assert_eq!(clock.now_ms(), 500);
        clock.set(i64::MAX - 1);
        assert_eq!(clock.advance(Duration::from_secs(1)), i64::MAX, "saturates");
    }

    #[test]
    fn the_system_clock_is_after_the_epoch_and_a_manual_one_can_start_from_it() {
        let before = SystemClock.now_ms();
        assert!(before > 1_700_000_000_000);
        assert!(ManualClock::starting_now().now_ms() >= before);
        assert_eq!(millis(Duration::from_millis(1_500)), 1_500);
    }
}
