//! [`CallsiteCache`]: what the layer records for each callsite, read without a lock.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tracing_core::callsite::Identifier;

/// Keyed by the callsite's address: hashing a pointer with foldhash costs a few instructions.
type Map<V> = HashMap<Identifier, V, foldhash::fast::RandomState>;

/// A map from callsite to `V`, read on every span and event without a lock or a write to
/// shared memory (an [`ArcSwap`] load touches only the reading thread's own slot), and
/// copied whole when a callsite is added. Callsites are the `static`s that `span!` and
/// `event!` expand to, so a program has a fixed number of them and each is added once:
/// copying is a start-up cost, not a steady-state one.
pub(crate) struct CallsiteCache<V> {
    map: ArcSwap<Map<V>>,
}

impl<V> CallsiteCache<V> {
    pub(crate) fn new() -> Self {
        Self {
            map: ArcSwap::from_pointee(Map::default()),
        }
    }

    /// Runs `f` on the value cached for `callsite`; `None` if the callsite was never added.
    #[inline]
    pub(crate) fn with<R>(&self, callsite: &Identifier, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.map.load().get(callsite).map(f)
    }

    /// Number of callsites cached.
    pub(crate) fn len(&self) -> usize {
        self.map.load().len()
    }
}

impl<V: Clone> CallsiteCache<V> {
    /// Adds `value` for `callsite` unless the callsite is already there.
    ///
    /// Not atomic against another `insert`: callers serialise inserts (the layer holds its
    /// slow-path mutex), so no concurrent copy can overwrite this one.
    pub(crate) fn insert(&self, callsite: Identifier, value: V) {
        let current = self.map.load();
        if current.contains_key(&callsite) {
            return;
        }
        let mut next = Map::clone(&current);
        next.insert(callsite, value);
        self.map.store(Arc::new(next));
    }
}
