//! Outage against a real carbon-cache (`SCALES_E2E=1`): carbon is stopped for several
//! periods while the program keeps recording, then restarted; every period's point arrives,
//! once per timestamp, none missing, and recording was never held up.
//!
//! Its own test binary, because it stops and restarts the shared carbon.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use scales::Registry;
use scales_graphite::GraphitePusher;
use support::{carbon, carbon_addr, enabled, now, run_id, wait_for, wait_for_push};

/// Recording statistics of one phase: operations done and the slowest batch of 1,000.
#[derive(Debug, Default, Clone, Copy)]
struct Phase {
    ops: u64,
    slowest_batch: Duration,
}

#[test]
fn every_period_arrives_once_through_an_outage_and_recording_never_waits() {
    if !enabled("every_period_arrives_once_through_an_outage_and_recording_never_waits") {
        return;
    }
    let prefix = format!("e2e.{}", run_id());
    let registry = Registry::new();
    let scope = registry.scope("/outage").unwrap();
    let ticks = scope.int_stat("ticks").unwrap();
    let latency = scope.pmf_stat("latency").unwrap();

    let pusher = GraphitePusher::builder(carbon_addr())
        .prefix(&prefix)
        .period(Duration::from_secs(1))
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .spawn(&registry)
        .unwrap();

    // A recording thread, timing batches of 1,000 operations per phase
    // (0: carbon up, 1: carbon down, 2: back up).
    let phase = Arc::new(AtomicU8::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let recorder = {
        let (phase, done, ticks, latency) =
            (phase.clone(), done.clone(), ticks.clone(), latency.clone());
        thread::spawn(move || {
            let mut phases = [Phase::default(); 3];
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                for i in 0..1000 {
                    ticks.inc();
                    latency.record(f64::from(i % 7));
                }
                let elapsed = started.elapsed();
                let p = &mut phases[usize::from(phase.load(Ordering::Relaxed))];
                p.ops += 2000;
                p.slowest_batch = p.slowest_batch.max(elapsed);
                thread::sleep(Duration::from_micros(200));
            }
            phases
        })
    };

    // `scales.graphite.pushes` counts the pushes rendered before each one: 0, 1, 2, ... one
    // per timestamp, so a missing, shifted or doubled period shows.
    let pushes = format!("{prefix}.scales.graphite.pushes");
    wait_for(&pushes, Duration::from_secs(15), |p| p.len() >= 3);

    let outage_start = now();
    carbon("stop");
    phase.store(1, Ordering::Relaxed);
    thread::sleep(Duration::from_secs(4));
    let during = pusher.health();
    assert!(during.failures > 0, "{during:?}");
    assert!(during.points_buffered > 0, "{during:?}");
    phase.store(2, Ordering::Relaxed);
    carbon("start");
    let outage_end = now();

    // Wait until the buffer drained and a couple more pushes went through.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pushes_then = pusher.health().pushes;
    while pusher.health().points_buffered > 0 || pusher.health().pushes < pushes_then + 2 {
        assert!(Instant::now() < deadline, "{:?}", pusher.health());
        thread::sleep(Duration::from_millis(100));
    }
    done.store(true, Ordering::Relaxed);
    let phases = recorder.join().unwrap();
    let health = pusher.stop();
    assert_eq!(health.points_buffered, 0, "{health:?}");
    assert_eq!(health.points_dropped, 0, "{health:?}");

    // Everything the pusher sent is on disk within a few seconds.
    let last_push = (health.pushes - 1) as f64;
    let stored = wait_for_push(&pushes, last_push);
    let (first_ts, first_value) = stored[0];
    let (last_ts, _) = *stored.last().unwrap();
    eprintln!(
        "outage {outage_start}..{outage_end}, stored {first_ts}..{last_ts} ({} points), {health:?}, recording {phases:?}",
        stored.len()
    );
    assert!(first_ts < outage_start && last_ts > outage_end + 1);
    // One point per second from the first to the last, each the next push.
    let expected: Vec<(u64, f64)> = (first_ts..=last_ts)
        .map(|ts| (ts, first_value + (ts - first_ts) as f64))
        .collect();
    assert_eq!(stored, expected, "a period is missing, shifted or doubled");
    // The points pushed while carbon was down carry the counts of their own time: the
    // recorded `ticks` only grow, one value per period.
    let ticks_stored = wait_for(
        &format!("{prefix}.outage.ticks"),
        Duration::from_secs(5),
        |p| p.last().is_some_and(|&(ts, _)| ts >= last_ts - 1),
    );
    assert!(ticks_stored
        .windows(2)
        .all(|w| w[0].1 <= w[1].1 && w[0].0 + 1 == w[1].0));

    // Recording went on at full speed while carbon was down.
    let (up, down) = (phases[0], phases[1]);
    assert!(
        down.ops >= 100_000,
        "only {} operations in 4 s of outage",
        down.ops
    );
    assert!(
        down.slowest_batch < Duration::from_millis(100),
        "a batch of 1,000 recordings took {:?} during the outage (before: {:?})",
        down.slowest_batch,
        up.slowest_batch
    );
}
