//! [`KeyedMap`]: the lock-free, copy-on-insert map of per-key stats behind
//! [`NamedPmfDictStat`](crate::NamedPmfDictStat) and [`MeterDictStat`](crate::MeterDictStat).

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};
use indexmap::IndexMap;

type Map<V> = IndexMap<Arc<str>, Arc<V>, foldhash::fast::RandomState>;

/// Per-key values in insertion order. Readers and lookups of existing keys load an
/// immutable map without locking; inserting a key (rare) copies the map under `write`.
pub(crate) struct KeyedMap<V> {
    map: ArcSwap<Map<V>>,
    write: Mutex<()>,
}

impl<V> Default for KeyedMap<V> {
    fn default() -> Self {
        Self {
            map: ArcSwap::default(),
            write: Mutex::new(()),
        }
    }
}

impl<V> KeyedMap<V> {
    /// The current map, for lock-free lookups and iteration.
    pub(crate) fn load(&self) -> Guard<Arc<Map<V>>> {
        self.map.load()
    }

    /// The value for `key`, inserted with `make` if the key is new.
    pub(crate) fn get_or_insert_with(&self, key: &str, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some(value) = self.map.load().get(key) {
            return value.clone();
        }
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some(value) = current.get(key) {
            return value.clone();
        }
        let value = Arc::new(make());
        let mut next = Map::clone(&current);
        next.insert(Arc::from(key), value.clone());
        self.map.store(Arc::new(next));
        value
    }
}
