//! [`KeyedMap`]: the lock-free, copy-on-insert map of per-key stats behind
//! [`NamedPmfDictStat`](crate::NamedPmfDictStat) and [`MeterDictStat`](crate::MeterDictStat).

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};
use indexmap::IndexMap;

use super::key_limit::{KeyLimit, OVERFLOW_KEY};
use crate::path::Name;

type Map<V> = IndexMap<Name, Arc<V>, foldhash::fast::RandomState>;

/// Per-key values in insertion order. Readers and lookups of existing keys load an
/// immutable map without locking; inserting a key (rare) copies the map under `write`.
/// With a [`KeyLimit`], keys beyond the cap share the [`OVERFLOW_KEY`] entry.
pub(crate) struct KeyedMap<V> {
    map: ArcSwap<Map<V>>,
    write: Mutex<()>,
    limit: Option<KeyLimit>,
}

impl<V> Default for KeyedMap<V> {
    fn default() -> Self {
        Self::new(None)
    }
}

impl<V> KeyedMap<V> {
    pub(crate) fn new(limit: Option<KeyLimit>) -> Self {
        Self {
            map: ArcSwap::default(),
            write: Mutex::new(()),
            limit,
        }
    }

    /// Distinct keys refused by the cap (0 without one).
    pub(crate) fn overflowed_keys(&self) -> u64 {
        self.limit.as_ref().map_or(0, KeyLimit::overflowed_keys)
    }

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
        let has_overflow = current.contains_key(OVERFLOW_KEY);
        let key = match &self.limit {
            Some(limit) if !limit.admits(current.len(), has_overflow, key) => {
                if let Some(value) = current.get(OVERFLOW_KEY) {
                    return value.clone();
                }
                OVERFLOW_KEY
            }
            _ => key,
        };
        let value = Arc::new(make());
        let mut next = Map::clone(&current);
        next.insert(Name::from(key), value.clone());
        self.map.store(Arc::new(next));
        value
    }
}
