//! The read side: snapshot and rendering of trees of 1 000 to 1 000 000 stats, beside the
//! `prometheus` and `prometheus-client` encoders on an equivalent registry.
//!
//! The tree: scopes `/service/shardNNNN`, each with 80 `IntStat`s, 10 `MeterStat`s,
//! 5 `IntDictStat`s of 4 keys and 5 `PmfStat`s holding 1 000 lognormal latencies each —
//! 100 stats per scope (5 % of them distributions, which dominate the cost: each is
//! summarised with count, min, max, mean, stddev and six percentiles).
//!
//! The peers' registry has the same metrics: 90 counters, 5 counter families of 4 label
//! values and 5 histograms (their default buckets) with the same 1 000 observations, per
//! scope.
//!
//! Groups:
//! * `read_scaling`: snapshot + compact JSON (what a status page request does) at
//!   1k / 10k / 100k / 1M stats; criterion reports stats per second.
//! * `read_10k`, `read_100k`: each step and each format on its own, and the peers' encoders.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scales::format::{graphite, json, prometheus as prom_text};

mod support;
use support::tree::{
    build, latencies, CODES, COUNTERS, DICTS, METERS, PMFS, RECORDS_PER_PMF, STATS_PER_SCOPE,
};

/// The same metrics in a `prometheus` registry.
fn build_prometheus(stats: usize) -> prometheus::Registry {
    let registry = prometheus::Registry::new();
    let mut latencies = latencies();
    for s in 0..stats / STATS_PER_SCOPE {
        let name = |what: &str| format!("service_shard{s:04}_{what}");
        for c in 0..COUNTERS + METERS {
            let counter = prometheus::IntCounter::new(name(&format!("counter{c:02}")), "help")
                .expect("valid counter");
            counter.inc_by((s * 1000 + c) as u64);
            registry.register(Box::new(counter)).expect("register");
        }
        for d in 0..DICTS {
            let opts = prometheus::Opts::new(name(&format!("by_code{d}")), "help");
            let family = prometheus::IntCounterVec::new(opts, &["code"]).expect("valid family");
            for (k, code) in CODES.into_iter().enumerate() {
                family
                    .with_label_values(&[code])
                    .inc_by((k * 7 + d) as u64 + 1);
            }
            registry.register(Box::new(family)).expect("register");
        }
        for p in 0..PMFS {
            let opts = prometheus::HistogramOpts::new(name(&format!("latency{p}")), "help");
            let histogram = prometheus::Histogram::with_opts(opts).expect("valid histogram");
            for _ in 0..RECORDS_PER_PMF {
                histogram.observe(latencies.next().expect("an endless stream"));
            }
            registry.register(Box::new(histogram)).expect("register");
        }
    }
    registry
}

/// The same metrics in a `prometheus-client` registry.
fn build_prometheus_client(stats: usize) -> prometheus_client::registry::Registry {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

    let mut registry = prometheus_client::registry::Registry::default();
    let mut latencies = latencies();
    for s in 0..stats / STATS_PER_SCOPE {
        let name = |what: &str| format!("service_shard{s:04}_{what}");
        for c in 0..COUNTERS + METERS {
            let counter = Counter::<u64>::default();
            counter.inc_by((s * 1000 + c) as u64);
            registry.register(name(&format!("counter{c:02}")), "help", counter);
        }
        for d in 0..DICTS {
            let family = Family::<Vec<(String, String)>, Counter>::default();
            for (k, code) in CODES.into_iter().enumerate() {
                family
                    .get_or_create(&vec![("code".to_owned(), code.to_owned())])
                    .inc_by((k * 7 + d) as u64 + 1);
            }
            registry.register(name(&format!("by_code{d}")), "help", family);
        }
        for p in 0..PMFS {
            let histogram = Histogram::new(exponential_buckets(0.0001, 2.0, 14));
            for _ in 0..RECORDS_PER_PMF {
                histogram.observe(latencies.next().expect("an endless stream"));
            }
            registry.register(name(&format!("latency{p}")), "help", histogram);
        }
    }
    registry
}

fn config(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

/// What the status server's `?format=json` and Prometheus text take: distributions as
/// summaries (no bucket lists).
fn summaries() -> scales::SnapshotOptions {
    scales::SnapshotOptions::default().with_distributions(scales::SketchDetail::Summary)
}

fn read_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_scaling");
    config(&mut group);
    let summaries = summaries();
    for stats in [1_000, 10_000, 100_000, 1_000_000] {
        let tree = build(stats);
        group.throughput(Throughput::Elements(stats as u64));
        group.bench_with_input(
            BenchmarkId::new("summary snapshot + json (compact)", stats),
            &tree,
            |b, tree| {
                b.iter(|| {
                    json::to_string(
                        &black_box(&tree.registry).snapshot_with(&summaries),
                        json::Style::Compact,
                    )
                })
            },
        );
        let mut encoder = prom_text::Encoder::default();
        group.bench_with_input(
            BenchmarkId::new("summary snapshot + prometheus text (encoder)", stats),
            &tree,
            |b, tree| {
                b.iter(|| encoder.to_string(&black_box(&tree.registry).snapshot_with(&summaries)))
            },
        );
        group.bench_with_input(
            BenchmarkId::new("snapshot + json (compact)", stats),
            &tree,
            |b, tree| {
                b.iter(|| {
                    json::to_string(&black_box(&tree.registry).snapshot(), json::Style::Compact)
                })
            },
        );
    }
    group.finish();
}

fn read_formats(c: &mut Criterion, stats: usize) {
    let tree = build(stats);
    let registry = &tree.registry;
    let snap = registry.snapshot();
    let prom_options = prom_text::Options::default();
    let graphite_options = graphite::Options::default();
    println!(
        "{} stats: compact JSON {} bytes, Prometheus text {} bytes, Graphite {} lines",
        tree.stats,
        json::to_string(&snap, json::Style::Compact).len(),
        prom_text::to_string(&snap, &prom_options).len(),
        graphite::to_string(&snap, &graphite_options, 1)
            .lines()
            .count(),
    );
    let peer = build_prometheus(stats);
    let peer_client = build_prometheus_client(stats);

    let mut group = c.benchmark_group(format!("read_{}k", stats / 1000));
    config(&mut group);
    group.throughput(Throughput::Elements(stats as u64));
    group.bench_function("scales: registry.snapshot()", |b| {
        b.iter(|| black_box(registry).snapshot())
    });
    group.bench_function("scales: json of a ready snapshot", |b| {
        b.iter(|| json::to_string(black_box(&snap), json::Style::Compact))
    });
    group.bench_function("scales: snapshot + json (compact)", |b| {
        b.iter(|| json::to_string(&black_box(registry).snapshot(), json::Style::Compact))
    });
    group.bench_function("scales: snapshot + json (pretty)", |b| {
        b.iter(|| json::to_string(&black_box(registry).snapshot(), json::Style::Pretty))
    });
    group.bench_function("scales: snapshot + prometheus text", |b| {
        b.iter(|| prom_text::to_string(&black_box(registry).snapshot(), &prom_options))
    });
    let summaries = summaries();
    group.bench_function("scales: summary snapshot", |b| {
        b.iter(|| black_box(registry).snapshot_with(&summaries))
    });
    group.bench_function("scales: summary snapshot + json (compact)", |b| {
        b.iter(|| {
            json::to_string(
                &black_box(registry).snapshot_with(&summaries),
                json::Style::Compact,
            )
        })
    });
    group.bench_function("scales: summary snapshot + prometheus text", |b| {
        b.iter(|| {
            prom_text::to_string(
                &black_box(registry).snapshot_with(&summaries),
                &prom_options,
            )
        })
    });
    // An endpoint scraped again and again keeps an encoder: the tree is the same each time,
    // so after the first render only the numbers are written.
    let mut encoder = prom_text::Encoder::new(prom_options.clone());
    group.bench_function(
        "scales: snapshot + prometheus text (encoder, same tree)",
        |b| b.iter(|| encoder.to_string(&black_box(registry).snapshot())),
    );
    let mut encoder = prom_text::Encoder::new(prom_options.clone());
    group.bench_function(
        "scales: summary snapshot + prometheus text (encoder, same tree)",
        |b| b.iter(|| encoder.to_string(&black_box(registry).snapshot_with(&summaries))),
    );
    group.bench_function("scales: snapshot + graphite lines", |b| {
        b.iter(|| graphite::to_string(&black_box(registry).snapshot(), &graphite_options, 1))
    });
    // What a pusher renders: summaries, with an encoder that keeps the last push's names.
    group.bench_function("scales: summary snapshot + graphite lines", |b| {
        b.iter(|| {
            graphite::to_string(
                &black_box(registry).snapshot_with(&summaries),
                &graphite_options,
                1,
            )
        })
    });
    let mut encoder = graphite::Encoder::new(graphite_options.clone());
    let mut timestamp = 0;
    group.bench_function(
        "scales: summary snapshot + graphite lines (encoder, same tree)",
        |b| {
            b.iter(|| {
                timestamp += 1;
                encoder.to_string(&black_box(registry).snapshot_with(&summaries), timestamp)
            })
        },
    );
    group.bench_function("prometheus: gather + TextEncoder", |b| {
        use prometheus::Encoder as _;
        b.iter(|| {
            let mut out = Vec::with_capacity(1 << 20);
            prometheus::TextEncoder::new()
                .encode(&black_box(&peer).gather(), &mut out)
                .expect("encode");
            out
        })
    });
    group.bench_function("prometheus-client: text encode", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(1 << 20);
            prometheus_client::encoding::text::encode(&mut out, black_box(&peer_client))
                .expect("encode");
            out
        })
    });
    group.finish();
}

fn read_10k(c: &mut Criterion) {
    read_formats(c, 10_000);
}

fn read_100k(c: &mut Criterion) {
    read_formats(c, 100_000);
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = read_scaling, read_10k, read_100k
}
criterion_main!(benches);
