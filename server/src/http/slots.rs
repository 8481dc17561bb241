//! Connection slots: a listener holds at most so many connections, and one source at most its
//! share of them, so that a few hundred clients from one address cannot take every slot from
//! the devices of the world. A connection beyond either bound is closed as soon as it is
//! accepted, before its TLS handshake costs anything. An IPv6 source is counted by its /64, the
//! block one host or site holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The slots of one listener.
#[derive(Debug)]
pub(super) struct Slots {
    total: usize,
    per_source: usize,
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    all: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Why a connection got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    /// The listener holds its maximum.
    Listener,
    /// The source holds its share.
    Source,
}

impl Slots {
    /// At most `total` connections, `per_source` of them from one source.
    pub(super) fn new(total: usize, per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            total: total.max(1),
            per_source: per_source.max(1),
            taken: Mutex::new(Taken::default()),
        })
    }

    /// A slot for a connection from `peer`, held until the returned guard is dropped.
    pub(super) fn take(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Full> {
        let source = source(peer);
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if taken.all >= self.total {
            return Err(Full::Listener);
        }
        let held = taken.by_source.entry(source).or_insert(0);
        if *held >= self.per_source {
            return Err(Full::Source);
        }
        *held += 1;
        taken.all += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            source,
        })
    }
}

/// A connection's slot.
#[derive(Debug)]
pub(super) struct Slot {
    slots: Arc<Slots>,
    source: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self
            .slots
            .taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        taken.all = taken.all.saturating_sub(1);
        if let Some(held) = taken.by_source.get_mut(&self.source) {
            *held -= 1;
            if *held == 0 {
                taken.by_source.remove(&self.source);
            }
        }
    }
}

/// What a peer is counted as: its IPv4 address (also when mapped into IPv6), or its IPv6 /64.
pub(crate) fn source(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_source_gets_its_share_and_the_rest_stay_open_to_others() {
        let slots = Slots::new(5, 2);
        let a1 = slots.take(ip("127.0.0.2")).unwrap();
        let _a2 = slots.take(ip("127.0.0.2")).unwrap();
        assert_eq!(slots.take(ip("127.0.0.2")).unwrap_err(), Full::Source);
        let _b = slots.take(ip("127.0.0.1")).unwrap();
        drop(a1);
        let _a3 = slots
            .take(ip("127.0.0.2"))
            .expect("a slot freed is a slot again");
        let _c = slots
            .take(ip("::ffff:127.0.0.1"))
            .expect("the same source as 127.0.0.1");
        assert_eq!(
            slots.take(ip("127.0.0.1")).unwrap_err(),
            Full::Source,
            "a mapped address counts as its IPv4 source"
        );
        let _d = slots.take(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.take(ip("192.0.2.2")).unwrap_err(), Full::Listener);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let slots = Slots::new(10, 1);
        let _one = slots.take(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            slots.take(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Full::Source
        );
        assert!(slots.take(ip("2001:db8:1:3::1")).is_ok());
    }
}
