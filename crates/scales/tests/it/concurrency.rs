//! Many threads recording into the same stats while another thread takes snapshots: totals
//! must be exact, snapshots must never go backwards, and declaring the same stat from many
//! threads at once must give one shared stat.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;

use scales::{Error, IntStat, Registry, Snapshot, StatValue, Stats, SumAggregationStat};

use crate::support::{counts, distribution, int, stat_value};

const THREADS: usize = 8;
const OPS: usize = 20_000;

/// Runs `reader` on snapshots of `reg` in a loop on another thread until `work` returns;
/// returns how many snapshots the reader took.
fn with_concurrent_reader(
    reg: &Registry,
    mut reader: impl FnMut(&Snapshot) + Send,
    work: impl FnOnce(),
) -> usize {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let handle = s.spawn(|| {
            let mut taken = 0;
            // At least one snapshot even if the writers are done before this thread starts.
            loop {
                let done = stop.load(Ordering::Acquire);
                reader(&reg.snapshot());
                taken += 1;
                if done {
                    return taken;
                }
            }
        });
        work();
        stop.store(true, Ordering::Release);
        handle.join().unwrap()
    })
}

#[test]
fn recording_from_many_threads_is_exact_while_snapshotting() {
    let reg = Registry::new();
    let scope = reg.scope("/hot").unwrap();
    let ints = scope.int_stat("ints").unwrap();
    let doubles = scope.double_stat("doubles").unwrap();
    let dict = scope.int_dict_stat("dict").unwrap();
    let pmf = scope.pmf_stat("pmf").unwrap();
    let meter = scope.meter_stat("meter").unwrap();
    dict.inc("existing");

    // Observed values only ever grow.
    let mut last = (0i64, 0u64, 0u64, 0i64);
    let snapshots = with_concurrent_reader(
        &reg,
        |snap| {
            let ints = int(&snap.stat("/hot/ints").unwrap().value);
            let pmf_count = distribution(&snap.stat("/hot/pmf").unwrap().value).count();
            let meter_count = match &snap.stat("/hot/meter").unwrap().value {
                StatValue::Meter(m) => m.count,
                other => panic!("{other:?}"),
            };
            let existing = counts(&snap.stat("/hot/dict").unwrap().value)["existing"];
            let now = (ints, pmf_count, meter_count, existing);
            assert!(
                now.0 >= last.0 && now.1 >= last.1 && now.2 >= last.2 && now.3 >= last.3,
                "went backwards: {last:?} -> {now:?}"
            );
            last = now;
        },
        || {
            thread::scope(|s| {
                for t in 0..THREADS {
                    let (ints, doubles, dict, pmf, meter) = (&ints, &doubles, &dict, &pmf, &meter);
                    s.spawn(move || {
                        let own_key = format!("thread-{t}");
                        for i in 0..OPS {
                            ints.inc();
                            doubles.add(0.5);
                            dict.inc("existing");
                            dict.inc(&own_key);
                            if i % 100 == 0 {
                                // A key every thread creates at about the same time.
                                dict.inc(&format!("shared-{}", i / 100));
                            }
                            pmf.record((i % 1000 + 1) as f64);
                            meter.mark();
                        }
                    });
                }
            });
        },
    );
    assert!(snapshots >= 1);

    let total = (THREADS * OPS) as i64;
    assert_eq!(ints.get(), total);
    assert_eq!(doubles.get(), total as f64 * 0.5);
    assert_eq!(dict.get("existing"), total + 1);
    for t in 0..THREADS {
        assert_eq!(dict.get(&format!("thread-{t}")), OPS as i64);
    }
    for k in 0..OPS / 100 {
        assert_eq!(dict.get(&format!("shared-{k}")), THREADS as i64);
    }
    assert_eq!(dict.entries().len(), 1 + THREADS + OPS / 100);

    let summary = pmf.snapshot();
    assert_eq!(summary.count(), total as u64);
    assert_eq!(summary.min(), Some(1.0));
    assert_eq!(summary.max(), Some(1000.0));
    // 1..=1000 repeated OPS / 1000 times per thread; integer sums are exact in f64.
    let expected_sum = (1000.0 * 1001.0 / 2.0) * (OPS / 1000 * THREADS) as f64;
    assert_eq!(summary.sum(), expected_sum);
    assert_eq!(meter.rates().count, total as u64);

    // The final snapshot agrees with the handles.
    let snap = reg.snapshot();
    assert_eq!(int(&snap.stat("/hot/ints").unwrap().value), total);
    assert_eq!(
        distribution(&snap.stat("/hot/pmf").unwrap().value).count(),
        total as u64
    );
}

#[test]
fn auto_delete_dict_is_exact_while_snapshots_delete_zeros() {
    let reg = Registry::new();
    let dict = reg
        .scope("/auto")
        .unwrap()
        .declare_with::<scales::IntDictStat>("active", scales::StatOptions::auto_delete())
        .unwrap();

    with_concurrent_reader(
        &reg,
        |snap| {
            let entries = counts(&snap.stat("/auto/active").unwrap().value);
            // Each thread enters before it leaves, so a key is never below 0 or above the
            // number of threads; removal must never make a count go astray.
            for key in ["flap", "pair"] {
                if let Some(&n) = entries.get(key) {
                    assert!((0..=THREADS as i64).contains(&n), "{key} = {n}");
                }
            }
            assert!(entries.get("keep").is_none_or(|&n| n > 0), "{entries:?}");
        },
        || {
            thread::scope(|s| {
                for _ in 0..THREADS {
                    s.spawn(|| {
                        for _ in 0..OPS / 2 {
                            dict.inc("flap");
                            dict.inc("keep");
                            dict.dec("flap");
                            dict.add("pair", 1);
                            dict.add("pair", -1);
                        }
                    });
                }
            });
        },
    );

    assert_eq!(dict.get("keep"), (THREADS * OPS / 2) as i64);
    assert_eq!(dict.get("flap"), 0);
    assert_eq!(dict.get("pair"), 0);
    // The zero keys are gone once read.
    assert_eq!(
        counts(&stat_value(&reg, "auto/active")),
        [("keep".to_owned(), (THREADS * OPS / 2) as i64)].into()
    );
}

#[derive(Stats)]
struct Worker {
    finished: IntStat,
}

#[derive(Stats)]
struct Pool {
    finished: SumAggregationStat,
}

#[test]
fn threads_that_exit_before_the_read_leave_their_counts() {
    let reg = Registry::new();
    let scope = reg.scope("/exited").unwrap();
    let pool = reg.init::<Pool>("/pool").unwrap();

    thread::scope(|s| {
        for t in 0..THREADS {
            let (scope, pool) = (&scope, &pool);
            s.spawn(move || {
                // Handles declared on this thread and dropped when it exits.
                let own = scope.int_stat(&format!("thread-{t}")).unwrap();
                let shared = scope.int_stat("shared").unwrap();
                let worker = pool.init_child::<Worker>(&format!("worker-{t}")).unwrap();
                for _ in 0..1000 {
                    own.inc();
                    shared.inc();
                    worker.finished.inc();
                }
            });
        }
    });

    let snap = reg.snapshot();
    // The scope is alive, so stats declared through it stay after their handles are gone.
    for t in 0..THREADS {
        assert_eq!(
            int(&snap.stat(&format!("exited/thread-{t}")).unwrap().value),
            1000
        );
    }
    assert_eq!(
        int(&snap.stat("/exited/shared").unwrap().value),
        THREADS as i64 * 1000
    );
    // The workers' own stat sets are gone with their threads; the pool's sum kept their work.
    assert_eq!(
        int(&snap.stat("/pool/finished").unwrap().value),
        THREADS as i64 * 1000
    );
    assert!(snap.get("/pool/worker-0").is_none());
}

#[test]
fn declaring_the_same_stat_from_many_threads_gives_one_stat() {
    let reg = Registry::new();
    let barrier = Barrier::new(THREADS);
    let handles: Vec<_> = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (reg, barrier) = (&reg, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let scope = reg.scope("/same/place").unwrap();
                    let counter = scope.int_stat("n").unwrap();
                    let latency = scope.pmf_stat("latency").unwrap();
                    for _ in 0..1000 {
                        counter.inc();
                        latency.record(1.0);
                    }
                    (scope, counter, latency)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    // Every thread's scope is its own owner, of one shared container.
    let ids: std::collections::BTreeSet<u64> = handles.iter().map(|(s, _, _)| s.id()).collect();
    assert_eq!(ids.len(), THREADS);
    for (_, counter, latency) in &handles {
        assert_eq!(counter.get(), THREADS as i64 * 1000);
        assert_eq!(latency.snapshot().count(), THREADS as u64 * 1000);
    }
    let snap = reg.snapshot();
    match snap.get("/same/place") {
        Some(scales::Node::Group(group)) => {
            let names: Vec<&str> = group.entries.iter().map(|e| &*e.name).collect();
            assert_eq!(names, ["n", "latency"]);
        }
        other => panic!("{other:?}"),
    }
    drop(handles);
    assert!(reg.snapshot().get("same").is_none());
}

#[test]
fn racing_declarations_of_different_kinds_have_one_winner() {
    let reg = Registry::new();
    let scope = reg.scope("/race").unwrap();
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<&str, Error>> = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (scope, barrier) = (&scope, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    if t % 2 == 0 {
                        scope.int_stat("x").map(|_| "IntStat")
                    } else {
                        scope.pmf_stat("x").map(|_| "PmfStat")
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let winners: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = *winners.iter().next().unwrap();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), THREADS / 2);
    for r in &results {
        if let Err(Error::KindMismatch { existing, .. }) = r {
            assert_eq!(existing.to_string(), winner);
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
}

#[derive(Stats)]
struct ChurnParent {
    finished: SumAggregationStat,
    latency: scales::PmfAggregationStat,
    codes: scales::IntDictSumAggregationStat,
}

#[derive(Stats)]
struct ChurnChild {
    finished: IntStat,
    latency: scales::PmfStat,
    codes: scales::IntDictStat,
}

#[test]
fn aggregations_never_go_backwards_while_children_come_and_go() {
    let reg = Registry::new();
    let parent = reg.init::<ChurnParent>("/churn").unwrap();
    const CHILDREN_PER_THREAD: usize = 3_000;
    let mut dips = Vec::new();
    let reads = with_concurrent_reader(
        &reg,
        |snap| {
            let finished = int(&snap.stat("/churn/finished").unwrap().value);
            let latency = distribution(&snap.stat("/churn/latency").unwrap().value).count();
            let codes = counts(&snap.stat("/churn/codes").unwrap().value)
                .get("200")
                .copied()
                .unwrap_or(0);
            dips.push((finished, latency, codes));
        },
        || {
            thread::scope(|s| {
                for t in 0..2 {
                    let parent = &parent;
                    s.spawn(move || {
                        for i in 0..CHILDREN_PER_THREAD {
                            let child = parent
                                .init_child::<ChurnChild>(&format!("t{t}-{}", i % 7))
                                .unwrap();
                            child.finished.add(2);
                            child.latency.record(0.5);
                            child.codes.inc("200");
                        }
                    });
                }
            });
        },
    );
    let backwards = dips
        .windows(2)
        .filter(|w| w[1].0 < w[0].0 || w[1].1 < w[0].1 || w[1].2 < w[0].2)
        .count();
    assert_eq!(backwards, 0, "{backwards} of {reads} reads went backwards");
    let total = (2 * CHILDREN_PER_THREAD) as i64;
    let snap = reg.snapshot();
    assert_eq!(int(&snap.stat("/churn/finished").unwrap().value), 2 * total);
    assert_eq!(
        distribution(&snap.stat("/churn/latency").unwrap().value).count(),
        total as u64
    );
}
