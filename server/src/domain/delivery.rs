//! How queued items (a device's registration for its owner's NMS, an event for a customer's
//! webhook) reach their receivers: the policy relative to the device's answer, an item's
//! delivery state, the retry schedule after a failed attempt, what settles an attempt, and what
//! one round of a delivery worker did.
//!
//! Pure rules over plain values: times are Unix milliseconds read from a
//! [`Clock`](super::clock::Clock) by the caller; nothing here reads the time or does I/O.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When the device gets its answer, relative to the delivery of its registration.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryPolicy {
    /// The device is answered only once the NMS has its registration (503 with Retry-After
    /// meanwhile), so that the NMS knows the device before it calls home.
    #[default]
    NmsFirst,
    /// The device is answered at once; the registration is delivered beside it.
    Parallel,
    /// Nothing is delivered (the connection is kept, e.g. while the NMS is being set up).
    Off,
}

spellings!(DeliveryPolicy, "delivery policy", {
    NmsFirst => "nms-first",
    Parallel => "parallel",
    Off => "off",
});

/// Where a registration is on its way to the NMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationState {
    /// Waiting for its next attempt (the first, or a retry).
    Pending,
    /// The NMS has the current content.
    Delivered,
    /// Retries gave up: a dead letter, delivered again only when an administrator says so.
    Dead,
}

spellings!(RegistrationState, "registration state", {
    Pending => "pending",
    Delivered => "delivered",
    Dead => "dead",
});

/// How a failed attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The NMS presented a host key that matches no pin: nothing was sent. Retrying soon cannot
    /// help (an administrator must act), and giving up would lose the registration, so it is
    /// retried at the slowest pace and never becomes a dead letter.
    HostKeyMismatch,
    /// Anything else (unreachable, refused credentials, SFTP errors).
    Other,
}

/// What happens to a registration after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this long.
    RetryIn(Duration),
    /// Stop: the registration becomes a dead letter.
    GiveUp,
}

/// The retry schedule: exponential backoff with jitter, and a give-up time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the first failed attempt.
    pub initial: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// How long a registration may stay undelivered before it becomes a dead letter.
    pub give_up_after: Duration,
}

impl RetrySchedule {
    /// What follows the `attempts`-th failed attempt (counting from 1) of a registration
    /// pending for `pending_for`. `jitter` in `[0, 1)` spreads retries of many registrations that
    /// failed together: the wait is between half and all of the backoff.
    pub fn after(
        &self,
        failure: Failure,
        attempts: u32,
        pending_for: Duration,
        jitter: f64,
    ) -> AfterFailure {
        let backoff = match failure {
            Failure::HostKeyMismatch => self.max,
            Failure::Other => {
                if pending_for >= self.give_up_after {
                    return AfterFailure::GiveUp;
                }
                let doublings = attempts.saturating_sub(1).min(32);
                self.initial
                    .saturating_mul(1u32 << doublings.min(31))
                    .min(self.max)
            }
        };
        let jitter = jitter.clamp(0.0, 1.0);
        AfterFailure::RetryIn(backoff.mul_f64(0.5 + jitter / 2.0))
    }

    /// How the `attempts`-th failed attempt (counting from 1), made at `now`, of an item waiting
    /// since `pending_since` settles: retried at a time after `now`, or a dead letter.
    pub fn settle_failure(
        &self,
        failure: Failure,
        attempts: i64,
        pending_since: i64,
        now: i64,
        jitter: f64,
    ) -> Settlement {
        let pending_for = Duration::from_millis(u64::try_from(now - pending_since).unwrap_or(0));
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        match self.after(failure, attempts, pending_for, jitter) {
            AfterFailure::RetryIn(wait) => Settlement::RetryAt(now.saturating_add(millis(wait))),
            AfterFailure::GiveUp => Settlement::Dead,
        }
    }
}

/// Where an attempt leaves an item of an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The receiver has it: done.
    Delivered,
    /// It failed: due again at this time (Unix ms).
    RetryAt(i64),
    /// It failed and retries gave up: a dead letter, until an administrator retries it.
    Dead,
}

/// What one round of a delivery worker (`run_once`) did: counted per item claimed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Items claimed (leased) for an attempt.
    pub claimed: usize,
    /// Items the receiver now has.
    pub delivered: usize,
    /// Items that failed and wait for a later attempt.
    pub retried: usize,
    /// Items that failed for the last time: dead letters.
    pub gave_up: usize,
    /// Items claimed but not settled by this round: changed meanwhile (a newer version is due),
    /// removed, or their attempt could not be recorded (their lease runs out).
    pub unsettled: usize,
}

impl Outcome {
    /// Counts one item claimed and settled as `settlement` (`applied`: the store took it).
    pub fn count(&mut self, settlement: Settlement, applied: bool) {
        self.claimed += 1;
        match (settlement, applied) {
            (_, false) => self.unsettled += 1,
            (Settlement::Delivered, true) => self.delivered += 1,
            (Settlement::RetryAt(_), true) => self.retried += 1,
            (Settlement::Dead, true) => self.gave_up += 1,
        }
    }

    /// This round and `other` together (rounds of several receivers).
    pub fn merge(self, other: Self) -> Self {
        Self {
            claimed: self.claimed + other.claimed,
            delivered: self.delivered + other.delivered,
            retried: self.retried + other.retried,
            gave_up: self.gave_up + other.gave_up,
            unsettled: self.unsettled + other.unsettled,
        }
    }

    /// Whether the round claimed nothing (nothing was due).
    pub fn is_idle(&self) -> bool {
        self.claimed == 0
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A uniform number in `[0, 1)` (retry jitter).
pub fn jitter() -> f64 {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    // 53 random bits make every double in [0, 1) equally likely.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(300),
            give_up_after: Duration::from_secs(3600),
        }
    }

    fn wait(after: AfterFailure) -> Duration {
        match after {
            AfterFailure::RetryIn(wait) => wait,
            AfterFailure::GiveUp => panic!("gave up"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_within_half() {
        let s = schedule();
        let young = Duration::from_secs(1);
        let full: Vec<u64> = (1..=10)
            .map(|n| wait(s.after(Failure::Other, n, young, 1.0)).as_secs())
            .collect();
        assert_eq!(full, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(
            wait(s.after(Failure::Other, 3, young, 0.0)),
            Duration::from_secs(4),
            "no jitter is half the backoff"
        );
        assert_eq!(
            wait(s.after(Failure::Other, u32::MAX, young, 0.5)),
            Duration::from_secs(225),
            "huge attempt counts do not overflow"
        );
    }

    #[test]
    fn gives_up_after_the_configured_time_except_on_a_host_key_mismatch() {
        let s = schedule();
        let old = Duration::from_secs(3600);
        assert_eq!(s.after(Failure::Other, 40, old, 0.3), AfterFailure::GiveUp);
        assert_eq!(
            wait(s.after(Failure::HostKeyMismatch, 1, old * 10, 1.0)),
            Duration::from_secs(300),
            "a mismatch waits the longest at once and stays queued"
        );
    }

    #[test]
    fn a_failure_settles_at_an_absolute_time_or_as_a_dead_letter() {
        let s = schedule();
        let start = 1_000_000;
        assert_eq!(
            s.settle_failure(Failure::Other, 2, start, start + 10_000, 1.0),
            Settlement::RetryAt(start + 10_000 + 4_000)
        );
        assert_eq!(
            s.settle_failure(Failure::Other, 9, start, start + 3_600_000, 0.0),
            Settlement::Dead
        );
        assert_eq!(
            s.settle_failure(Failure::Other, 1, start + 5, start, 1.0),
            Settlement::RetryAt(start + 2_000),
            "a clock that stepped back counts as no time pending"
        );
    }

    #[test]
    fn an_outcome_counts_each_settlement_once() {
        let mut round = Outcome::default();
        assert!(round.is_idle());
        round.count(Settlement::Delivered, true);
        round.count(Settlement::RetryAt(5), true);
        round.count(Settlement::Dead, true);
        round.count(Settlement::Delivered, false);
        let both = round.merge(round);
        assert_eq!((both.claimed, both.delivered, both.retried), (8, 2, 2));
        assert_eq!((both.gave_up, both.unsettled), (2, 2));
    }

    #[test]
    fn names_round_trip_and_serde_agrees() {
        for policy in DeliveryPolicy::ALL {
            assert_eq!(policy.as_str().parse::<DeliveryPolicy>(), Ok(policy));
            assert_eq!(serde_json::to_value(policy).unwrap(), policy.as_str());
        }
        assert!("later".parse::<DeliveryPolicy>().is_err());
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
