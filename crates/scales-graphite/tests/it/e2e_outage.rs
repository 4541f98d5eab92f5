//! Outage against a real carbon-cache (`SCALES_E2E=1`): carbon is stopped for several
//! periods while the program keeps recording, then restarted; every period's point arrives,
//! once per timestamp, none missing, and recording was never held up.
//!
//! It stops and restarts the shared carbon, so it holds carbon exclusively
//! ([`Access::Exclusive`]): no other end-to-end test runs meanwhile.

use std::thread;
use std::time::Duration;

use scales::Registry;

use crate::support::fault_run::{FaultRun, Stage};
use crate::support::{assert_every_period, carbon, e2e, now, wait_for, Access};

#[test]
fn every_period_arrives_once_through_an_outage_and_recording_never_waits() {
    let Some(_carbon) = e2e(
        "every_period_arrives_once_through_an_outage_and_recording_never_waits",
        Access::Exclusive,
    ) else {
        return;
    };
    let registry = Registry::new();
    let scope = registry.scope("/outage").unwrap();
    let ticks = scope.int_stat("ticks").unwrap();
    let latency = scope.pmf_stat("latency").unwrap();
    let mut i = 0u8;
    let run = FaultRun::start(
        &registry,
        |builder| builder,
        move || {
            ticks.inc();
            latency.record(f64::from(i % 7));
            i = i.wrapping_add(1);
            2
        },
        3,
    );

    let outage_start = now();
    carbon("stop");
    run.stage(Stage::Fault);
    thread::sleep(Duration::from_secs(4));
    let during = run.pusher.health();
    assert!(during.failures > 0, "{during:?}");
    assert!(during.points_buffered > 0, "{during:?}");
    run.stage(Stage::Back);
    carbon("start");
    let outage_end = now();

    let prefix = run.prefix.clone();
    let done = run.finish();
    let health = &done.health;
    assert_eq!(health.points_buffered, 0, "{health:?}");
    assert_eq!(health.points_dropped, 0, "{health:?}");
    eprintln!("outage {outage_start}..{outage_end}");
    // One point per second from the first to the last, each the next push.
    let (first_ts, _, last_ts) = assert_every_period(&done.stored);
    assert!(first_ts < outage_start && last_ts > outage_end + 1);
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
    let [up, down, _] = done.recording;
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
