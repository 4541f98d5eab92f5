//! Time-boxed evaluation of gauge closures for snapshots.
//!
//! A gauge is user code: it may block (a lock held elsewhere, a slow system call) or never
//! return. A snapshot therefore runs the gauges it needs on worker threads and waits for each
//! at most the registry's gauge timeout ([`Registry::set_gauge_timeout`], 1 s by default).
//! A gauge past its timeout reads as an error for that stat alone (`gauge timed out: ...`),
//! and the snapshot goes on with the next gauge on a fresh worker while the late one keeps
//! running; until it returns, later snapshots do not wait for it again (it reads as
//! `gauge timed out: still running ...` at once). So one stuck gauge delays one snapshot by
//! at most the timeout, and none after it. Snapshots taken at the same time share a gauge's
//! run: one that finds the gauge running for another waits for that run's value (within
//! what is left of its timeout) instead of starting a second one.
//!
//! Gauges of one snapshot run one after another on one worker (a thread hop per snapshot,
//! not per gauge). Workers are kept for reuse; a worker stuck in a gauge is replaced, so
//! there are at most as many workers as gauges stuck at once plus the snapshots running at
//! once, and never more than [`MAX_WORKERS`]; past that, remaining gauges read as errors.
//!
//! [`Registry::set_gauge_timeout`]: crate::Registry::set_gauge_timeout

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::snapshot::GAUGE_TIMED_OUT as TIMED_OUT;
use crate::stats::ValueCell;
use crate::value::Value;

/// The most worker threads that evaluate gauges, process-wide.
pub(crate) const MAX_WORKERS: usize = 64;
/// The default gauge timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

thread_local! {
    /// The gauges this worker thread is running now (addresses of their cells).
    static RUNNING_HERE: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What a snapshot got for each gauge, in the order asked.
pub(crate) type GaugeResult = Result<Value, String>;

/// The gauges of one snapshot, shared by the snapshot thread and the worker running them.
struct Batch {
    /// How many gauges the batch has.
    len: usize,
    state: Mutex<BatchState>,
    progress: Condvar,
}

struct BatchState {
    /// The gauges not started yet. A worker takes a gauge out to run it and drops it when it
    /// returns, before publishing the result, so that no snapshot's batch keeps a gauge (its
    /// closure, and what the closure owns) alive after the snapshot.
    cells: Vec<Option<Arc<ValueCell>>>,
    /// The next gauge to start.
    next: usize,
    results: Vec<Option<GaugeResult>>,
    /// The gauge running now, and since when.
    running: Option<(usize, Instant)>,
    /// Bumped when the snapshot gives up on a running gauge: the worker stuck in it stops
    /// working on this batch when it returns.
    generation: u64,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, BatchState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pool: batches waiting for a worker, idle workers, and how many workers exist.
struct Pool {
    queue: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    pending: VecDeque<(Arc<Batch>, u64)>,
    idle: usize,
    workers: usize,
}

static POOL: Pool = Pool {
    queue: Mutex::new(PoolState {
        pending: VecDeque::new(),
        idle: 0,
        workers: 0,
    }),
    work: Condvar::new(),
};

impl Pool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `batch` for a worker, starting one if none is idle. False when no worker can
    /// be had (the cap is reached, or the system refuses a thread).
    fn submit(&'static self, batch: Arc<Batch>, generation: u64) -> bool {
        let mut state = self.lock();
        if state.idle == 0 {
            if state.workers >= MAX_WORKERS {
                return false;
            }
            let spawned = std::thread::Builder::new()
                .name("scales-gauges".into())
                .spawn(move || self.work_loop());
            if spawned.is_err() {
                return false;
            }
            state.workers += 1;
        } else {
            state.idle -= 1;
        }
        state.pending.push_back((batch, generation));
        drop(state);
        self.work.notify_one();
        true
    }

    fn work_loop(&'static self) {
        const IDLE_EXIT: Duration = Duration::from_secs(30);
        let mut state = self.lock();
        loop {
            if let Some((batch, generation)) = state.pending.pop_front() {
                drop(state);
                run(&batch, generation);
                state = self.lock();
                state.idle += 1;
                continue;
            }
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if timeout.timed_out() && state.pending.is_empty() && state.idle > 0 {
                state.idle -= 1;
                state.workers -= 1;
                return;
            }
        }
    }
}

/// A worker's part: run the batch's gauges in order until done or given up on.
fn run(batch: &Batch, generation: u64) {
    loop {
        let (index, cell) = {
            let mut state = batch.lock();
            if state.generation != generation || state.next >= batch.len {
                return;
            }
            let index = state.next;
            state.next += 1;
            state.running = Some((index, Instant::now()));
            let cell = state.cells[index]
                .take()
                .expect("each gauge is started once");
            (index, cell)
        };
        let key = Arc::as_ptr(&cell) as usize;
        RUNNING_HERE.with(|running| running.borrow_mut().push(key));
        let result = cell.evaluate();
        RUNNING_HERE.with(|running| running.borrow_mut().retain(|&k| k != key));
        cell.finish_run(Some(result.clone()));
        drop(cell);
        let mut state = batch.lock();
        if state.generation != generation {
            // The snapshot gave up on this gauge and moved on without this worker.
            return;
        }
        state.results[index] = Some(result);
        state.running = None;
        drop(state);
        batch.progress.notify_all();
    }
}

/// Evaluates `gauges` (computed stats) for a snapshot, waiting for each at most `timeout`.
pub(crate) fn evaluate(gauges: Vec<Arc<ValueCell>>, timeout: Duration) -> Vec<GaugeResult> {
    let mut results: Vec<Option<GaugeResult>> = vec![None; gauges.len()];
    // A gauge another snapshot is running now is not started again: this snapshot waits for
    // that run (until it has taken the timeout), or reads as timed out if it already has.
    let mut runnable = Vec::with_capacity(gauges.len());
    let mut positions = Vec::with_capacity(gauges.len());
    let mut shared = Vec::new();
    for (position, cell) in gauges.iter().enumerate() {
        let mut runs = cell.runs();
        match runs.running_since {
            None => {
                runs.start();
                runnable.push(cell.clone());
                positions.push(position);
            }
            // A snapshot taken inside this very gauge: it cannot wait for itself.
            Some(_)
                if RUNNING_HERE.with(|r| r.borrow().contains(&(Arc::as_ptr(cell) as usize))) =>
            {
                results[position] = Some(Err(
                    "gauge not read: a snapshot taken inside this gauge reads the gauge itself"
                        .to_owned(),
                ));
            }
            Some(since) if since.elapsed() < timeout => {
                shared.push((position, runs.completed, since + timeout));
            }
            Some(_) => results[position] = Some(Err(still_running(timeout))),
        }
    }
    if !runnable.is_empty() {
        let count = runnable.len();
        let batch = Arc::new(Batch {
            len: count,
            state: Mutex::new(BatchState {
                cells: runnable.into_iter().map(Some).collect(),
                next: 0,
                results: vec![None; count],
                running: None,
                generation: 0,
            }),
            progress: Condvar::new(),
        });
        for (position, result) in positions.into_iter().zip(wait(&batch, timeout)) {
            results[position] = Some(result);
        }
    }
    for (position, completed, deadline) in shared {
        let cell = &gauges[position];
        results[position] = Some(
            cell.wait_for_run(completed, deadline)
                .unwrap_or_else(|| Err(still_running(timeout))),
        );
    }
    results
        .into_iter()
        .map(|r| r.expect("every gauge has a result"))
        .collect()
}

/// Runs the batch on workers and collects its results, giving up on any gauge that runs
/// longer than `timeout`.
fn wait(batch: &Arc<Batch>, timeout: Duration) -> Vec<GaugeResult> {
    let no_worker = || Err("gauge not read: no thread available to run it".to_owned());
    if !POOL.submit(batch.clone(), 0) {
        let mut state = batch.lock();
        return state
            .cells
            .iter_mut()
            .map(|cell| {
                if let Some(cell) = cell.take() {
                    cell.finish_run(None);
                }
                no_worker()
            })
            .collect();
    }
    let mut state = batch.lock();
    loop {
        if state.results.iter().all(Option::is_some) {
            break;
        }
        let now = Instant::now();
        let deadline = match state.running {
            Some((index, started)) if now.duration_since(started) >= timeout => {
                // Give up on this gauge; the rest of the batch moves to another worker.
                state.results[index] = Some(Err(format!(
                    "{TIMED_OUT}: no value within {}",
                    seconds(timeout)
                )));
                state.running = None;
                state.generation += 1;
                let generation = state.generation;
                if state.next < batch.len {
                    drop(state);
                    let moved = POOL.submit(batch.clone(), generation);
                    state = batch.lock();
                    if !moved {
                        for index in state.next..batch.len {
                            if let Some(cell) = state.cells[index].take() {
                                cell.finish_run(None);
                            }
                            state.results[index] = Some(no_worker());
                        }
                        state.next = batch.len;
                    }
                }
                continue;
            }
            Some((_, started)) => started + timeout,
            // Between two gauges, or not started yet: check again shortly.
            None => now + timeout.min(Duration::from_millis(50)),
        };
        let wait_for = deadline.saturating_duration_since(now);
        state = batch
            .progress
            .wait_timeout(state, wait_for)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    state
        .results
        .iter_mut()
        .map(|r| r.take().expect("checked above"))
        .collect()
}

fn still_running(timeout: Duration) -> String {
    format!(
        "{TIMED_OUT}: still running from an earlier read (timeout {})",
        seconds(timeout)
    )
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
