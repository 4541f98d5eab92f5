//! [`IntStat`], [`CounterStat`] and [`DoubleStat`]: numbers that are incremented, added to
//! or set.

use std::fmt;
use std::sync::Arc;

use crate::atomic_f64::AtomicF64;
use crate::cells::{Counter, CounterReader, Slot};

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::snapshot::StatKind;

/// Storage of an [`IntStat`]: a per-thread sharded counter ([`crate::cells`]), in two's
/// complement so that negative adds and `set` work.
#[derive(Default)]
pub(crate) struct IntCell {
    value: Counter,
}

impl IntCell {
    /// The slot its handles keep, for [`add_at`](Self::add_at).
    fn slot(&self) -> Slot {
        self.value.slot()
    }

    #[inline]
    fn add_at(&self, slot: Slot, n: i64) {
        self.value.add_at(slot, n as u64);
    }

    pub(crate) fn set(&self, v: i64) {
        self.value.set(v as u64);
    }

    pub(crate) fn get(&self) -> i64 {
        self.value.get() as i64
    }

    /// [`get`](Self::get) through a reader that holds the arena lock across reads, given
    /// this cell's [`slot`](Self::slot) (the tree keeps a copy, so that a read of the
    /// counter loads nothing from the cell itself).
    pub(crate) fn get_with(&self, slot: Slot, reader: &mut CounterReader) -> i64 {
        reader.get_at(slot, &self.value) as i64
    }
}

/// An integer stat: a counter (`inc`, `add`) or a level (`set`, `dec`).
///
/// ```
/// let web = scales::Registry::new().scope("/web")?;
/// let errors = web.int_stat("errors")?;
/// errors.inc();
/// errors.add(4);
/// assert_eq!(errors.get(), 5);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct IntStat {
    cell: Arc<IntCell>,
    slot: Slot,
    _lease: Lease,
}

impl IntStat {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.cell.add_at(self.slot, 1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.cell.add_at(self.slot, -1);
    }

    /// Adds `n` (which may be negative).
    #[inline]
    pub fn add(&self, n: i64) {
        self.cell.add_at(self.slot, n);
    }

    /// Replaces the value.
    pub fn set(&self, value: i64) {
        self.cell.set(value);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.cell.get()
    }
}

impl StatType for IntStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::IntStat
    }

    fn new_core(_: &Place<'_>, _: StatOptions) -> StatCore {
        let cell = Arc::<IntCell>::default();
        StatCore::Int(cell.slot(), cell)
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Int(slot, cell) = core else {
            return None;
        };
        Some(Self {
            slot,
            cell,
            _lease: lease,
        })
    }
}

impl fmt::Debug for IntStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntStat")
            .field("value", &self.get())
            .finish_non_exhaustive()
    }
}

/// A counter that only goes up: `inc` and `add` of unsigned amounts, no `set` or `dec`.
///
/// It reads like an [`IntStat`] everywhere (a number in JSON, HTML and Graphite), but
/// Prometheus gets a `counter` named `..._total`, which `rate()` and `increase()` may use:
/// an `IntStat` can go down, so it is exported as a `gauge`. Sum aggregations add counters
/// like `IntStat`s.
///
/// ```
/// let web = scales::Registry::new().scope("/web")?;
/// let requests = web.counter_stat("requests")?;
/// requests.inc();
/// requests.add(4);
/// assert_eq!(requests.get(), 5);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct CounterStat {
    cell: Arc<IntCell>,
    slot: Slot,
    _lease: Lease,
}

impl CounterStat {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.cell.add_at(self.slot, 1);
    }

    /// Adds `n`. Amounts beyond `i64::MAX` in all wrap, as `IntStat`'s do.
    #[inline]
    pub fn add(&self, n: u64) {
        self.cell.add_at(self.slot, n as i64);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.cell.get() as u64
    }
}

impl StatType for CounterStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::Counter
    }

    fn new_core(_: &Place<'_>, _: StatOptions) -> StatCore {
        let cell = Arc::<IntCell>::default();
        StatCore::Counter(cell.slot(), cell)
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Counter(slot, cell) = core else {
            return None;
        };
        Some(Self {
            slot,
            cell,
            _lease: lease,
        })
    }
}

impl fmt::Debug for CounterStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CounterStat")
            .field("value", &self.get())
            .finish_non_exhaustive()
    }
}

/// Storage of a [`DoubleStat`]: an `f64` kept as bits.
#[derive(Default)]
pub(crate) struct DoubleCell {
    value: AtomicF64,
}

impl DoubleCell {
    pub(crate) fn add(&self, delta: f64) {
        self.value.add(delta);
    }

    pub(crate) fn set(&self, v: f64) {
        self.value.store(v);
    }

    pub(crate) fn get(&self) -> f64 {
        self.value.load()
    }
}

/// A floating-point stat that is added to or set.
///
/// ```
/// let reg = scales::Registry::new();
/// let load = reg.scope("/system")?.double_stat("load")?;
/// load.add(2.5);
/// load.add(0.25);
/// assert_eq!(load.get(), 2.75);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct DoubleStat {
    cell: Arc<DoubleCell>,
    _lease: Lease,
}

impl DoubleStat {
    /// Adds `delta` (which may be negative).
    #[inline]
    pub fn add(&self, delta: f64) {
        self.cell.add(delta);
    }

    /// Replaces the value.
    pub fn set(&self, value: f64) {
        self.cell.set(value);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.cell.get()
    }
}

impl StatType for DoubleStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::DoubleStat
    }

    fn new_core(_: &Place<'_>, _: StatOptions) -> StatCore {
        StatCore::Double(Arc::default())
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Double(cell) = core else {
            return None;
        };
        Some(Self {
            cell,
            _lease: lease,
        })
    }
}

impl fmt::Debug for DoubleStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoubleStat")
            .field("value", &self.get())
            .finish_non_exhaustive()
    }
}
