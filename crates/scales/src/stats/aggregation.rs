//! Aggregation stats: a parent's view of the same-named stats of its descendants.
//!
//! An aggregation stat named `n` at path `P` is computed at snapshot time from the nearest
//! stats named `n` below `P`: for each child container of `P`, its own `n` if it has one,
//! otherwise the nearest `n`s further down (so intermediate levels need not declare it, and a
//! descendant's own aggregation stat passes its total up). Nothing is pushed on the hot path.
//!
//! When a descendant's scope is dropped and its stats leave the tree, its final counts are
//! folded into the nearest aggregation above it, so sums of counters never go backwards.
//! A histogram of states counts only live descendants.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indexmap::{IndexMap, IndexSet};

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::sketch::SketchSnapshot;
use crate::snapshot::{Entry, Group, Keyed, Node, StatKind, StatSnapshot, StatValue};

/// A final value handed to an aggregation by a stat that leaves the tree.
pub(crate) enum Contribution {
    Int(i64),
    Float(f64),
    Counts(Vec<Keyed<i64>>),
    Distribution(SketchSnapshot),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sum,
    Histogram { auto_delete: bool },
    IntDictSum,
    Pmf,
}

#[derive(Default)]
pub(crate) struct Retired {
    int: i64,
    float: f64,
    saw_float: bool,
    counts: IndexMap<String, i64>,
    distribution: SketchSnapshot,
    /// States a histogram has reported, so that emptied states show as 0.
    seen_states: IndexSet<String>,
}

/// Storage of an aggregation stat: its mode and what departed descendants left behind.
pub(crate) struct AggregationCore {
    mode: Mode,
    retired: Mutex<Retired>,
}

impl AggregationCore {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            retired: Mutex::new(Retired::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Retired> {
        self.retired.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn kind(&self) -> StatKind {
        match self.mode {
            Mode::Sum => StatKind::SumAggregation,
            Mode::Histogram { .. } => StatKind::HistogramAggregation,
            Mode::IntDictSum => StatKind::IntDictSumAggregation,
            Mode::Pmf => StatKind::PmfAggregation,
        }
    }

    /// Folds the final value of a departing descendant stat into this aggregation.
    pub(crate) fn absorb(&self, contribution: &Contribution) {
        let mut retired = self.lock();
        match (self.mode, contribution) {
            (Mode::Sum, Contribution::Int(i)) => retired.int += i,
            (Mode::Sum, Contribution::Float(f)) => {
                retired.float += f;
                retired.saw_float = true;
            }
            (Mode::IntDictSum, Contribution::Counts(counts)) => {
                for Keyed { key, value } in counts {
                    *retired.counts.entry(key.to_string()).or_insert(0) += value;
                }
            }
            (Mode::Pmf, Contribution::Distribution(d)) => retired.distribution.merge(d),
            _ => {}
        }
    }

    /// What this aggregation carries for departed descendants, to pass further up when it
    /// departs itself.
    pub(crate) fn retired_contribution(&self) -> Option<Contribution> {
        let retired = self.lock();
        match self.mode {
            Mode::Sum if retired.saw_float => {
                Some(Contribution::Float(retired.int as f64 + retired.float))
            }
            Mode::Sum => Some(Contribution::Int(retired.int)),
            Mode::IntDictSum => Some(Contribution::Counts(
                retired
                    .counts
                    .iter()
                    .map(|(k, v)| Keyed::new(k.as_str(), *v))
                    .collect(),
            )),
            Mode::Pmf => Some(Contribution::Distribution(retired.distribution.clone())),
            Mode::Histogram { .. } => None,
        }
    }

    /// What departed descendants left so far. Taken under the tree lock together with the
    /// list of live descendants, so that a descendant leaving during a snapshot is counted
    /// once — live or departed — and aggregates never go backwards between snapshots.
    pub(crate) fn retired_now(&self) -> Retired {
        let retired = self.lock();
        Retired {
            int: retired.int,
            float: retired.float,
            saw_float: retired.saw_float,
            counts: match self.mode {
                Mode::IntDictSum => retired.counts.clone(),
                _ => IndexMap::new(),
            },
            distribution: match self.mode {
                Mode::Pmf => retired.distribution.clone(),
                _ => SketchSnapshot::default(),
            },
            seen_states: IndexSet::new(),
        }
    }

    /// The aggregate of the nearest same-named descendant stats, plus `departed` (what
    /// [`retired_now`](Self::retired_now) returned when the descendants were listed).
    pub(crate) fn compute(&self, departed: &Retired, descendants: &[&StatSnapshot]) -> StatValue {
        match self.mode {
            Mode::Sum => {
                let (mut int, mut float, mut saw_float) =
                    (departed.int, departed.float, departed.saw_float);
                for stat in descendants {
                    match &stat.value {
                        StatValue::Int(i) => int = int.wrapping_add(*i),
                        StatValue::Meter(m) => int = int.wrapping_add(m.count as i64),
                        other => {
                            if let Some(f) = other.as_f64() {
                                float += f;
                                saw_float = true;
                            }
                        }
                    }
                }
                if saw_float {
                    StatValue::Float(int as f64 + float)
                } else {
                    StatValue::Int(int)
                }
            }
            Mode::Histogram { auto_delete } => {
                let mut counts: IndexMap<String, i64> = IndexMap::new();
                for stat in descendants {
                    let key = match &stat.value {
                        StatValue::Value(v) if !v.is_empty_state() => v.to_key(),
                        StatValue::Int(i) if *i != 0 => i.to_string(),
                        _ => continue,
                    };
                    *counts.entry(key).or_insert(0) += 1;
                }
                if auto_delete {
                    return StatValue::Counts(counts.into_iter().map(Keyed::from).collect());
                }
                let mut retired = self.lock();
                for key in counts.keys() {
                    retired.seen_states.insert(key.clone());
                }
                let entries = retired
                    .seen_states
                    .iter()
                    .map(|state| {
                        Keyed::new(state.as_str(), counts.get(state).copied().unwrap_or(0))
                    })
                    .collect();
                StatValue::Counts(entries)
            }
            Mode::IntDictSum => {
                let mut sums = departed.counts.clone();
                for stat in descendants {
                    if let StatValue::Counts(counts) = &stat.value {
                        for Keyed { key, value } in counts {
                            *sums.entry(key.to_string()).or_insert(0) += value;
                        }
                    }
                }
                StatValue::Counts(sums.into_iter().map(Keyed::from).collect())
            }
            Mode::Pmf => {
                let mut merged = departed.distribution.clone();
                for stat in descendants {
                    if let StatValue::Distribution(d) = &stat.value {
                        merged.merge(d);
                    }
                }
                StatValue::Distribution(Box::new(merged))
            }
        }
    }
}

macro_rules! aggregation_stat {
    ($(#[$doc:meta])* $name:ident, $mode:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            _core: Arc<AggregationCore>,
            _lease: Lease,
        }

        impl $name {
            fn mode(options: StatOptions) -> Mode {
                #[allow(clippy::redundant_closure_call)]
                ($mode)(options)
            }
        }

        impl StatType for $name {
            fn kind(options: StatOptions) -> StatKind {
                AggregationCore::new(Self::mode(options)).kind()
            }

            fn new_core(_: &Place<'_>, options: StatOptions) -> StatCore {
                StatCore::Aggregation(Arc::new(AggregationCore::new(Self::mode(options))))
            }

            fn handle(core: StatCore, lease: Lease) -> Option<Self> {
                let StatCore::Aggregation(core) = core else {
                    return None;
                };
                Some(Self { _core: core, _lease: lease })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

aggregation_stat!(
    /// The sum of the same-named numeric stats (`IntStat`, `DoubleStat`, meter counts, or
    /// nested sums) of descendants, such as tasks finished by all worker threads.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let processor = reg.scope("/processor")?;
    /// let _finished = processor.sum_aggregation_stat("finished")?;
    /// let t0 = processor.child("thread-0")?.int_stat("finished")?;
    /// let t1 = processor.child("thread-1")?.int_stat("finished")?;
    /// t0.add(3);
    /// t1.add(2);
    /// let snap = reg.snapshot();
    /// assert_eq!(snap.stat("/processor/finished").unwrap().value, scales::StatValue::Int(5));
    /// # Ok::<(), scales::Error>(())
    /// ```
    SumAggregationStat,
    |_| Mode::Sum
);

aggregation_stat!(
    /// How many descendants are in each state: counts the values of their same-named
    /// [`Stat`](crate::Stat)s. Empty states (null, `""`, 0, `false`) are not counted. States
    /// seen before stay listed with 0 unless declared with auto-delete.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let processor = reg.scope("/processor")?;
    /// let _states = processor.histogram_aggregation_stat("state")?;
    /// let state = processor.child("thread-0")?.stat("state")?;
    /// state.set("waitingForTask");
    /// let snap = reg.snapshot();
    /// assert_eq!(
    ///     snap.stat("/processor/state").unwrap().value,
    ///     scales::StatValue::Counts(vec![scales::Keyed::new("waitingForTask", 1)])
    /// );
    /// # Ok::<(), scales::Error>(())
    /// ```
    HistogramAggregationStat,
    |options: StatOptions| Mode::Histogram { auto_delete: options.auto_delete }
);

aggregation_stat!(
    /// Per-key sums of the same-named [`IntDictStat`](crate::IntDictStat)s of descendants,
    /// such as errors by code across all handlers.
    IntDictSumAggregationStat,
    |_| Mode::IntDictSum
);

aggregation_stat!(
    /// The merged distribution of the same-named [`PmfStat`](crate::PmfStat)s of descendants:
    /// percentiles over all their values, not an average of their percentiles.
    PmfAggregationStat,
    |_| Mode::Pmf
);

/// The aggregation pass of a snapshot: fills in each aggregation of `group` (listed with its
/// index in `group` and what its departed descendants left) from the group's finished
/// children. Children are evaluated first, their own aggregations included, so nested
/// aggregations add up bottom-up.
pub(crate) fn aggregate(
    group: &mut Group,
    aggregations: Vec<(usize, Arc<AggregationCore>, Box<Retired>)>,
) {
    for (index, agg, departed) in aggregations {
        let name = &group.entries[index].name;
        let mut descendants = Vec::new();
        nearest_stats(&group.entries, name, &mut descendants);
        let value = agg.compute(&departed, &descendants);
        group.entries[index].node = Node::Stat(StatSnapshot {
            kind: agg.kind(),
            value,
        });
    }
}

/// For each child container, its stat named `name`, or else the nearest ones further down.
fn nearest_stats<'a>(entries: &'a [Entry], name: &str, out: &mut Vec<&'a StatSnapshot>) {
    for entry in entries {
        if let Node::Group(group) = &entry.node {
            match group.get(name) {
                Some(Node::Stat(stat)) => out.push(stat),
                Some(Node::Group(_)) => {}
                None => nearest_stats(&group.entries, name, out),
            }
        }
    }
}
