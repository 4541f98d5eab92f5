//! [`MeterStat`] (event rates over 1, 5 and 15 minutes) and [`MeterDictStat`].
//!
//! A mark is one counter add: it never reads the clock. Rates are brought up to date when
//! read, by replaying the 5-second ticks of the original's exponentially weighted moving
//! averages in closed form: `k` missed ticks with `Δ` events between them (assumed evenly
//! spread) move a rate `r` to `x + (r − x)·(1 − α)^k` with `x = Δ / 5k` per second. No
//! thread ticks the meters, and a long idle gap costs one read.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use super::keyed::KeyedMap;

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::cells::{Counter, Slot};
use crate::clock::Clock;
use crate::snapshot::{Keyed, MeterSnapshot, StatKind};

const TICK_NANOS: u64 = 5_000_000_000;
const TICK_SECONDS: f64 = 5.0;
/// Averaging windows of m1, m5 and m15, in seconds.
const WINDOWS: [f64; 3] = [60.0, 300.0, 900.0];

struct Ewma {
    last_tick: u64,
    last_count: u64,
    rates: [f64; 3],
    started: bool,
}

/// Storage of a [`MeterStat`].
pub(crate) struct MeterCore {
    count: Counter,
    created: u64,
    clock: Clock,
    ewma: Mutex<Ewma>,
}

impl MeterCore {
    pub(crate) fn new(clock: &Clock) -> Self {
        let now = clock.now_nanos();
        Self {
            count: Counter::new(),
            created: now,
            clock: clock.clone(),
            ewma: Mutex::new(Ewma {
                last_tick: now,
                last_count: 0,
                rates: [0.0; 3],
                started: false,
            }),
        }
    }

    #[inline]
    fn mark(&self, n: u64) {
        // A per-thread single-writer add (see `crate::cells`); no clock read.
        self.count.add(n);
    }

    /// Count and rates as of `now` (monotonic nanoseconds of this meter's clock).
    pub(crate) fn read(&self, now: u64) -> MeterSnapshot {
        let count = self.count.get();
        let mut ewma = self.ewma.lock().unwrap_or_else(PoisonError::into_inner);
        let ticks = now.saturating_sub(ewma.last_tick) / TICK_NANOS;
        if ticks > 0 {
            let delta = count.saturating_sub(ewma.last_count);
            let instant_rate = delta as f64 / (ticks as f64 * TICK_SECONDS);
            let started = ewma.started;
            for (rate, window) in ewma.rates.iter_mut().zip(WINDOWS) {
                *rate = if started {
                    let decay = (-(ticks as f64) * TICK_SECONDS / window).exp();
                    instant_rate + (*rate - instant_rate) * decay
                } else {
                    // As the original: the first tick takes the instant rate as it is.
                    instant_rate
                };
            }
            ewma.started = true;
            ewma.last_tick += ticks * TICK_NANOS;
            ewma.last_count = count;
        }
        let age_seconds = now.saturating_sub(self.created) as f64 * 1e-9;
        let [m1, m5, m15] = ewma.rates;
        MeterSnapshot {
            count,
            m1,
            m5,
            m15,
            mean: if age_seconds > 0.0 {
                count as f64 / age_seconds
            } else {
                0.0
            },
        }
    }
}

/// Counts events and reports their rate per second: exponentially weighted over 1, 5 and
/// 15 minutes (`m1`, `m5`, `m15`, as the original) and the mean since creation.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let time = scales::ManualClock::new(UNIX_EPOCH);
/// let reg = scales::Registry::with_clock(time.clock());
/// let hits = reg.scope("/web")?.meter_stat("hits")?;
/// hits.add(60);
/// time.advance(Duration::from_secs(5));
/// let rates = hits.rates();
/// assert_eq!(rates.count, 60);
/// assert_eq!(rates.m1, 12.0); // 60 events in one 5-second tick
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct MeterStat {
    core: Arc<MeterCore>,
    slot: Slot,
    _lease: Lease,
}

impl MeterStat {
    /// Marks one event.
    #[inline]
    pub fn mark(&self) {
        self.core.count.add_at(self.slot, 1);
    }

    /// Marks `n` events.
    #[inline]
    pub fn add(&self, n: u64) {
        self.core.count.add_at(self.slot, n);
    }

    /// Count and current rates.
    pub fn rates(&self) -> MeterSnapshot {
        self.core.read(self.core.clock.now_nanos())
    }
}

impl StatType for MeterStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::Meter
    }

    fn new_core(place: &Place<'_>, _: StatOptions) -> StatCore {
        StatCore::Meter(Arc::new(MeterCore::new(place.clock)))
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Meter(core) = core else {
            return None;
        };
        Some(Self {
            slot: core.count.slot(),
            core,
            _lease: lease,
        })
    }
}

impl fmt::Debug for MeterStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterStat")
            .field("rates", &self.rates())
            .finish_non_exhaustive()
    }
}

/// Storage of a [`MeterDictStat`].
pub(crate) struct MeterDictCore {
    map: KeyedMap<MeterCore>,
    clock: Clock,
}

impl MeterDictCore {
    fn entry(&self, key: &str) -> Arc<MeterCore> {
        self.map
            .get_or_insert_with(key, || MeterCore::new(&self.clock))
    }

    pub(crate) fn entries(&self, now: u64) -> Vec<Keyed<MeterSnapshot>> {
        self.map
            .load()
            .iter()
            .map(|(key, core)| Keyed::new(key.clone(), core.read(now)))
            .collect()
    }
}

/// One meter per key, such as requests by HTTP method.
///
/// ```
/// let reg = scales::Registry::new();
/// let by_method = reg.scope("/web")?.meter_dict_stat("requests")?;
/// by_method.mark("GET");
/// by_method.add("POST", 3);
/// assert_eq!(by_method.rates("POST").unwrap().count, 3);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct MeterDictStat {
    core: Arc<MeterDictCore>,
    _lease: Lease,
}

impl MeterDictStat {
    /// Marks one event for `key`.
    pub fn mark(&self, key: &str) {
        self.add(key, 1);
    }

    /// Marks `n` events for `key`.
    pub fn add(&self, key: &str, n: u64) {
        if let Some(core) = self.core.map.load().get(key) {
            core.mark(n);
            return;
        }
        self.core.entry(key).mark(n);
    }

    /// `key`'s count and rates, if it was ever marked.
    pub fn rates(&self, key: &str) -> Option<MeterSnapshot> {
        let now = self.core.clock.now_nanos();
        self.core.map.load().get(key).map(|core| core.read(now))
    }

    /// Distinct keys refused by the cap on keys and marked under
    /// [`OVERFLOW_KEY`](crate::OVERFLOW_KEY) ([`StatOptions::with_max_keys`]); 0 without a
    /// cap.
    pub fn overflowed_keys(&self) -> u64 {
        self.core.map.overflowed_keys()
    }
}

impl StatType for MeterDictStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::MeterDict
    }

    fn new_core(place: &Place<'_>, options: StatOptions) -> StatCore {
        {
            StatCore::MeterDict(Arc::new(MeterDictCore {
                map: KeyedMap::new(options.key_limit(place)),
                clock: place.clock.clone(),
            }))
        }
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::MeterDict(core) = core else {
            return None;
        };
        Some(Self {
            core,
            _lease: lease,
        })
    }
}

impl fmt::Debug for MeterDictStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterDictStat").finish_non_exhaustive()
    }
}
