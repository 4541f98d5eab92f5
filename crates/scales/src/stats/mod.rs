//! The stat types: what a server declares and records into.
//!
//! Each public type here is a cheap, cloneable, `Send + Sync` handle. Recording through a
//! handle touches only that stat's own storage — for counters, meters and distributions the
//! recording thread's own cells ([`crate::cells`]) — and takes no lock; a thread's first
//! record into a stat allocates its cell or block. A handle
//! also holds a [`Lease`] on the place it was declared in (the tree's owner token), so a stat
//! stays in the tree for as long as anything can still record into it. Nothing here knows the
//! tree: the registry builds stats through [`StatType`] and reads them through [`StatCore`].

mod aggregation;
mod counter;
mod dict;
mod key_limit;
mod keyed;
mod meter;
mod pmf;
mod state_time;
mod value;

pub(crate) use aggregation::{aggregate, AggregationCore, Contribution};
pub use aggregation::{
    HistogramAggregationStat, IntDictSumAggregationStat, PmfAggregationStat, SumAggregationStat,
};
pub use counter::{CounterStat, DoubleStat, IntStat};
pub(crate) use counter::{DoubleCell, IntCell};
pub(crate) use dict::{IntDictCore, StringDictCore};
pub use dict::{IntDictKey, IntDictStat, StringDictStat};
pub(crate) use key_limit::KeyLimit;
pub use key_limit::OVERFLOW_KEY;
pub(crate) use meter::{MeterCore, MeterDictCore};
pub use meter::{MeterDictStat, MeterStat};
pub(crate) use pmf::{NamedPmfDictCore, PmfCore};
pub use pmf::{NamedPmfDictStat, PmfStat, TimerGuard};
pub(crate) use state_time::StateTimeCore;
pub use state_time::{StateGuard, StateTimeStat};
#[cfg(feature = "json")]
pub(crate) use value::in_gauge;
pub use value::Stat;
pub(crate) use value::ValueCell;

use std::sync::Arc;
use std::time::Duration;

use crate::cells::Slot;
use crate::clock::Clock;
use crate::sketch::SketchDetail;
use crate::snapshot::{StatKind, StatValue};

/// Options that some stat kinds take when declared
/// ([`Scope::declare_with`](crate::Scope::declare_with)). None is on by default: the
/// original's stat types behave as the original's unless asked.
///
/// ```
/// use std::time::Duration;
/// use scales::{IntDictStat, StatOptions, OVERFLOW_KEY};
///
/// let reg = scales::Registry::new();
/// let options = StatOptions::default()
///     .with_max_keys(2)
///     .with_idle_key_expiry(Duration::from_secs(600));
/// let by_user = reg.scope("/web")?.declare_with::<IntDictStat>("byUser", options)?;
/// for user in ["ann", "bob", "cy", "dee", "cy"] {
///     by_user.inc(user);
/// }
/// assert_eq!(by_user.get("bob"), 1);
/// assert_eq!(by_user.get(OVERFLOW_KEY), 3); // cy twice, dee: the total stays exact
/// assert_eq!(by_user.overflowed_keys(), 2); // cy and dee
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatOptions {
    /// Drop keys whose count reaches zero ([`IntDictStat`], [`HistogramAggregationStat`]).
    /// Other kinds ignore it.
    pub auto_delete: bool,
    /// At most this many keys ([`IntDictStat`], [`StringDictStat`], [`NamedPmfDictStat`],
    /// [`MeterDictStat`]); see [`with_max_keys`](Self::with_max_keys).
    pub max_keys: Option<usize>,
    /// Remove keys idle this long ([`IntDictStat`]); see
    /// [`with_idle_key_expiry`](Self::with_idle_key_expiry).
    pub idle_key_expiry: Option<Duration>,
}

impl StatOptions {
    /// Options with `auto_delete` set.
    pub fn auto_delete() -> Self {
        Self {
            auto_delete: true,
            ..Self::default()
        }
    }

    /// Caps the stat at `max` distinct keys (keyed stats; others ignore it). Values for
    /// further keys go to one more key, [`OVERFLOW_KEY`], so sums stay exact while the
    /// number of series (Prometheus, Graphite, the page) stays bounded; the stat's
    /// `overflowed_keys()` counts the distinct keys refused, and the first refusal is
    /// logged once as a warning. Keys removed by auto-delete or expiry make room again.
    pub fn with_max_keys(mut self, max: usize) -> Self {
        self.max_keys = Some(max);
        self
    }

    /// Removes a key of an [`IntDictStat`] once its count has not changed for `idle` (other
    /// kinds ignore it). Idleness is noticed when the stat is read — a snapshot, a scrape
    /// or a push — so a key goes at the first read at least `idle` after its last change
    /// was seen. Adding to an expired key starts it again from its new count. With expiry
    /// each key is one shared atomic instead of a per-thread counter (as with
    /// auto-delete), so that removal never loses an add.
    pub fn with_idle_key_expiry(mut self, idle: Duration) -> Self {
        self.idle_key_expiry = Some(idle);
        self
    }

    /// The cap on keys, if any, for a stat at `place`.
    pub(crate) fn key_limit(&self, place: &Place<'_>) -> Option<KeyLimit> {
        self.max_keys.map(|max| KeyLimit::new(max, place.path()))
    }
}

/// Keeps the place a stat was declared in alive while a handle exists: the tree's owner
/// token, which stat types only hold (they know nothing of the tree). One pointer wide (the
/// token is boxed once per scope), so handles stay small.
#[derive(Clone)]
pub(crate) struct Lease(
    #[allow(dead_code)] // held, never read
    Arc<Box<dyn Send + Sync>>,
);

impl Lease {
    pub(crate) fn new(token: impl Send + Sync + 'static) -> Self {
        Self(Arc::new(Box::new(token)))
    }
}

/// Where a new stat is declared: what building its storage may need.
pub(crate) struct Place<'a> {
    pub(crate) clock: &'a Clock,
    /// The stat's path in the tree, for messages (gauge errors).
    pub(crate) path: &'a dyn Fn() -> String,
}

impl Place<'_> {
    pub(crate) fn path(&self) -> String {
        (self.path)()
    }
}

/// A stat type as the tree declares it: its kind, how to build its storage, and how to make
/// a handle onto stored storage. Implemented by every stat type here; the registry's
/// [`Declare`](crate::Declare) is built on it.
pub(crate) trait StatType: Sized {
    /// The kind declared with these options (aggregations differ by option).
    fn kind(options: StatOptions) -> StatKind;
    /// New storage for a stat declared at `place`.
    fn new_core(place: &Place<'_>, options: StatOptions) -> StatCore;
    /// A handle onto `core`, holding `lease`; `None` if `core` is another kind's storage.
    fn handle(core: StatCore, lease: Lease) -> Option<Self>;
}

/// The shared storage of one declared stat, as the tree holds it.
#[derive(Clone)]
pub(crate) enum StatCore {
    // With a copy of the cell's slot, so that a snapshot reads the counter without loading
    // the cell (it fits beside the tag: `StatCore` stays 16 bytes).
    Int(Slot, Arc<IntCell>),
    Counter(Slot, Arc<IntCell>),
    Double(Arc<DoubleCell>),
    Value(Arc<ValueCell>),
    IntDict(Arc<IntDictCore>),
    StringDict(Arc<StringDictCore>),
    Pmf(Arc<PmfCore>),
    NamedPmfDict(Arc<NamedPmfDictCore>),
    Meter(Arc<MeterCore>),
    MeterDict(Arc<MeterDictCore>),
    StateTime(Arc<StateTimeCore>),
    Aggregation(Arc<AggregationCore>),
}

impl StatCore {
    pub(crate) fn kind(&self) -> StatKind {
        match self {
            StatCore::Int(..) => StatKind::IntStat,
            StatCore::Counter(..) => StatKind::Counter,
            StatCore::Double(_) => StatKind::DoubleStat,
            StatCore::Value(_) => StatKind::Stat,
            StatCore::IntDict(_) => StatKind::IntDict,
            StatCore::StringDict(_) => StatKind::StringDict,
            StatCore::Pmf(_) => StatKind::Pmf,
            StatCore::NamedPmfDict(_) => StatKind::NamedPmfDict,
            StatCore::Meter(_) => StatKind::Meter,
            StatCore::MeterDict(_) => StatKind::MeterDict,
            StatCore::StateTime(_) => StatKind::StateTime,
            StatCore::Aggregation(agg) => agg.kind(),
        }
    }

    /// Reads a non-aggregation stat, distributions with their buckets. Aggregations are
    /// computed by the snapshot walk.
    pub(crate) fn read(&self, clock: &Clock) -> StatValue {
        self.read_with(clock, SketchDetail::Buckets)
    }

    /// [`read`](Self::read), distributions in as much `detail` as asked.
    pub(crate) fn read_with(&self, clock: &Clock, detail: SketchDetail) -> StatValue {
        match self {
            StatCore::Int(_, cell) | StatCore::Counter(_, cell) => StatValue::Int(cell.get()),
            StatCore::Double(cell) => StatValue::Float(cell.get()),
            StatCore::Value(cell) => match cell.evaluate() {
                Ok(value) => StatValue::Value(value),
                Err(message) => StatValue::Error(message),
            },
            StatCore::IntDict(dict) => StatValue::Counts(dict.entries()),
            StatCore::StringDict(dict) => StatValue::Strings(dict.entries()),
            StatCore::Pmf(pmf) => StatValue::Distribution(Box::new(pmf.snapshot_with(detail))),
            StatCore::NamedPmfDict(dict) => StatValue::Distributions(dict.entries(detail)),
            StatCore::Meter(meter) => StatValue::Meter(Box::new(meter.read(clock.now_nanos()))),
            StatCore::MeterDict(dict) => StatValue::Meters(dict.entries(clock.now_nanos())),
            StatCore::StateTime(states) => StatValue::Durations(states.durations()),
            StatCore::Aggregation(_) => StatValue::Value(crate::Value::Null),
        }
    }

    /// What this stat hands to an ancestor's aggregation when its scope is dropped.
    pub(crate) fn final_contribution(&self) -> Option<Contribution> {
        match self {
            StatCore::Int(_, cell) | StatCore::Counter(_, cell) => {
                Some(Contribution::Int(cell.get()))
            }
            StatCore::Double(cell) => Some(Contribution::Float(cell.get())),
            StatCore::IntDict(dict) => Some(Contribution::Counts(dict.entries())),
            StatCore::Pmf(pmf) => Some(Contribution::Distribution(pmf.snapshot())),
            StatCore::Aggregation(agg) => agg.retired_contribution(),
            _ => None,
        }
    }
}

// The copy of a counter's slot fits beside `StatCore`'s tag (the tree's entries stay small).
const _: () = assert!(std::mem::size_of::<StatCore>() == 16);
