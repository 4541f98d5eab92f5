//! [`Stat`]: a held value (string, number, ...) or a gauge computed by a closure.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::snapshot::StatKind;
use crate::value::Value;

type GaugeFn = Arc<dyn Fn() -> Value + Send + Sync>;

enum Source {
    Held(Value),
    Computed(GaugeFn),
}

/// How often one gauge's panics are logged: the first, then at most one a minute.
const PANIC_REPORT_INTERVAL: Duration = Duration::from_secs(60);

thread_local! {
    /// Set while this thread runs a gauge closure: its panics are reported by the stat.
    static IN_GAUGE: Cell<bool> = const { Cell::new(false) };
    /// Where the last gauge panic on this thread happened (`file:line`).
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether this thread is running a gauge's closure now: its panics are caught and reported
/// by the stat, so other panic hooks of scales (the dumper's) leave them alone.
#[cfg(feature = "json")]
pub(crate) fn in_gauge() -> bool {
    // During thread-local destruction no gauge runs on this thread.
    IN_GAUGE.try_with(Cell::get).unwrap_or(false)
}

/// Installs (once) a panic hook that keeps gauge panics quiet — no report on stderr, no
/// backtrace captured — and hands every other panic to the hook that was there before.
/// Gauge panics are logged by [`PanicReports`] instead, rate-limited. A hook installed by the
/// program later replaces this one, and then gauge panics are reported like any other.
fn quiet_gauge_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_GAUGE.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
                return;
            }
            previous(info);
        }));
    });
}

/// Whether a snapshot's worker is running a gauge's closure now, and what the last run gave.
#[derive(Default)]
pub(crate) struct GaugeRuns {
    /// When the run going on now started.
    pub(crate) running_since: Option<Instant>,
    /// Runs finished so far.
    pub(crate) completed: u64,
    /// The last finished run's result (`None` when it was not run after all).
    pub(crate) last: Option<Result<Value, String>>,
}

impl GaugeRuns {
    /// Marks a run as started now.
    pub(crate) fn start(&mut self) {
        self.running_since = Some(Instant::now());
    }
}

/// One gauge's panic log: when it last reported, and how many panics it has not reported.
#[derive(Default)]
struct PanicReports {
    last: Option<Instant>,
    unreported: u64,
}

/// Storage of a [`Stat`].
pub(crate) struct ValueCell {
    source: Mutex<Source>,
    /// Runs of the closure by snapshots' workers (see [`crate::gauges`]).
    runs: Mutex<GaugeRuns>,
    run_finished: Condvar,
    /// The stat's path, for log messages.
    path: String,
    panics: Mutex<PanicReports>,
}

impl ValueCell {
    fn new(source: Source, path: String) -> Self {
        Self {
            source: Mutex::new(source),
            runs: Mutex::new(GaugeRuns::default()),
            run_finished: Condvar::new(),
            path,
            panics: Mutex::new(PanicReports::default()),
        }
    }

    /// Logs a gauge panic: the first one, then at most one per [`PANIC_REPORT_INTERVAL`]
    /// with the number of panics in between.
    fn report_panic(&self, message: &str) {
        let location = PANIC_LOCATION.with(|cell| cell.borrow_mut().take());
        let mut reports = self.panics.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if reports
            .last
            .is_some_and(|last| now.duration_since(last) < PANIC_REPORT_INTERVAL)
        {
            reports.unreported += 1;
            return;
        }
        let since = match std::mem::take(&mut reports.unreported) {
            0 => String::new(),
            n => format!(" ({n} more panics since the last report)"),
        };
        reports.last = Some(now);
        drop(reports);
        let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
        log::error!(
            "scales: gauge {} panicked{at}: {message}{since}; it reads as an error until it stops panicking (reported at most once a minute)",
            self.path
        );
    }

    fn replace(&self, source: Source) {
        // A poisoned lock only means a panic elsewhere; the stored value is still whole.
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = source;
    }

    /// Whether this is a gauge (a closure), not a held value.
    pub(crate) fn is_computed(&self) -> bool {
        matches!(
            *self.source.lock().unwrap_or_else(PoisonError::into_inner),
            Source::Computed(_)
        )
    }

    /// The state of the closure's runs by snapshots, locked.
    pub(crate) fn runs(&self) -> MutexGuard<'_, GaugeRuns> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the end of a run started with [`GaugeRuns::start`] and wakes its waiters.
    pub(crate) fn finish_run(&self, result: Option<Result<Value, String>>) {
        let mut runs = self.runs();
        runs.running_since = None;
        runs.completed += 1;
        runs.last = result;
        drop(runs);
        self.run_finished.notify_all();
    }

    /// Waits until the run after `completed` runs has finished, or `deadline`; its result.
    pub(crate) fn wait_for_run(
        &self,
        completed: u64,
        deadline: Instant,
    ) -> Option<Result<Value, String>> {
        let mut runs = self.runs();
        loop {
            if runs.completed > completed {
                return runs.last.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            runs = self
                .run_finished
                .wait_timeout(runs, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The held value, or the closure's result. A panicking closure gives `Err(message)`.
    pub(crate) fn evaluate(&self) -> Result<Value, String> {
        let gauge = match &*self.source.lock().unwrap_or_else(PoisonError::into_inner) {
            Source::Held(value) => return Ok(value.clone()),
            Source::Computed(gauge) => gauge.clone(),
        };
        // The closure runs outside the lock, so it may itself read or declare stats.
        quiet_gauge_panics();
        let outer = IN_GAUGE.with(|flag| flag.replace(true));
        let result = catch_unwind(AssertUnwindSafe(|| gauge()));
        IN_GAUGE.with(|flag| flag.set(outer));
        result.map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            self.report_panic(&message);
            format!("gauge panicked: {message}")
        })
    }
}

/// A stat that holds a value, or computes one with a closure each time a snapshot is taken
/// (a gauge).
///
/// A gauge closure that panics does not take the snapshot down: that stat shows as an error
/// (`gauge panicked: ...`) and every other stat is read as usual. Such panics are not
/// printed by the panic hook (scales installs a hook once that passes every other panic to
/// the one before it); they are logged through the `log` crate instead — the first one, then
/// at most one a minute per gauge, with the count of panics in between.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let reg = scales::Registry::new();
/// let server = reg.scope("/server")?;
/// let state = server.stat("state")?;
/// state.set("starting");
///
/// let queue = Arc::new(AtomicUsize::new(3));
/// let q = queue.clone();
/// server.gauge("queueLength", move || q.load(Ordering::Relaxed))?;
///
/// let snap = reg.snapshot();
/// assert_eq!(snap.stat("/server/state").unwrap().value, scales::StatValue::Value("starting".into()));
/// assert_eq!(snap.stat("/server/queueLength").unwrap().value.as_f64(), Some(3.0));
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct Stat {
    cell: Arc<ValueCell>,
    _lease: Lease,
}

impl Stat {
    /// Stores a value (replacing a closure, if one was set).
    pub fn set(&self, value: impl Into<Value>) {
        self.cell.replace(Source::Held(value.into()));
    }

    /// Makes this stat a gauge: `f` is called each time the stat is read.
    pub fn set_fn<V, F>(&self, f: F)
    where
        V: Into<Value>,
        F: Fn() -> V + Send + Sync + 'static,
    {
        self.cell
            .replace(Source::Computed(Arc::new(move || f().into())));
    }

    /// The current value (calls the closure of a gauge).
    ///
    /// # Errors
    /// The panic message, when a gauge closure panicked.
    pub fn get(&self) -> Result<Value, String> {
        self.cell.evaluate()
    }
}

impl StatType for Stat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::Stat
    }

    fn new_core(place: &Place<'_>, _: StatOptions) -> StatCore {
        {
            StatCore::Value(Arc::new(ValueCell::new(
                Source::Held(Value::Null),
                place.path(),
            )))
        }
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::Value(cell) = core else {
            return None;
        };
        Some(Self {
            cell,
            _lease: lease,
        })
    }
}

impl fmt::Debug for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stat").finish_non_exhaustive()
    }
}
