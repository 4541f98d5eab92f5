//! The snapshot model: an owned, immutable copy of (part of) the stat tree.
//!
//! Every output — JSON, HTML, Prometheus, Graphite, file dumps — renders from a [`Snapshot`];
//! none of them reads live stats. A snapshot is taken while other threads keep recording;
//! each stat is read atomically on its own, the tree as a whole is not frozen.

use std::time::SystemTime;

use crate::path::{Name, StatPath};
use crate::sketch::SketchSnapshot;
use crate::value::Value;

/// How the error of a gauge past its timeout begins (what [`Snapshot::gauges_timed_out`]
/// counts).
///
/// [`Snapshot::gauges_timed_out`]: crate::Snapshot::gauges_timed_out
pub(crate) const GAUGE_TIMED_OUT: &str = "gauge timed out";

/// A copy of the stat tree (or of one sub-tree or stat) at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub(crate) path: StatPath,
    pub(crate) root: Node,
    pub(crate) taken_at: SystemTime,
    /// Groups left unread ([`SnapshotOptions::with_prune`](crate::SnapshotOptions::with_prune)),
    /// with the number of stats at every depth below them.
    pub(crate) pruned: Vec<(StatPath, usize)>,
}

impl Snapshot {
    /// Builds a snapshot by hand (for tests, tools, and the HTTP query filter).
    pub fn new(path: StatPath, root: Node, taken_at: SystemTime) -> Self {
        Self {
            path,
            root,
            taken_at,
            pruned: Vec::new(),
        }
    }

    /// How many stats the group at `path` holds, at every depth below it (a keyed stat
    /// counts once, as a group's "N stats" on the status page), when this snapshot left it
    /// unread (it is empty here; see
    /// [`SnapshotOptions::with_prune`](crate::SnapshotOptions::with_prune)). Counted from the
    /// tree's structure when the snapshot was taken: no stat is read, no gauge runs.
    pub fn pruned(&self, path: &StatPath) -> Option<usize> {
        self.pruned.iter().find(|(p, _)| p == path).map(|(_, n)| *n)
    }

    /// The path this snapshot was taken at (the root for the whole tree).
    pub fn path(&self) -> &StatPath {
        &self.path
    }

    /// The node at the snapshot's path.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Wall-clock time the snapshot was taken.
    pub fn taken_at(&self) -> SystemTime {
        self.taken_at
    }

    /// Looks up a node by its path in the tree (`"/web/latency"`), the same path it was
    /// declared at, wherever the snapshot was taken: a snapshot taken at `/processor` finds
    /// `"/processor/finished"`. The leading `/` is optional, as everywhere in scales.
    ///
    /// Paths outside the snapshot, and keys inside stats (`"/web/latency/count"`), find
    /// nothing.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let processor = reg.scope("/processor")?;
    /// processor.int_stat("finished")?.add(2);
    /// let snapshot = reg.snapshot_at("/processor").unwrap();
    /// assert_eq!(snapshot.stat("/processor/finished").unwrap().value, scales::StatValue::Int(2));
    /// assert!(snapshot.stat("/elsewhere").is_none());
    /// # Ok::<(), scales::Error>(())
    /// ```
    pub fn get(&self, path: &str) -> Option<&Node> {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        for own in self.path.iter() {
            if segments.next()? != own.as_str() {
                return None;
            }
        }
        let mut node = &self.root;
        for segment in segments {
            node = match node {
                Node::Group(group) => group.get(segment)?,
                Node::Stat(_) => return None,
            };
        }
        Some(node)
    }

    /// The stat at `path` (its path in the tree, as for [`get`](Self::get)), if there is one.
    pub fn stat(&self, path: &str) -> Option<&StatSnapshot> {
        match self.get(path)? {
            Node::Stat(stat) => Some(stat),
            Node::Group(_) => None,
        }
    }

    /// This snapshot with every distribution replaced by what was recorded since `earlier`
    /// (an earlier snapshot of the same tree): per-interval statistics, as users of the
    /// original asked for. Distributions missing from `earlier` are kept whole; every other
    /// stat is unchanged.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let latency = reg.scope("/web")?.pmf_stat("latency")?;
    /// latency.record(1.0);
    /// let before = reg.snapshot();
    /// latency.record(5.0);
    /// let interval = reg.snapshot().interval_since(&before);
    /// match &interval.stat("/web/latency").unwrap().value {
    ///     scales::StatValue::Distribution(d) => assert_eq!((d.count(), d.sum()), (1, 5.0)),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), scales::Error>(())
    /// ```
    pub fn interval_since(&self, earlier: &Snapshot) -> Snapshot {
        let mut root = self.root.clone();
        subtract_distributions(&mut root, Some(&earlier.root));
        Snapshot {
            path: self.path.clone(),
            root,
            taken_at: self.taken_at,
            pruned: self.pruned.clone(),
        }
    }

    /// How many gauges of this snapshot did not return within the registry's gauge timeout
    /// (they read as `gauge timed out: ...` errors).
    pub fn gauges_timed_out(&self) -> usize {
        let mut timed_out = 0;
        self.for_each_stat(|_, stat| {
            if matches!(&stat.value, StatValue::Error(message) if message.starts_with(GAUGE_TIMED_OUT))
            {
                timed_out += 1;
            }
        });
        timed_out
    }

    /// Every stat with its path in the tree (`/web/latency`, whichever sub-tree the snapshot
    /// was taken at), depth first in tree order. Collapsed groups are included.
    ///
    /// ```
    /// let reg = scales::Registry::new();
    /// let web = reg.scope("/web")?;
    /// web.int_stat("errors")?.inc();
    /// let snapshot = reg.snapshot();
    /// let stats = snapshot.stats();
    /// assert_eq!(stats.len(), 1);
    /// assert_eq!(stats[0].path, "/web/errors");
    /// assert_eq!(stats[0].stat.value, scales::StatValue::Int(1));
    /// # Ok::<(), scales::Error>(())
    /// ```
    pub fn stats(&self) -> Vec<StatAt<'_>> {
        let mut out = Vec::new();
        self.for_each_stat(|path, stat| {
            out.push(StatAt {
                path: path.clone(),
                stat,
            })
        });
        out
    }

    /// Calls `visit` with every stat and its path, as [`stats`](Self::stats) lists them,
    /// without building a list: one path is kept and changed as the walk goes.
    pub fn for_each_stat<'a>(&'a self, mut visit: impl FnMut(&StatPath, &'a StatSnapshot)) {
        fn walk<'a>(
            node: &'a Node,
            path: &mut StatPath,
            visit: &mut impl FnMut(&StatPath, &'a StatSnapshot),
        ) {
            match node {
                Node::Stat(stat) => visit(path, stat),
                Node::Group(group) => {
                    for Entry { name, node } in &group.entries {
                        path.push_trusted(name.clone());
                        walk(node, path, visit);
                        path.pop();
                    }
                }
            }
        }
        let mut path = self.path.clone();
        walk(&self.root, &mut path, &mut visit);
    }
}

/// One stat of a [`Snapshot`] with its path in the tree ([`Snapshot::stats`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StatAt<'a> {
    /// Where the stat is, such as `/web/latency`.
    pub path: StatPath,
    /// The stat.
    pub stat: &'a StatSnapshot,
}

fn subtract_distributions(node: &mut Node, earlier: Option<&Node>) {
    match (node, earlier) {
        (Node::Group(group), Some(Node::Group(before))) => {
            for Entry { name, node } in &mut group.entries {
                subtract_distributions(node, before.get(name));
            }
        }
        (Node::Stat(stat), Some(Node::Stat(before))) => match (&mut stat.value, &before.value) {
            (StatValue::Distribution(now), StatValue::Distribution(then)) => {
                **now = now.delta_since(then);
            }
            (StatValue::Distributions(now), StatValue::Distributions(then)) => {
                for now in now.iter_mut() {
                    if let Some(then) = then.iter().find(|then| then.key == now.key) {
                        now.value = now.value.delta_since(&then.value);
                    }
                }
            }
            _ => {}
        },
        _ => {}
    }
}

/// A node of a snapshot: a group of named children, or one stat.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A container (`/web`) and its children in declaration order.
    Group(Group),
    /// One stat.
    Stat(StatSnapshot),
}

impl Node {
    /// How many stats are at and below this node (a writer sizes its buffers by it).
    #[cfg(any(feature = "prometheus", feature = "graphite"))]
    pub(crate) fn count_stats(&self) -> usize {
        match self {
            Node::Stat(_) => 1,
            Node::Group(group) => group.entries.iter().map(|e| e.node.count_stats()).sum(),
        }
    }
}

/// A container in a snapshot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// Children in declaration order.
    pub entries: Vec<Entry>,
    /// Whether views should fold this group (see [`Scope::set_collapsed`](crate::Scope::set_collapsed)).
    pub collapsed: bool,
}

impl Group {
    /// The child with this name.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|entry| &*entry.name == name)
            .map(|entry| &entry.node)
    }
}

/// One named child of a [`Group`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The child's name (one path segment).
    pub name: Name,
    /// The child.
    pub node: Node,
}

impl Entry {
    /// A child named `name`.
    pub fn new(name: impl Into<Name>, node: Node) -> Self {
        Self {
            name: name.into(),
            node,
        }
    }
}

/// What kind of stat produced a value; outputs use it to pick types (counter or gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatKind {
    /// [`IntStat`](crate::IntStat).
    IntStat,
    /// [`CounterStat`](crate::CounterStat): an integer that only goes up.
    Counter,
    /// [`DoubleStat`](crate::DoubleStat).
    DoubleStat,
    /// [`Stat`](crate::Stat): a held value or a gauge closure.
    Stat,
    /// [`IntDictStat`](crate::IntDictStat).
    IntDict,
    /// [`StringDictStat`](crate::StringDictStat).
    StringDict,
    /// [`PmfStat`](crate::PmfStat).
    Pmf,
    /// [`NamedPmfDictStat`](crate::NamedPmfDictStat).
    NamedPmfDict,
    /// [`MeterStat`](crate::MeterStat).
    Meter,
    /// [`MeterDictStat`](crate::MeterDictStat).
    MeterDict,
    /// [`StateTimeStat`](crate::StateTimeStat).
    StateTime,
    /// [`SumAggregationStat`](crate::SumAggregationStat).
    SumAggregation,
    /// [`HistogramAggregationStat`](crate::HistogramAggregationStat).
    HistogramAggregation,
    /// [`IntDictSumAggregationStat`](crate::IntDictSumAggregationStat).
    IntDictSumAggregation,
    /// [`PmfAggregationStat`](crate::PmfAggregationStat).
    PmfAggregation,
}

impl StatKind {
    /// The type name used in errors and docs (`"IntStat"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            StatKind::IntStat => "IntStat",
            StatKind::Counter => "CounterStat",
            StatKind::DoubleStat => "DoubleStat",
            StatKind::Stat => "Stat",
            StatKind::IntDict => "IntDictStat",
            StatKind::StringDict => "StringDictStat",
            StatKind::Pmf => "PmfStat",
            StatKind::NamedPmfDict => "NamedPmfDictStat",
            StatKind::Meter => "MeterStat",
            StatKind::MeterDict => "MeterDictStat",
            StatKind::StateTime => "StateTimeStat",
            StatKind::SumAggregation => "SumAggregationStat",
            StatKind::HistogramAggregation => "HistogramAggregationStat",
            StatKind::IntDictSumAggregation => "IntDictSumAggregationStat",
            StatKind::PmfAggregation => "PmfAggregationStat",
        }
    }
}

/// One stat's value in a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct StatSnapshot {
    /// The kind of stat.
    pub kind: StatKind,
    /// Its value.
    pub value: StatValue,
}

impl StatSnapshot {
    /// The stat's value as a [`Value`] tree in its output shape — the keys and order of its
    /// JSON form: scalars stay scalars, everything else becomes nested [`Value::Map`]s
    /// (`{"count": 3, "min": .., "median": ..}` for a distribution, `{"unit": "per second",
    /// "count": .., "m1": ..}` for a meter, `{"error": ..}` for an unreadable stat).
    /// Non-finite floats stay floats; each format decides how to show them.
    pub fn to_value(&self) -> Value {
        match &self.value {
            StatValue::Int(i) => Value::Int(*i),
            StatValue::Float(f) => Value::Float(*f),
            StatValue::Value(v) => v.clone(),
            StatValue::Counts(counts) => map(counts, |v| Value::Int(*v)),
            StatValue::Strings(strings) => map(strings, |v| Value::Str(v.clone())),
            StatValue::Distribution(d) => distribution_value(d),
            StatValue::Distributions(ds) => map(ds, distribution_value),
            StatValue::Meter(m) => meter_value(m),
            StatValue::Meters(ms) => map(ms, meter_value),
            StatValue::Durations(ds) => map(ds, |s| Value::Float(*s)),
            StatValue::Error(message) => {
                Value::Map(vec![("error".to_owned(), Value::Str(message.clone()))])
            }
        }
    }
}

fn map<T>(entries: &[Keyed<T>], convert: impl Fn(&T) -> Value) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|entry| (entry.key.to_string(), convert(&entry.value)))
            .collect(),
    )
}

/// `{"count": n}` when empty, else count, min, max, mean, stddev and the percentiles.
fn distribution_value(d: &SketchSnapshot) -> Value {
    let mut map = vec![("count".to_owned(), Value::from(d.count()))];
    if d.count() > 0 {
        let fields = [
            ("min", d.min()),
            ("max", d.max()),
            ("mean", d.mean()),
            ("stddev", d.stddev()),
        ];
        for (key, v) in fields {
            map.push((key.to_owned(), Value::from(v)));
        }
        for (key, v) in d.percentiles() {
            map.push((key.to_owned(), Value::Float(v)));
        }
    }
    Value::Map(map)
}

fn meter_value(m: &MeterSnapshot) -> Value {
    Value::Map(vec![
        ("unit".to_owned(), Value::from("per second")),
        ("count".to_owned(), Value::from(m.count)),
        ("m1".to_owned(), Value::Float(m.m1)),
        ("m5".to_owned(), Value::Float(m.m5)),
        ("m15".to_owned(), Value::Float(m.m15)),
        ("mean".to_owned(), Value::Float(m.mean)),
    ])
}

/// The value of one stat.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StatValue {
    /// An integer count (IntStat, integer sums).
    Int(i64),
    /// A float (DoubleStat, float sums).
    Float(f64),
    /// A held or computed value (Stat, gauges).
    Value(Value),
    /// Integer counts by key (IntDictStat, histogram and dict-sum aggregations).
    Counts(Vec<Keyed<i64>>),
    /// Strings by key (StringDictStat).
    Strings(Vec<Keyed<String>>),
    /// A distribution (PmfStat, PmfAggregationStat).
    Distribution(Box<SketchSnapshot>),
    /// Distributions by key (NamedPmfDictStat).
    Distributions(Vec<Keyed<SketchSnapshot>>),
    /// Event rates (MeterStat).
    Meter(Box<MeterSnapshot>),
    /// Rates by key (MeterDictStat).
    Meters(Vec<Keyed<MeterSnapshot>>),
    /// Seconds spent in each state, including the current one (StateTimeStat).
    Durations(Vec<Keyed<f64>>),
    /// The stat could not be read: a gauge closure panicked. The message says why.
    Error(String),
}

impl StatValue {
    /// The value as a number, for scalar stats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            StatValue::Int(i) => Some(*i as f64),
            StatValue::Float(f) => Some(*f),
            StatValue::Value(v) => v.as_f64(),
            _ => None,
        }
    }
}

/// One entry of a keyed stat: a dict's key and its value, a state and its seconds. Keys are
/// copied as names are: up to 23 bytes inline, longer ones shared with the live stat (no
/// reference count is touched for a short key, no byte of a long one is copied).
#[derive(Debug, Clone, PartialEq)]
pub struct Keyed<T> {
    /// The key.
    pub key: Name,
    /// Its value.
    pub value: T,
}

impl<T> Keyed<T> {
    /// An entry.
    pub fn new(key: impl Into<Name>, value: T) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

impl<K: Into<Name>, T> From<(K, T)> for Keyed<T> {
    fn from((key, value): (K, T)) -> Self {
        Self::new(key, value)
    }
}

/// Rates of a meter: events per second, exponentially weighted over 1, 5 and 15 minutes as the
/// original (5-second ticks), and the mean rate since the meter was created.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterSnapshot {
    /// Total events marked.
    pub count: u64,
    /// One-minute rate.
    pub m1: f64,
    /// Five-minute rate.
    pub m5: f64,
    /// Fifteen-minute rate.
    pub m15: f64,
    /// Mean rate since creation.
    pub mean: f64,
}

// A snapshot entry is one cache line (a stat's name, kind and value): the rare big values
// (meters, distributions, keyed stats) are behind a pointer.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Entry>() == 64);
