//! Snapshot and JSON cost of a 10 000-stat tree.
//!
//! The tree: 100 scopes (`/service/shardNN`), each with 80 `IntStat`s, 10 `MeterStat`s,
//! 5 `IntDictStat`s of 4 keys and 5 `PmfStat`s holding 1 000 lognormal latencies each —
//! 100 stats per scope, 10 000 in all (500 of them distributions, which dominate the cost:
//! each is summarised with count, min, max, mean, stddev and six percentiles).
//!
//! Timed: `Registry::snapshot()` alone, JSON rendering of a ready snapshot, and the whole
//! `snapshot + json::to_string` in compact and pretty style (what a status page request does).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use scales::format::json::{self, Style};

mod support;
use support::Lognormal;

const SCOPES: usize = 100;
const COUNTERS: usize = 80;
const METERS: usize = 10;
const DICTS: usize = 5;
const PMFS: usize = 5;
const RECORDS_PER_PMF: usize = 1000;

/// The registry and every handle, kept alive for the benchmark's lifetime.
struct Tree {
    registry: scales::Registry,
    _scopes: Vec<scales::Scope>,
    _counters: Vec<scales::IntStat>,
    _meters: Vec<scales::MeterStat>,
    _dicts: Vec<scales::IntDictStat>,
    _pmfs: Vec<scales::PmfStat>,
}

fn build() -> Tree {
    let registry = scales::Registry::new();
    let (mut scopes, mut counters, mut meters, mut dicts, mut pmfs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // lognormal(0, 1) milliseconds, in seconds.
    let mut latencies = Lognormal::new(0x2545_F491_4F6C_DD1D).map(|z| z * 1e-3);
    for s in 0..SCOPES {
        let scope = registry
            .scope(&format!("/service/shard{s:02}"))
            .expect("valid path");
        for c in 0..COUNTERS {
            let counter = scope.int_stat(&format!("counter{c:02}")).expect("declare");
            counter.add((s * 1000 + c) as i64);
            counters.push(counter);
        }
        for m in 0..METERS {
            let meter = scope.meter_stat(&format!("meter{m}")).expect("declare");
            meter.add((m as u64 + 1) * 10);
            meters.push(meter);
        }
        for d in 0..DICTS {
            let dict = scope.int_dict_stat(&format!("byCode{d}")).expect("declare");
            for (k, code) in ["200", "304", "404", "500"].into_iter().enumerate() {
                dict.add(code, (k * 7 + d) as i64 + 1);
            }
            dicts.push(dict);
        }
        for p in 0..PMFS {
            let pmf = scope.pmf_stat(&format!("latency{p}")).expect("declare");
            for _ in 0..RECORDS_PER_PMF {
                pmf.record(latencies.next().expect("an endless stream"));
            }
            pmfs.push(pmf);
        }
        scopes.push(scope);
    }
    Tree {
        registry,
        _scopes: scopes,
        _counters: counters,
        _meters: meters,
        _dicts: dicts,
        _pmfs: pmfs,
    }
}

fn count_stats(node: &scales::Node) -> usize {
    match node {
        scales::Node::Stat(_) => 1,
        scales::Node::Group(group) => group.entries.iter().map(|(_, n)| count_stats(n)).sum(),
    }
}

fn snapshot_10k(c: &mut Criterion) {
    let tree = build();
    let registry = &tree.registry;

    let snap = registry.snapshot();
    let stats = count_stats(snap.root());
    assert_eq!(stats, SCOPES * (COUNTERS + METERS + DICTS + PMFS));
    let compact = json::to_string(&snap, Style::Compact);
    let pretty = json::to_string(&snap, Style::Pretty);
    println!(
        "tree: {stats} stats; compact JSON {} bytes, pretty JSON {} bytes",
        compact.len(),
        pretty.len()
    );

    let mut group = c.benchmark_group("snapshot_10k");
    group.bench_function("registry.snapshot()", |b| {
        b.iter(|| black_box(registry).snapshot())
    });
    group.bench_function("json::to_string(compact) of a ready snapshot", |b| {
        b.iter(|| json::to_string(black_box(&snap), Style::Compact))
    });
    group.bench_function("snapshot + json::to_string(compact)", |b| {
        b.iter(|| json::to_string(&black_box(registry).snapshot(), Style::Compact))
    });
    group.bench_function("snapshot + json::to_string(pretty)", |b| {
        b.iter(|| json::to_string(&black_box(registry).snapshot(), Style::Pretty))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .without_plots();
    targets = snapshot_10k
}
criterion_main!(benches);
