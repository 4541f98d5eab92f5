//! [`FaultRun`]: the set-up the end-to-end tests of a carbon fault share (an outage, a
//! hang): a periodic pusher to the real carbon, every second, and a thread recording into
//! its registry the whole time, timed per stage of the fault.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use scales::Registry;
use scales_graphite::{Builder, GraphitePusher, Health, PeriodicPusher};

use super::{carbon_addr, drain_and_stop, missing, run_id, stored_pushes, wait_for};

/// Where the fault stands; the recording thread times each stage apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Carbon is up.
    Up = 0,
    /// Carbon is down, frozen or dying.
    Fault = 1,
    /// Carbon is being brought back, or is back.
    Back = 2,
}

/// The recording of one stage: operations done, and the slowest batch of 1,000 calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct Recording {
    pub ops: u64,
    pub slowest_batch: Duration,
}

/// A pusher and a recorder through a carbon fault.
pub struct FaultRun {
    /// Every metric's prefix: `e2e.<run id>`.
    pub prefix: String,
    pub pusher: PeriodicPusher,
    stage: Arc<AtomicU8>,
    done: Arc<AtomicBool>,
    recorder: JoinHandle<[Recording; 3]>,
}

/// How a fault run ended.
#[derive(Debug)]
pub struct Finished {
    /// `{prefix}.scales.graphite.pushes` as carbon stored it, through the last push (see
    /// [`stored_pushes`]).
    pub stored: Vec<(u64, f64)>,
    /// The pusher's health once stopped.
    pub health: Health,
    /// The recording of each [`Stage`].
    pub recording: [Recording; 3],
}

impl FaultRun {
    /// Starts pushing `registry` every second, with a 50 to 400 ms backoff and what
    /// `settings` adds, and a thread that calls `record` in batches of 1,000 (each call
    /// returns the operations it did) with a short pause between batches. Waits until
    /// carbon stored `pushes` pushes (the fault may start then).
    pub fn start(
        registry: &Registry,
        settings: impl FnOnce(Builder) -> Builder,
        mut record: impl FnMut() -> u64 + Send + 'static,
        pushes: usize,
    ) -> Self {
        let prefix = format!("e2e.{}", run_id());
        let builder = GraphitePusher::builder(carbon_addr())
            .prefix(&prefix)
            .period(Duration::from_secs(1))
            .backoff(Duration::from_millis(50), Duration::from_millis(400));
        let pusher = settings(builder).spawn(registry).unwrap();
        let stage = Arc::new(AtomicU8::new(Stage::Up as u8));
        let done = Arc::new(AtomicBool::new(false));
        let recorder = {
            let (stage, done) = (stage.clone(), done.clone());
            thread::spawn(move || {
                let mut stages = [Recording::default(); 3];
                while !done.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let mut ops = 0;
                    for _ in 0..1000 {
                        ops += record();
                    }
                    let elapsed = started.elapsed();
                    let s = &mut stages[usize::from(stage.load(Ordering::Relaxed))];
                    s.ops += ops;
                    s.slowest_batch = s.slowest_batch.max(elapsed);
                    thread::sleep(Duration::from_micros(500));
                }
                stages
            })
        };
        let name = format!("{prefix}.scales.graphite.pushes");
        wait_for(&name, Duration::from_secs(15), |p| p.len() >= pushes);
        Self {
            prefix,
            pusher,
            stage,
            done,
            recorder,
        }
    }

    /// Marks the stage the recordings from now on belong to.
    pub fn stage(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }

    /// Once carbon is back: waits (at most 25 s) until nothing is buffered and two more
    /// pushes went through, stops the pusher and the recorder, and reads back what carbon
    /// stored (which [`assert_every_period`](super::assert_every_period) checks).
    pub fn finish(self) -> Finished {
        let health = drain_and_stop(self.pusher, Duration::from_secs(25));
        self.done.store(true, Ordering::Relaxed);
        let recording = self.recorder.join().unwrap();
        let stored = stored_pushes(&self.prefix, &health);
        let missing = missing(&stored);
        eprintln!(
            "{}: stored {:?}..{:?}, {} periods missing {missing:?}; final {health:?}; \
             recording up/fault/back {recording:?}",
            self.prefix,
            stored[0],
            stored.last().unwrap(),
            missing.len(),
        );
        Finished {
            stored,
            health,
            recording,
        }
    }
}
