//! Bounded cardinality of keyed stats: a cap on keys with an exact overflow key, the number
//! of refused keys, and expiry of idle keys.

use std::time::{Duration, UNIX_EPOCH};

use scales::{
    IntDictStat, ManualClock, MeterDictStat, NamedPmfDictStat, Registry, StatOptions,
    StringDictStat, OVERFLOW_KEY,
};

fn counts(dict: &IntDictStat) -> Vec<(String, i64)> {
    dict.entries()
        .into_iter()
        .map(|e| (e.key.to_string(), e.value))
        .collect()
}

#[test]
fn a_capped_dict_keeps_totals_exact_under_concurrent_writers() {
    const THREADS: usize = 4;
    const KEYS: usize = 1000;
    const ROUNDS: i64 = 10;
    let reg = Registry::new();
    let dict: IntDictStat = reg
        .scope("/web")
        .unwrap()
        .declare_with("byUser", StatOptions::default().with_max_keys(100))
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let dict = dict.clone();
            s.spawn(move || {
                for round in 0..ROUNDS {
                    for k in 0..KEYS {
                        // Each thread walks every key once a round, in its own order (the
                        // multipliers are prime to KEYS).
                        let k = (k * [1, 3, 7, 9][t] + round as usize) % KEYS;
                        dict.add(&format!("user{k}"), 1);
                    }
                }
            });
        }
    });
    let entries = counts(&dict);
    assert_eq!(entries.len(), 101, "100 keys and the overflow key");
    let total: i64 = entries.iter().map(|(_, n)| n).sum();
    assert_eq!(total, THREADS as i64 * KEYS as i64 * ROUNDS);
    let overflow = dict.get(OVERFLOW_KEY);
    assert_eq!(overflow, THREADS as i64 * 900 * ROUNDS);
    assert_eq!(dict.overflowed_keys(), 900);
    // Every admitted key got all of its adds.
    for (key, n) in &entries {
        if key != OVERFLOW_KEY {
            assert_eq!(*n, THREADS as i64 * ROUNDS, "{key}");
        }
    }
    // The formats show the overflow key like any other.
    let text =
        scales::format::json::to_string(&reg.snapshot(), scales::format::json::Style::Compact);
    assert!(
        text.contains(&format!("\"{OVERFLOW_KEY}\": {overflow}")),
        "{text}"
    );
}

#[test]
fn idle_keys_expire_at_reads_and_come_back_when_added_to() {
    let time = ManualClock::new(UNIX_EPOCH);
    let reg = Registry::with_clock(time.clock());
    let dict: IntDictStat = reg
        .scope("/web")
        .unwrap()
        .declare_with(
            "byPath",
            StatOptions::default().with_idle_key_expiry(Duration::from_secs(60)),
        )
        .unwrap();
    dict.inc("/a");
    dict.inc("/b");
    assert_eq!(counts(&dict).len(), 2); // both seen at t = 0
    time.advance(Duration::from_secs(30));
    dict.inc("/a");
    assert_eq!(counts(&dict).len(), 2); // /a changed: seen again at t = 30
    time.advance(Duration::from_secs(40));
    // t = 70: /b unchanged for 70 s goes, /a (last change seen at 30) stays.
    assert_eq!(counts(&dict), [("/a".to_owned(), 2)]);
    // A snapshot is a read too.
    time.advance(Duration::from_secs(30));
    let snapshot = reg.snapshot();
    assert_eq!(
        snapshot.stat("/web/byPath").unwrap().value,
        scales::StatValue::Counts(vec![])
    );
    // Adding to an expired key starts it again, from its new count.
    dict.add("/b", 5);
    assert_eq!(counts(&dict), [("/b".to_owned(), 5)]);
    assert_eq!(dict.get("/a"), 0);
}

#[test]
fn expired_keys_make_room_under_the_cap() {
    let time = ManualClock::new(UNIX_EPOCH);
    let reg = Registry::with_clock(time.clock());
    let options = StatOptions::default()
        .with_max_keys(2)
        .with_idle_key_expiry(Duration::from_secs(10));
    let dict: IntDictStat = reg.scope("/x").unwrap().declare_with("d", options).unwrap();
    dict.inc("a");
    dict.inc("b");
    dict.inc("c");
    assert_eq!(dict.get(OVERFLOW_KEY), 1);
    counts(&dict);
    time.advance(Duration::from_secs(11));
    assert!(counts(&dict).is_empty(), "all idle: all gone");
    dict.inc("c");
    dict.inc("d");
    assert_eq!(
        counts(&dict),
        [("c".to_owned(), 1), ("d".to_owned(), 1)],
        "room again: c and d are keys of their own"
    );
    assert_eq!(dict.overflowed_keys(), 1);
}

#[test]
fn every_keyed_stat_takes_a_cap() {
    let reg = Registry::new();
    let scope = reg.scope("/web").unwrap();
    let capped = || StatOptions::default().with_max_keys(2);

    let latency: NamedPmfDictStat = scope.declare_with("latency", capped()).unwrap();
    let requests: MeterDictStat = scope.declare_with("requests", capped()).unwrap();
    let versions: StringDictStat = scope.declare_with("versions", capped()).unwrap();
    for (i, key) in ["a", "b", "c", "d", "c"].into_iter().enumerate() {
        latency.record(key, i as f64);
        requests.add(key, 10);
        versions.set(key, format!("v{i}"));
    }
    let overflow = latency.snapshot(OVERFLOW_KEY).unwrap();
    assert_eq!((overflow.count(), overflow.sum()), (3, 2.0 + 3.0 + 4.0));
    assert!(latency.snapshot("c").is_none());
    assert_eq!(latency.overflowed_keys(), 2);
    assert_eq!(requests.rates(OVERFLOW_KEY).unwrap().count, 30);
    assert_eq!(requests.rates("a").unwrap().count, 10);
    assert_eq!(requests.overflowed_keys(), 2);
    assert_eq!(
        versions.get(OVERFLOW_KEY),
        "v4",
        "the last refused key's value"
    );
    assert_eq!(versions.get("b"), "v1");
    assert_eq!(versions.overflowed_keys(), 2);
    // Uncapped stats are as before: every key kept.
    let open = scope.int_dict_stat("open").unwrap();
    for k in 0..1000 {
        open.inc(&k.to_string());
    }
    assert_eq!(open.entries().len(), 1000);
    assert_eq!(open.overflowed_keys(), 0);
}

#[test]
fn key_handles_add_where_the_dict_would() {
    let reg = Registry::new();
    let scope = reg.scope("/web").unwrap();
    let dict = scope.int_dict_stat("byClass").unwrap();
    let ok = dict.key("2xx");
    assert_eq!(
        counts(&dict),
        [("2xx".to_owned(), 0)],
        "the key appears at 0"
    );
    std::thread::scope(|s| {
        for _ in 0..4 {
            let ok = ok.clone();
            let dict = dict.clone();
            s.spawn(move || {
                for _ in 0..10_000 {
                    ok.inc();
                    dict.inc("2xx");
                }
            });
        }
    });
    assert_eq!(dict.get("2xx"), 80_000);
    assert_eq!(ok.get(), 80_000);

    // A capped dict: a refused key's handle is the overflow key's.
    let capped: IntDictStat = scope
        .declare_with("capped", StatOptions::default().with_max_keys(1))
        .unwrap();
    capped.inc("a");
    let b = capped.key("b");
    b.add(5);
    assert_eq!(capped.get(OVERFLOW_KEY), 5);
    assert_eq!(capped.get("b"), 0);

    // Removable keys: the handle adds by name, so it follows the key after a removal.
    let deleting: IntDictStat = scope
        .declare_with("deleting", StatOptions::auto_delete())
        .unwrap();
    let x = deleting.key("x");
    x.inc();
    x.dec();
    assert!(counts(&deleting).is_empty(), "zero: removed");
    x.add(3);
    assert_eq!(counts(&deleting), [("x".to_owned(), 3)]);

    // Distributions by key.
    let latency = scope.named_pmf_dict_stat("latencyByRoute").unwrap();
    let users = latency.key("/users/{id}");
    for v in [1.0, 2.0, 3.0] {
        users.record(v);
    }
    latency.record("/users/{id}", 4.0);
    let snapshot = latency.snapshot("/users/{id}").unwrap();
    assert_eq!((snapshot.count(), snapshot.sum()), (4, 10.0));
}
