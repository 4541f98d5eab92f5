//! End-to-end tests of the recorder: a real library instrumented only through the `metrics`
//! facade (`tests/fixture-lib`, a dependency that knows nothing of scales) records, and the
//! scales snapshot is checked exactly.
//!
//! Every test but [`global_install`] uses its own registry and installs its recorder on the
//! recording threads only (`metrics::with_local_recorder`), so the tests run in parallel.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use metrics::with_local_recorder;
use scales::sketch::{SketchSnapshot, PERCENTILE_KEYS, RELATIVE_ERROR};
use scales::{Keyed, Registry, Snapshot, StatKind, StatValue, Value};
use scales_metrics::{MetricKind, ScalesRecorder};
use scales_metrics_fixture as fixture;

fn recorder() -> (Registry, ScalesRecorder) {
    let registry = Registry::new();
    let recorder = ScalesRecorder::new(&registry);
    (registry, recorder)
}

/// The stat at `path`: its kind and value.
fn stat(snapshot: &Snapshot, path: &str) -> (StatKind, StatValue) {
    let stat = snapshot
        .stat(path)
        .unwrap_or_else(|| panic!("no stat at {path}"));
    (stat.kind, stat.value.clone())
}

fn counts(entries: &[(&str, i64)]) -> StatValue {
    StatValue::Counts(entries.iter().map(|&(k, v)| Keyed::new(k, v)).collect())
}

fn distribution(snapshot: &Snapshot, path: &str) -> SketchSnapshot {
    match stat(snapshot, path) {
        (StatKind::Pmf, StatValue::Distribution(d)) => *d,
        other => panic!("{path} is not a distribution: {other:?}"),
    }
}

fn keyed_distribution(snapshot: &Snapshot, path: &str, key: &str) -> SketchSnapshot {
    match stat(snapshot, path) {
        (StatKind::NamedPmfDict, StatValue::Distributions(ds)) => {
            ds.into_iter()
                .find(|d| &*d.key == key)
                .unwrap_or_else(|| panic!("no key {key} in {path}"))
                .value
        }
        other => panic!("{path} is not a keyed distribution: {other:?}"),
    }
}

/// Checks every reported percentile of `d` against the exact ones of `values`: within the
/// sketch's relative error of the interval between the two ranks it interpolates.
fn assert_percentiles(d: &SketchSnapshot, values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
    let reported: Vec<_> = d.percentiles().collect();
    assert_eq!(reported.len(), PERCENTILE_KEYS.len());
    for ((name, q), (reported_name, got)) in PERCENTILE_KEYS.iter().zip(reported) {
        assert_eq!(*name, reported_name);
        let h = q * (values.len() - 1) as f64;
        let low = values[h.floor() as usize] * (1.0 - RELATIVE_ERROR);
        let high = values[h.ceil() as usize] * (1.0 + RELATIVE_ERROR);
        assert!(
            (low..=high).contains(&got),
            "{name}: {got} not in [{low}, {high}]"
        );
    }
}

#[test]
fn counters_gauges_and_histograms_of_a_dependency() {
    let (registry, recorder) = recorder();
    with_local_recorder(&recorder, || {
        for _ in 0..5 {
            fixture::job_done();
        }
        for _ in 0..3 {
            fixture::handle_request("GET", "/a", Duration::from_millis(10));
        }
        fixture::handle_request("POST", "/a", Duration::from_millis(20));
        fixture::handle_request("GET", "/b", Duration::from_millis(30));
        fixture::respond(200);
        fixture::respond(404);
        fixture::respond(200);
        for _ in 0..3 {
            fixture::connect();
        }
        fixture::disconnect();
        fixture::queue_depth("a", 3.0);
        fixture::queue_depth("b", 1.5);
        fixture::queue_depth("a", 4.0);
        fixture::bytes_sent_total(100);
        fixture::bytes_sent_total(50); // below: no change
        fixture::bytes_sent_total(250);
        for bytes in 1..=1000 {
            fixture::request_size(bytes);
        }
    });
    let snapshot = registry.snapshot();

    assert_eq!(
        stat(&snapshot, "/fixture/jobs"),
        (StatKind::Counter, StatValue::Int(5))
    );
    assert_eq!(
        stat(&snapshot, "/fixture/http/requests"),
        (
            StatKind::IntDict,
            counts(&[
                ("method=GET,path=/a", 3),
                ("method=POST,path=/a", 1),
                ("method=GET,path=/b", 1),
            ])
        )
    );
    assert_eq!(
        stat(&snapshot, "/fixture/http/responses"),
        (StatKind::IntDict, counts(&[("200", 2), ("404", 1)]))
    );
    assert_eq!(
        stat(&snapshot, "/fixture/connections"),
        (StatKind::DoubleStat, StatValue::Float(2.0))
    );
    assert_eq!(
        stat(&snapshot, "/fixture/queue/depth"),
        (
            StatKind::Stat,
            StatValue::Value(Value::Map(vec![
                ("a".into(), Value::Float(4.0)),
                ("b".into(), Value::Float(1.5)),
            ]))
        )
    );
    assert_eq!(
        stat(&snapshot, "/fixture/bytes_sent"),
        (StatKind::Counter, StatValue::Int(250))
    );

    let a = keyed_distribution(&snapshot, "/fixture/http/latency", "/a");
    assert_eq!(a.count(), 4);
    assert!((a.sum() - 0.050).abs() < 1e-12, "sum {}", a.sum());
    assert_eq!((a.min(), a.max()), (Some(0.010), Some(0.020)));
    let b = keyed_distribution(&snapshot, "/fixture/http/latency", "/b");
    assert_eq!((b.count(), b.max()), (1, Some(0.030)));

    let sizes = distribution(&snapshot, "/fixture/http/request_bytes");
    assert_eq!(sizes.count(), 1000);
    assert_eq!(sizes.sum(), 500_500.0);
    assert_eq!((sizes.min(), sizes.max()), (Some(1.0), Some(1000.0)));
    let mut values: Vec<f64> = (1..=1000).map(f64::from).collect();
    assert_percentiles(&sizes, &mut values);
}

#[test]
fn a_prefix_places_every_stat_below_it() {
    let registry = Registry::new();
    let recorder = ScalesRecorder::new(&registry)
        .with_prefix("/app/v1")
        .unwrap();
    assert_eq!(recorder.prefix(), &"/app/v1");
    with_local_recorder(&recorder, fixture::job_done);
    let snapshot = registry.snapshot();
    assert_eq!(stat(&snapshot, "/app/v1/fixture/jobs").1, StatValue::Int(1));
    assert!(snapshot.stat("/fixture/jobs").is_none());
    assert!(ScalesRecorder::new(&registry)
        .with_prefix("/app//v1")
        .is_err());
}

#[test]
fn threads_recording_at_once_lose_nothing() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 20_000;
    let (registry, recorder) = recorder();
    // Registered before the threads start and shared by all: the other way to record.
    let shared = with_local_recorder(&recorder, fixture::jobs_counter);
    let recorded = Arc::new(Barrier::new(THREADS + 1));
    let read = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (recorder, shared) = (recorder.clone(), shared.clone());
            let (recorded, read) = (recorded.clone(), read.clone());
            thread::spawn(move || {
                with_local_recorder(&recorder, || {
                    for i in 0..ROUNDS {
                        fixture::job_done();
                        shared.increment(2);
                        fixture::respond(if i % 2 == 0 { 200 } else { 500 });
                        if i % 10 == 0 {
                            fixture::connect();
                            fixture::request_size(t as u64 + 1);
                            fixture::handle_request("GET", "/a", Duration::from_micros(i));
                        }
                    }
                });
                recorded.wait();
                read.wait();
            })
        })
        .collect();

    let check = |snapshot: &Snapshot| {
        let n = (THREADS as u64 * ROUNDS) as i64;
        assert_eq!(stat(snapshot, "/fixture/jobs").1, StatValue::Int(3 * n));
        assert_eq!(
            stat(snapshot, "/fixture/http/responses").1,
            counts(&[("200", n / 2), ("500", n / 2)])
        );
        assert_eq!(
            stat(snapshot, "/fixture/connections").1,
            StatValue::Float((n / 10) as f64)
        );
        let sizes = distribution(snapshot, "/fixture/http/request_bytes");
        assert_eq!(sizes.count(), n as u64 / 10);
        assert_eq!(sizes.sum(), (ROUNDS / 10 * 10) as f64); // 1 + 2 + 3 + 4, ROUNDS / 10 times
        let latency = keyed_distribution(snapshot, "/fixture/http/latency", "/a");
        assert_eq!(latency.count(), n as u64 / 10);
    };
    // While the threads are alive (their per-thread cells are read in place) ...
    recorded.wait();
    check(&registry.snapshot());
    read.wait();
    for thread in threads {
        thread.join().unwrap();
    }
    // ... and after they exited (their cells were folded into the stats).
    check(&registry.snapshot());
}

#[test]
fn invalid_names_are_sanitised_and_counted() {
    let (registry, recorder) = recorder();
    with_local_recorder(&recorder, || {
        fixture::count_named("a..b".into());
        fixture::count_named("a..b".into());
        fixture::count_named(String::new());
        fixture::count_named("x\ny".into());
        fixture::gauge_named("bad/name.g".into(), 2.0);
        fixture::count_named("fine.name".into());
        fixture::count_named("/scales/style/path".into());
    });
    let snapshot = registry.snapshot();
    assert_eq!(stat(&snapshot, "/a/_/b").1, StatValue::Int(2));
    assert_eq!(stat(&snapshot, "/_").1, StatValue::Int(1));
    assert_eq!(stat(&snapshot, "/x_y").1, StatValue::Int(1));
    assert_eq!(stat(&snapshot, "/bad_name/g").1, StatValue::Float(2.0));
    assert_eq!(stat(&snapshot, "/fine/name").1, StatValue::Int(1));
    assert_eq!(stat(&snapshot, "/scales/style/path").1, StatValue::Int(1));
    // Four names, each counted once however often it is used.
    assert_eq!(
        stat(&snapshot, "/scales/metrics/invalid_names"),
        (StatKind::Counter, StatValue::Int(4))
    );
    assert_eq!(
        stat(&snapshot, "/scales/metrics/conflicts").1,
        StatValue::Int(0)
    );
    assert_eq!(recorder.path_of("x\ny").unwrap(), "/x_y");
}

#[test]
fn conflicting_metrics_record_nothing_and_are_counted() {
    let (registry, recorder) = recorder();
    // The program's own stats.
    let own = registry.scope("/own").unwrap();
    let count = own.int_stat("count").unwrap();
    count.add(10);
    own.pmf_stat("latency").unwrap();
    with_local_recorder(&recorder, || {
        fixture::count_named("c.x".into());
        fixture::gauge_named("c.x".into(), 1.0); // a counter is there
        fixture::count_named("c.x.y".into()); // `/c/x` is a stat, not a container
        metrics::counter!("c.z").increment(1);
        metrics::counter!("c.z", "k" => "v").increment(1); // with and without labels
        metrics::counter!("c.z", "k" => "w").increment(1); // the same name: counted once
        fixture::count_named("own.count".into()); // an IntStat: counted into
        fixture::count_named("own.count".into());
        fixture::count_named("own.latency".into()); // a distribution
    });
    let snapshot = registry.snapshot();
    assert_eq!(stat(&snapshot, "/c/x").1, StatValue::Int(1));
    assert_eq!(stat(&snapshot, "/c/z").1, StatValue::Int(1));
    assert_eq!(
        stat(&snapshot, "/own/count"),
        (StatKind::IntStat, StatValue::Int(12))
    );
    assert_eq!(distribution(&snapshot, "/own/latency").count(), 0);
    assert_eq!(
        stat(&snapshot, "/scales/metrics/conflicts").1,
        StatValue::Int(4)
    );
    assert_eq!(
        stat(&snapshot, "/scales/metrics/invalid_names").1,
        StatValue::Int(0)
    );
}

#[test]
fn descriptions_are_kept_and_shown() {
    let (registry, recorder) = recorder();
    with_local_recorder(&recorder, fixture::describe);
    let jobs = recorder.description("fixture.jobs").unwrap();
    assert_eq!(jobs.kind, MetricKind::Counter);
    assert_eq!(jobs.path, "/fixture/jobs");
    assert_eq!(jobs.unit, Some(metrics::Unit::Count));
    assert_eq!(jobs.text, "Jobs done");
    assert!(recorder.description("fixture.nothing").is_none());
    let all: Vec<_> = recorder
        .descriptions()
        .into_iter()
        .map(|d| (d.name, d.kind))
        .collect();
    assert_eq!(
        all,
        [
            ("fixture.jobs".to_owned(), MetricKind::Counter),
            ("fixture.http.latency".to_owned(), MetricKind::Histogram),
            ("fixture.connections".to_owned(), MetricKind::Gauge),
        ]
    );
    let shown = match stat(&registry.snapshot(), "/scales/metrics/descriptions") {
        (StatKind::StringDict, StatValue::Strings(entries)) => entries,
        other => panic!("descriptions: {other:?}"),
    };
    let shown: Vec<_> = shown.iter().map(|e| (&*e.key, e.value.as_str())).collect();
    assert_eq!(
        shown,
        [
            ("/fixture/jobs", "Jobs done [count]"),
            (
                "/fixture/http/latency",
                "Time to answer a request [seconds]"
            ),
            ("/fixture/connections", "Open connections"),
        ]
    );
}

#[test]
fn recorders_and_cached_handles_stay_apart() {
    let registry = Registry::new();
    let first = ScalesRecorder::new(&registry).with_prefix("/one").unwrap();
    let second = ScalesRecorder::new(&registry).with_prefix("/two").unwrap();
    // More keys than a thread's cache holds, twice, through two recorders on one thread.
    let names: Vec<String> = (0..300).map(|i| format!("many.m{i}")).collect();
    for _ in 0..2 {
        for name in &names {
            with_local_recorder(&first, || fixture::count_named(name.clone()));
            with_local_recorder(&second, || {
                fixture::count_named(name.clone());
                fixture::count_named(name.clone());
            });
        }
    }
    let snapshot = registry.snapshot();
    for name in &names {
        let leaf = name.trim_start_matches("many.");
        assert_eq!(
            stat(&snapshot, &format!("/one/many/{leaf}")).1,
            StatValue::Int(2)
        );
        assert_eq!(
            stat(&snapshot, &format!("/two/many/{leaf}")).1,
            StatValue::Int(4)
        );
    }
}

#[test]
fn handles_outlive_the_local_recorder() {
    let (registry, recorder) = recorder();
    let jobs = with_local_recorder(&recorder, fixture::jobs_counter);
    drop(recorder);
    jobs.increment(7);
    assert_eq!(
        stat(&registry.snapshot(), "/fixture/jobs").1,
        StatValue::Int(7)
    );
}

#[test]
fn prometheus_sees_counters_as_counters() {
    let (registry, recorder) = recorder();
    with_local_recorder(&recorder, || {
        fixture::job_done();
        fixture::respond(200);
        fixture::queue_depth("a", 2.5);
    });
    let text = scales::format::prometheus::to_string(
        &registry.snapshot(),
        &scales::format::prometheus::Options::default(),
    );
    for line in [
        "# TYPE fixture_jobs_total counter",
        "fixture_jobs_total 1",
        "fixture_http_responses{key=\"200\"} 1",
        "fixture_queue_depth{key=\"a\"} 2.5",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

/// The one test that installs a global recorder.
#[test]
fn global_install() {
    let registry = Registry::new();
    let recorder = ScalesRecorder::new(&registry);
    recorder.install().expect("the first global recorder");
    // Another thread, no local recorder: the global one.
    thread::spawn(|| {
        fixture::job_done();
        fixture::job_done();
    })
    .join()
    .unwrap();
    assert_eq!(
        stat(&registry.snapshot(), "/fixture/jobs").1,
        StatValue::Int(2)
    );

    let again = ScalesRecorder::new(&Registry::new()).install();
    let error = again.expect_err("a second global recorder");
    assert_eq!(
        error.to_string(),
        "a global `metrics` recorder is already installed; the scales recorder was not installed"
    );
    assert!(scales_metrics::install_global().is_err());
    // The installed recorder still records.
    thread::spawn(fixture::job_done).join().unwrap();
    assert_eq!(
        stat(&registry.snapshot(), "/fixture/jobs").1,
        StatValue::Int(3)
    );
}

#[test]
fn label_sets_beyond_the_cap_record_under_the_overflow_key() {
    let registry = Registry::new();
    let recorder = ScalesRecorder::new(&registry).with_max_label_sets(3);
    with_local_recorder(&recorder, || {
        for user in 0..10 {
            let user = user.to_string();
            metrics::counter!("logins", "user" => user.clone()).increment(2);
            metrics::gauge!("sessions", "user" => user.clone()).set(1.0);
            metrics::histogram!("think_time", "user" => user).record(0.5);
        }
    });
    let snapshot = registry.snapshot();
    let StatValue::Counts(logins) = stat(&snapshot, "/logins").1 else {
        panic!("logins is not keyed");
    };
    let keys: Vec<&str> = logins.iter().map(|k| &*k.key).collect();
    assert_eq!(keys, ["0", "1", "2", scales::OVERFLOW_KEY]);
    assert_eq!(
        logins.iter().map(|k| k.value).sum::<i64>(),
        20,
        "totals stay exact"
    );
    assert_eq!(logins[3].value, 14);
    let overflow = keyed_distribution(&snapshot, "/think_time", scales::OVERFLOW_KEY);
    assert_eq!(overflow.count(), 7);
    match stat(&snapshot, "/sessions").1 {
        StatValue::Value(Value::Map(entries)) => {
            assert_eq!(entries.len(), 4, "{entries:?}");
            assert_eq!(entries[3].0, scales::OVERFLOW_KEY);
        }
        other => panic!("sessions: {other:?}"),
    }
}
