//! Connection faults between the pusher and a real carbon-cache (`SCALES_E2E=1`), played by
//! a proxy on 127.0.0.1 (tests/it/support/proxy.rs): a listener that accepts and never reads
//! and is then closed, and connections reset in the middle of a batch. When the proxy
//! forwards again, every period's point must be in whisper, and the health must have told
//! what happened.
//!
//! Rerun: `scripts/services/carbon.sh start`, export what `scripts/services/carbon.sh env`
//! prints, then `SCALES_E2E=1 cargo test -p scales-graphite --test it e2e_faults -- --nocapture`.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use scales::Registry;
use scales_graphite::{GraphitePusher, Health, PeriodicPusher};

use crate::support::proxy::{Mode, Proxy};
use crate::support::{
    assert_every_period, carbon_addr, drain_and_stop, e2e, missing, run_id, stored_pushes,
    wait_for, wait_health, whisper_path, Access,
};

fn carbon() -> SocketAddr {
    carbon_addr().parse().unwrap()
}

fn pusher(addr: SocketAddr, prefix: &str, registry: &Registry) -> PeriodicPusher {
    GraphitePusher::builder(addr.to_string())
        .prefix(prefix)
        .period(Duration::from_secs(1))
        .write_timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .spawn(registry)
        .unwrap()
}

/// Waits until the pusher has nothing buffered and pushed twice more, stops it, and checks
/// that `{prefix}.scales.graphite.pushes` has one point per period from the very first push
/// (value 0) to the last; returns the stored points and the final health.
fn stop_and_check_every_period(pusher: PeriodicPusher, prefix: &str) -> (Vec<(u64, f64)>, Health) {
    let health = drain_and_stop(pusher, Duration::from_secs(20));
    let stored = stored_pushes(prefix, &health);
    let missing = missing(&stored);
    eprintln!(
        "{prefix}: stored {:?}..{:?}, {} periods missing {missing:?}; final {health:?}",
        stored[0],
        stored.last().unwrap(),
        missing.len()
    );
    let (_, first_value, _) = assert_every_period(&stored);
    assert_eq!(first_value, 0.0, "the first pushes are missing");
    assert_eq!(health.points_dropped, 0, "{health:?}");
    assert_eq!(health.points_buffered, 0, "{health:?}");
    (stored, health)
}

#[test]
fn a_listener_that_never_reads_is_a_stall_and_loses_nothing() {
    let Some(_carbon) = e2e(
        "a_listener_that_never_reads_is_a_stall_and_loses_nothing",
        Access::Shared,
    ) else {
        return;
    };
    let prefix = format!("e2e.{}.hang", run_id());
    let registry = Registry::new();
    let _stat = registry.scope("/app").unwrap().int_stat("x").unwrap();
    // It accepts every connection and reads nothing, for longer than the pusher's five
    // seconds of keeping what it wrote.
    let proxy = Proxy::start(carbon(), Mode::Hang);
    let pusher = pusher(proxy.addr, &prefix, &registry);
    let hung = wait_health(&pusher, Duration::from_secs(15), |h| {
        h.pushes >= 6 && h.stalls >= 2
    });
    eprintln!("never read: {hung:?}, {} connections held", proxy.held());
    assert!(hung.failures >= hung.stalls, "{hung:?}");
    let expected = format!("carbon at {} stopped reading: ", proxy.addr);
    assert!(
        hung.last_error.starts_with(&expected),
        "{}",
        hung.last_error
    );
    assert!(
        hung.last_error
            .contains(" points written were not read within 1 s at "),
        "{}",
        hung.last_error
    );
    assert!(hung.points_buffered >= 5, "{hung:?}");
    // Then it closes: the held connections reset, new ones are refused.
    proxy.close();
    let refused = wait_health(&pusher, Duration::from_secs(5), |h| {
        h.last_error.starts_with("cannot connect to carbon at ")
    });
    // A real listener comes back (the proxy forwards to carbon).
    proxy.reopen(Mode::Forward);
    let (_, health) = stop_and_check_every_period(pusher, &prefix);
    assert!(refused.failures > hung.failures, "{refused:?}");
    assert!(health.failures >= refused.failures, "{health:?}");
    assert_eq!(health.last_error, "");
}

#[test]
fn resets_in_the_middle_of_a_batch_are_failures_and_lose_nothing() {
    let Some(_carbon) = e2e(
        "resets_in_the_middle_of_a_batch_are_failures_and_lose_nothing",
        Access::Shared,
    ) else {
        return;
    };
    let prefix = format!("e2e.{}.reset", run_id());
    let registry = Registry::new();
    // 20 stats with 150-byte names: a batch of about 5 kB, cut after 1,000 bytes.
    let scope = registry
        .scope(&format!("/app/{}", "n".repeat(150)))
        .unwrap();
    let stats: Vec<_> = (0..20)
        .map(|i| scope.int_stat(&format!("s{i}")).unwrap())
        .collect();
    for (i, stat) in stats.iter().enumerate() {
        stat.set(i as i64);
    }
    // Each connection: 1,000 bytes go on to carbon (ending in a cut line), then a reset.
    let proxy = Proxy::start(carbon(), Mode::ResetAfter(1000));
    let pusher = pusher(proxy.addr, &prefix, &registry);
    let deadline = Instant::now() + Duration::from_secs(15);
    while proxy.resets() < 4 {
        assert!(
            Instant::now() < deadline,
            "{} resets: {:?}",
            proxy.resets(),
            pusher.health()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let during = pusher.health();
    eprintln!("{} resets: {during:?}", proxy.resets());
    assert!(during.failures >= 3, "resets are failures: {during:?}");
    assert!(
        during
            .last_error
            .starts_with(&format!("carbon at {} closed the connection: ", proxy.addr))
            || during
                .last_error
                .starts_with(&format!("writing to carbon at {} failed: ", proxy.addr)),
        "{}",
        during.last_error
    );
    assert_eq!(during.stalls, 0, "{during:?}");
    proxy.set_mode(Mode::Forward);
    let (stored, health) = stop_and_check_every_period(pusher, &prefix);
    assert!(health.points_resent > 0, "{health:?}");
    // The last line of every batch (the one after the cut) is there for every period, and
    // the cut lines made no stray metric.
    let last = format!("{prefix}.app.{}.s19", "n".repeat(150));
    let stamps: Vec<u64> = stored.iter().map(|&(ts, _)| ts).collect();
    let got = wait_for(&last, Duration::from_secs(10), |p| {
        stamps.iter().all(|ts| p.iter().any(|(t, _)| t == ts))
    });
    assert!(got.iter().all(|&(_, v)| v == 19.0), "{got:?}");
    let dir = whisper_path(&format!("{prefix}.app.{}.x", "n".repeat(150)));
    let mut files: Vec<String> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("s{i}.wsp")).collect();
    expected.sort();
    assert_eq!(files, expected, "a cut line made a stray metric");
}
