//! Worker threads taking jobs from a bounded queue: the README's `/processor/thread-N`
//! example, with aggregation up to `/processor` and state timers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use scales::Stats;

#[derive(Stats)]
struct ProcessorStats {
    /// How many threads are in each state.
    #[stat(name = "state")]
    thread_states: scales::HistogramAggregationStat,
    /// Jobs finished by all threads.
    finished: scales::SumAggregationStat,
    /// Every thread's job durations, merged.
    #[stat(name = "taskTime")]
    task_time: scales::PmfAggregationStat,
    /// Every thread's failures by kind, added up.
    #[stat(name = "errorsByKind")]
    errors_by_kind: scales::IntDictSumAggregationStat,
    /// Jobs refused because the queue was full.
    rejected: scales::IntStat,
}

#[derive(Stats)]
struct ThreadStats {
    state: scales::Stat,
    finished: scales::IntStat,
    #[stat(name = "taskTime")]
    task_time: scales::PmfStat,
    #[stat(name = "errorsByKind")]
    errors_by_kind: scales::IntDictStat,
    #[stat(name = "timeInState")]
    time_in_state: scales::StateTimeStat,
}

#[derive(Stats)]
struct DetailStats {
    #[stat(name = "cpuSeconds")]
    cpu_seconds: scales::DoubleStat,
    #[stat(name = "lastJob")]
    last_job: scales::Stat,
}

/// A job: simulated work of some milliseconds.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) millis: u64,
}

/// The queue's sending side, for the service.
#[derive(Clone)]
pub(crate) struct Queue {
    sender: SyncSender<Job>,
    depth: Arc<AtomicUsize>,
    rejected: scales::IntStat,
}

impl Queue {
    /// Enqueues a job; `false` when the queue is full.
    pub(crate) fn submit(&self, job: Job) -> bool {
        match self.sender.try_send(job) {
            Ok(()) => {
                self.depth.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.rejected.inc();
                false
            }
        }
    }
}

/// The running workers (they run until the process ends).
pub(crate) struct Pool {
    queue: Queue,
    _processor: scales::StatSet<ProcessorStats>,
}

impl Pool {
    pub(crate) fn sender(&self) -> Queue {
        self.queue.clone()
    }
}

/// Starts `n` workers and a queue of 64 jobs; adds a `queueDepth` gauge to `gauges`.
pub(crate) fn start(n: usize, gauges: &scales::Scope) -> Result<Pool, Box<dyn std::error::Error>> {
    let processor = scales::init::<ProcessorStats>("/processor")?;
    let details = scales::init::<DetailStats>("/internal/details")?;
    scales::set_collapsed("/internal/details")?;
    let (sender, receiver) = mpsc::sync_channel::<Job>(64);
    let receiver = Arc::new(Mutex::new(receiver));
    let depth = Arc::new(AtomicUsize::new(0));
    {
        let depth = depth.clone();
        gauges.gauge("queueDepth", move || depth.load(Ordering::Relaxed) as i64)?;
    }
    let details = Arc::new(details);
    for i in 0..n {
        let stats = processor.init_child::<ThreadStats>(&format!("thread-{i}"))?;
        let receiver = receiver.clone();
        let depth = depth.clone();
        let details = details.clone();
        thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || work(i, &stats, &receiver, &depth, &details))?;
    }
    Ok(Pool {
        queue: Queue {
            sender,
            depth,
            rejected: processor.rejected.clone(),
        },
        _processor: processor,
    })
}

fn set_state(stats: &ThreadStats, state: &str) {
    stats.state.set(state);
    stats.time_in_state.set_state(state);
}

fn work(
    index: usize,
    stats: &ThreadStats,
    receiver: &Mutex<Receiver<Job>>,
    depth: &AtomicUsize,
    details: &DetailStats,
) {
    let mut rng = fastrand::Rng::new();
    loop {
        set_state(stats, "waitingForTask");
        let job = {
            let receiver = receiver.lock().unwrap_or_else(PoisonError::into_inner);
            receiver.recv_timeout(Duration::from_millis(500))
        };
        let job = match job {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        depth.fetch_sub(1, Ordering::Relaxed);
        set_state(stats, "performingTask");
        let took = stats.task_time.time_fn(|| {
            thread::sleep(Duration::from_millis(job.millis));
            Duration::from_millis(job.millis)
        });
        details.cpu_seconds.add(took.as_secs_f64());
        details
            .last_job
            .set(format!("{} ms on thread-{index}", job.millis));
        let roll = rng.f64();
        if roll < 0.05 {
            stats.errors_by_kind.inc("timeout");
        } else if roll < 0.08 {
            stats.errors_by_kind.inc("invalidInput");
        } else {
            stats.finished.inc();
        }
        if rng.f64() < 0.1 {
            set_state(stats, "sleeping");
            thread::sleep(Duration::from_millis(rng.u64(50..300)));
        }
    }
}
