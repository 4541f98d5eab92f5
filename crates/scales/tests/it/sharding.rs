//! Per-thread storage of counters, meters and distributions: totals stay exact while threads
//! come and go, updates made from thread-local destructors are kept, readers never see a
//! monotonic counter go backwards. (That per-thread blocks are returned when threads exit
//! is a unit test of `stats::pmf`.)

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use scales::{IntStat, MeterStat, PmfStat, Registry, Scope};

fn scope() -> (Registry, Scope) {
    let reg = Registry::new();
    let scope = reg.scope("/sharding").unwrap();
    (reg, scope)
}

#[test]
fn int_totals_are_exact_with_threads_alive_and_exited() {
    let (_reg, scope) = scope();
    let stat = scope.int_stat("ops").unwrap();
    let meter = scope.meter_stat("marks").unwrap();
    let mut expected = 0i64;
    for wave in 0..6 {
        // 2 threads exit before the read, 2 stay alive (parked) across it.
        let parked = Arc::new(Barrier::new(3));
        let release = Arc::new(Barrier::new(3));
        let mut handles = Vec::new();
        for t in 0..4 {
            let (stat, meter) = (stat.clone(), meter.clone());
            let (parked, release) = (parked.clone(), release.clone());
            handles.push(thread::spawn(move || {
                for i in 0..10_000 {
                    if i % 10 == 0 {
                        stat.dec();
                    } else {
                        stat.add(2);
                    }
                    meter.mark();
                }
                if t >= 2 {
                    parked.wait();
                    release.wait();
                }
            }));
            expected += -1_000 + 9_000 * 2;
        }
        for handle in handles.drain(..2) {
            handle.join().unwrap();
        }
        parked.wait();
        assert_eq!(stat.get(), expected, "wave {wave}, 2 threads alive");
        assert_eq!(meter.rates().count, (wave + 1) * 40_000);
        release.wait();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(stat.get(), expected, "wave {wave}, all exited");
    }
}

#[test]
fn many_short_lived_threads() {
    let (_reg, scope) = scope();
    let stat = scope.int_stat("hits").unwrap();
    let meter = scope.meter_stat("marks").unwrap();
    let pmf = scope.pmf_stat("latency").unwrap();
    thread::scope(|s| {
        for batch in 0..50u64 {
            let handles: Vec<_> = (0..10u64)
                .map(|i| {
                    let (stat, meter, pmf) = (&stat, &meter, &pmf);
                    s.spawn(move || {
                        let n = batch * 10 + i;
                        stat.add(n as i64);
                        meter.add(n);
                        pmf.record(n as f64 + 1.0);
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
        }
    });
    // 500 threads, thread n adds n: 0 + 1 + … + 499.
    assert_eq!(stat.get(), 124_750);
    assert_eq!(meter.rates().count, 124_750);
    let snapshot = pmf.snapshot();
    assert_eq!(snapshot.count(), 500);
    assert_eq!(snapshot.sum(), 125_250.0);
    assert_eq!(snapshot.min(), Some(1.0));
    assert_eq!(snapshot.max(), Some(500.0));
}

/// Records into the stats when dropped, i.e. from a thread-local destructor.
struct RecordOnDrop {
    stat: IntStat,
    meter: MeterStat,
    pmf: PmfStat,
}

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        self.stat.add(7);
        self.meter.add(7);
        self.pmf.record(7.0);
        self.pmf.record(-1.0);
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<RecordOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn updates_from_other_thread_local_destructors_are_kept() {
    let (_reg, scope) = scope();
    let stat = scope.int_stat("fromDtor").unwrap();
    let meter = scope.meter_stat("fromDtor.marks").unwrap();
    let pmf = scope.pmf_stat("fromDtor.pmf").unwrap();
    let hook = || RecordOnDrop {
        stat: stat.clone(),
        meter: meter.clone(),
        pmf: pmf.clone(),
    };
    // Joined explicitly: the end of `thread::scope` does not wait for thread-local
    // destructors, `join` does.
    thread::scope(|s| {
        // (a) The hook is registered before scales' own thread-local: its destructor runs
        // after scales folded this thread, so its updates take the shared fallback.
        let a = hook();
        let first = s.spawn(|| {
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(a));
            stat.inc();
            meter.mark();
            pmf.record(1.0);
        });
        // (b) Registered after: its destructor runs first, into the live per-thread cells.
        let b = hook();
        let second = s.spawn(|| {
            stat.inc();
            meter.mark();
            pmf.record(1.0);
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(b));
        });
        // (c) The thread's first update happens inside the destructor.
        let c = hook();
        let third = s.spawn(|| ON_EXIT.with(|slot| *slot.borrow_mut() = Some(c)));
        for handle in [first, second, third] {
            handle.join().unwrap();
        }
    });
    assert_eq!(stat.get(), 2 + 3 * 7);
    assert_eq!(meter.rates().count, 2 + 3 * 7);
    let snapshot = pmf.snapshot();
    assert_eq!(snapshot.count(), 2 + 3 * 2);
    assert_eq!(snapshot.sum(), 2.0 + 3.0 * 6.0);
    assert_eq!(snapshot.min(), Some(-1.0));
    assert_eq!(snapshot.max(), Some(7.0));
}

#[test]
fn a_concurrent_reader_never_sees_a_counter_go_backwards() {
    let (_reg, scope) = scope();
    let stat = scope.int_stat("monotonic").unwrap();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut last, mut reads) = (0, 0u64);
            while !done.load(Ordering::Acquire) {
                let now = stat.get();
                assert!(now >= last, "went from {last} to {now}");
                last = now;
                reads += 1;
            }
            reads
        });
        // Writers that keep exiting, so reads race with folds into the retired total.
        for _ in 0..40 {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..20_000 {
                            stat.inc();
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
        }
        done.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    assert_eq!(stat.get(), 40 * 2 * 20_000);
}

#[test]
fn distribution_summary_is_exact_across_threads() {
    let (_reg, scope) = scope();
    let pmf = scope.pmf_stat("values").unwrap();
    let parked = Arc::new(Barrier::new(5));
    let release = Arc::new(Barrier::new(5));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (pmf, parked, release) = (pmf.clone(), parked.clone(), release.clone());
            thread::spawn(move || {
                // Integers (exact in f64 sums), plus zeros and negatives (the shared path).
                for i in 1..=10_000u64 {
                    pmf.record((t * 10_000 + i) as f64);
                }
                pmf.record(0.0);
                pmf.record(-(t as f64) - 1.0);
                if t % 2 == 0 {
                    parked.wait();
                    release.wait();
                }
            })
        })
        .collect();
    let check = |when: &str| {
        let s = pmf.snapshot();
        assert_eq!(s.count(), 80_000 + 16, "{when}");
        // 1 + … + 80 000, minus 1 + … + 8.
        assert_eq!(s.sum(), 3_200_040_000.0 - 36.0, "{when}");
        assert_eq!(s.min(), Some(-8.0), "{when}");
        assert_eq!(s.max(), Some(80_000.0), "{when}");
        let p50 = s.quantile(0.5).unwrap();
        assert!(
            (p50 - 40_000.0).abs() <= 40_000.0 * 0.01,
            "{when}: p50 {p50}"
        );
    };
    parked.wait();
    // The even threads are parked (their blocks live); the odd ones exit.
    let (even, odd): (Vec<_>, Vec<_>) = handles
        .into_iter()
        .enumerate()
        .partition(|(t, _)| t % 2 == 0);
    for (_, handle) in odd {
        handle.join().unwrap();
    }
    check("4 threads alive, 4 exited");
    release.wait();
    for (_, handle) in even {
        handle.join().unwrap();
    }
    check("all exited");
}

#[test]
fn set_adjusts_the_total_while_other_threads_hold_deltas() {
    let (_reg, scope) = scope();
    let stat = scope.int_stat("level").unwrap();
    let parked = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let handle = {
        let (stat, parked, release) = (stat.clone(), parked.clone(), release.clone());
        thread::spawn(move || {
            stat.add(100);
            parked.wait();
            release.wait();
            stat.add(5);
        })
    };
    parked.wait();
    stat.add(3);
    assert_eq!(stat.get(), 103);
    stat.set(7);
    assert_eq!(stat.get(), 7);
    release.wait();
    handle.join().unwrap();
    assert_eq!(stat.get(), 12);
    stat.set(-4);
    assert_eq!(stat.get(), -4);
}

#[test]
fn a_new_stat_never_inherits_a_dropped_stats_per_thread_counts() {
    let parked = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (old_stat_tx, old_stat_rx) = std::sync::mpsc::channel::<IntStat>();
    let handle = {
        let (parked, release) = (parked.clone(), release.clone());
        thread::spawn(move || {
            let stat = old_stat_rx.recv().unwrap();
            stat.add(1_000);
            drop(stat);
            parked.wait();
            release.wait();
        })
    };
    {
        let (reg, scope) = scope();
        old_stat_tx.send(scope.int_stat("old").unwrap()).unwrap();
        parked.wait();
        drop(scope);
        drop(reg);
    }
    // The old stat's storage is gone while its writer thread (holding a per-thread cell for
    // it) is still alive; new stats may reuse that storage and must start at zero.
    let (_reg, scope) = scope();
    let fresh: Vec<IntStat> = (0..64)
        .map(|i| scope.int_stat(&format!("new{i}")).unwrap())
        .collect();
    assert!(fresh.iter().all(|s| s.get() == 0));
    release.wait();
    handle.join().unwrap();
    assert!(fresh.iter().all(|s| s.get() == 0));
}

#[test]
fn keyed_counters_stay_exact_through_the_per_thread_cache() {
    let (_reg, scope) = scope();
    let a = scope.int_dict_stat("a").unwrap();
    let b = scope.int_dict_stat("b").unwrap();
    let auto = scope
        .declare_with::<scales::IntDictStat>("auto", scales::StatOptions::auto_delete())
        .unwrap();
    // Same key in two dictionaries: separate cells.
    for _ in 0..10 {
        a.inc("200");
        b.inc("200");
        b.inc("200");
    }
    assert_eq!((a.get("200"), b.get("200")), (10, 20));
    // A cached cell removed by auto-delete: later adds go to a fresh entry, none lost.
    auto.inc("k");
    auto.dec("k");
    assert_eq!(auto.entries(), vec![]);
    auto.add("k", 5);
    assert_eq!(auto.entries(), vec![scales::Keyed::new("k", 5)]);
    // Many keys (cache collisions and evictions) from several threads.
    let keys: Vec<String> = (0..200).map(|i| format!("key{i}")).collect();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    for key in &keys {
                        a.inc(key);
                    }
                }
            });
        }
    });
    assert!(keys.iter().all(|key| a.get(key) == 200));
    // A dictionary created after another was dropped never sees the old one's cells.
    let old = scope.int_dict_stat("old").unwrap();
    old.add("x", 7);
    drop(old);
    let other = Registry::new();
    let fresh = other
        .scope("/sharding")
        .unwrap()
        .int_dict_stat("old")
        .unwrap();
    fresh.inc("x");
    assert_eq!(fresh.get("x"), 1);
}

#[test]
fn cached_keys_are_told_apart_by_every_byte() {
    let (_reg, scope) = scope();
    let dict = scope.int_dict_stat("bytes").unwrap();
    // Every length up to past the cache's 16-byte limit, each key differing from its
    // neighbours in one position only (start, middle or end).
    let mut keys = Vec::new();
    for len in 1..=20 {
        for position in [0, len / 2, len - 1] {
            for byte in [b'a', b'b'] {
                let mut key = vec![b'x'; len];
                key[position] = byte;
                keys.push(String::from_utf8(key).unwrap());
            }
        }
    }
    keys.sort();
    keys.dedup();
    for (i, key) in keys.iter().enumerate() {
        for _ in 0..=i {
            dict.inc(key);
        }
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(dict.get(key), i as i64 + 1, "key {key:?}");
    }
    // `set` and negative adds on cached keys, from this and another thread.
    dict.set(&keys[0], 100);
    thread::scope(|s| {
        s.spawn(|| dict.add(&keys[0], -30));
    });
    dict.dec(&keys[0]);
    assert_eq!(dict.get(&keys[0]), 69);
    assert_eq!(dict.entries().len(), keys.len());
}

#[test]
fn auto_delete_races_with_cached_adds_lose_nothing() {
    let (_reg, scope) = scope();
    let dict = scope
        .declare_with::<scales::IntDictStat>("racy", scales::StatOptions::auto_delete())
        .unwrap();
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let _ = dict.entries(); // removes zero entries
            }
        });
        let writers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        dict.inc("k");
                        dict.dec("k");
                    }
                    for _ in 0..1_000 {
                        dict.inc("k");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    assert_eq!(dict.get("k"), 2_000);
}

#[test]
fn magnitudes_outside_the_octaves_are_still_recorded_exactly() {
    let (_reg, scope) = scope();
    let pmf = scope.pmf_stat("extremes").unwrap();
    for v in [1e-30, 1e30, 0.5, f64::MIN_POSITIVE, f64::MAX] {
        pmf.record(v);
    }
    let s = pmf.snapshot();
    assert_eq!(s.count(), 5);
    assert_eq!(s.min(), Some(f64::MIN_POSITIVE));
    assert_eq!(s.max(), Some(f64::MAX));
    let p50 = s.quantile(0.5).unwrap();
    // Within the sketch's bucket bound (0.78 %), with a little slack for rounding.
    assert!((p50 - 0.5).abs() <= 0.5 * 0.01, "{p50}");
}

/// A snapshot reads runs of counters under one hold of the arena lock, given back every
/// batch and before any other kind of stat (which takes that lock itself): long runs mixed
/// with distributions, dicts, meters and groups read exactly, while new threads, whose
/// first record needs the lock, keep recording.
#[test]
fn long_runs_of_counters_mixed_with_other_stats_read_exactly_while_threads_start() {
    let (reg, scope) = scope();
    let inner = scope.child("inner").unwrap();
    let mut counters = Vec::new();
    for i in 0..1_000u32 {
        let counter = scope.int_stat(&format!("c{i:04}")).unwrap();
        counter.add(i64::from(i));
        counters.push(counter);
        if i % 150 == 0 {
            scope
                .pmf_stat(&format!("p{i:04}"))
                .unwrap()
                .record(f64::from(i));
            scope
                .int_dict_stat(&format!("d{i:04}"))
                .unwrap()
                .add("k", 2);
            scope.meter_stat(&format!("m{i:04}")).unwrap().mark();
            inner.int_stat(&format!("c{i:04}")).unwrap().inc();
        }
    }
    let fresh = scope.int_stat("fresh").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let starter = {
        let (fresh, stop) = (fresh.clone(), stop.clone());
        thread::spawn(move || {
            let mut started = 0;
            while !stop.load(Ordering::Relaxed) && started < 2_000 {
                let fresh = fresh.clone();
                thread::spawn(move || fresh.inc()).join().unwrap();
                started += 1;
            }
            started
        })
    };
    for _ in 0..20 {
        let snapshot = reg.snapshot();
        for i in (0..1_000u32).step_by(37) {
            let stat = snapshot.stat(&format!("/sharding/c{i:04}")).unwrap();
            assert_eq!(stat.value, scales::StatValue::Int(i64::from(i)));
        }
        let inner = snapshot.stat("/sharding/inner/c0150").unwrap();
        assert_eq!(inner.value, scales::StatValue::Int(1));
    }
    stop.store(true, Ordering::Relaxed);
    let started = starter.join().unwrap();
    assert_eq!(fresh.get(), started);
    assert_eq!(counters[999].get(), 999);
}
