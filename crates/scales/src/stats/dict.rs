//! [`IntDictStat`] (counters by key) and [`StringDictStat`] (strings by key).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use std::hash::{Hash, Hasher};

use indexmap::{Equivalent, IndexMap};

use std::collections::HashMap;

use super::key_limit::{KeyLimit, OVERFLOW_KEY};
use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::cells::{Counter, Slot};
use crate::clock::Clock;
use crate::path::Name;
use crate::snapshot::{Keyed, StatKind};

/// Marks a removed entry. Adders that see a value this low know they hit a removed entry.
const TOMBSTONE: i64 = i64::MIN;

/// Keys hashed with foldhash (seeded per map): a short status-code or path key hashes in a
/// few nanoseconds, against ~10 ns for the default SipHash-1-3.
type CounterMap = IndexMap<Key, Arc<Tally>, foldhash::fast::RandomState>;

/// One key's count.
enum Tally {
    /// Per-thread cells ([`crate::cells`]): an add is a plain per-thread add. Used when
    /// keys are never removed (no auto-delete, no expiry), so a cached tally is always the
    /// live one.
    Sharded(Counter),
    /// One shared atomic, removable with the [`TOMBSTONE`] protocol (auto-delete, expiry).
    Shared(AtomicI64),
}

impl Tally {
    fn new(removable: bool, value: i64) -> Self {
        if removable {
            Tally::Shared(AtomicI64::new(value))
        } else {
            let counter = Counter::new();
            counter.add(value as u64);
            Tally::Sharded(counter)
        }
    }

    /// Adds `n`; `false` (and nothing added) if the entry was removed.
    #[inline]
    fn try_add(&self, n: i64) -> bool {
        match self {
            Tally::Sharded(counter) => {
                counter.add(n as u64);
                true
            }
            Tally::Shared(cell) => try_add(cell, n),
        }
    }

    fn set(&self, value: i64) {
        match self {
            Tally::Sharded(counter) => counter.set(value as u64),
            // Relaxed: an independent tally.
            Tally::Shared(cell) => cell.store(value, Ordering::Relaxed),
        }
    }

    /// The count, or `None` for a removed entry.
    fn get(&self) -> Option<i64> {
        match self {
            Tally::Sharded(counter) => Some(counter.get() as i64),
            // Relaxed: an independent tally.
            Tally::Shared(cell) => {
                Some(cell.load(Ordering::Relaxed)).filter(|&v| v > TOMBSTONE / 2)
            }
        }
    }
}

/// A key of a [`CounterMap`]. Hashes its bytes in one `write` (a `str` also writes a
/// terminator byte, a second round of the hasher), and is looked up by [`KeyRef`].
#[derive(Clone, PartialEq, Eq)]
struct Key(Name);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

/// A borrowed key, hashed like [`Key`].
struct KeyRef<'a>(&'a str);

impl Hash for KeyRef<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        // A byte loop rather than `==`, which calls `memcmp`: keys are short.
        let (a, b) = (self.0.as_bytes(), key.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
    }
}

/// Source of [`IntDictCore::id`]s: never reused, so a cache entry can never match a
/// different dictionary that happens to live at a freed one's address.
static NEXT_DICT_ID: AtomicU64 = AtomicU64::new(1);

/// Sets of the per-thread lookup cache; each set holds two entries (2-way associative, so
/// a few hot keys that hash to the same set do not evict each other on every add).
const CACHE_SETS: usize = 64;
/// Longest key the per-thread cache holds (longer keys always take the map lookup): up to
/// 16 bytes, a key is fully described by its length and two 8-byte words ([`key_words`]).
const CACHED_KEY_BYTES: usize = 16;

/// One per-thread cache entry: `(dictionary id, key)` → the key's tally.
struct CacheEntry {
    dict: u64,
    /// The key as [`key_words`] and its length; only keys of up to [`CACHED_KEY_BYTES`].
    words: (u64, u64),
    len: usize,
    tally: Option<Arc<Tally>>,
    /// The slot of a sharded tally, read without dereferencing `tally`.
    slot: Option<Slot>,
}

const EMPTY_ENTRY: CacheEntry = CacheEntry {
    dict: 0,
    words: (0, 0),
    len: 0,
    tally: None,
    slot: None,
};
const EMPTY_SET: [CacheEntry; 2] = [EMPTY_ENTRY, EMPTY_ENTRY];

thread_local! {
    /// Recently used tallies of every `IntDictStat` on this thread, so that adding to an
    /// existing key skips the `ArcSwap` load, the hash and the map probe.
    static CACHE: RefCell<[[CacheEntry; 2]; CACHE_SETS]> =
        const { RefCell::new([EMPTY_SET; CACHE_SETS]) };
}

/// A key of at most 16 bytes as two little-endian words that, with its length, identify it
/// exactly: the first and last 8 bytes (overlapping below 16), the first and last 4 bytes
/// below 8, and the first, middle and last byte below 4.
#[inline]
fn key_words(key: &[u8]) -> (u64, u64) {
    let len = key.len();
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().unwrap_or_default());
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            key[at..at + 4].try_into().unwrap_or_default(),
        ))
    };
    if len >= 8 {
        (word(0), word(len - 8))
    } else if len >= 4 {
        (half(0), half(len - 4))
    } else if len > 0 {
        let byte = |at: usize| u64::from(key[at]);
        ((byte(0) << 16) | (byte(len / 2) << 8) | byte(len - 1), 0)
    } else {
        (0, 0)
    }
}

/// The cache set of `(dict, key)`, and the way to evict on a miss: two independent
/// multiplications, so the hash costs a few cycles of latency.
#[inline]
fn cache_slot(dict: u64, (a, b): (u64, u64), len: usize) -> (usize, usize) {
    let hash = (a ^ dict).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b ^ len as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let hash = hash ^ (hash >> 29);
    (
        (hash >> 58) as usize % CACHE_SETS,
        (hash >> 57) as usize & 1,
    )
}

impl CacheEntry {
    #[inline]
    fn matches(&self, dict: u64, words: (u64, u64), len: usize) -> bool {
        self.dict == dict && self.words == words && self.len == len
    }
}

/// Adds `n` to a live cell; `false` (and nothing added) if the cell was removed.
#[inline]
fn try_add(cell: &AtomicI64, n: i64) -> bool {
    // Relaxed: each entry is an independent tally.
    let before = cell.fetch_add(n, Ordering::Relaxed);
    if before > TOMBSTONE / 2 {
        return true;
    }
    // The entry was removed under us; undo.
    cell.fetch_sub(n, Ordering::Relaxed);
    false
}

/// Storage of an [`IntDictStat`].
///
/// Readers and adders of existing keys go through a lock-free [`ArcSwap`] of an immutable
/// map of [`Tally`]s; inserting a key (rare) copies the map under `write`. Without
/// `auto_delete`, keys are never removed and each tally is a per-thread sharded counter.
/// With `auto_delete`, entries that are zero at read time are removed, so each tally is one
/// shared atomic: the removal swaps it to [`TOMBSTONE`] first, so an add racing with it
/// notices and retries on a fresh tally instead of being lost.
///
/// Adders also keep a small per-thread cache of `(dictionary, key) → tally` for keys of up to
/// 16 bytes. A cached tally is always either the key's live one (inserting other keys carries
/// tallies over to the new map) or a removed one, marked with [`TOMBSTONE`]; an add that
/// finds a tombstone undoes itself and takes the map path, so the cache never loses or
/// misplaces an update.
///
/// With a cap on keys ([`StatOptions::with_max_keys`]), a new key that does not fit adds to
/// [`OVERFLOW_KEY`]'s tally instead (and is cached as such); with idle expiry
/// ([`StatOptions::with_idle_key_expiry`]), reads remove the keys whose count has not
/// changed for that long, with the same tombstone protocol as auto-delete.
pub(crate) struct IntDictCore {
    id: u64,
    map: ArcSwap<CounterMap>,
    write: Mutex<()>,
    auto_delete: bool,
    limit: Option<KeyLimit>,
    expiry: Option<Expiry>,
}

/// Idle expiry of keys: what each key's count was when last seen changing, and when.
struct Expiry {
    idle_nanos: u64,
    clock: Clock,
    seen: Mutex<HashMap<Name, (i64, u64), foldhash::fast::RandomState>>,
}

impl IntDictCore {
    pub(crate) fn new(options: StatOptions, place: &Place<'_>) -> Self {
        Self {
            // Relaxed: only uniqueness matters.
            id: NEXT_DICT_ID.fetch_add(1, Ordering::Relaxed),
            map: ArcSwap::default(),
            write: Mutex::new(()),
            auto_delete: options.auto_delete,
            limit: options.key_limit(place),
            expiry: options.idle_key_expiry.map(|idle| Expiry {
                idle_nanos: u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX),
                clock: place.clock.clone(),
                seen: Mutex::default(),
            }),
        }
    }

    /// Whether keys can be removed (so tallies must be shared atomics).
    fn removable(&self) -> bool {
        self.auto_delete || self.expiry.is_some()
    }

    /// Distinct keys refused by the cap (0 without one).
    pub(crate) fn overflowed_keys(&self) -> u64 {
        self.limit.as_ref().map_or(0, KeyLimit::overflowed_keys)
    }

    /// The key a new `key` is stored under in `current`: itself, or [`OVERFLOW_KEY`] when
    /// the cap refuses it.
    fn admitted<'k>(&self, current: &CounterMap, key: &'k str) -> &'k str {
        match &self.limit {
            Some(limit)
                if !limit.admits(
                    current.len(),
                    current.contains_key(&KeyRef(OVERFLOW_KEY)),
                    key,
                ) =>
            {
                OVERFLOW_KEY
            }
            _ => key,
        }
    }

    #[inline]
    pub(crate) fn add(&self, key: &str, n: i64) {
        let bytes = key.as_bytes();
        if bytes.len() <= CACHED_KEY_BYTES && self.add_cached(key_words(bytes), bytes.len(), n) {
            return;
        }
        self.add_slow(key, n);
    }

    /// Adds through this thread's cache; `false` on a miss (nothing added).
    #[inline]
    fn add_cached(&self, words: (u64, u64), len: usize, n: i64) -> bool {
        CACHE
            .try_with(|cache| {
                let Ok(cache) = cache.try_borrow() else {
                    return false;
                };
                let set = &cache[cache_slot(self.id, words, len).0];
                let Some(entry) = set.iter().find(|entry| entry.matches(self.id, words, len))
                else {
                    return false;
                };
                if entry
                    .slot
                    .is_some_and(|slot| Counter::add_local(slot, n as u64))
                {
                    return true;
                }
                entry.tally.as_ref().is_some_and(|tally| tally.try_add(n))
            })
            .unwrap_or(false)
    }

    /// The cache-miss path: adds through the map and caches the key's tally.
    #[cold]
    #[inline(never)]
    fn add_slow(&self, key: &str, n: i64) {
        let tally = self.add_uncached(key, n);
        let len = key.len();
        if len > CACHED_KEY_BYTES {
            return;
        }
        let words = key_words(key.as_bytes());
        // Ignored when the thread's locals are being destroyed or the cache is in use.
        let _ = CACHE.try_with(|cache| {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                let (set, victim) = cache_slot(self.id, words, len);
                let set = &mut cache[set];
                // An entry of this key (holding a removed tally), else an empty one.
                let way = (0..2)
                    .find(|&w| set[w].matches(self.id, words, len))
                    .or_else(|| (0..2).find(|&w| set[w].tally.is_none()))
                    .unwrap_or(victim);
                set[way] = CacheEntry {
                    dict: self.id,
                    words,
                    len,
                    slot: match &*tally {
                        Tally::Sharded(counter) => Some(counter.slot()),
                        Tally::Shared(_) => None,
                    },
                    tally: Some(tally),
                };
            }
        });
    }

    /// Adds through the map, inserting the key if needed; returns the live tally it added to.
    fn add_uncached(&self, key: &str, n: i64) -> Arc<Tally> {
        if let Some(tally) = self.map.load().get(&KeyRef(key)) {
            if tally.try_add(n) {
                return tally.clone();
            }
        }
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        let key = match current.get(&KeyRef(key)) {
            Some(_) => key,
            None => self.admitted(&current, key),
        };
        if let Some(tally) = current.get(&KeyRef(key)) {
            // Under `write`, no removal can run: the tally is live.
            let added = tally.try_add(n);
            debug_assert!(added, "a removed tally in the current map");
            return tally.clone();
        }
        let tally = Arc::new(Tally::new(self.removable(), n));
        let mut next = CounterMap::clone(&current);
        next.insert(Key(Name::from(key)), tally.clone());
        self.map.store(Arc::new(next));
        tally
    }

    pub(crate) fn set(&self, key: &str, value: i64) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        if let Some(tally) = current.get(&KeyRef(key)) {
            tally.set(value);
            return;
        }
        let key = self.admitted(&current, key);
        if let Some(tally) = current.get(&KeyRef(key)) {
            // The overflow key: a refused key's set lands there.
            tally.set(value);
            return;
        }
        let mut next = CounterMap::clone(&current);
        next.insert(
            Key(Name::from(key)),
            Arc::new(Tally::new(self.removable(), value)),
        );
        self.map.store(Arc::new(next));
    }

    pub(crate) fn get(&self, key: &str) -> i64 {
        self.map
            .load()
            .get(&KeyRef(key))
            .and_then(|tally| tally.get())
            .unwrap_or(0)
    }

    /// Entries in insertion order; with auto-delete, zero entries are removed first, and
    /// with expiry, idle ones.
    pub(crate) fn entries(&self) -> Vec<Keyed<i64>> {
        if self.auto_delete {
            self.remove_zeros();
        }
        if let Some(expiry) = &self.expiry {
            self.expire_idle(expiry);
        }
        self.map
            .load()
            .iter()
            .filter_map(|(key, tally)| Some(Keyed::new(key.0.clone(), tally.get()?)))
            .collect()
    }

    fn remove_zeros(&self) {
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        let mut removed_any = false;
        let mut next =
            CounterMap::with_capacity_and_hasher(current.len(), current.hasher().clone());
        for (key, tally) in current.iter() {
            // Only shared tallies exist with auto-delete.
            let removed = matches!(&**tally, Tally::Shared(cell) if cell
                .compare_exchange(0, TOMBSTONE, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok());
            removed_any |= removed;
            if !removed {
                next.insert(key.clone(), tally.clone());
            }
        }
        if removed_any {
            self.map.store(Arc::new(next));
        }
    }
}

impl IntDictCore {
    /// Removes the keys whose count has not changed for the expiry's idle time.
    fn expire_idle(&self, expiry: &Expiry) {
        let now = expiry.clock.now_nanos();
        let _write = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.map.load_full();
        let mut seen = expiry.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut idle = Vec::new();
        for (key, tally) in current.iter() {
            let Some(count) = tally.get() else {
                continue;
            };
            match seen.get_mut(&*key.0) {
                Some((last, since)) if *last == count => {
                    if now.saturating_sub(*since) >= expiry.idle_nanos {
                        idle.push((key, tally, count));
                    }
                }
                Some(entry) => *entry = (count, now),
                None => {
                    seen.insert(key.0.clone(), (count, now));
                }
            }
        }
        seen.retain(|key, _| current.contains_key(&KeyRef(key)));
        if idle.is_empty() {
            return;
        }
        let mut next = CounterMap::clone(&current);
        for (key, tally, count) in idle {
            // Only shared tallies exist with expiry. A count that moved since it was read
            // keeps the key (the exchange fails): the add is never lost.
            let removed = matches!(&**tally, Tally::Shared(cell) if cell
                .compare_exchange(count, TOMBSTONE, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok());
            if removed {
                next.shift_remove(key);
                seen.remove(&*key.0);
            }
        }
        self.map.store(Arc::new(next));
    }
}

/// Counters by key, such as responses by status code.
///
/// Adding to an existing key is lock-free; the first add of a new key copies the key map.
/// Keys whose count is zero are shown unless the stat was declared with auto-delete
/// (`scope.declare_with::<IntDictStat>(name, StatOptions::auto_delete())` or `#[stat(auto_delete)]`), which removes them.
///
/// ```
/// let reg = scales::Registry::new();
/// let by_path = reg.scope("/handler")?.int_dict_stat("byPath")?;
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
    _lease: Lease,
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
    pub fn entries(&self) -> Vec<Keyed<i64>> {
        self.core.entries()
    }

    /// Distinct keys refused by the cap on keys and counted under
    /// [`OVERFLOW_KEY`] ([`StatOptions::with_max_keys`]); 0 without a
    /// cap.
    pub fn overflowed_keys(&self) -> u64 {
        self.core.overflowed_keys()
    }

    /// A handle onto one key, looked up once: for code that adds to the same key again and
    /// again (a route, a status class), an add through it skips the key lookup and costs
    /// what an [`IntStat`](crate::IntStat)'s does. The key appears (at 0) if it was not
    /// there; a key refused by the cap on keys gives a handle onto
    /// [`OVERFLOW_KEY`]. For a stat whose keys can be removed
    /// (auto-delete, idle expiry) the handle adds by name, so it never adds to a removed key.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let by_class = reg.scope("/web")?.int_dict_stat("byStatusClass")?;
    /// let ok = by_class.key("2xx");
    /// ok.inc();
    /// ok.add(2);
    /// assert_eq!(by_class.get("2xx"), 3);
    /// assert_eq!(ok.get(), 3);
    /// # Ok::<(), scales::Error>(())
    /// ```
    pub fn key(&self, key: &str) -> IntDictKey {
        let live = if self.core.removable() {
            None
        } else {
            // Keys that cannot be removed have sharded tallies.
            let tally = self.core.add_uncached(key, 0);
            match &*tally {
                Tally::Sharded(counter) => Some((counter.slot(), tally.clone())),
                Tally::Shared(_) => None,
            }
            .map(|(slot, tally)| (tally, slot))
        };
        IntDictKey {
            core: self.core.clone(),
            key: Arc::from(key),
            live,
            _lease: self._lease.clone(),
        }
    }
}

/// One key of an [`IntDictStat`] ([`IntDictStat::key`]).
#[derive(Clone)]
pub struct IntDictKey {
    core: Arc<IntDictCore>,
    key: Arc<str>,
    /// The key's tally, when keys are never removed.
    live: Option<(Arc<Tally>, Slot)>,
    _lease: Lease,
}

impl IntDictKey {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `n` (which may be negative).
    #[inline]
    pub fn add(&self, n: i64) {
        match &self.live {
            Some((tally, slot)) => match &**tally {
                Tally::Sharded(counter) => counter.add_at(*slot, n as u64),
                Tally::Shared(_) => self.core.add(&self.key, n),
            },
            None => self.core.add(&self.key, n),
        }
    }

    /// The key's count (of the overflow key, for a key the cap refused).
    pub fn get(&self) -> i64 {
        match &self.live {
            Some((tally, _)) => tally.get().unwrap_or(0),
            None => self.core.get(&self.key),
        }
    }
}

impl fmt::Debug for IntDictKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntDictKey")
            .field("key", &self.key)
            .field("count", &self.get())
            .finish_non_exhaustive()
    }
}

impl StatType for IntDictStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::IntDict
    }

    fn new_core(place: &Place<'_>, options: StatOptions) -> StatCore {
        StatCore::IntDict(Arc::new(IntDictCore::new(options, place)))
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::IntDict(core) = core else {
            return None;
        };
        Some(Self {
            core,
            _lease: lease,
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
    limit: Option<KeyLimit>,
}

impl StringDictCore {
    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, String>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn entries(&self) -> Vec<Keyed<String>> {
        self.lock()
            .iter()
            .map(|(k, v)| Keyed::new(k.as_str(), v.clone()))
            .collect()
    }
}

/// Strings by key, such as the version of each backend.
///
/// ```
/// let reg = scales::Registry::new();
/// let versions = reg.scope("/backends")?.string_dict_stat("version")?;
/// versions.set("db", "15.4");
/// assert_eq!(versions.get("db"), "15.4");
/// assert_eq!(versions.get("cache"), "");
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct StringDictStat {
    core: Arc<StringDictCore>,
    _lease: Lease,
}

impl StringDictStat {
    /// Sets `key` to `value`. A key refused by the cap on keys
    /// ([`StatOptions::with_max_keys`]) sets [`OVERFLOW_KEY`] instead.
    pub fn set(&self, key: &str, value: impl Into<String>) {
        let mut map = self.core.lock();
        let key = match &self.core.limit {
            Some(limit)
                if !map.contains_key(key)
                    && !limit.admits(map.len(), map.contains_key(OVERFLOW_KEY), key) =>
            {
                OVERFLOW_KEY
            }
            _ => key,
        };
        map.insert(key.to_owned(), value.into());
    }

    /// Distinct keys refused by the cap on keys ([`StatOptions::with_max_keys`]); 0
    /// without a cap.
    pub fn overflowed_keys(&self) -> u64 {
        self.core
            .limit
            .as_ref()
            .map_or(0, KeyLimit::overflowed_keys)
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
    pub fn entries(&self) -> Vec<Keyed<String>> {
        self.core.entries()
    }
}

impl StatType for StringDictStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::StringDict
    }

    fn new_core(place: &Place<'_>, options: StatOptions) -> StatCore {
        StatCore::StringDict(Arc::new(StringDictCore {
            map: Mutex::default(),
            limit: options.key_limit(place),
        }))
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::StringDict(core) = core else {
            return None;
        };
        Some(Self {
            core,
            _lease: lease,
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
