//! The panic hook that dumps the stats of the dumpers that asked for it (see
//! [`DumperBuilder::dump_on_panic`](super::DumperBuilder::dump_on_panic)).
//!
//! What keeps it from deadlocking or recursing:
//!
//! - The dump is written by a helper thread; the panicking thread only waits for it, at most
//!   the final timeout. Whatever lock the panicking thread holds (the tree's, a gauge's, the
//!   dumper's own, the logger's), the wait ends, and unwinding then releases the lock.
//! - Threads that write dumps (the dumper's thread, the helper, a caller of `dump_now`) are
//!   marked ([`DumpingHere`]): a panic there writes no dump, so a dump that panics cannot
//!   start another one. Panics inside gauges write none either (they are caught).
//! - One panic dump at a time, process-wide; off the main thread at most one a second.
//! - The hook is installed once, chaining the hook that was there before.

use std::any::Any;
use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::health::LOG_TARGET;
use super::names::human;
use super::{Reason, Shared};

/// Off the main thread, a panic within this long of the end of the last panic dump writes
/// none.
const PANIC_DUMP_GAP: Duration = Duration::from_secs(1);

thread_local! {
    /// Set while this thread writes a dump (or is a thread of the dumper's own).
    static DUMPING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as writing a dump until dropped.
pub(super) struct DumpingHere {
    outer: bool,
}

impl DumpingHere {
    pub(super) fn enter() -> Self {
        Self {
            outer: DUMPING.with(|flag| flag.replace(true)),
        }
    }
}

impl Drop for DumpingHere {
    fn drop(&mut self) {
        DUMPING.with(|flag| flag.set(self.outer));
    }
}

/// The dumpers that dump on panics.
static TARGETS: Mutex<Vec<Arc<Shared>>> = Mutex::new(Vec::new());
/// How many there are (read by the hook without the lock).
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// The longest final timeout among them, in nanoseconds.
static TIMEOUT_NANOS: AtomicU64 = AtomicU64::new(0);
/// Set while a panic dump is being written.
static RUNNING: AtomicBool = AtomicBool::new(false);
/// When the last panic dump ended, in milliseconds since [`EPOCH`] plus one (0: never).
static LAST_END_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Adds a dumper to those that dump on panics, installing the hook on first use.
pub(super) fn register(shared: &Arc<Shared>) {
    install();
    let mut targets = TARGETS.lock().unwrap_or_else(PoisonError::into_inner);
    targets.push(shared.clone());
    update(&targets);
}

/// Removes a dumper from those that dump on panics.
pub(super) fn unregister(shared: &Arc<Shared>) {
    let mut targets = TARGETS.lock().unwrap_or_else(PoisonError::into_inner);
    targets.retain(|other| !Arc::ptr_eq(other, shared));
    update(&targets);
}

fn update(targets: &[Arc<Shared>]) {
    let timeout = targets
        .iter()
        .map(|t| t.final_timeout)
        .max()
        .unwrap_or_default();
    TIMEOUT_NANOS.store(
        u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    // Release: pairs with the Acquire in `on_panic`, which then sees the timeout above.
    COUNT.store(targets.len(), Ordering::Release);
}

/// Installs the hook, once per process, in front of the one installed before.
fn install() {
    static INSTALL: Once = Once::new();
    // `take_hook` and `set_hook` panic on a panicking thread (a dumper started in a `Drop`
    // during unwinding): install later, from a thread that is not panicking.
    if thread::panicking() {
        log::warn!(
            target: LOG_TARGET,
            "dump_on_panic: not installing the panic hook while this thread panics"
        );
        return;
    }
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            on_panic(info);
            previous(info);
        }));
    });
}

fn on_panic(info: &PanicHookInfo<'_>) {
    // Acquire: pairs with the Release in `update`.
    // A panic in a thread-local destructor cannot tell whether it is in a dump: no dump.
    let dumping_here = DUMPING.try_with(Cell::get).unwrap_or(true);
    if COUNT.load(Ordering::Acquire) == 0 || dumping_here || crate::stats::in_gauge() {
        return;
    }
    let on_main = thread::current().name() == Some("main");
    let last_end = LAST_END_MS.load(Ordering::Relaxed);
    let since_last = (millis_since_epoch() + 1).saturating_sub(last_end);
    if !on_main && last_end != 0 && u128::from(since_last) < PANIC_DUMP_GAP.as_millis() {
        return;
    }
    // AcqRel: one panic dump at a time; pairs with the Release that ends it.
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    let timeout = Duration::from_nanos(TIMEOUT_NANOS.load(Ordering::Relaxed));
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let (done, finished) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new()
        .name("scales-panic-dump".to_owned())
        .spawn(move || {
            let _guard = DumpingHere::enter();
            let targets = TARGETS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for target in &targets {
                match target.dump(Reason::Panic) {
                    Ok(path) => log::warn!(
                        target: LOG_TARGET,
                        "panic{at}: the stats were dumped to {}",
                        path.display()
                    ),
                    Err(e) => log::error!(target: LOG_TARGET, "panic{at}: no stats dump: {e}"),
                }
            }
            LAST_END_MS.store(millis_since_epoch() + 1, Ordering::Relaxed);
            RUNNING.store(false, Ordering::Release);
            let _ = done.send(());
        });
    if let Err(e) = spawned {
        RUNNING.store(false, Ordering::Release);
        log::error!(target: LOG_TARGET, "panic: no stats dump: cannot start a thread to write it: {e}");
        return;
    }
    if finished.recv_timeout(timeout).is_err() {
        log::error!(
            target: LOG_TARGET,
            "panic: the stats dump did not finish within {} (a lock held by the panicking \
             thread, a hung disk or a stuck gauge); the last periodic dump is what remains \
             if the process ends now",
            human(timeout)
        );
    }
}

fn millis_since_epoch() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The message of a panic payload.
pub(super) fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
