//! A hung carbon against a real carbon-cache (`SCALES_E2E=1`): carbon is frozen with
//! SIGSTOP for several periods while pushes go on (its kernel still accepts connections and
//! bytes, carbon reads none), then killed with SIGKILL (everything it had not read is lost)
//! and restarted with `scripts/services/carbon.sh start` on the same ports. Every period's
//! point must be in whisper, the health must show the stall, and recording must never wait.
//!
//! Its own test binary, because it freezes, kills and restarts the shared carbon.
//! Rerun: `scripts/services/carbon.sh start`, export what `scripts/services/carbon.sh env`
//! prints, then `SCALES_E2E=1 cargo test -p scales-graphite --test e2e_hang -- --nocapture`
//! (`SCALES_E2E_FREEZE_SECS=20` for a longer freeze than the default 8 s).

mod support;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use scales::Registry;
use scales_graphite::GraphitePusher;
use support::{
    carbon, carbon_addr, carbon_pid, crash_carbon, enabled, missing, now, run_id, wait_for,
    wait_for_push,
};

/// How long carbon stays frozen: eight periods by default, more than the pusher's default
/// five seconds of watching carbon after it read a push; `SCALES_E2E_FREEZE_SECS` sets
/// another (for measurements).
fn frozen() -> Duration {
    let secs = std::env::var("SCALES_E2E_FREEZE_SECS").map_or(8, |s| {
        s.parse()
            .unwrap_or_else(|e| panic!("SCALES_E2E_FREEZE_SECS={s}: {e}"))
    });
    Duration::from_secs(secs)
}

#[test]
fn every_period_arrives_after_carbon_hangs_then_is_killed_and_restarted() {
    if !enabled("every_period_arrives_after_carbon_hangs_then_is_killed_and_restarted") {
        return;
    }
    let prefix = format!("e2e.{}", run_id());
    let registry = Registry::new();
    let scope = registry.scope("/hang").unwrap();
    let ticks = scope.int_stat("ticks").unwrap();

    let pusher = GraphitePusher::builder(carbon_addr())
        .prefix(&prefix)
        .period(Duration::from_secs(1))
        .write_timeout(Duration::from_secs(2))
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .spawn(&registry)
        .unwrap();

    // A recording thread; the slowest batch of 1,000 recordings per phase
    // (0: carbon up, 1: frozen, 2: killed and back).
    let phase = Arc::new(AtomicU8::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let recorder = {
        let (phase, done, ticks) = (phase.clone(), done.clone(), ticks.clone());
        thread::spawn(move || {
            let mut slowest = [Duration::ZERO; 3];
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                for _ in 0..1000 {
                    ticks.inc();
                }
                let p = usize::from(phase.load(Ordering::Relaxed));
                slowest[p] = slowest[p].max(started.elapsed());
                thread::sleep(Duration::from_micros(500));
            }
            slowest
        })
    };

    // `scales.graphite.pushes` is the number of pushes rendered before each one: 0, 1, 2,
    // ... one per timestamp, so a missing period shows.
    let pushes = format!("{prefix}.scales.graphite.pushes");
    wait_for(&pushes, Duration::from_secs(15), |p| p.len() >= 2);

    let pid = carbon_pid();
    let frozen_at = now();
    support::signal(pid, "STOP");
    phase.store(1, Ordering::Relaxed);
    thread::sleep(frozen());
    let during = pusher.health();
    eprintln!("while frozen: {during:?}");
    crash_carbon();
    phase.store(2, Ordering::Relaxed);
    let killed_at = now();
    carbon("start");

    // Wait until nothing is buffered and two more pushes went through.
    let deadline = Instant::now() + Duration::from_secs(25);
    let pushes_then = pusher.health().pushes;
    while pusher.health().points_buffered > 0 || pusher.health().pushes < pushes_then + 2 {
        assert!(Instant::now() < deadline, "{:?}", pusher.health());
        thread::sleep(Duration::from_millis(100));
    }
    done.store(true, Ordering::Relaxed);
    let slowest = recorder.join().unwrap();
    let health = pusher.stop();

    let last_push = (health.pushes - 1) as f64;
    let stored = wait_for_push(&pushes, last_push);
    let (first_ts, first_value) = stored[0];
    let (last_ts, _) = *stored.last().unwrap();
    let missing = missing(&stored);
    let in_fault = (frozen_at..=killed_at).count();
    let lost_in_fault = missing
        .iter()
        .filter(|ts| (frozen_at..=killed_at).contains(*ts))
        .count();
    eprintln!(
        "frozen {frozen_at}..{killed_at}: {lost_in_fault} of {in_fault} periods of the fault \
         missing, {} missing in all, {missing:?}; stored {first_ts}..{last_ts}; final {health:?}; \
         slowest 1,000 recordings up/frozen/back {slowest:?}",
        missing.len()
    );
    assert!(first_ts < frozen_at && last_ts > killed_at + 1);
    assert_eq!(missing, Vec::<u64>::new(), "periods missing from whisper");
    let expected: Vec<(u64, f64)> = (first_ts..=last_ts)
        .map(|ts| (ts, first_value + (ts - first_ts) as f64))
        .collect();
    assert_eq!(
        stored, expected,
        "a period is shifted or carries another push"
    );

    // The health told the stall while carbon was frozen, readably, and counted it.
    assert!(during.stalls > 0, "{during:?}");
    assert!(during.failures >= during.stalls, "{during:?}");
    assert!(
        during.last_error.contains("stopped reading"),
        "{}",
        during.last_error
    );
    assert!(during.points_buffered > 0, "{during:?}");
    assert_eq!(health.points_dropped, 0, "{health:?}");
    assert_eq!(health.points_buffered, 0, "{health:?}");
    // The kill resets the connection carbon had not read: a failure too.
    assert!(health.failures > during.failures, "{health:?}");

    // Recording never waited for the frozen carbon.
    assert!(
        slowest[1] < Duration::from_millis(100),
        "1,000 recordings took {:?} while carbon was frozen",
        slowest[1]
    );
}
