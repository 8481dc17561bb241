//! A bounded memory of recent entries keyed by a SHA-256 digest: two generations of at most
//! `capacity` entries each. When the newer generation is full it becomes the older, and the
//! older is forgotten; an entry found in the older generation moves to the newer. The entries
//! in use survive, and memory stays bounded, with no bookkeeping per lookup beyond a hash.

use std::collections::HashMap;

/// A SHA-256 digest, the key of an entry.
pub(super) type Digest = [u8; 32];

/// Recent entries of type `V`, two generations of at most `capacity` each (0: none kept).
#[derive(Debug)]
pub(super) struct Recent<V> {
    capacity: usize,
    newer: HashMap<Digest, V>,
    older: HashMap<Digest, V>,
}

impl<V> Recent<V> {
    /// An empty memory of `capacity` entries per generation.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            newer: HashMap::new(),
            older: HashMap::new(),
        }
    }

    /// The entry under `key`, moved to the newer generation if it was in the older.
    pub(super) fn get(&mut self, key: &Digest) -> Option<&V> {
        if !self.newer.contains_key(key) {
            let value = self.older.remove(key)?;
            self.insert(*key, value);
        }
        self.newer.get(key)
    }

    /// Keeps `value` under `key` (nothing, with capacity 0).
    pub(super) fn insert(&mut self, key: Digest, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.newer.len() >= self.capacity && !self.newer.contains_key(&key) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(key, value);
    }

    /// How many entries are kept.
    pub(super) fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Digest {
        [n; 32]
    }

    #[test]
    fn entries_in_use_survive_and_the_rest_is_forgotten() {
        let mut recent = Recent::new(2);
        recent.insert(key(1), "one");
        recent.insert(key(2), "two");
        // The newer generation is full: it becomes the older.
        recent.insert(key(3), "three");
        assert_eq!(recent.len(), 3);
        // Found in the older generation: moved to the newer, which is then full.
        assert_eq!(recent.get(&key(1)), Some(&"one"));
        recent.insert(key(4), "four");
        assert_eq!(recent.get(&key(2)), None, "forgotten with its generation");
        assert_eq!(recent.get(&key(1)), Some(&"one"));
        assert_eq!(recent.get(&key(3)), Some(&"three"));
        assert!(recent.len() <= 4, "two generations of two at most");
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let mut recent = Recent::new(0);
        recent.insert(key(1), ());
        assert_eq!(recent.get(&key(1)), None);
        assert_eq!(recent.len(), 0);
    }
}
