//! [`AtomicF64`]: an `f64` in an `AtomicU64`, the one place float sums live atomically
//! (`DoubleStat`, distribution sums).
//!
//! Every operation is `Relaxed`: these are independent numbers that publish nothing else.

use std::sync::atomic::{AtomicU64, Ordering};

/// An `f64` that threads read and update atomically.
#[derive(Debug)]
pub(crate) struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub(crate) const fn new(value: f64) -> Self {
        Self(AtomicU64::new(value.to_bits()))
    }

    pub(crate) fn load(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    pub(crate) fn store(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `delta`, from any number of threads (a compare-and-swap loop).
    #[inline]
    pub(crate) fn add(&self, delta: f64) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Adds `delta` when this thread is the only writer: a plain load and store, no locked
    /// instruction. Readers on other threads see the old or the new sum, never a torn one.
    #[inline]
    pub(crate) fn add_single_writer(&self, delta: f64) {
        self.store(self.load() + delta);
    }
}

impl Default for AtomicF64 {
    fn default() -> Self {
        Self::new(0.0)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn concurrent_adds_are_exact_on_integers() {
        let sum = AtomicF64::new(0.5);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|_| sum.add(1.0)));
            }
        });
        assert_eq!(sum.load(), 40_000.5);
        sum.add_single_writer(-0.5);
        sum.store(sum.load() * 2.0);
        assert_eq!(sum.load(), 80_000.0);
    }
}
