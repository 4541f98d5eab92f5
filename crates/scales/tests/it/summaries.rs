//! Summary snapshots (`SketchDetail::Summary`): the same numbers as snapshots with buckets,
//! in every place a distribution can be, without the buckets.

use scales::{
    PmfAggregationStat, PmfStat, Registry, SketchDetail, SketchSnapshot, SnapshotOptions,
    StatValue, Stats,
};

fn summaries() -> SnapshotOptions {
    SnapshotOptions::default().with_distributions(SketchDetail::Summary)
}

fn distributions(snapshot: &scales::Snapshot) -> Vec<(String, SketchSnapshot)> {
    let mut out = Vec::new();
    snapshot.for_each_stat(|path, stat| match &stat.value {
        StatValue::Distribution(d) => out.push((path.to_string(), (**d).clone())),
        StatValue::Distributions(list) => out.extend(
            list.iter()
                .map(|k| (format!("{path}[{}]", k.key), k.value.clone())),
        ),
        _ => {}
    });
    out
}

#[derive(Stats)]
struct Parent {
    latency: PmfAggregationStat,
}

#[derive(Stats)]
struct Child {
    latency: PmfStat,
}

/// Values from several threads (per-thread blocks), and zeros, negatives and huge values
/// (the shared sketch and its outliers), in plain stats, keyed ones and an aggregation.
fn mixed_tree() -> (Registry, Vec<Box<dyn std::any::Any>>) {
    let reg = Registry::new();
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    let web = reg.scope("/web").unwrap();
    let latency = web.pmf_stat("latency").unwrap();
    let by_route = web.named_pmf_dict_stat("byRoute").unwrap();
    let parent = reg.init::<Parent>("/pool").unwrap();
    let children: std::sync::Arc<Vec<_>> = (0..3)
        .map(|i| parent.init_child::<Child>(&format!("worker{i}")).unwrap())
        .collect::<Vec<_>>()
        .into();
    // Spawned and joined, not scoped: a scope can return before its threads' thread-local
    // destructors fold their blocks into the shared sketch, and a fold between the two
    // snapshots of a test would change the order in which sums are added.
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let (latency, by_route, children) =
                (latency.clone(), by_route.clone(), children.clone());
            std::thread::spawn(move || {
                for i in 0..2_000u32 {
                    let v = f64::from(i % 997 + 1) * 1e-4 * f64::from(t + 1);
                    latency.record(v);
                    by_route.record(["/a", "/b"][(i % 2) as usize], v * 3.0);
                    children[(i % 3) as usize].latency.record(v);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for v in [0.0, -0.5, -2.0, 1e30, 3.0] {
        latency.record(v);
    }
    keep.push(Box::new(latency));
    keep.push(Box::new(by_route));
    keep.push(Box::new(children));
    keep.push(Box::new(parent));
    keep.push(Box::new(web));
    (reg, keep)
}

#[test]
fn summaries_hold_the_numbers_of_snapshots_with_buckets() {
    let (reg, _keep) = mixed_tree();
    let full = distributions(&reg.snapshot());
    let summary = distributions(&reg.snapshot_with(&summaries()));
    let names: Vec<_> = summary.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        names,
        full.iter()
            .map(|(path, _)| path.as_str())
            .collect::<Vec<_>>()
    );
    for needed in [
        "/web/latency",
        "/web/byRoute[/a]",
        "/pool/latency",
        "/pool/worker2/latency",
    ] {
        assert!(names.contains(&needed), "{needed} in {names:?}");
    }
    for ((path, f), (_, s)) in full.iter().zip(&summary) {
        assert!(f.has_buckets() && !s.has_buckets(), "{path}");
        assert!(s.positive_buckets().is_empty() && s.negative_buckets().is_empty());
        assert_eq!(s.count(), f.count(), "{path}");
        assert!(f.count() > 0, "{path}");
        assert_eq!(
            (s.sum(), s.min(), s.max()),
            (f.sum(), f.min(), f.max()),
            "{path}"
        );
        assert_eq!(s.stddev(), f.stddev(), "{path}");
        assert_eq!(s.percentile_values(), f.percentile_values(), "{path}");
        assert_eq!(s.quantile(0.99), f.quantile(0.99), "{path}");
        assert_eq!(s.quantile(0.42), None, "a summary knows six quantiles only");
    }
}

#[cfg(feature = "json")]
#[test]
fn json_of_a_summary_is_the_json_of_the_buckets() {
    use scales::format::json;
    let (reg, _keep) = mixed_tree();
    let full = json::to_string(&reg.snapshot(), json::Style::Compact);
    let summary = json::to_string(&reg.snapshot_with(&summaries()), json::Style::Compact);
    assert!(full.contains("99percentile"), "{full}");
    assert_eq!(summary, full);
    // A summary has no sketch to write, and says so by leaving the key out.
    let with_sketches = json::Options::default().with_sketches();
    let summary = json::to_string(&reg.snapshot_with(&summaries()), with_sketches);
    assert!(!summary.contains("\"sketch\""), "{summary}");
    assert!(json::to_string(&reg.snapshot(), with_sketches).contains("\"sketch\""));
}

#[cfg(feature = "prometheus")]
#[test]
fn prometheus_text_of_a_summary_is_that_of_the_buckets() {
    use scales::format::prometheus;
    let (reg, _keep) = mixed_tree();
    let options = prometheus::Options::default();
    let full = prometheus::to_string(&reg.snapshot(), &options);
    assert!(full.contains("quantile=\"0.99\""), "{full}");
    assert_eq!(
        prometheus::to_string(&reg.snapshot_with(&summaries()), &options),
        full
    );
}

#[cfg(feature = "graphite")]
#[test]
fn graphite_lines_of_a_summary_are_those_of_the_buckets() {
    use scales::format::graphite;
    let (reg, _keep) = mixed_tree();
    let options = graphite::Options::default();
    let full = graphite::to_string(&reg.snapshot(), &options, 1);
    assert!(full.contains("99percentile"), "{full}");
    assert_eq!(
        graphite::to_string(&reg.snapshot_with(&summaries()), &options, 1),
        full
    );
}

#[test]
fn merges_and_deltas_with_a_summary_keep_exact_counts_and_lose_percentiles() {
    let full = SketchSnapshot::from_values((1..=100).map(f64::from));
    let mut summary = full.clone();
    summary.summarize();
    assert_eq!(summary.percentile_values(), full.percentile_values());

    let mut merged = full.clone();
    merged.merge(&summary);
    assert_eq!(merged.count(), 200);
    assert_eq!((merged.min(), merged.max()), (Some(1.0), Some(100.0)));
    assert!(!merged.has_buckets());
    assert!(merged
        .percentile_values()
        .unwrap()
        .iter()
        .all(|v| v.is_nan()));
    let mut into_summary = summary.clone();
    into_summary.merge(&full);
    assert_eq!(into_summary.count(), 200);
    assert!(!into_summary.has_buckets() && into_summary.positive_buckets().is_empty());

    let later = SketchSnapshot::from_values((1..=150).map(f64::from));
    let delta = later.delta_since(&summary);
    assert_eq!(delta.count(), 50);
    assert_eq!(delta.sum(), later.sum() - full.sum());
    assert!(delta.quantile(0.5).unwrap().is_nan());
}

/// One distribution recorded by `per_thread.len()` threads that stay alive (their
/// per-thread blocks live) while it is read, plus `shared` values recorded on this thread
/// (zeros, negatives and outliers go to the shared sketch). Returns the read with buckets
/// and the summary read.
fn read_with_live_threads(
    per_thread: &[Vec<f64>],
    shared: &[f64],
) -> (SketchSnapshot, SketchSnapshot) {
    let reg = Registry::new();
    let latency = reg.scope("/web").unwrap().pmf_stat("latency").unwrap();
    for &v in shared {
        latency.record(v);
    }
    let recorded = std::sync::Barrier::new(per_thread.len() + 1);
    let read = std::sync::Barrier::new(per_thread.len() + 1);
    let stat = |snapshot: scales::Snapshot| match &snapshot.stat("/web/latency").unwrap().value {
        StatValue::Distribution(d) => (**d).clone(),
        other => panic!("{other:?}"),
    };
    std::thread::scope(|s| {
        for values in per_thread {
            let (latency, recorded, read) = (&latency, &recorded, &read);
            s.spawn(move || {
                for &v in values {
                    latency.record(v);
                }
                recorded.wait();
                read.wait();
            });
        }
        recorded.wait();
        let both = (stat(reg.snapshot()), stat(reg.snapshot_with(&summaries())));
        read.wait();
        both
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A summary reads the live blocks' octave totals and only the octaves its ranks fall
    /// in: it must give exactly the percentiles of the full read, for any spread of values
    /// over octaves and threads.
    #[test]
    fn summaries_of_live_blocks_equal_the_full_read(
        per_thread in proptest::collection::vec(
            proptest::collection::vec(-30.0f64..25.0, 0..400),
            1..4,
        ),
        shared in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(0.0),
                -1e3f64..-1e-3,
                proptest::strategy::Just(1e30),
                proptest::strategy::Just(1e-25),
                1e-3f64..1e3,
            ],
            0..6,
        ),
    ) {
        // Exponents to values: from 2⁻³⁰ to 2²⁵, many octaves, uneven counts.
        let per_thread: Vec<Vec<f64>> = per_thread
            .iter()
            .map(|exps| exps.iter().map(|e| e.exp2()).collect())
            .collect();
        let (full, summary) = read_with_live_threads(&per_thread, &shared);
        proptest::prop_assert!(!summary.has_buckets());
        proptest::prop_assert_eq!(summary.count(), full.count());
        proptest::prop_assert_eq!((summary.sum(), summary.min(), summary.max()), (full.sum(), full.min(), full.max()));
        proptest::prop_assert_eq!(summary.percentile_values(), full.percentile_values());
    }
}
