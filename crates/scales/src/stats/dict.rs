//! [`IntDictStat`] (counters by key) and [`StringDictStat`] (strings by key).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use indexmap::IndexMap;

use super::{declare_core, Declare, StatCore, StatOptions};
use crate::registry::{Owner, Scope};
use crate::snapshot::StatKind;
use crate::Error;

/// Marks a removed entry. Adders that see a value this low know they hit a removed entry.
const TOMBSTONE: i64 = i64::MIN;

type CounterMap = IndexMap<Arc<str>, Arc<AtomicI64>>;

/// Storage of an [`IntDictStat`].
///
/// Readers and adders of existing keys go through a lock-free [`ArcSwap`] of an immutable
/// map; inserting a key (rare) copies the map under `write`. With `auto_delete`, entries that
/// are zero at read time are removed: the removal swaps the cell to [`TOMBSTONE`] first, so an
/// add racing with it notices and retries on a fresh cell instead of being lost.
pub(crate) struct IntDictCore {
    map: ArcSwap<CounterMap>,
    write: Mutex<()>,
    auto_delete: bool,
}

impl IntDictCore {
    pub(crate) fn new(auto_delete: bool) -> Self {
        Self {
            map: ArcSwap::default(),
            write: Mutex::new(()),
            auto_delete,
        }
    }

    pub(crate) fn add(&self, key: &str, n: i64) {
        if let Some(cell) = self.map.load().get(key) {
            // Relaxed: each entry is an independent tally.
            let before = cell.fetch_add(n, Ordering::Relaxed);
            if before > TOMBSTONE / 2 {
                return;
            }
            // The entry was removed under us; undo and take the slow path.
            cell.fetch_sub(n, Ordering::Relaxed);
        }
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some(cell) = current.get(key) {
            // Under `write`, no removal can run: the cell is live.
            cell.fetch_add(n, Ordering::Relaxed);
            return;
        }
        let mut next = CounterMap::clone(&current);
        next.insert(Arc::from(key), Arc::new(AtomicI64::new(n)));
        self.map.store(Arc::new(next));
    }

    pub(crate) fn set(&self, key: &str, value: i64) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some(cell) = current.get(key) {
            cell.store(value, Ordering::Relaxed);
            return;
        }
        let mut next = CounterMap::clone(&current);
        next.insert(Arc::from(key), Arc::new(AtomicI64::new(value)));
        self.map.store(Arc::new(next));
    }

    pub(crate) fn get(&self, key: &str) -> i64 {
        let value = self
            .map
            .load()
            .get(key)
            .map_or(0, |cell| cell.load(Ordering::Relaxed));
        if value > TOMBSTONE / 2 {
            value
        } else {
            0
        }
    }

    /// Entries in insertion order; with auto-delete, zero entries are removed first.
    pub(crate) fn entries(&self) -> Vec<(String, i64)> {
        if self.auto_delete {
            self.remove_zeros();
        }
        self.map
            .load()
            .iter()
            .map(|(key, cell)| (key.to_string(), cell.load(Ordering::Relaxed)))
            .filter(|&(_, v)| v > TOMBSTONE / 2)
            .collect()
    }

    fn remove_zeros(&self) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        let mut removed_any = false;
        let mut next = CounterMap::with_capacity(current.len());
        for (key, cell) in current.iter() {
            let removed = cell
                .compare_exchange(0, TOMBSTONE, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
            removed_any |= removed;
            if !removed {
                next.insert(key.clone(), cell.clone());
            }
        }
        if removed_any {
            self.map.store(Arc::new(next));
        }
    }
}

/// Counters by key, such as responses by status code.
///
/// Adding to an existing key is lock-free; the first add of a new key copies the key map.
/// Keys whose count is zero are shown unless the stat was declared with auto-delete
/// ([`Scope::int_dict_auto_delete`], or `StatOptions::auto_delete()`), which removes them.
///
/// ```
/// let reg = scales::Registry::new();
/// let by_path = reg.scope("/handler")?.int_dict("byPath")?;
/// by_path.inc("/index");
/// by_path.inc("/index");
/// by_path.add("/about", 1);
/// assert_eq!(by_path.get("/index"), 2);
/// assert_eq!(by_path.get("/missing"), 0);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct IntDictStat {
    core: Arc<IntDictCore>,
    _owner: Arc<Owner>,
}

impl IntDictStat {
    /// Adds one to `key`'s count.
    #[inline]
    pub fn inc(&self, key: &str) {
        self.core.add(key, 1);
    }

    /// Subtracts one from `key`'s count.
    #[inline]
    pub fn dec(&self, key: &str) {
        self.core.add(key, -1);
    }

    /// Adds `n` (which may be negative) to `key`'s count.
    #[inline]
    pub fn add(&self, key: &str, n: i64) {
        self.core.add(key, n);
    }

    /// Sets `key`'s count.
    pub fn set(&self, key: &str, value: i64) {
        self.core.set(key, value);
    }

    /// `key`'s count; 0 for a missing key (which is not inserted).
    pub fn get(&self, key: &str) -> i64 {
        self.core.get(key)
    }

    /// All entries, in the order keys were first added.
    pub fn entries(&self) -> Vec<(String, i64)> {
        self.core.entries()
    }
}

impl Declare for IntDictStat {
    fn declare(scope: &Scope, name: &str, options: StatOptions) -> Result<Self, Error> {
        let (core, owner) = declare_core(
            scope,
            name,
            StatKind::IntDict,
            |_| StatCore::IntDict(Arc::new(IntDictCore::new(options.auto_delete))),
            |core| match core {
                StatCore::IntDict(core) => Some(core),
                _ => None,
            },
        )?;
        Ok(Self {
            core,
            _owner: owner,
        })
    }
}

impl fmt::Debug for IntDictStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntDictStat")
            .field("entries", &self.entries())
            .finish_non_exhaustive()
    }
}

/// Storage of a [`StringDictStat`].
#[derive(Default)]
pub(crate) struct StringDictCore {
    map: Mutex<IndexMap<String, String>>,
}

impl StringDictCore {
    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, String>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Strings by key, such as the version of each backend.
///
/// ```
/// let reg = scales::Registry::new();
/// let versions = reg.scope("/backends")?.string_dict("version")?;
/// versions.set("db", "15.4");
/// assert_eq!(versions.get("db"), "15.4");
/// assert_eq!(versions.get("cache"), "");
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct StringDictStat {
    core: Arc<StringDictCore>,
    _owner: Arc<Owner>,
}

impl StringDictStat {
    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: impl Into<String>) {
        self.core.lock().insert(key.to_owned(), value.into());
    }

    /// `key`'s value; `""` for a missing key.
    pub fn get(&self, key: &str) -> String {
        self.core.lock().get(key).cloned().unwrap_or_default()
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<String> {
        self.core.lock().shift_remove(key)
    }

    /// All entries, in insertion order.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.core.entries()
    }
}

impl Declare for StringDictStat {
    fn declare(scope: &Scope, name: &str, _: StatOptions) -> Result<Self, Error> {
        let (core, owner) = declare_core(
            scope,
            name,
            StatKind::StringDict,
            |_| StatCore::StringDict(Arc::default()),
            |core| match core {
                StatCore::StringDict(core) => Some(core),
                _ => None,
            },
        )?;
        Ok(Self {
            core,
            _owner: owner,
        })
    }
}

impl fmt::Debug for StringDictStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringDictStat")
            .field("entries", &self.entries())
            .finish_non_exhaustive()
    }
}
