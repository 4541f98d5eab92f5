//! [`KeyLimit`]: the cap on distinct keys of a keyed stat ([`StatOptions::with_max_keys`]).
//!
//! Keys beyond the cap are counted under [`OVERFLOW_KEY`], so totals stay exact while the
//! number of series stays bounded; how many distinct keys were refused is counted too.
//!
//! [`StatOptions::with_max_keys`]: super::StatOptions::with_max_keys

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The key that counts every key refused by a stat's cap on keys.
pub const OVERFLOW_KEY: &str = "__overflow__";

/// Refused keys remembered (as 64-bit hashes) to count them once each: about 160 KiB at
/// most per capped stat. Past this many, [`KeyLimit::overflowed_keys`] only grows by the
/// remembered ones and reads as "at least".
const REMEMBERED_REFUSALS: usize = 10_000;

/// A stat's cap on distinct keys.
pub(crate) struct KeyLimit {
    max: usize,
    refused: Mutex<HashSet<u64>>,
    overflowed: AtomicU64,
    hasher: foldhash::fast::RandomState,
    warned: AtomicBool,
    path: String,
}

impl KeyLimit {
    pub(crate) fn new(max: usize, path: String) -> Self {
        Self {
            max,
            refused: Mutex::default(),
            overflowed: AtomicU64::new(0),
            hasher: foldhash::fast::RandomState::default(),
            warned: AtomicBool::new(false),
            path,
        }
    }

    /// Whether a stat holding `keys` keys (the overflow key included, if present) may take
    /// the new key `key`; when not, the refusal is counted and the caller uses
    /// [`OVERFLOW_KEY`] instead.
    pub(crate) fn admits(&self, keys: usize, has_overflow: bool, key: &str) -> bool {
        if keys - usize::from(has_overflow) < self.max || key == OVERFLOW_KEY {
            return true;
        }
        let hash = self.hasher.hash_one(key);
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() < REMEMBERED_REFUSALS && refused.insert(hash) {
            // Relaxed: a statistic, read on its own.
            self.overflowed.fetch_add(1, Ordering::Relaxed);
        }
        drop(refused);
        if !self.warned.swap(true, Ordering::Relaxed) {
            log::warn!(
                target: "scales",
                "{} reached its cap of {} keys; further keys are counted under {OVERFLOW_KEY:?}",
                self.path,
                self.max
            );
        }
        false
    }

    /// Distinct keys refused so far (at least: after 10 000 of them, new ones are no longer
    /// told apart).
    pub(crate) fn overflowed_keys(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_cap_and_counts_each_refused_key_once() {
        let limit = KeyLimit::new(2, "/x".into());
        assert!(limit.admits(0, false, "a"));
        assert!(limit.admits(1, false, "b"));
        assert!(!limit.admits(2, false, "c"));
        assert!(!limit.admits(3, true, "c"));
        assert!(!limit.admits(3, true, "d"));
        // The overflow key itself is always let in, and does not count against the cap.
        assert!(limit.admits(2, false, OVERFLOW_KEY));
        assert_eq!(limit.overflowed_keys(), 2);
    }
}
