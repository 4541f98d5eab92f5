//! The stat tree: [`Registry`], [`Scope`] (one object's place in the tree) and [`StatSet`].
//!
//! A registry holds a tree of containers keyed by path segments, with stats as leaves.
//! A [`Scope`] is one owner of a container: it declares stats there and keeps them alive.
//! Several scopes may own the same path (two handlers at `/handler` share their stats, as in
//! the original); when the last owner of a container — and every stat handle declared
//! through it — is dropped, its stats leave the tree, their final counts are folded into the
//! nearest aggregation above, and empty containers are pruned.
//!
//! The tree lock is taken to declare, to drop, and twice per snapshot: to list the gauge
//! closures, which then run outside it (so they may themselves use the registry), and to
//! read every stat in place. No user code runs under it, and recording never takes it; a
//! declaration waits at most for one snapshot's read of the tree (about 15 ms for 100 000
//! stats, see BENCHMARKS.md).

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
#[cfg(feature = "json")]
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indexmap::IndexMap;

use crate::cells::CounterReader;
use crate::clock::Clock;
use crate::gauges::{self, GaugeResult};
use crate::path::{validate_name, DisplayPath, Name, PathError, StatPath};
use crate::sketch::SketchDetail;
use crate::snapshot::{self, Group, Node, Snapshot, StatKind, StatSnapshot};
use crate::stats::{self, Lease, Place, StatCore, StatOptions, StatType};
use crate::{EntryKind, Error};

static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The process-wide registry used by the crate-level functions such as [`collection`](crate::collection()).
pub fn registry() -> &'static Registry {
    &GLOBAL
}

/// A tree of stats. Cloning gives another handle to the same tree.
///
/// Most programs use the global registry ([`registry()`], [`collection`](crate::collection()),
/// [`init`](crate::init)); separate registries are handy in tests.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

struct Shared {
    tree: Mutex<Tree>,
    clock: Clock,
    next_owner_id: AtomicU64,
    next_child_id: AtomicU64,
    gauge_timeout_nanos: AtomicU64,
}

struct Tree {
    root: TreeNode,
    generation: u64,
}

#[derive(Default)]
struct TreeNode {
    entries: IndexMap<Name, Entry>,
    collapsed: bool,
    owners: usize,
    /// A global collection lives here: its stats stay for the life of the registry.
    pinned: bool,
    /// How many `Stat`s (held values and gauges) are at any depth below: listing the
    /// gauges skips the groups without one instead of walking every stat twice.
    values_below: usize,
    /// How many of `entries` are aggregations, and how many of those merge distributions.
    aggregations: usize,
    distribution_aggregations: usize,
}

enum Entry {
    // Boxed: a container is rare beside its stats, and an unboxed one would make every map
    // entry (one per stat) as big as a container.
    Node(Box<TreeNode>),
    Stat(StatCore),
}

impl TreeNode {
    fn node(&self, path: &[Name]) -> Option<&TreeNode> {
        path.iter().try_fold(self, |node, segment| {
            match node.entries.get(segment.as_str())? {
                Entry::Node(child) => Some(&**child),
                Entry::Stat(_) => None,
            }
        })
    }

    fn node_mut(&mut self, path: &[Name]) -> Option<&mut TreeNode> {
        path.iter().try_fold(self, |node, segment| {
            match node.entries.get_mut(segment.as_str())? {
                Entry::Node(child) => Some(&mut **child),
                Entry::Stat(_) => None,
            }
        })
    }

    /// The container at `path`, created as needed.
    fn node_or_create(&mut self, path: &[Name]) -> Result<&mut TreeNode, Error> {
        let mut node = self;
        for (depth, segment) in path.iter().enumerate() {
            let index = match node.entries.get_index_of(segment.as_str()) {
                Some(index) => index,
                None => {
                    let name = Name::from(segment.as_str());
                    node.entries
                        .insert_full(name, Entry::Node(Box::default()))
                        .0
                }
            };
            node = match &mut node.entries[index] {
                Entry::Node(child) => child,
                Entry::Stat(core) => {
                    return Err(Error::KindMismatch {
                        path: DisplayPath(&path[..=depth]).to_string(),
                        existing: EntryKind::Stat(core.kind()),
                        requested: EntryKind::Container,
                    })
                }
            };
        }
        Ok(node)
    }

    /// Removes empty, unowned containers along `path`; returns whether `self` is now removable.
    fn prune(&mut self, path: &[Name]) -> bool {
        if let Some((first, rest)) = path.split_first() {
            if let Some(Entry::Node(child)) = self.entries.get_mut(first.as_str()) {
                if child.prune(rest) {
                    self.entries.shift_remove(first.as_str());
                }
            }
        }
        self.owners == 0 && self.entries.is_empty() && !self.collapsed && !self.pinned
    }

    /// The nearest aggregation named `name` strictly above `path`, unless a non-aggregation
    /// stat of that name comes first.
    fn aggregation_above(&self, path: &[Name], name: &str) -> Option<Arc<stats::AggregationCore>> {
        (0..path.len()).rev().find_map(|depth| {
            match self.node(&path[..depth])?.entries.get(name) {
                Some(Entry::Stat(StatCore::Aggregation(agg))) => Some(Some(agg.clone())),
                Some(Entry::Stat(_)) => Some(None),
                _ => None,
            }
        })?
    }

    /// Whether this group holds an aggregation (which adds up everything below it).
    fn has_aggregation(&self) -> bool {
        self.aggregations > 0
    }

    /// Counts `core` in the census of the group at `path` and of the groups above it
    /// (`added`), or takes it out (`!added`).
    fn census(&mut self, path: &[Name], core: &StatCore, added: bool) {
        let step = |count: usize| if added { count + 1 } else { count - 1 };
        let is_value = matches!(core, StatCore::Value(_));
        let mut node = self;
        for segment in path {
            if is_value {
                node.values_below = step(node.values_below);
            }
            node = match node.entries.get_mut(segment.as_str()) {
                Some(Entry::Node(child)) => child,
                _ => unreachable!("the census follows a path to a group"),
            };
        }
        if is_value {
            node.values_below = step(node.values_below);
        }
        if let StatCore::Aggregation(agg) = core {
            node.aggregations = step(node.aggregations);
            if agg.kind() == crate::StatKind::PmfAggregation {
                node.distribution_aggregations = step(node.distribution_aggregations);
            }
        }
    }

    /// Checks the census against a count of the tree (tests).
    #[cfg(test)]
    fn check_census(&self) -> usize {
        let mut values = 0;
        let (mut aggregations, mut distribution_aggregations) = (0, 0);
        for entry in self.entries.values() {
            match entry {
                Entry::Node(node) => values += node.check_census(),
                Entry::Stat(StatCore::Value(_)) => values += 1,
                Entry::Stat(StatCore::Aggregation(agg)) => {
                    aggregations += 1;
                    if agg.kind() == crate::StatKind::PmfAggregation {
                        distribution_aggregations += 1;
                    }
                }
                Entry::Stat(_) => {}
            }
        }
        assert_eq!(
            (
                self.values_below,
                self.aggregations,
                self.distribution_aggregations
            ),
            (values, aggregations, distribution_aggregations),
            "the census is out of date"
        );
        values
    }

    /// Lists the gauge closures a read of this group ([`read`](Self::read), same `path`,
    /// `needed` and `prune`) will take values from.
    fn gauges(
        &self,
        path: &StatPath,
        needed: bool,
        prune: Option<&Prune>,
        out: &mut Vec<Arc<stats::ValueCell>>,
    ) {
        if self.values_below == 0 {
            return;
        }
        let needed = needed || self.has_aggregation();
        for (name, entry) in &self.entries {
            match entry {
                Entry::Node(node) => match visit(prune, path, name) {
                    Visit::Prune(_) if !needed => {}
                    Visit::Prune(child) => node.gauges(&child, needed, None, out),
                    Visit::Read(child) => node.gauges(&child, needed, prune, out),
                    Visit::Whole => node.gauges(path, needed, None, out),
                },
                Entry::Stat(StatCore::Value(cell)) if cell.is_computed() => out.push(cell.clone()),
                Entry::Stat(_) => {}
            }
        }
    }

    /// Reads this group (at `path`) into a snapshot group: every stat read in place, its
    /// gauges' values taken from `reading`, its aggregations added up. Groups `pruning`
    /// names are left empty and listed, unless an aggregation above needs them (`needed`):
    /// then they are read whole and listed to be emptied after the sums.
    fn read(
        &self,
        path: &StatPath,
        needed: bool,
        reading: &mut Reading<'_>,
        mut pruning: Option<&mut Pruning<'_>>,
    ) -> Group {
        let needed = needed || self.has_aggregation();
        let mut group = Group {
            entries: Vec::with_capacity(self.entries.len()),
            collapsed: self.collapsed,
        };
        let mut aggregations = Vec::new();
        // A distribution aggregation merges its descendants' buckets: read them whole, then
        // make summaries of everything once the sums are done.
        let merges_sketches =
            reading.detail == SketchDetail::Summary && self.distribution_aggregations > 0;
        if merges_sketches {
            reading.detail = SketchDetail::Buckets;
        }
        for (name, entry) in &self.entries {
            // Runs of counters are read under one hold of the arena lock...
            if let Entry::Stat(core @ (StatCore::Int(slot, cell) | StatCore::Counter(slot, cell))) =
                entry
            {
                let value = cell.get_with(*slot, &mut reading.counters);
                group.entries.push(snapshot::Entry {
                    name: name.clone(),
                    node: Node::Stat(StatSnapshot {
                        kind: core.kind(),
                        value: crate::StatValue::Int(value),
                    }),
                });
                continue;
            }
            // ... which is given back before anything else is read.
            reading.counters.release();
            let node = match entry {
                Entry::Node(node) => {
                    let prune = pruning.as_deref().map(|p| p.prune);
                    Node::Group(match (visit(prune, path, name), pruning.as_deref_mut()) {
                        (Visit::Prune(child), Some(pruning)) => {
                            pruning.pruned.push((child.clone(), node.stats_below()));
                            if needed {
                                let read = node.read(&child, needed, reading, None);
                                pruning.hidden.push(child);
                                read
                            } else {
                                Group {
                                    entries: Vec::new(),
                                    collapsed: node.collapsed,
                                }
                            }
                        }
                        (Visit::Read(child), pruning) => {
                            node.read(&child, needed, reading, pruning)
                        }
                        (_, _) => node.read(path, needed, reading, None),
                    })
                }
                Entry::Stat(StatCore::Aggregation(agg)) => {
                    aggregations.push((
                        group.entries.len(),
                        agg.clone(),
                        Box::new(agg.retired_now()),
                    ));
                    Node::Stat(StatSnapshot {
                        kind: agg.kind(),
                        value: crate::StatValue::Int(0),
                    })
                }
                Entry::Stat(core) => match read_stat(core, reading) {
                    Some(stat) => Node::Stat(stat),
                    // A gauge declared after the snapshot ran its gauges: next time.
                    None => continue,
                },
            };
            group.entries.push(snapshot::Entry {
                name: name.clone(),
                node,
            });
        }
        reading.counters.release();
        // Children are complete (their own aggregations included), so parents can now add them up.
        stats::aggregate(&mut group, aggregations);
        if merges_sketches {
            reading.detail = SketchDetail::Summary;
            summarize(&mut group);
        }
        group
    }

    /// The stats at every depth below this group (a keyed stat counts once), counted from
    /// the tree's structure: nothing is read, no gauge runs.
    fn stats_below(&self) -> usize {
        self.entries
            .values()
            .map(|entry| match entry {
                Entry::Node(inner) => inner.stats_below(),
                Entry::Stat(_) => 1,
            })
            .sum()
    }
}

/// How a snapshot visits a group below its root.
enum Visit {
    /// Read, at this path, asking `prune` about the groups below.
    Read(StatPath),
    /// Left unread (`prune` named it).
    Prune(StatPath),
    /// Read whole: no `prune`, or the path could not be formed.
    Whole,
}

/// How a snapshot with `prune` visits the group `name` inside the group at `path`.
fn visit(prune: Option<&Prune>, path: &StatPath, name: &Name) -> Visit {
    let Some(prune) = prune else {
        return Visit::Whole;
    };
    match path.join(name) {
        Ok(child) if prune(&child) => Visit::Prune(child),
        Ok(child) => Visit::Read(child),
        Err(_) => Visit::Whole,
    }
}

/// What a pruned read ([`TreeNode::read`]) works with and collects.
struct Pruning<'a> {
    prune: &'a Prune,
    /// The groups left unread, with the stats at every depth below them.
    pruned: Vec<(StatPath, usize)>,
    /// The groups read only for an aggregation's sum, to be emptied after it.
    hidden: Vec<StatPath>,
}

impl<'a> Pruning<'a> {
    fn new(prune: &'a Prune) -> Self {
        Self {
            prune,
            pruned: Vec::new(),
            hidden: Vec::new(),
        }
    }
}

/// Empties the group at `path` (relative names under `node`), after its parents' sums.
fn hide(node: &mut Node, names: &[Name]) {
    let Node::Group(group) = node else { return };
    match names.split_first() {
        None => group.entries.clear(),
        Some((first, rest)) => {
            if let Some(entry) = group.entries.iter_mut().find(|e| e.name == *first) {
                hide(&mut entry.node, rest);
            }
        }
    }
}

/// What a snapshot reads with: the clock, the gauges' values, evaluated up front, and how
/// much of each distribution to keep.
struct Reading<'a> {
    clock: &'a Clock,
    /// By cell address; the cells are kept alive in `cells` so that no address is reused
    /// by a gauge declared in the meantime.
    gauges: HashMap<*const stats::ValueCell, GaugeResult>,
    /// Dropped with the reading, outside the tree lock (a gauge's closure may own scopes).
    _cells: Vec<Arc<stats::ValueCell>>,
    detail: SketchDetail,
    /// Reads runs of counters under one hold of the arena lock; released before anything
    /// else is read.
    counters: CounterReader,
}

/// What a [`Registry::snapshot_with`] snapshot holds.
///
/// ```
/// let reg = scales::Registry::new();
/// let latency = reg.scope("/web")?.pmf_stat("latency")?;
/// latency.record(0.010);
/// let options = scales::SnapshotOptions::default().with_distributions(scales::SketchDetail::Summary);
/// let snapshot = reg.snapshot_with(&options);
/// let scales::StatValue::Distribution(d) = &snapshot.stat("/web/latency").unwrap().value else {
///     unreachable!()
/// };
/// assert!(!d.has_buckets());
/// assert_eq!(d.quantile(0.99), Some(0.010));
/// # Ok::<(), scales::Error>(())
/// ```
///
/// With [`with_prune`](Self::with_prune), groups are left unread: the snapshot holds them
/// empty, and [`Snapshot::pruned`] tells how many stats they hold at every depth. Their gauge closures do not
/// run, unless an aggregation above them needs their values for its sum.
///
/// ```
/// let reg = scales::Registry::new();
/// let hits = reg.scope("/open")?.int_stat("hits")?;
/// hits.add(1);
/// let _slow = reg.scope("/closed")?.gauge("slow", || 1)?;
/// let options = scales::SnapshotOptions::default().with_prune(|path| path.to_string() == "/closed");
/// let snapshot = reg.snapshot_with(&options);
/// assert!(snapshot.stat("/open/hits").is_some());
/// assert!(snapshot.stat("/closed/slow").is_none());
/// let closed = scales::StatPath::parse("/closed")?;
/// assert_eq!(snapshot.pruned(&closed), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SnapshotOptions {
    /// Distributions with their buckets (the default) or as summaries.
    pub distributions: SketchDetail,
    prune: Option<Arc<Prune>>,
}

/// Which groups a snapshot leaves unread (see [`SnapshotOptions::with_prune`]).
type Prune = dyn Fn(&StatPath) -> bool + Send + Sync;

impl fmt::Debug for SnapshotOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotOptions")
            .field("distributions", &self.distributions)
            .field("prune", &self.prune.is_some())
            .finish()
    }
}

impl SnapshotOptions {
    /// Leaves unread the groups (below the snapshot's root) for which `prune` is true, e.g.
    /// the groups a status page shows closed; their descendants are not asked about.
    pub fn with_prune(mut self, prune: impl Fn(&StatPath) -> bool + Send + Sync + 'static) -> Self {
        self.prune = Some(Arc::new(prune));
        self
    }

    /// Sets [`distributions`](Self::distributions).
    pub fn with_distributions(mut self, detail: SketchDetail) -> Self {
        self.distributions = detail;
        self
    }
}

impl<'a> Reading<'a> {
    /// Runs the listed gauges (time-boxed, see [`crate::gauges`]).
    fn new(cells: Vec<Arc<stats::ValueCell>>, clock: &'a Clock, timeout: Duration) -> Self {
        let gauges = if cells.is_empty() {
            HashMap::new()
        } else {
            let keys: Vec<_> = cells.iter().map(Arc::as_ptr).collect();
            keys.into_iter()
                .zip(gauges::evaluate(cells.clone(), timeout))
                .collect()
        };
        Self {
            clock,
            gauges,
            _cells: cells,
            detail: SketchDetail::Buckets,
            counters: CounterReader::new(),
        }
    }
}

/// Makes every distribution under `group` a summary ([`SketchDetail::Summary`]).
fn summarize(group: &mut Group) {
    for entry in &mut group.entries {
        match &mut entry.node {
            Node::Group(group) => summarize(group),
            Node::Stat(stat) => match &mut stat.value {
                crate::StatValue::Distribution(d) => d.summarize(),
                crate::StatValue::Distributions(list) => {
                    list.iter_mut().for_each(|keyed| keyed.value.summarize())
                }
                _ => {}
            },
        }
    }
}

/// One stat's snapshot; `None` for a gauge whose value `reading` lacks (declared after the
/// snapshot ran its gauges: its closure must not run under the tree lock).
fn read_stat(core: &StatCore, reading: &mut Reading<'_>) -> Option<StatSnapshot> {
    // Each gauge stands once in the tree, so its result is taken, not copied.
    let value = match core {
        StatCore::Value(cell) => match reading.gauges.remove(&Arc::as_ptr(cell)) {
            Some(Ok(value)) => crate::StatValue::Value(value),
            Some(Err(message)) => crate::StatValue::Error(message),
            None if cell.is_computed() => return None,
            None => core.read(reading.clock),
        },
        core => core.read_with(reading.clock, reading.detail),
    };
    Some(StatSnapshot {
        kind: core.kind(),
        value,
    })
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry using the system clock.
    pub fn new() -> Self {
        Self::with_clock(Clock::system())
    }

    /// An empty registry whose meters, timers and state timers read `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self {
            shared: Arc::new(Shared {
                tree: Mutex::new(Tree {
                    root: TreeNode::default(),
                    generation: 0,
                }),
                clock,
                next_owner_id: AtomicU64::new(1),
                next_child_id: AtomicU64::new(1),
                gauge_timeout_nanos: AtomicU64::new(gauges::DEFAULT_TIMEOUT.as_nanos() as u64),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        // A panic while holding the lock cannot leave the tree half-edited in a way that
        // matters to readers; keep serving.
        self.shared
            .tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock this registry's stats read.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// A new owner of the container at `path` (created if needed), to declare stats in.
    ///
    /// # Errors
    /// When the path is invalid or crosses a stat.
    pub fn scope(&self, path: &str) -> Result<Scope, Error> {
        self.scope_at(StatPath::parse(path)?)
    }

    fn scope_at(&self, path: StatPath) -> Result<Scope, Error> {
        let mut tree = self.lock();
        let generation = tree.generation;
        tree.root.node_or_create(&path)?.owners += 1;
        drop(tree);
        let id = self.shared.next_owner_id.fetch_add(1, Ordering::Relaxed);
        let owner = Arc::new(Owner {
            registry: self.clone(),
            path,
            id,
            generation,
        });
        Ok(Scope {
            lease: Lease::new(owner.clone()),
            owner,
        })
    }

    /// A global collection at `path` (created if needed): its stats stay in the tree for the
    /// life of the registry, whatever happens to the handles (the original's
    /// `scales.collection`). Use [`scope`](Self::scope) for an object's stats, which leave
    /// the tree with the object.
    ///
    /// # Errors
    /// When the path is invalid or crosses a stat.
    pub fn collection(&self, path: &str) -> Result<Scope, Error> {
        let path = StatPath::parse(path)?;
        self.lock().root.node_or_create(&path)?.pinned = true;
        self.scope_at(path)
    }

    /// Declares the stat set `T` (usually `#[derive(Stats)]`) at `path`.
    ///
    /// # Errors
    /// When the path or a stat name is invalid, or clashes with something of another kind.
    pub fn init<T: Stats>(&self, path: &str) -> Result<StatSet<T>, Error> {
        StatSet::declare(self.scope(path)?)
    }

    /// Marks the container at `path` (created if needed) as collapsed: views fold it.
    ///
    /// # Errors
    /// When the path is invalid or crosses a stat.
    pub fn set_collapsed(&self, path: &str, collapsed: bool) -> Result<(), Error> {
        let path = StatPath::parse(path)?;
        self.lock().root.node_or_create(&path)?.collapsed = collapsed;
        Ok(())
    }

    /// A snapshot of the whole tree.
    ///
    /// Gauges are run on worker threads and waited for at most the
    /// [gauge timeout](Self::set_gauge_timeout) each; one that takes longer reads as an error.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_with(&SnapshotOptions::default())
    }

    /// A snapshot of the whole tree as `options` ask, e.g. distributions as summaries only
    /// (much less memory and time on big trees; see [`SketchDetail`]).
    pub fn snapshot_with(&self, options: &SnapshotOptions) -> Snapshot {
        let root_path = StatPath::root();
        let prune = options.prune.as_deref();
        // The gauges run first, outside the lock; then the tree is read in place under it
        // (no copy of its structure, no reference count touched per stat).
        let mut gauges = Vec::new();
        self.lock()
            .root
            .gauges(&root_path, false, prune, &mut gauges);
        let mut reading = Reading::new(gauges, self.clock(), self.gauge_timeout());
        reading.detail = options.distributions;
        let mut pruning = prune.map(Pruning::new);
        let group = self
            .lock()
            .root
            .read(&root_path, false, &mut reading, pruning.as_mut());
        let mut root = Node::Group(group);
        let pruned = pruning.map_or_else(Vec::new, |pruning| {
            for path in &pruning.hidden {
                hide(&mut root, path.names());
            }
            pruning.pruned
        });
        let mut snapshot = Snapshot::new(root_path, root, self.clock().wall_time());
        snapshot.pruned = pruned;
        snapshot
    }

    /// How long a snapshot waits for each gauge closure (1 s by default). A gauge that
    /// takes longer reads as `{"error": "gauge timed out: ..."}` in that snapshot, and later
    /// snapshots do not wait for it until it has returned; other stats are not affected.
    pub fn set_gauge_timeout(&self, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.shared
            .gauge_timeout_nanos
            .store(nanos, Ordering::Relaxed);
    }

    /// The current gauge timeout (see [`set_gauge_timeout`](Self::set_gauge_timeout)).
    pub fn gauge_timeout(&self) -> Duration {
        Duration::from_nanos(self.shared.gauge_timeout_nanos.load(Ordering::Relaxed))
    }

    /// A snapshot of the container or stat at `path`; `None` if nothing is there.
    pub fn snapshot_at(&self, path: &str) -> Option<Snapshot> {
        self.snapshot_at_with(path, &SnapshotOptions::default())
    }

    /// [`snapshot_at`](Self::snapshot_at) as `options` ask (see [`snapshot_with`](Self::snapshot_with)).
    pub fn snapshot_at_with(&self, path: &str, options: &SnapshotOptions) -> Option<Snapshot> {
        let path = StatPath::parse(path).ok()?;
        let Some((last, parent)) = path.split_last() else {
            return Some(self.snapshot_with(options));
        };
        let prune = options.prune.as_deref();
        let mut gauges = Vec::new();
        {
            let tree = self.lock();
            let parent_node = tree.root.node(parent)?;
            match parent_node.entries.get(last.as_str())? {
                Entry::Node(node) => node.gauges(&path, false, prune, &mut gauges),
                // A stat may be an aggregation of its siblings: its container is read.
                Entry::Stat(_) => parent_node.gauges(&path, false, None, &mut gauges),
            }
        }
        let mut reading = Reading::new(gauges, self.clock(), self.gauge_timeout());
        reading.detail = options.distributions;
        let mut pruning = prune.map(Pruning::new);
        let (group, is_stat) = {
            let tree = self.lock();
            let parent_node = tree.root.node(parent)?;
            match parent_node.entries.get(last.as_str())? {
                Entry::Node(node) => (
                    node.read(&path, false, &mut reading, pruning.as_mut()),
                    false,
                ),
                Entry::Stat(_) => (parent_node.read(&path, false, &mut reading, None), true),
            }
        };
        let mut root = Node::Group(group);
        let pruned = pruning.map_or_else(Vec::new, |pruning| {
            for hide_at in &pruning.hidden {
                hide(&mut root, &hide_at.names()[path.names().len()..]);
            }
            pruning.pruned
        });
        let node = match root {
            Node::Group(mut group) if is_stat => {
                let index = group.entries.iter().position(|e| e.name == *last)?;
                group.entries.swap_remove(index).node
            }
            node => node,
        };
        let mut snapshot = Snapshot::new(path, node, self.clock().wall_time());
        snapshot.pruned = pruned;
        Some(snapshot)
    }

    /// Removes every stat and container. Meant for tests: handles declared before keep
    /// working but are no longer in the tree.
    pub fn reset(&self) {
        let old = {
            let mut tree = self.lock();
            tree.generation += 1;
            std::mem::take(&mut tree.root)
        };
        // Dropped outside the lock: gauge closures may own scopes.
        drop(old);
    }

    #[cfg(feature = "json")]
    /// Writes the whole tree as JSON to `path`, atomically (see [`dump::dump_stats_to`](crate::dump_stats_to)).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn dump_to(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        crate::dump::write_dump(&self.snapshot(), path.as_ref())
    }

    fn release(&self, owner: &Owner) {
        let mut removed = Vec::new();
        {
            let mut tree = self.lock();
            if tree.generation != owner.generation {
                return;
            }
            let Some(node) = tree.root.node_mut(&owner.path) else {
                return;
            };
            node.owners = node.owners.saturating_sub(1);
            if node.owners == 0 && !node.pinned {
                let entries = std::mem::take(&mut node.entries);
                for (name, entry) in entries {
                    match entry {
                        Entry::Stat(core) => removed.push((name, core)),
                        node_entry => {
                            node.entries.insert(name, node_entry);
                        }
                    }
                }
                for (_, core) in &removed {
                    tree.root.census(&owner.path, core, false);
                }
                for (name, core) in &removed {
                    if let Some(contribution) = core.final_contribution() {
                        if let Some(agg) = tree.root.aggregation_above(&owner.path, name) {
                            agg.absorb(&contribution);
                        }
                    }
                }
                tree.root.prune(&owner.path);
            }
        }
        // Dropped outside the lock: gauge closures may own scopes.
        drop(removed);
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("clock", self.clock())
            .finish_non_exhaustive()
    }
}

/// Keeps a container owned; shared by a [`Scope`] and every stat declared through it.
pub(crate) struct Owner {
    registry: Registry,
    path: StatPath,
    id: u64,
    generation: u64,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.registry.clone().release(self);
    }
}

/// One owner of a container in the tree — an object's stats, or a global collection.
///
/// Declare stats by name with the typed methods ([`int_stat`](Self::int_stat),
/// [`pmf_stat`](Self::pmf_stat), ...) or all at once with a `#[derive(Stats)]` struct
/// ([`init_child`](Self::init_child)). Declaring a name twice gives the same stat.
/// Cloning a scope gives another handle to the same owner.
///
/// ```
/// let reg = scales::Registry::new();
/// let web = reg.scope("/web")?;
/// let a = web.int_stat("errors")?;
/// let b = web.int_stat("errors")?; // the same stat
/// a.inc();
/// b.inc();
/// assert_eq!(a.get(), 2);
/// assert!(web.pmf_stat("errors").is_err()); // another kind at the same path
/// assert!(web.int_stat("bad/name").is_err());
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct Scope {
    owner: Arc<Owner>,
    /// What the scope's stats hold to keep the owner (one per scope, shared by its stats).
    lease: Lease,
}

impl Scope {
    /// The registry this scope belongs to.
    pub fn registry(&self) -> &Registry {
        &self.owner.registry
    }

    /// This scope's path, such as `/processor/thread-0`.
    pub fn path(&self) -> &StatPath {
        &self.owner.path
    }

    /// A number unique to this scope (to this object) within the process.
    pub fn id(&self) -> u64 {
        self.owner.id
    }

    pub(crate) fn path_of(&self, name: &str) -> String {
        format!(
            "{}/{name}",
            DisplayPath(&self.owner.path)
                .to_string()
                .trim_end_matches('/')
        )
    }

    /// Finds or creates the stat `name` here; `make` builds new storage.
    pub(crate) fn declare_core(
        &self,
        name: &str,
        kind: StatKind,
        make: impl FnOnce(&Clock) -> StatCore,
    ) -> Result<StatCore, Error> {
        validate_name(name)?;
        let registry = self.registry();
        let mut tree = registry.lock();
        let node = tree.root.node_or_create(&self.owner.path)?;
        match node.entries.get(name) {
            Some(Entry::Stat(core)) => Ok(core.clone()),
            Some(Entry::Node(_)) => Err(Error::KindMismatch {
                path: self.path_of(name),
                existing: EntryKind::Container,
                requested: EntryKind::Stat(kind),
            }),
            None => {
                let core = make(registry.clock());
                node.entries
                    .insert(Name::from(name), Entry::Stat(core.clone()));
                tree.root.census(&self.owner.path, &core, true);
                Ok(core)
            }
        }
    }

    /// A child object's scope at `relative_path` below this one (the original's `initChild`).
    /// Stats of children aggregate into this scope's aggregation stats.
    ///
    /// # Errors
    /// When the path is invalid or crosses a stat.
    pub fn child(&self, relative_path: &str) -> Result<Scope, Error> {
        let relative = StatPath::parse(relative_path)?;
        if relative.is_empty() {
            return Err(PathError::EmptyName.into());
        }
        let mut path = self.owner.path.clone();
        path.extend(&relative);
        self.registry().scope_at(path)
    }

    /// A child scope at `name/<n>`, where `n` is a number unique within the registry
    /// (the original's `initChildOfType`).
    ///
    /// # Errors
    /// When `name` is invalid or the path crosses a stat.
    pub fn child_of_type(&self, name: &str) -> Result<Scope, Error> {
        validate_name(name)?;
        let n = self
            .registry()
            .shared
            .next_child_id
            .fetch_add(1, Ordering::Relaxed);
        self.child(&format!("{name}/{n}"))
    }

    /// Declares the stat set `T` in a child scope (see [`child`](Self::child)).
    ///
    /// # Errors
    /// As [`child`](Self::child), and when a stat of `T` clashes with an existing one.
    pub fn init_child<T: Stats>(&self, relative_path: &str) -> Result<StatSet<T>, Error> {
        StatSet::declare(self.child(relative_path)?)
    }

    /// Declares the stat set `T` in a numbered child scope (see [`child_of_type`](Self::child_of_type)).
    ///
    /// # Errors
    /// As [`child_of_type`](Self::child_of_type), and when a stat of `T` clashes.
    pub fn init_child_of_type<T: Stats>(&self, name: &str) -> Result<StatSet<T>, Error> {
        StatSet::declare(self.child_of_type(name)?)
    }

    /// Marks this container as collapsed: views show it folded (JSON leaves it out of its
    /// parent; the HTML page shows a link).
    pub fn set_collapsed(&self, collapsed: bool) {
        let mut tree = self.registry().lock();
        if let Ok(node) = tree.root.node_or_create(&self.owner.path) {
            node.collapsed = collapsed;
        }
    }

    /// Declares (or finds) a stat of type `S`.
    ///
    /// # Errors
    /// When `name` is invalid or another kind lives there.
    pub fn declare<S: Declare>(&self, name: &str) -> Result<S, Error> {
        S::declare(self, name, StatOptions::default())
    }

    /// Declares (or finds) a stat of type `S` with options.
    ///
    /// # Errors
    /// When `name` is invalid or another kind lives there.
    pub fn declare_with<S: Declare>(&self, name: &str, options: StatOptions) -> Result<S, Error> {
        S::declare(self, name, options)
    }
}

macro_rules! declare_methods {
    ($($(#[$doc:meta])* $method:ident -> $ty:ident;)*) => {
        impl Scope {$(
            $(#[$doc])*
            ///
            /// # Errors
            /// When `name` is invalid or another kind of stat (or a container) lives there.
            pub fn $method(&self, name: &str) -> Result<stats::$ty, Error> {
                self.declare(name)
            }
        )*}
    };
}

declare_methods! {
    /// Declares an [`IntStat`](crate::IntStat).
    int_stat -> IntStat;
    /// Declares a [`CounterStat`](crate::CounterStat) (exported to Prometheus as a counter).
    counter_stat -> CounterStat;
    /// Declares a [`DoubleStat`](crate::DoubleStat).
    double_stat -> DoubleStat;
    /// Declares a value-holding [`Stat`](crate::Stat) (null until set).
    stat -> Stat;
    /// Declares an [`IntDictStat`](crate::IntDictStat) that keeps zero entries.
    int_dict_stat -> IntDictStat;
    /// Declares a [`StringDictStat`](crate::StringDictStat).
    string_dict_stat -> StringDictStat;
    /// Declares a [`PmfStat`](crate::PmfStat).
    pmf_stat -> PmfStat;
    /// Declares a [`NamedPmfDictStat`](crate::NamedPmfDictStat).
    named_pmf_dict_stat -> NamedPmfDictStat;
    /// Declares a [`MeterStat`](crate::MeterStat).
    meter_stat -> MeterStat;
    /// Declares a [`MeterDictStat`](crate::MeterDictStat).
    meter_dict_stat -> MeterDictStat;
    /// Declares a [`StateTimeStat`](crate::StateTimeStat).
    state_time_stat -> StateTimeStat;
    /// Declares a [`SumAggregationStat`](crate::SumAggregationStat).
    sum_aggregation_stat -> SumAggregationStat;
    /// Declares a [`HistogramAggregationStat`](crate::HistogramAggregationStat) that keeps
    /// emptied states at 0.
    histogram_aggregation_stat -> HistogramAggregationStat;
    /// Declares an [`IntDictSumAggregationStat`](crate::IntDictSumAggregationStat).
    int_dict_sum_aggregation_stat -> IntDictSumAggregationStat;
    /// Declares a [`PmfAggregationStat`](crate::PmfAggregationStat).
    pmf_aggregation_stat -> PmfAggregationStat;
}

impl Scope {
    /// Declares a gauge: a [`Stat`](crate::Stat) whose value `f` computes at each snapshot.
    ///
    /// # Errors
    /// When `name` is invalid or another kind lives there.
    pub fn gauge<V, F>(&self, name: &str, f: F) -> Result<stats::Stat, Error>
    where
        V: Into<crate::Value>,
        F: Fn() -> V + Send + Sync + 'static,
    {
        let stat: stats::Stat = self.declare(name)?;
        stat.set_fn(f);
        Ok(stat)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("path", &self.path())
            .field("id", &self.id())
            .finish()
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

/// Declares (or finds) a stat of type `T` named `name` in `scope`: the one declaration path
/// of every stat type.
fn declare_stat<T: StatType>(scope: &Scope, name: &str, options: StatOptions) -> Result<T, Error> {
    let kind = T::kind(options);
    let path = || scope.path_of(name);
    let core = scope.declare_core(name, kind, |clock| {
        T::new_core(&Place { clock, path: &path }, options)
    })?;
    let found = core.kind();
    let lease = scope.lease.clone();
    (found == kind)
        .then(|| T::handle(core, lease))
        .flatten()
        .ok_or_else(|| Error::KindMismatch {
            path: path(),
            existing: EntryKind::Stat(found),
            requested: EntryKind::Stat(kind),
        })
}

macro_rules! declare_stat_types {
    ($($ty:ident),* $(,)?) => {$(
        impl Declare for stats::$ty {
            fn declare(scope: &Scope, name: &str, options: StatOptions) -> Result<Self, Error> {
                declare_stat(scope, name, options)
            }
        }
    )*};
}

declare_stat_types!(
    IntStat,
    CounterStat,
    DoubleStat,
    Stat,
    IntDictStat,
    StringDictStat,
    PmfStat,
    NamedPmfDictStat,
    MeterStat,
    MeterDictStat,
    StateTimeStat,
    SumAggregationStat,
    HistogramAggregationStat,
    IntDictSumAggregationStat,
    PmfAggregationStat,
);

/// A struct of stats declared together in one scope; implemented by `#[derive(Stats)]`.
pub trait Stats: Sized {
    /// Declares every stat of the set in `scope`.
    ///
    /// # Errors
    /// When a stat name is invalid or clashes with an existing stat of another kind.
    fn declare_in(scope: &Scope) -> Result<Self, Error>;

    /// The names the set's stats are declared under, in field order.
    fn stat_names(&self) -> Vec<&'static str>;
}

/// A declared stat set together with its scope; dereferences to the stats.
///
/// Dropping it (with every clone of its stats) removes its stats from the tree.
pub struct StatSet<T> {
    stats: T,
    scope: Scope,
}

impl<T: Stats> StatSet<T> {
    fn declare(scope: Scope) -> Result<Self, Error> {
        Ok(Self {
            stats: T::declare_in(&scope)?,
            scope,
        })
    }
}

impl<T> StatSet<T> {
    /// The scope the stats live in, to declare children or more stats.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Declares a child stat set (see [`Scope::init_child`]).
    ///
    /// # Errors
    /// As [`Scope::init_child`].
    pub fn init_child<U: Stats>(&self, relative_path: &str) -> Result<StatSet<U>, Error> {
        self.scope.init_child(relative_path)
    }

    /// Declares a numbered child stat set (see [`Scope::init_child_of_type`]).
    ///
    /// # Errors
    /// As [`Scope::init_child_of_type`].
    pub fn init_child_of_type<U: Stats>(&self, name: &str) -> Result<StatSet<U>, Error> {
        self.scope.init_child_of_type(name)
    }
}

impl<T> Deref for StatSet<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.stats
    }
}

impl<T: fmt::Debug> fmt::Debug for StatSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatSet")
            .field("scope", &self.scope)
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The census (held values and gauges below each group, aggregations in it) stays equal
    /// to a count of the tree through random declarations and releases.
    #[test]
    fn census_follows_declarations_and_releases() {
        let mut rng = SmallRng::seed_from_u64(11);
        let registry = Registry::new();
        let paths = ["/a", "/a/b", "/a/b/c", "/d", "/a/e"];
        let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
        for step in 0..2_000 {
            if rng.random_bool(0.3) && !held.is_empty() {
                let index = rng.random_range(0..held.len());
                drop(held.swap_remove(index));
            } else {
                let scope = registry
                    .scope(paths[rng.random_range(0..paths.len())])
                    .expect("valid path");
                let name = format!("s{}", rng.random_range(0..6));
                // A name already declared as another kind is refused, which is fine here.
                let handle: Option<Box<dyn std::any::Any>> = match rng.random_range(0..6) {
                    0 => scope.int_stat(&name).ok().map(|s| Box::new(s) as _),
                    1 => scope.stat(&name).ok().map(|s| Box::new(s) as _),
                    2 => scope
                        .gauge(&name, move || step)
                        .ok()
                        .map(|s| Box::new(s) as _),
                    3 => scope
                        .sum_aggregation_stat(&name)
                        .ok()
                        .map(|s| Box::new(s) as _),
                    4 => scope
                        .pmf_aggregation_stat(&name)
                        .ok()
                        .map(|s| Box::new(s) as _),
                    _ => scope.pmf_stat(&name).ok().map(|s| Box::new(s) as _),
                };
                held.extend(handle);
                if rng.random_bool(0.5) {
                    held.push(Box::new(scope));
                }
            }
            registry.lock().root.check_census();
        }
        let declared = registry.lock().root.check_census();
        assert!(declared > 0, "the walk left some values declared");
        drop(held);
        assert_eq!(registry.lock().root.check_census(), 0);
    }
}
