//! [`Recorder`]: the layer's stats, its per-callsite caches, and the slow path that fills
//! them (declaring stats, enforcing the cardinality caps).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use scales::{
    Clock, CounterStat, Error, IntDictKey, IntDictStat, PmfStat, Registry, Scope, StatPath,
};
use tracing_core::{Level, Metadata};

use crate::cache::CallsiteCache;
use crate::name::{sanitize, TargetFilter};

/// The key that span names and event targets beyond the caps are counted under.
pub(crate) const OTHER: &str = "other";

/// The levels, as the `/events` stats are named.
const LEVELS: [(Level, &str); 5] = [
    (Level::ERROR, "error"),
    (Level::WARN, "warn"),
    (Level::INFO, "info"),
    (Level::DEBUG, "debug"),
    (Level::TRACE, "trace"),
];

/// The stats of one span name: `<spans>/<target>/<name>/{busy,idle,closed}`.
pub(crate) struct SpanStats {
    busy: PmfStat,
    idle: PmfStat,
    closed: CounterStat,
    /// Keeps the container owned (the stats are a global collection's, pinned in the tree).
    _scope: Scope,
}

impl SpanStats {
    fn declare(scope: Scope) -> Result<Self, Error> {
        Ok(Self {
            busy: scope.pmf_stat("busy")?,
            idle: scope.pmf_stat("idle")?,
            closed: scope.counter_stat("closed")?,
            _scope: scope,
        })
    }

    /// Records one closed span: two distribution records and one counter increment, each a
    /// write to the calling thread's own cells.
    #[inline]
    pub(crate) fn record(&self, busy_nanos: u64, idle_nanos: u64) {
        self.busy.record(busy_nanos as f64 * 1e-9);
        self.idle.record(idle_nanos as f64 * 1e-9);
        self.closed.inc();
    }
}

/// Where one event callsite is counted: its key (its target, or [`OTHER`]) in its level's
/// dict, as a handle looked up once, so that counting is a write to the calling thread's
/// own cell.
#[derive(Clone)]
pub(crate) struct EventSlot {
    key: IntDictKey,
}

impl EventSlot {
    #[inline]
    pub(crate) fn count(&self) {
        self.key.inc();
    }
}

/// What the layer was configured with.
pub(crate) struct Config {
    pub(crate) spans_path: String,
    pub(crate) events_path: String,
    pub(crate) filter: TargetFilter,
    pub(crate) max_spans: usize,
    pub(crate) max_event_targets: usize,
}

/// Everything a [`ScalesLayer`](crate::ScalesLayer) shares between its clones.
pub(crate) struct Recorder {
    clock: Clock,
    registry: Registry,
    spans_path: StatPath,
    filter: TargetFilter,
    max_spans: usize,
    max_event_targets: usize,
    /// `/events/<level>`, in the order of [`LEVELS`].
    levels: [IntDictStat; 5],
    /// `None`: the callsite is not recorded (filtered out, or its stats could not be declared).
    spans: CallsiteCache<Option<Arc<SpanStats>>>,
    events: CallsiteCache<Option<EventSlot>>,
    slow: Mutex<Slow>,
}

/// What the slow path needs to give callsites that share a name the same stats and to count
/// distinct names against the caps.
#[derive(Default)]
struct Slow {
    /// By sanitised `(target, name)`.
    span_names: HashMap<(String, String), Arc<SpanStats>>,
    /// `<spans>/other/other`, declared when first needed.
    other_spans: Option<Arc<SpanStats>>,
    /// The targets that have their own key.
    event_targets: HashSet<String>,
}

impl Recorder {
    pub(crate) fn new(registry: &Registry, config: Config) -> Result<Self, Error> {
        let spans_path = StatPath::parse(&config.spans_path)?;
        // Declared now so that a bad or clashing path is an error of `build`, not a silent
        // loss later.
        registry.collection(&config.spans_path)?;
        let events = registry.collection(&config.events_path)?;
        let [error, warn, info, debug, trace] = LEVELS.map(|(_, name)| name);
        let levels = [
            events.int_dict_stat(error)?,
            events.int_dict_stat(warn)?,
            events.int_dict_stat(info)?,
            events.int_dict_stat(debug)?,
            events.int_dict_stat(trace)?,
        ];
        Ok(Self {
            clock: registry.clock().clone(),
            registry: registry.clone(),
            spans_path,
            filter: config.filter,
            max_spans: config.max_spans,
            max_event_targets: config.max_event_targets,
            levels,
            spans: CallsiteCache::new(),
            events: CallsiteCache::new(),
            slow: Mutex::new(Slow::default()),
        })
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    pub(crate) fn filter(&self) -> &TargetFilter {
        &self.filter
    }

    pub(crate) fn max_spans(&self) -> usize {
        self.max_spans
    }

    pub(crate) fn max_event_targets(&self) -> usize {
        self.max_event_targets
    }

    /// Whether spans of this callsite are recorded.
    #[inline]
    pub(crate) fn records_span(&self, metadata: &'static Metadata<'static>) -> bool {
        self.spans
            .with(&metadata.callsite(), Option::is_some)
            .unwrap_or_else(|| self.span_stats_slow(metadata).is_some())
    }

    /// Records a closed span of this callsite.
    #[inline]
    pub(crate) fn record_span(&self, metadata: &'static Metadata<'static>, busy: u64, idle: u64) {
        let recorded = self.spans.with(&metadata.callsite(), |stats| {
            if let Some(stats) = stats {
                stats.record(busy, idle);
            }
        });
        if recorded.is_none() {
            // Not reached: a span is only timed once its callsite is cached.
            if let Some(stats) = self.span_stats_slow(metadata) {
                stats.record(busy, idle);
            }
        }
    }

    /// Counts an event of this callsite.
    #[inline]
    pub(crate) fn count_event(&self, metadata: &'static Metadata<'static>) {
        let counted = self.events.with(&metadata.callsite(), |slot| {
            if let Some(slot) = slot {
                slot.count();
            }
        });
        if counted.is_none() {
            if let Some(slot) = self.event_slot_slow(metadata) {
                slot.count();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slow> {
        // The slow path leaves `Slow` consistent at every step; a panic elsewhere while
        // holding the lock cannot corrupt it.
        self.slow.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stats of a span callsite, declared if needed, and cached.
    #[cold]
    fn span_stats_slow(&self, metadata: &'static Metadata<'static>) -> Option<Arc<SpanStats>> {
        let callsite = metadata.callsite();
        let mut slow = self.lock();
        if let Some(cached) = self.spans.with(&callsite, Clone::clone) {
            return cached;
        }
        let stats = if self.filter.matches(metadata.target()) {
            self.span_stats_for(&mut slow, metadata.target(), metadata.name())
        } else {
            None
        };
        self.spans.insert(callsite, stats.clone());
        stats
    }

    fn span_stats_for(&self, slow: &mut Slow, target: &str, name: &str) -> Option<Arc<SpanStats>> {
        let key = (sanitize(target).into_owned(), sanitize(name).into_owned());
        if let Some(stats) = slow.span_names.get(&key) {
            return Some(stats.clone());
        }
        if slow.span_names.len() < self.max_spans {
            // A failure (another kind of stat already at that path) counts the span under
            // `other`, as if over the cap.
            if let Ok(stats) = self.declare_span(&key.0, &key.1) {
                let stats = Arc::new(stats);
                slow.span_names.insert(key, stats.clone());
                return Some(stats);
            }
        }
        if slow.other_spans.is_none() {
            slow.other_spans = self.declare_span(OTHER, OTHER).ok().map(Arc::new);
        }
        slow.other_spans.clone()
    }

    fn declare_span(&self, target: &str, name: &str) -> Result<SpanStats, Error> {
        let path = self.spans_path.join(target)?.join(name)?;
        SpanStats::declare(self.registry.collection(&path.to_string())?)
    }

    /// Where an event callsite is counted, cached.
    #[cold]
    fn event_slot_slow(&self, metadata: &'static Metadata<'static>) -> Option<EventSlot> {
        let callsite = metadata.callsite();
        let mut slow = self.lock();
        if let Some(cached) = self.events.with(&callsite, Clone::clone) {
            return cached;
        }
        let slot = self.filter.matches(metadata.target()).then(|| {
            let level = LEVELS
                .iter()
                .position(|(level, _)| level == metadata.level())
                .unwrap_or(LEVELS.len() - 1);
            let key = self.event_key(&mut slow, metadata.target());
            EventSlot {
                key: self.levels[level].key(key),
            }
        });
        self.events.insert(callsite, slot.clone());
        slot
    }

    /// The key `target` is counted under: itself while fewer targets than the cap have
    /// been seen, [`OTHER`] after.
    fn event_key<'a>(&self, slow: &mut Slow, target: &'a str) -> &'a str {
        if slow.event_targets.contains(target) {
            return target;
        }
        if slow.event_targets.len() < self.max_event_targets {
            slow.event_targets.insert(target.to_owned());
            return target;
        }
        OTHER
    }

    /// Number of span and event callsites cached (for `Debug`).
    pub(crate) fn callsites(&self) -> (usize, usize) {
        (self.spans.len(), self.events.len())
    }
}
