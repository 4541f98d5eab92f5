//! The stat types: what a server declares and records into.
//!
//! Each public type here is a cheap, cloneable, `Send + Sync` handle. Recording through a
//! handle touches only that stat's own storage — for counters, meters and distributions the
//! recording thread's own cells ([`crate::cells`]) — and takes no lock; a thread's first
//! record into a stat allocates its cell or block. A handle
//! also keeps its [`Scope`](crate::Scope) alive, so a stat stays in the tree for as long as
//! anything can still record into it.

mod aggregation;
mod counter;
mod dict;
mod keyed;
mod meter;
mod pmf;
mod state_time;
mod value;

pub(crate) use aggregation::{AggregationCore, Contribution, Retired};
pub use aggregation::{
    HistogramAggregationStat, IntDictSumAggregationStat, PmfAggregationStat, SumAggregationStat,
};
pub(crate) use counter::{DoubleCell, IntCell};
pub use counter::{DoubleStat, IntStat};
pub(crate) use dict::{IntDictCore, StringDictCore};
pub use dict::{IntDictStat, StringDictStat};
pub(crate) use meter::{MeterCore, MeterDictCore};
pub use meter::{MeterDictStat, MeterStat};
pub(crate) use pmf::{NamedPmfDictCore, PmfCore};
pub use pmf::{NamedPmfDictStat, PmfStat, TimerGuard};
pub(crate) use state_time::StateTimeCore;
pub use state_time::{StateGuard, StateTimeStat};
pub use value::Stat;
pub(crate) use value::ValueCell;

use std::sync::Arc;

use crate::clock::Clock;
use crate::registry::{Owner, Scope};
use crate::snapshot::{StatKind, StatValue};
use crate::{EntryKind, Error};

/// Options that some stat kinds take when declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatOptions {
    /// Drop keys whose count reaches zero ([`IntDictStat`], [`HistogramAggregationStat`]).
    /// Other kinds ignore it.
    pub auto_delete: bool,
}

impl StatOptions {
    /// Options with `auto_delete` set.
    pub fn auto_delete() -> Self {
        Self { auto_delete: true }
    }
}

/// A stat type that can be declared by name in a [`Scope`].
///
/// Implemented by every stat type; used by [`Scope::declare`] and by `#[derive(Stats)]`.
pub trait Declare: Sized {
    /// Declares (or finds) the stat `name` in `scope`.
    ///
    /// # Errors
    /// When `name` is not a valid stat name, or another kind of stat (or a container) already
    /// lives there.
    fn declare(scope: &Scope, name: &str, options: StatOptions) -> Result<Self, Error>;
}

/// The shared storage of one declared stat, as the tree holds it.
#[derive(Clone)]
pub(crate) enum StatCore {
    Int(Arc<IntCell>),
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
            StatCore::Int(_) => StatKind::IntStat,
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

    /// Reads a non-aggregation stat. Aggregations are computed by the snapshot walk.
    pub(crate) fn read(&self, clock: &Clock) -> StatValue {
        match self {
            StatCore::Int(cell) => StatValue::Int(cell.get()),
            StatCore::Double(cell) => StatValue::Float(cell.get()),
            StatCore::Value(cell) => match cell.evaluate() {
                Ok(value) => StatValue::Value(value),
                Err(message) => StatValue::Error(message),
            },
            StatCore::IntDict(dict) => StatValue::Counts(dict.entries()),
            StatCore::StringDict(dict) => StatValue::Strings(dict.entries()),
            StatCore::Pmf(pmf) => StatValue::Distribution(Box::new(pmf.snapshot())),
            StatCore::NamedPmfDict(dict) => StatValue::Distributions(dict.entries()),
            StatCore::Meter(meter) => StatValue::Meter(meter.read(clock.now_nanos())),
            StatCore::MeterDict(dict) => StatValue::Meters(dict.entries(clock.now_nanos())),
            StatCore::StateTime(states) => StatValue::Durations(states.durations()),
            StatCore::Aggregation(_) => StatValue::Value(crate::Value::Null),
        }
    }

    /// What this stat hands to an ancestor's aggregation when its scope is dropped.
    pub(crate) fn final_contribution(&self) -> Option<Contribution> {
        match self {
            StatCore::Int(cell) => Some(Contribution::Int(cell.get())),
            StatCore::Double(cell) => Some(Contribution::Float(cell.get())),
            StatCore::IntDict(dict) => Some(Contribution::Counts(dict.entries())),
            StatCore::Pmf(pmf) => Some(Contribution::Distribution(pmf.snapshot())),
            StatCore::Aggregation(agg) => agg.retired_contribution(),
            _ => None,
        }
    }
}

/// Declares a stat of kind `kind` in `scope`, building storage with `make` if it is new, and
/// returns the stored core (downcast by `extract`) with the scope's owner token.
pub(crate) fn declare_core<T>(
    scope: &Scope,
    name: &str,
    kind: StatKind,
    make: impl FnOnce(&Clock) -> StatCore,
    extract: impl FnOnce(StatCore) -> Option<T>,
) -> Result<(T, Arc<Owner>), Error> {
    let core = scope.declare_core(name, kind, make)?;
    let owner = scope.owner().clone();
    let found = core.kind();
    extract(core)
        .map(|t| (t, owner))
        .ok_or_else(|| Error::KindMismatch {
            path: scope.path_of(name),
            existing: EntryKind::Stat(found),
            requested: EntryKind::Stat(kind),
        })
}
