//! [`PmfStat`] (a distribution with percentiles, and its timer) and [`NamedPmfDictStat`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::keyed::KeyedMap;

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::cells::{Blocks, Slot};
use crate::clock::Clock;
use crate::sketch::{self, AtomicSketch, LocalSketch, SketchDetail, SketchSnapshot};
use crate::snapshot::{Keyed, StatKind};

/// Storage of a [`PmfStat`]: per-thread sketches of the positive values, a shared sketch
/// (for zeros, negative and non-finite values, and the folded blocks of exited threads), and
/// the clock its timers read.
pub(crate) struct PmfCore {
    sketch: Blocks<LocalSketch>,
    clock: Clock,
}

impl PmfCore {
    pub(crate) fn new(clock: &Clock) -> Self {
        Self {
            sketch: Blocks::new(AtomicSketch::new()),
            clock: clock.clone(),
        }
    }

    #[inline]
    fn record(&self, value: f64) {
        self.record_at(self.sketch.slot(), value);
    }

    /// Records `value`, given this distribution's slot (see [`Blocks::with_at`]).
    #[inline]
    fn record_at(&self, slot: Slot, value: f64) {
        // Positive finite values (latencies) go to this thread's block; zeros, negative,
        // extreme and non-finite values, and updates made while the thread's locals are
        // being destroyed, to the shared sketch.
        if let Some(index) = LocalSketch::bucket_of(value) {
            if self
                .sketch
                .with_at(slot, |local| local.record(index, value))
                .is_some()
            {
                return;
            }
        }
        self.record_shared(value);
    }

    #[cold]
    #[inline(never)]
    fn record_shared(&self, value: f64) {
        self.sketch.sink().record(value);
    }

    pub(crate) fn snapshot(&self) -> SketchSnapshot {
        self.sketch.read(AtomicSketch::snapshot, |snapshot, local| {
            local.merge_into(snapshot)
        })
    }

    /// A snapshot with buckets, or a summary gathered in reused buffers (no allocation).
    pub(crate) fn snapshot_with(&self, detail: SketchDetail) -> SketchSnapshot {
        match detail {
            SketchDetail::Buckets => self.snapshot(),
            SketchDetail::Summary => sketch::with_summary_buffers(|buffers| {
                self.sketch
                    .read_live(|shared, blocks| shared.summarize_with(|| blocks.iter(), buffers))
            }),
        }
    }

    /// Number of live per-thread blocks (for tests).
    #[cfg(test)]
    pub(crate) fn live_blocks(&self) -> usize {
        self.sketch.live_blocks()
    }

    fn time(&self) -> u64 {
        self.clock.now_nanos()
    }
}

/// A distribution of values — usually latencies in seconds — summarised as count, min, max,
/// mean, standard deviation and the median, 75th, 95th, 98th, 99th and 99.9th percentiles.
///
/// Values go into a lock-free [log-linear sketch](crate::sketch): count, sum, min and max are
/// exact, every percentile is within 0.78 % of the true value, and the summary is computed
/// fresh on every snapshot. The window is all-time; for per-interval statistics take the
/// difference of two snapshots with [`SketchSnapshot::delta_since`].
///
/// ```
/// let reg = scales::Registry::new();
/// let latency = reg.scope("/web")?.pmf_stat("latency")?;
/// for ms in [12.0, 15.0, 11.0, 30.0, 14.0] {
///     latency.record(ms / 1000.0);
/// }
/// {
///     let _timer = latency.time(); // records the elapsed seconds when dropped
/// }
/// let summary = latency.snapshot();
/// assert_eq!(summary.count(), 6);
/// assert_eq!(summary.max(), Some(0.030));
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct PmfStat {
    core: Arc<PmfCore>,
    slot: Slot,
    _lease: Lease,
}

impl PmfStat {
    /// Records one value. NaN and infinities are counted as dropped, not recorded.
    #[inline]
    pub fn record(&self, value: f64) {
        self.core.record_at(self.slot, value);
    }

    /// Records a duration, in seconds.
    #[inline]
    pub fn record_duration(&self, duration: Duration) {
        self.core.record_at(self.slot, duration.as_secs_f64());
    }

    /// Starts a timer that records the elapsed seconds when dropped, unless
    /// [discarded](TimerGuard::discard).
    #[inline]
    pub fn time(&self) -> TimerGuard<'_> {
        TimerGuard {
            start: self.core.time(),
            target: Target::Borrowed(&self.core),
            armed: true,
        }
    }

    /// Runs `f`, records how long it took, and returns its result.
    pub fn time_fn<R>(&self, f: impl FnOnce() -> R) -> R {
        let _timer = self.time();
        f()
    }

    /// A snapshot of this distribution.
    pub fn snapshot(&self) -> SketchSnapshot {
        self.core.snapshot()
    }

    /// Number of threads that currently hold a per-thread block of this distribution.
    #[cfg(test)]
    pub(crate) fn live_thread_blocks(&self) -> usize {
        self.core.live_blocks()
    }
}

impl StatType for PmfStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::Pmf
    }

    fn new_core(place: &Place<'_>, _: StatOptions) -> StatCore {
        StatCore::Pmf(Arc::new(PmfCore::new(place.clock)))
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Pmf(core) = core else {
            return None;
        };
        Some(Self {
            slot: core.sketch.slot(),
            core,
            _lease: lease,
        })
    }
}

impl fmt::Debug for PmfStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PmfStat")
            .field("count", &self.snapshot().count())
            .finish_non_exhaustive()
    }
}

enum Target<'a> {
    Borrowed(&'a PmfCore),
    Owned(Arc<PmfCore>),
}

impl Target<'_> {
    fn core(&self) -> &PmfCore {
        match self {
            Target::Borrowed(core) => core,
            Target::Owned(core) => core,
        }
    }
}

/// Records the time from its creation to its drop into a distribution, in seconds.
///
/// ```
/// let reg = scales::Registry::new();
/// let latency = reg.scope("/web")?.pmf_stat("latency")?;
/// let timer = latency.time();
/// let cache_hit = true;
/// if cache_hit {
///     timer.discard(); // this request is not measured
/// }
/// assert_eq!(latency.snapshot().count(), 0);
/// # Ok::<(), scales::Error>(())
/// ```
#[must_use = "the timer records when dropped; binding it to `_` drops it at once"]
pub struct TimerGuard<'a> {
    target: Target<'a>,
    start: u64,
    armed: bool,
}

impl TimerGuard<'_> {
    /// Time elapsed so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.target.core().time().saturating_sub(self.start))
    }

    /// Stops the timer without recording anything.
    pub fn discard(mut self) {
        self.armed = false;
    }

    /// Stops the timer now, records, and returns the elapsed time.
    pub fn stop(mut self) -> Duration {
        self.armed = false;
        let elapsed = self.elapsed();
        self.target.core().record(elapsed.as_secs_f64());
        elapsed
    }
}

impl Drop for TimerGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.armed {
            let core = self.target.core();
            let nanos = core.time().saturating_sub(self.start);
            core.record(nanos as f64 * 1e-9);
        }
    }
}

impl fmt::Debug for TimerGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerGuard")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

/// Storage of a [`NamedPmfDictStat`]: a lock-free map of distributions, copied on insert.
pub(crate) struct NamedPmfDictCore {
    map: KeyedMap<PmfCore>,
    clock: Clock,
}

impl NamedPmfDictCore {
    fn entry(&self, key: &str) -> Arc<PmfCore> {
        self.map
            .get_or_insert_with(key, || PmfCore::new(&self.clock))
    }

    pub(crate) fn entries(&self, detail: SketchDetail) -> Vec<Keyed<SketchSnapshot>> {
        self.map
            .load()
            .iter()
            .map(|(key, core)| Keyed::new(key.clone(), core.snapshot_with(detail)))
            .collect()
    }
}

/// One distribution per key, such as latency by endpoint.
///
/// ```
/// let reg = scales::Registry::new();
/// let by_endpoint = reg.scope("/web")?.named_pmf_dict_stat("latencyByEndpoint")?;
/// by_endpoint.record("/index", 0.012);
/// by_endpoint.record("/index", 0.020);
/// assert_eq!(by_endpoint.snapshot("/index").unwrap().count(), 2);
/// assert!(by_endpoint.snapshot("/about").is_none());
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct NamedPmfDictStat {
    core: Arc<NamedPmfDictCore>,
    _lease: Lease,
}

impl NamedPmfDictStat {
    /// Records `value` into `key`'s distribution.
    pub fn record(&self, key: &str, value: f64) {
        if let Some(core) = self.core.map.load().get(key) {
            core.record(value);
            return;
        }
        self.core.entry(key).record(value);
    }

    /// A [`PmfStat`] handle onto `key`'s distribution, looked up once: recording through it
    /// skips the key lookup and costs what a `PmfStat`'s record does. The key appears (empty)
    /// if it was not there; a key refused by the cap on keys gives a handle onto
    /// [`OVERFLOW_KEY`](crate::OVERFLOW_KEY)'s distribution.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let by_route = reg.scope("/web")?.named_pmf_dict_stat("latencyByRoute")?;
    /// let users = by_route.key("/users/{id}");
    /// users.record(0.010);
    /// users.record(0.030);
    /// assert_eq!(by_route.snapshot("/users/{id}").unwrap().count(), 2);
    /// # Ok::<(), scales::Error>(())
    /// ```
    pub fn key(&self, key: &str) -> PmfStat {
        let core = self.core.entry(key);
        PmfStat {
            slot: core.sketch.slot(),
            core,
            _lease: self._lease.clone(),
        }
    }

    /// Starts a timer recording into `key`'s distribution.
    pub fn time(&self, key: &str) -> TimerGuard<'static> {
        let core = self.core.entry(key);
        TimerGuard {
            start: core.time(),
            target: Target::Owned(core),
            armed: true,
        }
    }

    /// A snapshot of `key`'s distribution, if the key was ever recorded.
    pub fn snapshot(&self, key: &str) -> Option<SketchSnapshot> {
        self.core.map.load().get(key).map(|core| core.snapshot())
    }

    /// Distinct keys refused by the cap on keys and recorded under
    /// [`OVERFLOW_KEY`](crate::OVERFLOW_KEY) ([`StatOptions::with_max_keys`]); 0 without a
    /// cap.
    pub fn overflowed_keys(&self) -> u64 {
        self.core.map.overflowed_keys()
    }
}

impl StatType for NamedPmfDictStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::NamedPmfDict
    }

    fn new_core(place: &Place<'_>, options: StatOptions) -> StatCore {
        {
            StatCore::NamedPmfDict(Arc::new(NamedPmfDictCore {
                map: KeyedMap::new(options.key_limit(place)),
                clock: place.clock.clone(),
            }))
        }
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::NamedPmfDict(core) = core else {
            return None;
        };
        Some(Self {
            core,
            _lease: lease,
        })
    }
}

impl fmt::Debug for NamedPmfDictStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedPmfDictStat").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::thread;

    #[test]
    fn per_thread_blocks_are_returned_when_threads_exit() {
        let registry = crate::Registry::new();
        let pmf = registry.scope("/pmf").unwrap().pmf_stat("blocks").unwrap();
        let parked = Arc::new(Barrier::new(5));
        let release = Arc::new(Barrier::new(5));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (pmf, parked, release) = (pmf.clone(), parked.clone(), release.clone());
                thread::spawn(move || {
                    pmf.record(0.25);
                    parked.wait();
                    release.wait();
                })
            })
            .collect();
        parked.wait();
        assert_eq!(pmf.live_thread_blocks(), 4);
        release.wait();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(pmf.live_thread_blocks(), 0);
        assert_eq!(pmf.snapshot().count(), 4);
    }
}
