//! Key → handle lookups without shared writes: per-thread caches in front of the shared map,
//! and handles striped by thread.
//!
//! A `counter!("a.b")` call asks the recorder for a handle every time, and the handle it gets
//! is an `Arc` that the call clones and drops again. Two things would make every such call
//! write to memory that other threads write too: a lock (or a reclamation guard) around the
//! shared map, and one reference count per handle. So:
//!
//! * each thread looks keys up first in its own small cache ([`ThreadCache`], 2-way
//!   set-associative, [`SETS`] × 2 entries), which takes no lock and no atomic operation; a
//!   miss goes to the recorder's shared map (lock-free reads) and fills the cache;
//! * each shared entry holds up to one `Arc` of the handle per *stripe* ([`Striped`]), made
//!   on first use, and a thread uses the stripe of its [thread slot](ThreadCache::slot):
//!   threads running at the same time have different slots, so the reference counts they
//!   update are on different cache lines.
//!
//! What is recorded does not depend on the stripe: every copy of a handle holds a clone of the
//! same scales stat, whose own storage is per-thread (counters, distributions) or one atomic
//! (gauges).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics::Key;

use crate::handles::{CounterHandle, GaugeHandle, HistogramHandle};

/// Sets of each thread's cache (a power of two).
const SETS: usize = 32;

/// At most this many stripes per handle, whatever the number of CPUs.
const MAX_STRIPES: usize = 64;

/// The number of stripes to give each handle: the CPUs' count rounded up to a power of two.
pub(crate) fn stripes() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .next_power_of_two()
        .min(MAX_STRIPES)
}

/// A handle's shared entry: its key, what the handle records into, and one `Arc` of the
/// handle per stripe.
pub(crate) struct Striped<H: Handle> {
    /// The key in its retained form ([`Key::to_retained`]): the per-thread caches' copies
    /// are clones of it, which allocate nothing.
    key: Key,
    target: H::Target,
    stripes: Box<[OnceLock<Arc<H>>]>,
}

impl<H: Handle> Striped<H> {
    /// `stripes` is a power of two (see [`stripes`]); `key` is cloned in its retained form.
    pub(crate) fn new(key: &Key, target: H::Target, stripes: usize) -> Self {
        Self {
            key: key.to_retained(),
            target,
            stripes: (0..stripes).map(|_| OnceLock::new()).collect(),
        }
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// The copy of the handle for thread slot `slot`.
    pub(crate) fn get(&self, slot: usize) -> &Arc<H> {
        self.stripes[slot & (self.stripes.len() - 1)]
            .get_or_init(|| Arc::new(H::new(self.target.clone())))
    }
}

/// One kind of handle (counter, gauge or histogram), as the caches hold it.
pub(crate) trait Handle: Sized + Send + Sync + 'static {
    /// What the handle records into.
    type Target: Clone + Send + Sync;

    fn new(target: Self::Target) -> Self;

    /// The handle in a cache entry, if the entry holds this kind.
    fn cached(handle: &Cached) -> Option<&Arc<Self>>;

    fn into_cached(handle: Arc<Self>) -> Cached;
}

/// A handle of any kind in a thread's cache.
pub(crate) enum Cached {
    Counter(Arc<CounterHandle>),
    Gauge(Arc<GaugeHandle>),
    Histogram(Arc<HistogramHandle>),
}

macro_rules! handle_kind {
    ($handle:ident, $target:ty, $variant:ident) => {
        impl Handle for $handle {
            type Target = $target;

            fn new(target: Self::Target) -> Self {
                $handle(target)
            }

            #[inline]
            fn cached(handle: &Cached) -> Option<&Arc<Self>> {
                match handle {
                    Cached::$variant(handle) => Some(handle),
                    _ => None,
                }
            }

            fn into_cached(handle: Arc<Self>) -> Cached {
                Cached::$variant(handle)
            }
        }
    };
}

handle_kind!(CounterHandle, crate::handles::CounterTarget, Counter);
handle_kind!(GaugeHandle, crate::handles::GaugeTarget, Gauge);
handle_kind!(HistogramHandle, crate::handles::HistogramTarget, Histogram);

/// What this thread's cache had for a key.
pub(crate) enum Probe<H> {
    /// The handle.
    Hit(Arc<H>),
    /// Nothing: look the key up with this thread's slot, then [`fill`].
    Miss { slot: usize },
    /// The cache cannot be used now (the thread is exiting, or this is a registration made
    /// while the cache is being filled, by a logger for instance): use slot 0, do not fill.
    Unavailable,
}

thread_local! {
    static CACHE: RefCell<ThreadCache> = RefCell::new(ThreadCache::new());
}

/// Looks up `recorder`'s handle for `key` in this thread's cache.
#[inline]
pub(crate) fn probe<H: Handle>(recorder: u64, key: &Key) -> Probe<H> {
    CACHE
        .try_with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => match cache.find::<H>(recorder, key) {
                Some(handle) => Probe::Hit(handle),
                None => Probe::Miss { slot: cache.slot },
            },
            Err(_) => Probe::Unavailable,
        })
        .unwrap_or(Probe::Unavailable)
}

/// Puts `recorder`'s `handle` for `key` in this thread's cache.
pub(crate) fn fill<H: Handle>(recorder: u64, key: Key, handle: Arc<H>) {
    let evicted = CACHE.try_with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        cache.insert(Entry {
            recorder,
            key,
            handle: H::into_cached(handle),
        })
    });
    // Dropped here, with the cache released: a handle's drop may drop a scales stat handle.
    drop(evicted);
}

/// One thread's recently used handles.
struct ThreadCache {
    /// This thread's slot: which stripe of each handle it uses.
    slot: usize,
    sets: Box<[Set]>,
}

#[derive(Default)]
struct Set {
    ways: [Option<Entry>; 2],
    /// The way used last, kept on a miss.
    recent: usize,
}

struct Entry {
    /// The recorder's id ([`crate::ScalesRecorder`]s are numbered, never reused).
    recorder: u64,
    key: Key,
    handle: Cached,
}

impl ThreadCache {
    fn new() -> Self {
        Self {
            slot: SLOTS.lock().unwrap_or_else(PoisonError::into_inner).claim(),
            sets: (0..SETS).map(|_| Set::default()).collect(),
        }
    }

    #[inline]
    fn set_of(recorder: u64, key: &Key) -> usize {
        // The key's hash is precomputed (for static keys, at compile time); mixing in the
        // recorder keeps two recorders' entries for one key from always evicting each other.
        let mixed = (key.get_hash() ^ recorder).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (u64::BITS - SETS.trailing_zeros())) as usize
    }

    #[inline]
    fn find<H: Handle>(&mut self, recorder: u64, key: &Key) -> Option<Arc<H>> {
        let set = &mut self.sets[Self::set_of(recorder, key)];
        for (way, entry) in set.ways.iter().enumerate() {
            let Some(entry) = entry else { continue };
            if entry.recorder != recorder {
                continue;
            }
            // Compares the hashes first.
            if let Some(handle) = H::cached(&entry.handle).filter(|_| entry.key == *key) {
                set.recent = way;
                return Some(handle.clone());
            }
        }
        None
    }

    /// Inserts `entry` in place of its set's least recently used one, which it returns.
    fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let set = &mut self.sets[Self::set_of(entry.recorder, &entry.key)];
        let way = set
            .ways
            .iter()
            .position(Option::is_none)
            .unwrap_or(1 - set.recent);
        set.recent = way;
        set.ways[way].replace(entry)
    }
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        SLOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(self.slot);
    }
}

/// Thread slots in use: a thread takes the lowest free one, so that threads alive at the same
/// time have different slots (up to the number of stripes) however many have come and gone.
static SLOTS: Mutex<SlotPool> = Mutex::new(SlotPool {
    next: 0,
    free: BinaryHeap::new(),
});

struct SlotPool {
    next: usize,
    free: BinaryHeap<Reverse<usize>>,
}

impl SlotPool {
    fn claim(&mut self) -> usize {
        match self.free.pop() {
            Some(Reverse(slot)) => slot,
            None => {
                self.next += 1;
                self.next - 1
            }
        }
    }

    fn release(&mut self, slot: usize) {
        self.free.push(Reverse(slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handles::CounterTarget;

    #[test]
    fn slots_are_reused_lowest_first() {
        let mut pool = SlotPool {
            next: 0,
            free: BinaryHeap::new(),
        };
        let (a, b, c) = (pool.claim(), pool.claim(), pool.claim());
        assert_eq!((a, b, c), (0, 1, 2));
        pool.release(c);
        pool.release(a);
        assert_eq!(pool.claim(), 0);
        assert_eq!(pool.claim(), 2);
        assert_eq!(pool.claim(), 3);
    }

    fn counter(registry: &scales::Registry, name: &str) -> CounterTarget {
        let stat = registry.scope("/t").unwrap().counter_stat(name).unwrap();
        CounterTarget::Counter(stat)
    }

    #[test]
    fn stripes_are_distinct_copies_of_one_handle() {
        let registry = scales::Registry::new();
        let key = Key::from_name("c");
        let striped = Striped::<CounterHandle>::new(&key, counter(&registry, "c"), 4);
        assert_eq!(striped.key(), &key);
        assert!(Arc::ptr_eq(striped.get(1), striped.get(5)));
        assert!(!Arc::ptr_eq(striped.get(0), striped.get(1)));
        use metrics::CounterFn;
        striped.get(0).increment(2);
        striped.get(3).increment(3);
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.stat("/t/c").unwrap().value.as_f64(), Some(5.0));
    }

    #[test]
    fn the_thread_cache_keeps_two_entries_per_set() {
        let registry = scales::Registry::new();
        let mut cache = ThreadCache::new();
        let handle = |name: &str| Arc::new(CounterHandle(counter(&registry, name)));
        let keys: Vec<Key> = (0..200).map(|i| Key::from_name(format!("k{i}"))).collect();
        // Three keys of one set: the third evicts the least recently used.
        let same_set: Vec<&Key> = keys
            .iter()
            .filter(|k| ThreadCache::set_of(7, k) == ThreadCache::set_of(7, &keys[0]))
            .take(3)
            .collect();
        assert_eq!(same_set.len(), 3);
        for (i, key) in same_set.iter().enumerate() {
            assert!(cache.find::<CounterHandle>(7, key).is_none());
            let evicted = cache.insert(Entry {
                recorder: 7,
                key: (*key).clone(),
                handle: Cached::Counter(handle(&format!("c{i}"))),
            });
            assert_eq!(evicted.is_some(), i == 2);
            if i == 1 {
                // The first key used again: the third insertion evicts the second.
                assert!(cache.find::<CounterHandle>(7, same_set[0]).is_some());
            }
        }
        assert!(cache.find::<CounterHandle>(7, same_set[0]).is_some());
        assert!(cache.find::<CounterHandle>(7, same_set[1]).is_none());
        assert!(cache.find::<CounterHandle>(7, same_set[2]).is_some());
        // Another recorder, or another kind, does not match.
        assert!(cache.find::<CounterHandle>(8, same_set[2]).is_none());
        assert!(cache.find::<GaugeHandle>(7, same_set[2]).is_none());
    }
}
