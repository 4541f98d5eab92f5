//! A hung carbon against a real carbon-cache (`SCALES_E2E=1`): carbon is frozen with
//! SIGSTOP for several periods while pushes go on (its kernel still accepts connections and
//! bytes, carbon reads none), then killed with SIGKILL (everything it had not read is lost)
//! and restarted with `scripts/services/carbon.sh start` on the same ports. Every period's
//! point must be in whisper, the health must show the stall, and recording must never wait.
//!
//! It freezes, kills and restarts the shared carbon, so it holds carbon exclusively
//! ([`Access::Exclusive`]): no other end-to-end test runs meanwhile.
//! Rerun: `scripts/services/carbon.sh start`, export what `scripts/services/carbon.sh env`
//! prints, then `SCALES_E2E=1 cargo test -p scales-graphite --test it e2e_hang -- --nocapture`
//! (`SCALES_E2E_FREEZE_SECS=20` for a longer freeze than the default 8 s).

use std::thread;
use std::time::Duration;

use scales::Registry;

use crate::support::fault_run::{FaultRun, Stage};
use crate::support::{
    assert_every_period, carbon, carbon_pid, crash_carbon, e2e, missing, now, signal, Access,
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
    let Some(_carbon) = e2e(
        "every_period_arrives_after_carbon_hangs_then_is_killed_and_restarted",
        Access::Exclusive,
    ) else {
        return;
    };
    let registry = Registry::new();
    let ticks = registry.scope("/hang").unwrap().int_stat("ticks").unwrap();
    let run = FaultRun::start(
        &registry,
        |builder| builder.write_timeout(Duration::from_secs(2)),
        move || {
            ticks.inc();
            1
        },
        2,
    );

    let pid = carbon_pid();
    let frozen_at = now();
    signal(pid, "STOP");
    run.stage(Stage::Fault);
    thread::sleep(frozen());
    let during = run.pusher.health();
    eprintln!("while frozen: {during:?}");
    crash_carbon();
    run.stage(Stage::Back);
    let killed_at = now();
    carbon("start");

    let done = run.finish();
    let (stored, health) = (&done.stored, &done.health);
    let in_fault = (frozen_at..=killed_at).count();
    let lost_in_fault = missing(stored)
        .iter()
        .filter(|ts| (frozen_at..=killed_at).contains(*ts))
        .count();
    eprintln!("frozen {frozen_at}..{killed_at}: {lost_in_fault} of {in_fault} periods of the fault missing");
    let (first_ts, _, last_ts) = assert_every_period(stored);
    assert!(first_ts < frozen_at && last_ts > killed_at + 1);

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
    let frozen = done.recording[Stage::Fault as usize];
    assert!(
        frozen.slowest_batch < Duration::from_millis(100),
        "1,000 recordings took {:?} while carbon was frozen",
        frozen.slowest_batch
    );
}
