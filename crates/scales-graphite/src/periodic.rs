//! [`GraphitePusher`] (push now, in the caller's thread) and [`PeriodicPusher`] (a
//! background thread). Built by the builder (`crate::builder`), which this module does not
//! use.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scales::format::graphite;
use scales::{Registry, Snapshot};

use crate::config::Config;
use crate::error::{BuildError, PushError};
use crate::health::{Health, HealthStats};
use crate::outbox::{Batch, Next, Outbox, CHECK_EVERY};
use crate::text::Human;

/// Pushes a registry's stats to carbon when asked, in the caller's thread (the original's
/// `GraphitePusher`). Network calls are bounded by the connect and write timeouts; what
/// cannot be sent stays buffered for the next push.
///
/// ```no_run
/// let registry = scales::Registry::new();
/// let mut pusher = scales_graphite::GraphitePusher::builder("127.0.0.1:2003")
///     .prefix("batch.job")
///     .build(&registry)?;
/// // ... at the end of a batch job:
/// pusher.push()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GraphitePusher {
    config: Config,
    registry: Registry,
    outbox: Outbox,
    health: HealthStats,
    previous: Option<Snapshot>,
    /// Renders the lines, reusing the last push's names while the tree keeps its shape.
    encoder: graphite::Encoder,
}

impl fmt::Debug for GraphitePusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphitePusher")
            .field("addr", &self.config.addr)
            .field("prefix", &self.config.options.prefix)
            .field("period", &self.config.period)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch, floored to a multiple of `period`.
fn aligned_timestamp(now: SystemTime, period: Duration) -> u64 {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let period_ms = period.as_millis().max(1);
    u64::try_from(ms / period_ms * period_ms / 1000).unwrap_or(u64::MAX)
}

/// The first period boundary strictly after `now`.
fn next_boundary(now: SystemTime, period: Duration) -> SystemTime {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let period_ms = period.as_millis().max(1);
    let next = (ms / period_ms + 1) * period_ms;
    UNIX_EPOCH + Duration::from_millis(u64::try_from(next).unwrap_or(u64::MAX))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl GraphitePusher {
    /// A pusher with `config` (checked by the builder) for `registry`.
    pub(crate) fn new(config: Config, registry: Registry) -> Result<Self, BuildError> {
        let health = HealthStats::declare(&registry, config.health_path.as_deref())?;
        Ok(Self {
            outbox: Outbox::new(&config, health.clone()),
            encoder: graphite::Encoder::new(config.options.clone()),
            config,
            registry,
            health,
            previous: None,
        })
    }

    /// Snapshots the registry now, stamps it with the current period boundary, and sends it
    /// with whatever is still buffered. Returns the number of points of this push.
    ///
    /// # Errors
    /// When carbon did not read everything; the points stay buffered (see
    /// [`PushError`]). Returns once carbon has read the push (one round trip after the
    /// write), or at the first failure: a stall takes the write timeout.
    pub fn push(&mut self) -> Result<usize, PushError> {
        let timestamp = aligned_timestamp(SystemTime::now(), self.config.period);
        self.push_at(timestamp)
    }

    /// As [`push`](Self::push), with an explicit timestamp (seconds since the epoch).
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_at(&mut self, timestamp: u64) -> Result<usize, PushError> {
        let points = self.render(timestamp)?;
        self.outbox.flush(None)?;
        Ok(points)
    }

    /// Sends what is buffered, until carbon has read it all or `timeout` has passed.
    ///
    /// # Errors
    /// When carbon did not read everything in time.
    pub fn flush(&mut self, timeout: Duration) -> Result<(), PushError> {
        self.outbox.flush(Some(Instant::now() + timeout))
    }

    /// The pusher's health stats.
    pub fn health(&self) -> Health {
        self.health.read()
    }

    /// Bytes the buffer holds now (pending and recently written batches).
    pub fn buffered_bytes(&self) -> usize {
        self.outbox.buffered_bytes()
    }

    /// Renders a snapshot into a batch and queues it; returns its points.
    fn render(&mut self, timestamp: u64) -> Result<usize, PushError> {
        let result = catch_unwind(AssertUnwindSafe(|| {
            // Interval distributions subtract bucket lists; otherwise summaries suffice (the
            // same lines, without gathering every bucket).
            let snapshot = if self.config.interval_distributions {
                self.registry.snapshot()
            } else {
                self.registry.snapshot_with(
                    &scales::SnapshotOptions::default()
                        .with_distributions(scales::SketchDetail::Summary),
                )
            };
            let timed_out = snapshot.gauges_timed_out();
            if timed_out > 0 {
                self.health.gauges_timed_out.add(timed_out as i64);
            }
            let (text, rendered) = if self.config.interval_distributions {
                let interval = match &self.previous {
                    Some(previous) => snapshot.interval_since(previous),
                    None => snapshot.clone(),
                };
                let lines = self.encoder.lines(&interval, timestamp);
                self.previous = Some(snapshot);
                lines
            } else {
                self.encoder.lines(&snapshot, timestamp)
            };
            (text.into_bytes(), rendered)
        }));
        let (mut data, rendered) = match result {
            Ok(done) => done,
            Err(payload) => {
                let error = PushError::RenderPanicked(panic_message(payload.as_ref()));
                log::error!(target: "scales_graphite", "{error}; push skipped");
                self.health.set_error(&error.to_string());
                return Err(error);
            }
        };
        self.health.pushes.inc();
        let points = rendered.points;
        if points > 0 {
            data.shrink_to_fit();
            self.outbox.enqueue(Batch {
                data,
                points,
                resend: false,
            });
        }
        Ok(points)
    }
}

/// The stop flag and the condition variable the thread sleeps on.
struct Signal {
    stop: Arc<AtomicBool>,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Signal {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A background thread pushing a registry's stats every period (the original's
/// `GraphitePeriodicPusher`); start one with [`Builder::spawn`](crate::Builder::spawn).
///
/// Dropping it stops it as [`stop`](Self::stop) does, so keep it for as long as it should
/// push (in the struct of your server, or a variable of `main`), or call
/// [`detach`](Self::detach) to let it push for the life of the program.
#[must_use = "dropping the pusher stops it; keep it for as long as it should push, or call .detach() to let it run until the process exits"]
pub struct PeriodicPusher {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<GraphitePusher>>,
    health: HealthStats,
}

impl fmt::Debug for PeriodicPusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicPusher")
            .field("health", &self.health.read())
            .finish_non_exhaustive()
    }
}

impl PeriodicPusher {
    /// Starts the thread that runs `pusher` every period.
    pub(crate) fn start(pusher: GraphitePusher) -> Result<Self, BuildError> {
        let signal = Arc::new(Signal {
            stop: Arc::new(AtomicBool::new(false)),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let mut pusher = pusher;
        pusher.outbox.set_cancel(signal.stop.clone());
        let health = pusher.health.clone();
        let thread_signal = signal.clone();
        let thread = thread::Builder::new()
            .name("scales-graphite".to_owned())
            .spawn(move || run(pusher, &thread_signal))
            .map_err(BuildError::Spawn)?;
        Ok(Self {
            signal,
            thread: Some(thread),
            health,
        })
    }

    /// The pusher's health stats.
    pub fn health(&self) -> Health {
        self.health.read()
    }

    /// Stops the thread after it has sent what it can within the stop timeout, and returns
    /// the final health (`points_buffered` is what carbon had not read by then: those
    /// points are lost).
    pub fn stop(mut self) -> Health {
        self.shutdown();
        self.health.read()
    }

    /// Lets the pusher run until the process exits, without a handle to stop it: for a
    /// pusher that pushes for the life of the program.
    ///
    /// The thread goes on pushing every period; its health stays readable in the registry
    /// (at [`Builder::health_path`](crate::Builder::health_path)). There is no final flush
    /// when the process exits: points still buffered then (what was recorded since the last
    /// push, or everything of an outage) are lost. To send them at shutdown, keep the pusher
    /// and call [`stop`](Self::stop) instead.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn start_metrics() -> Result<(), scales_graphite::BuildError> {
    ///     scales_graphite::GraphitePusher::builder("127.0.0.1:2003")
    ///         .prefix("my.server.")
    ///         .period(Duration::from_secs(60))
    ///         .spawn(scales::registry())?
    ///         .detach(); // pushes every minute until the process exits
    ///     Ok(())
    /// }
    ///
    /// start_metrics()?;
    /// // The health stays in the tree while the pusher runs.
    /// assert!(scales::snapshot().stat("/scales/graphite/pushes").is_some());
    /// # Ok::<(), scales_graphite::BuildError>(())
    /// ```
    pub fn detach(mut self) {
        // Without its join handle, dropping `self` neither signals nor waits for the
        // thread, which keeps its own handles to the registry and the health stats.
        drop(self.thread.take());
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        {
            // Set under the lock so that the thread cannot miss the wake-up between its
            // check and its wait.
            let _guard = self
                .signal
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.signal.stop.store(true, Ordering::SeqCst);
        }
        self.signal.wake.notify_all();
        if thread.join().is_err() {
            log::error!(target: "scales_graphite", "the graphite pusher thread panicked");
        }
    }
}

impl Drop for PeriodicPusher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(mut pusher: GraphitePusher, signal: &Signal) -> GraphitePusher {
    let period = pusher.config.period;
    let mut next_due = next_boundary(SystemTime::now(), period);
    let mut last_timestamp = None;
    log::debug!(
        target: "scales_graphite",
        "pushing to {} every {}",
        pusher.config.addr,
        Human(period)
    );
    loop {
        if signal.stopping() {
            break;
        }
        let step = catch_unwind(AssertUnwindSafe(|| {
            let now = SystemTime::now();
            if now >= next_due {
                let timestamp = aligned_timestamp(now, period);
                next_due = next_boundary(now, period);
                if last_timestamp != Some(timestamp) {
                    last_timestamp = Some(timestamp);
                    let _ = pusher.render(timestamp);
                }
            }
            match pusher.outbox.next() {
                Next::Flush => {
                    // Until the next push is due; a flush cut short goes on where it was.
                    let left = next_due
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO);
                    let _ = pusher.outbox.flush(Some(Instant::now() + left));
                }
                Next::Check => pusher.outbox.check(Instant::now()),
                Next::Wait(_) => {}
            }
        }));
        if let Err(payload) = step {
            log::error!(
                target: "scales_graphite",
                "graphite push panicked: {}; continuing",
                panic_message(payload.as_ref())
            );
        }
        let mut wait = next_due
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        match pusher.outbox.next() {
            // Cut short by the deadline (the next push is due) or a failure with no backoff.
            Next::Flush => wait = Duration::ZERO,
            Next::Check => wait = wait.min(CHECK_EVERY),
            Next::Wait(Some(at)) => wait = wait.min(at.saturating_duration_since(Instant::now())),
            Next::Wait(None) => {}
        }
        if wait.is_zero() {
            continue;
        }
        let guard = signal.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if !signal.stopping() {
            let _ = signal
                .wake
                .wait_timeout(guard, wait)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
    let deadline = Instant::now() + pusher.config.stop_timeout;
    let flushed = catch_unwind(AssertUnwindSafe(|| {
        // Try right away even while backing off: this is the last chance.
        pusher.outbox.flush_now(deadline)
    }));
    match flushed {
        Ok(Ok(())) => {
            log::debug!(target: "scales_graphite", "graphite pusher stopped, buffer flushed")
        }
        Ok(Err(e)) => log::warn!(
            target: "scales_graphite",
            "graphite pusher stopped with {} points unsent: {e}",
            pusher.outbox.pending_points()
        ),
        Err(_) => log::error!(target: "scales_graphite", "flushing at stop panicked"),
    }
    pusher
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_align_to_the_period() {
        let at = |s: f64| UNIX_EPOCH + Duration::from_secs_f64(s);
        let minute = Duration::from_secs(60);
        assert_eq!(
            aligned_timestamp(at(1_400_000_099.9), minute),
            1_400_000_040
        );
        assert_eq!(
            aligned_timestamp(at(1_400_000_040.0), minute),
            1_400_000_040
        );
        assert_eq!(
            next_boundary(at(1_400_000_040.0), minute),
            at(1_400_000_100.0)
        );
        assert_eq!(
            next_boundary(at(1_400_000_039.5), minute),
            at(1_400_000_040.0)
        );
        let second = Duration::from_secs(1);
        assert_eq!(aligned_timestamp(at(12.7), second), 12);
    }
}
