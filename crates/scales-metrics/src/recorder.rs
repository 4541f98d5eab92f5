//! [`ScalesRecorder`]: the `metrics::Recorder` over a scales [`Registry`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indexmap::IndexMap;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use scales::{
    CounterStat, EntryKind, Error, IntDictStat, NamedPmfDictStat, PathError, Registry, Scope,
    StatKind, StatOptions, StatPath, StringDictStat, Value,
};

use crate::cache::{self, Handle, Probe, Striped};
use crate::handles::{
    CounterHandle, CounterTarget, GaugeHandle, GaugeTarget, HistogramHandle, HistogramTarget,
    KeyedGauges,
};
use crate::names;

/// Where the recorder's own stats live, whatever its prefix.
pub const INTERNAL_PATH: &str = "/scales/metrics";

/// Label sets kept per metric unless [`ScalesRecorder::with_max_label_sets`] says otherwise:
/// further label sets record under [`scales::OVERFLOW_KEY`], so totals stay exact and a
/// label fed from outside (a user id, a raw path) cannot grow memory without bound.
pub const DEFAULT_MAX_LABEL_SETS: usize = 10_000;

/// Source of recorder ids (for the per-thread caches): never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A [`metrics::Recorder`] that records into a scales [`Registry`]: what `metrics::counter!`,
/// `gauge!` and `histogram!` record anywhere in the program — dependencies included — appears
/// in the stat tree (see the [crate documentation](crate) for the mapping).
///
/// Cloning gives another handle to the same recorder.
///
/// ```
/// let registry = scales::Registry::new();
/// let recorder = scales_metrics::ScalesRecorder::new(&registry).with_prefix("/app")?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("http.requests", "path" => "/a").increment(2);
/// });
/// let snapshot = registry.snapshot();
/// let requests = snapshot.stat("/app/http/requests").unwrap();
/// assert_eq!(requests.value, scales::StatValue::Counts(vec![("/a", 2).into()]));
/// # Ok::<(), scales::PathError>(())
/// ```
#[derive(Clone)]
pub struct ScalesRecorder {
    inner: Arc<Inner>,
}

/// The `metrics` maps' hasher: a [`Key`] hashes as its precomputed hash, once.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `Key`s, which only write their hash; kept correct anyway.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Each kind's shared map. `None`: the key records nowhere (its stat could not be declared).
type HandleMap<H> = papaya::HashMap<Key, Option<Striped<H>>, BuildHasherDefault<KeyHasher>>;

struct Inner {
    id: u64,
    registry: Registry,
    prefix: StatPath,
    stripes: usize,
    counters: HandleMap<CounterHandle>,
    gauges: HandleMap<GaugeHandle>,
    histograms: HandleMap<HistogramHandle>,
    /// Everything that only registrations and descriptions touch.
    cold: Mutex<Cold>,
    /// The recorder's own stats at [`INTERNAL_PATH`]; `None` if something else lives there.
    internal: Option<Internal>,
}

#[derive(Default)]
struct Cold {
    /// Names that had to be sanitised, each counted once.
    invalid: HashSet<String>,
    /// Label sets kept per metric ([`ScalesRecorder::with_max_label_sets`]).
    max_label_sets: usize,
    /// Names whose stat could not be declared, each counted (and logged) once.
    conflicting: HashSet<String>,
    /// The keyed gauges, by path.
    keyed_gauges: HashMap<StatPath, Arc<KeyedGauges>>,
    descriptions: IndexMap<String, Description>,
}

struct Internal {
    invalid_names: CounterStat,
    conflicts: CounterStat,
    descriptions: StringDictStat,
}

impl Internal {
    fn declare(registry: &Registry) -> Result<Self, Error> {
        let scope = registry.collection(INTERNAL_PATH)?;
        Ok(Self {
            invalid_names: scope.counter_stat("invalid_names")?,
            conflicts: scope.counter_stat("conflicts")?,
            descriptions: scope.string_dict_stat("descriptions")?,
        })
    }
}

/// A metric kind of the `metrics` facade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// `counter!`: a scales `CounterStat`, or an `IntDictStat` with labels.
    Counter,
    /// `gauge!`: a scales `DoubleStat`, or a map-valued `Stat` with labels.
    Gauge,
    /// `histogram!`: a scales `PmfStat`, or a `NamedPmfDictStat` with labels.
    Histogram,
}

impl MetricKind {
    fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `metrics::describe_counter!` (or `describe_gauge!`, `describe_histogram!`) said about
/// a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// The metric's name, as given.
    pub name: String,
    /// The kind it was described as.
    pub kind: MetricKind,
    /// The path of its stat.
    pub path: StatPath,
    /// Its unit, if one was given.
    pub unit: Option<Unit>,
    /// The description.
    pub text: String,
}

impl Description {
    /// The description as the `descriptions` stat shows it: the text, then the unit in
    /// brackets (`Requests served [count]`).
    pub fn to_text(&self) -> String {
        match self.unit {
            Some(unit) => format!("{} [{}]", self.text, unit.as_str()),
            None => self.text.clone(),
        }
    }
}

/// Why [`ScalesRecorder::install`] did not install the recorder.
#[derive(Debug, thiserror::Error)]
#[error("a global `metrics` recorder is already installed; the scales recorder was not installed")]
pub struct InstallError {
    _private: (),
}

/// Installs a recorder over the global scales registry ([`scales::registry`]) as the global
/// `metrics` recorder, and returns it.
///
/// # Errors
/// When a global `metrics` recorder is already installed (this one or another).
pub fn install_global() -> Result<ScalesRecorder, InstallError> {
    let recorder = ScalesRecorder::new(scales::registry());
    recorder.install()?;
    Ok(recorder)
}

impl ScalesRecorder {
    /// A recorder over `registry`, with stats at the paths of their names (no prefix).
    ///
    /// Its own stats are declared at once at [`INTERNAL_PATH`]: `invalid_names` (metric
    /// names that had to be sanitised), `conflicts` (metrics whose stat could not be
    /// declared, and that record nothing) and `descriptions`.
    pub fn new(registry: &Registry) -> Self {
        Self::build(registry.clone(), StatPath::root(), DEFAULT_MAX_LABEL_SETS)
    }

    /// A recorder over the same registry that keeps at most `max` label sets per metric
    /// ([`DEFAULT_MAX_LABEL_SETS`] by default); values of further label sets record under
    /// [`scales::OVERFLOW_KEY`] and each stat's `overflowed_keys()` counts them. Meant for
    /// building: the new recorder starts empty.
    pub fn with_max_label_sets(self, max: usize) -> Self {
        Self::build(self.inner.registry.clone(), self.inner.prefix.clone(), max)
    }

    /// A recorder over the same registry that puts every stat below `prefix` (`"/app"`:
    /// `http.requests` records into `/app/http/requests`). Meant for building: the new
    /// recorder starts empty.
    ///
    /// # Errors
    /// When `prefix` is not a valid path.
    pub fn with_prefix(self, prefix: &str) -> Result<Self, PathError> {
        let prefix = StatPath::parse(prefix)?;
        let max = self.inner.cold().max_label_sets;
        Ok(Self::build(self.inner.registry.clone(), prefix, max))
    }

    fn build(registry: Registry, prefix: StatPath, max_label_sets: usize) -> Self {
        let internal = Internal::declare(&registry)
            .inspect_err(|e| {
                log::warn!(
                    "scales-metrics: cannot declare the recorder's own stats at {INTERNAL_PATH} ({e}); \
                     invalid names and conflicts are still logged"
                );
            })
            .ok();
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                registry,
                prefix,
                stripes: cache::stripes(),
                counters: HandleMap::default(),
                gauges: HandleMap::default(),
                histograms: HandleMap::default(),
                cold: Mutex::new(Cold {
                    max_label_sets,
                    ..Cold::default()
                }),
                internal,
            }),
        }
    }

    /// Installs this recorder as the global `metrics` recorder (a clone of it: this one
    /// stays usable for [`description`](Self::description) and the like).
    ///
    /// # Errors
    /// When a global `metrics` recorder is already installed (this one or another).
    pub fn install(&self) -> Result<(), InstallError> {
        metrics::set_global_recorder(self.clone()).map_err(|_| InstallError { _private: () })
    }

    /// The registry the stats are declared in.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The path every stat is declared below (the root without a prefix).
    pub fn prefix(&self) -> &StatPath {
        &self.inner.prefix
    }

    /// The path of the stat that the metric `name` records into (sanitised as described in
    /// the [crate documentation](crate)).
    ///
    /// ```
    /// let recorder = scales_metrics::ScalesRecorder::new(&scales::Registry::new());
    /// assert_eq!(recorder.path_of("http.requests").unwrap(), "/http/requests");
    /// assert_eq!(recorder.path_of("a..b").unwrap(), "/a/_/b");
    /// ```
    pub fn path_of(&self, name: &str) -> Option<StatPath> {
        names::path_of(&self.inner.prefix, name)
            .ok()
            .map(|(path, _)| path)
    }

    /// The last description given for the metric `name`.
    pub fn description(&self, name: &str) -> Option<Description> {
        self.inner.cold().descriptions.get(name).cloned()
    }

    /// Every metric's last description, in the order the metrics were first described.
    pub fn descriptions(&self) -> Vec<Description> {
        self.inner.cold().descriptions.values().cloned().collect()
    }
}

impl fmt::Debug for ScalesRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalesRecorder")
            .field("prefix", &self.inner.prefix)
            .field("counters", &self.inner.counters.len())
            .field("gauges", &self.inner.gauges.len())
            .field("histograms", &self.inner.histograms.len())
            .finish_non_exhaustive()
    }
}

impl Recorder for ScalesRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe(MetricKind::Counter, &key, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe(MetricKind::Gauge, &key, unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner
            .describe(MetricKind::Histogram, &key, unit, &description);
    }

    #[inline]
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.inner
            .handle::<CounterHandle>(key)
            .map_or_else(Counter::noop, Counter::from_arc)
    }

    #[inline]
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.inner
            .handle::<GaugeHandle>(key)
            .map_or_else(Gauge::noop, Gauge::from_arc)
    }

    #[inline]
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.inner
            .handle::<HistogramHandle>(key)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

/// The handle of thread slot `slot` in a shared entry, and the entry's key.
fn pick<H: Handle>(entry: &Option<Striped<H>>, slot: usize) -> Option<(Arc<H>, Key)> {
    entry
        .as_ref()
        .map(|striped| (striped.get(slot).clone(), striped.key().clone()))
}

/// A handle kind as the recorder registers it: its map, and how its stat is declared.
trait Register: Handle {
    const KIND: MetricKind;

    fn map(inner: &Inner) -> &HandleMap<Self>;

    /// Declares the stat at `place`, keyed by `labels` if there are any.
    fn declare(
        cold: &mut Cold,
        place: &Place,
        labels: Option<String>,
    ) -> Result<Self::Target, Error>;
}

/// Where a metric's stat goes.
struct Place {
    scope: Scope,
    leaf: String,
    path: StatPath,
}

impl Register for CounterHandle {
    const KIND: MetricKind = MetricKind::Counter;

    fn map(inner: &Inner) -> &HandleMap<Self> {
        &inner.counters
    }

    fn declare(
        cold: &mut Cold,
        place: &Place,
        labels: Option<String>,
    ) -> Result<CounterTarget, Error> {
        let Some(key) = labels else {
            return match place.scope.counter_stat(&place.leaf) {
                Ok(stat) => Ok(CounterTarget::Counter(stat)),
                // The program's own scales counter: count into it.
                Err(Error::KindMismatch {
                    existing: EntryKind::Stat(StatKind::IntStat),
                    ..
                }) => place.scope.int_stat(&place.leaf).map(CounterTarget::Int),
                Err(e) => Err(e),
            };
        };
        let options = StatOptions::default().with_max_keys(cold.max_label_sets);
        let dict: IntDictStat = place.scope.declare_with(&place.leaf, options)?;
        Ok(CounterTarget::Keyed(dict.key(&key)))
    }
}

impl Register for GaugeHandle {
    const KIND: MetricKind = MetricKind::Gauge;

    fn map(inner: &Inner) -> &HandleMap<Self> {
        &inner.gauges
    }

    fn declare(
        cold: &mut Cold,
        place: &Place,
        labels: Option<String>,
    ) -> Result<GaugeTarget, Error> {
        let Some(key) = labels else {
            return place
                .scope
                .double_stat(&place.leaf)
                .map(GaugeTarget::Double);
        };
        if let Some(gauges) = cold.keyed_gauges.get(&place.path) {
            return Ok(GaugeTarget::Keyed(gauges.cell(&key)));
        }
        let stat = place.scope.stat(&place.leaf)?;
        // A `Stat` that already holds something is another owner's (a program's gauge, or
        // another recorder's keyed gauge): leave it alone.
        if !matches!(stat.get(), Ok(Value::Null)) {
            return Err(Error::KindMismatch {
                path: place.path.to_string(),
                existing: EntryKind::Stat(StatKind::Stat),
                requested: EntryKind::Stat(StatKind::Stat),
            });
        }
        let gauges = Arc::new(KeyedGauges::with_max_keys(cold.max_label_sets));
        let cell = gauges.cell(&key);
        cold.keyed_gauges.insert(place.path.clone(), gauges.clone());
        stat.set_fn(move || gauges.value());
        Ok(GaugeTarget::Keyed(cell))
    }
}

impl Register for HistogramHandle {
    const KIND: MetricKind = MetricKind::Histogram;

    fn map(inner: &Inner) -> &HandleMap<Self> {
        &inner.histograms
    }

    fn declare(
        cold: &mut Cold,
        place: &Place,
        labels: Option<String>,
    ) -> Result<HistogramTarget, Error> {
        let Some(key) = labels else {
            return place.scope.pmf_stat(&place.leaf).map(HistogramTarget::Pmf);
        };
        let options = StatOptions::default().with_max_keys(cold.max_label_sets);
        let dict: NamedPmfDictStat = place.scope.declare_with(&place.leaf, options)?;
        Ok(HistogramTarget::Keyed(dict.key(&key)))
    }
}

impl Inner {
    fn cold(&self) -> MutexGuard<'_, Cold> {
        // Every update of `Cold` leaves it consistent: a panic elsewhere does not matter.
        self.cold.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle for `key`: from this thread's cache, else from the shared map, else newly
    /// registered. `None` when the key records nowhere.
    #[inline]
    fn handle<H: Register>(&self, key: &Key) -> Option<Arc<H>> {
        match cache::probe::<H>(self.id, key) {
            Probe::Hit(handle) => Some(handle),
            Probe::Miss { slot } => {
                let (handle, retained) = self.shared::<H>(key, slot)?;
                cache::fill(self.id, retained, handle.clone());
                Some(handle)
            }
            Probe::Unavailable => self.shared::<H>(key, 0).map(|(handle, _)| handle),
        }
    }

    /// The handle for `key` from the shared map (registered if new), with the key's retained
    /// form for the thread's cache.
    #[cold]
    fn shared<H: Register>(&self, key: &Key, slot: usize) -> Option<(Arc<H>, Key)> {
        if let Some(entry) = H::map(self).pin().get(key) {
            return pick(entry, slot);
        }
        self.register::<H>(key, slot)
    }

    /// Declares `key`'s stat and enters its handle in the shared map.
    fn register<H: Register>(&self, key: &Key, slot: usize) -> Option<(Arc<H>, Key)> {
        let mut warnings = Vec::new();
        let handle = {
            let mut cold = self.cold();
            let map = H::map(self).pin();
            // Another thread may have registered it since the lookup.
            if let Some(entry) = map.get(key) {
                return pick(entry, slot);
            }
            let target = self.declare::<H>(&mut cold, key, &mut warnings);
            // Retained once: the entry's copy and the map's share their allocations.
            let key = key.to_retained();
            let striped = target.map(|target| Striped::<H>::new(&key, target, self.stripes));
            let handle = pick(&striped, slot);
            map.insert(key, striped);
            handle
        };
        // Logged without the lock held: a logger may itself record metrics.
        for warning in warnings {
            log::warn!("{warning}");
        }
        handle
    }

    fn declare<H: Register>(
        &self,
        cold: &mut Cold,
        key: &Key,
        warnings: &mut Vec<String>,
    ) -> Option<H::Target> {
        let name = key.name();
        let declared = self.place(cold, name, warnings).and_then(|place| {
            H::declare(cold, &place, names::label_key(key)).map_err(|e| (place.path, e))
        });
        match declared {
            Ok(target) => Some(target),
            Err((path, error)) => {
                if cold.conflicting.insert(name.to_owned()) {
                    if let Some(internal) = &self.internal {
                        internal.conflicts.inc();
                    }
                    warnings.push(format!(
                        "scales-metrics: {kind} {name:?} records nothing: its stat cannot be declared at {path} ({error})",
                        kind = H::KIND,
                    ));
                }
                None
            }
        }
    }

    /// The scope and name of `name`'s stat.
    fn place(
        &self,
        cold: &mut Cold,
        name: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Place, (StatPath, Error)> {
        let path = self.path(cold, name, warnings)?;
        let leaf = path.names().last().map(ToString::to_string);
        let (Some(parent), Some(leaf)) = (path.parent(), leaf) else {
            return Err((path, PathError::EmptyName.into()));
        };
        match self.registry.collection(&parent.to_string()) {
            Ok(scope) => Ok(Place { scope, leaf, path }),
            Err(e) => Err((path, e)),
        }
    }

    /// `name`'s path; counts and reports a sanitised name (once per name).
    fn path(
        &self,
        cold: &mut Cold,
        name: &str,
        warnings: &mut Vec<String>,
    ) -> Result<StatPath, (StatPath, Error)> {
        let (path, sanitised) =
            names::path_of(&self.prefix, name).map_err(|e| (self.prefix.clone(), e.into()))?;
        if sanitised && cold.invalid.insert(name.to_owned()) {
            if let Some(internal) = &self.internal {
                internal.invalid_names.inc();
            }
            warnings.push(format!(
                "scales-metrics: metric name {name:?} is not a valid scales path; it records into {path}"
            ));
        }
        Ok(path)
    }

    fn describe(&self, kind: MetricKind, name: &KeyName, unit: Option<Unit>, text: &str) {
        let mut warnings = Vec::new();
        {
            let mut cold = self.cold();
            let Ok(path) = self.path(&mut cold, name.as_str(), &mut warnings) else {
                return;
            };
            let description = Description {
                name: name.as_str().to_owned(),
                kind,
                path,
                unit,
                text: text.to_owned(),
            };
            if let Some(internal) = &self.internal {
                internal
                    .descriptions
                    .set(&description.path.to_string(), description.to_text());
            }
            cold.descriptions
                .insert(description.name.clone(), description);
        }
        for warning in warnings {
            log::warn!("{warning}");
        }
    }
}
