//! Strikes against a source: failed TLS handshakes and refused requests, each counted per source
//! (an IPv4 address, an IPv6 /64) in a token bucket. A source whose bucket runs dry is benched
//! for a cool-down: its connections are closed as soon as they are accepted, before a handshake
//! costs CPU or a request costs a database write. The bucket refills steadily, so a device that
//! fails now and then (a lossy link, a revoked certificate retried every few minutes) never runs
//! it dry; a flood does within its burst.
//!
//! The table is bounded, so that sources cannot flood the table itself: when it is full, the
//! sources it holds nothing about (not benched, bucket full again) are dropped first, then the
//! ones struck longest ago, a quarter of the table at a time so that the cost of the sweep is
//! spread over the strikes that fill it again. Forgetting a source costs it nothing but its
//! history: a source benched and then forgotten gets its burst again.
//!
//! Time is tokio's clock, so tests run on paused time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::slots::source;

/// How many strikes a source may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Strikes taken back to back before a source is benched; 0 switches the limit off.
    pub burst: u32,
    /// Strikes a minute a source may take for ever (the rate its bucket refills at).
    pub per_minute: u32,
    /// How long a source that ran out stays benched.
    pub cooldown: Duration,
}

/// What a strike did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Counted; the source still had budget.
    Counted,
    /// The source ran out with this strike and is benched from now on.
    Benched,
    /// The source was benched already (a connection accepted before it was).
    AlreadyBenched,
}

/// Strikes per source, for one kind of misbehaviour.
#[derive(Debug)]
pub struct Strikes {
    budget: Budget,
    capacity: usize,
    table: Mutex<HashMap<IpAddr, Record>>,
}

/// One source's bucket.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Tokens left, in thousandths of a strike.
    millis: u64,
    /// When `millis` was last brought up to date (and the source last struck).
    updated: Instant,
    /// Until when the source is benched.
    benched_until: Option<Instant>,
}

impl Strikes {
    /// Strikes under `budget`, remembering at most `capacity` sources.
    pub fn new(budget: Budget, capacity: usize) -> Self {
        Self {
            budget,
            capacity: capacity.max(4),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a strike against `peer`'s source.
    pub fn strike(&self, peer: IpAddr) -> Strike {
        if self.budget.burst == 0 {
            return Strike::Counted;
        }
        let now = Instant::now();
        let source = source(peer);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if !table.contains_key(&source) && table.len() >= self.capacity {
            self.make_room(&mut table, now);
        }
        let full = self.full();
        let record = table.entry(source).or_insert(Record {
            millis: full,
            updated: now,
            benched_until: None,
        });
        if record.benched_until.is_some_and(|until| until > now) {
            return Strike::AlreadyBenched;
        }
        record.millis = self.refilled(record, now);
        record.updated = now;
        record.benched_until = None;
        if record.millis >= 1000 {
            record.millis -= 1000;
            Strike::Counted
        } else {
            record.benched_until = Some(now + self.budget.cooldown);
            Strike::Benched
        }
    }

    /// Whether `peer`'s source is benched now.
    pub fn benched(&self, peer: IpAddr) -> bool {
        if self.budget.burst == 0 {
            return false;
        }
        let now = Instant::now();
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .get(&source(peer))
            .and_then(|r| r.benched_until)
            .is_some_and(|until| until > now)
    }

    /// Sources remembered now.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn full(&self) -> u64 {
        u64::from(self.budget.burst) * 1000
    }

    /// `record`'s tokens at `now`: a strike a minute is a thousandth of a token a
    /// sixtieth of a millisecond.
    fn refilled(&self, record: &Record, now: Instant) -> u64 {
        let elapsed =
            u64::try_from(now.duration_since(record.updated).as_millis()).unwrap_or(u64::MAX);
        let gained = elapsed.saturating_mul(u64::from(self.budget.per_minute)) / 60;
        record.millis.saturating_add(gained).min(self.full())
    }

    /// Frees a quarter of the table: first the sources it holds nothing about, then those
    /// struck longest ago (benched ones last).
    fn make_room(&self, table: &mut HashMap<IpAddr, Record>, now: Instant) {
        let benched = |r: &Record| r.benched_until.is_some_and(|until| until > now);
        let full = self.full();
        table.retain(|_, r| benched(r) || self.refilled(r, now) < full);
        let target = self.capacity - self.capacity / 4;
        if table.len() <= target {
            return;
        }
        let mut order: Vec<(bool, Instant, IpAddr)> = table
            .iter()
            .map(|(source, r)| (benched(r), r.updated, *source))
            .collect();
        order.sort_unstable();
        let excess = table.len() - target;
        for (_, _, source) in order.into_iter().take(excess) {
            table.remove(&source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const BUDGET: Budget = Budget {
        burst: 3,
        per_minute: 6,
        cooldown: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_source_is_benched_when_its_burst_is_spent_and_back_after_the_cooldown() {
        let strikes = Strikes::new(BUDGET, 100);
        let a = ip("192.0.2.7");
        for _ in 0..3 {
            assert_eq!(strikes.strike(a), Strike::Counted);
        }
        assert!(!strikes.benched(a), "a burst is allowed");
        assert_eq!(strikes.strike(a), Strike::Benched);
        assert!(strikes.benched(a));
        assert!(!strikes.benched(ip("192.0.2.8")), "only that source");
        assert_eq!(strikes.strike(a), Strike::AlreadyBenched);

        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(strikes.benched(a));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!strikes.benched(a), "the cooldown is over");
        // 30 s at 6 a minute gave back 3 strikes.
        for _ in 0..3 {
            assert_eq!(strikes.strike(a), Strike::Counted);
        }
        assert_eq!(strikes.strike(a), Strike::Benched);
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_within_its_rate_is_never_benched() {
        let strikes = Strikes::new(BUDGET, 100);
        let a = ip("192.0.2.7");
        // One strike every 10 s is exactly the refill rate: for ever within budget.
        for _ in 0..100 {
            assert_eq!(strikes.strike(a), Strike::Counted);
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        assert!(!strikes.benched(a));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_source_is_its_64_and_a_mapped_address_its_ipv4() {
        let strikes = Strikes::new(BUDGET, 100);
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
            strikes.strike(ip(host));
        }
        assert_eq!(strikes.strike(ip("2001:db8:1:2::9")), Strike::Benched);
        assert!(!strikes.benched(ip("2001:db8:1:3::1")));
        for _ in 0..3 {
            strikes.strike(ip("::ffff:192.0.2.1"));
        }
        assert_eq!(strikes.strike(ip("192.0.2.1")), Strike::Benched);
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_of_no_burst_switches_the_limit_off() {
        let strikes = Strikes::new(Budget { burst: 0, ..BUDGET }, 100);
        for _ in 0..1000 {
            assert_eq!(strikes.strike(ip("192.0.2.7")), Strike::Counted);
        }
        assert!(!strikes.benched(ip("192.0.2.7")));
        assert_eq!(strikes.remembered(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_sources_cannot_grow_the_table_nor_free_a_benched_source() {
        let strikes = Strikes::new(BUDGET, 64);
        let offender = ip("198.51.100.1");
        for _ in 0..4 {
            strikes.strike(offender);
        }
        assert!(strikes.benched(offender));
        // Thousands of sources striking once each.
        for i in 0..5000u32 {
            let [_, _, b, c] = i.to_be_bytes();
            strikes.strike(IpAddr::from([10, 1, b, c]));
            assert!(strikes.remembered() <= 64);
        }
        assert!(
            strikes.benched(offender),
            "benched sources are forgotten last"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sources_whose_buckets_are_full_again_are_forgotten_first() {
        let strikes = Strikes::new(BUDGET, 8);
        for i in 0..8u8 {
            strikes.strike(IpAddr::from([10, 0, 0, i]));
        }
        // Long enough for every bucket to be full again: nothing is known about them.
        tokio::time::advance(Duration::from_secs(60)).await;
        strikes.strike(ip("10.0.1.1"));
        assert_eq!(strikes.remembered(), 1);
    }
}
