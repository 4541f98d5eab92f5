//! The read benchmarks' tree (see `benches/snapshot.rs`), shared with
//! `examples/read_probe.rs`.

use super::Lognormal;

pub(crate) const COUNTERS: usize = 80;
pub(crate) const METERS: usize = 10;
pub(crate) const DICTS: usize = 5;
pub(crate) const PMFS: usize = 5;
pub(crate) const STATS_PER_SCOPE: usize = COUNTERS + METERS + DICTS + PMFS;
pub(crate) const RECORDS_PER_PMF: usize = 1000;
pub(crate) const CODES: [&str; 4] = ["200", "304", "404", "500"];

/// The registry and every handle, kept alive for the benchmark's lifetime.
pub(crate) struct Tree {
    pub(crate) registry: scales::Registry,
    pub(crate) stats: usize,
    _scopes: Vec<scales::Scope>,
    _counters: Vec<scales::IntStat>,
    _meters: Vec<scales::MeterStat>,
    _dicts: Vec<scales::IntDictStat>,
    _pmfs: Vec<scales::PmfStat>,
}

pub(crate) fn latencies() -> impl Iterator<Item = f64> {
    // lognormal(0, 1) milliseconds, in seconds.
    Lognormal::new(0x2545_F491_4F6C_DD1D).map(|z| z * 1e-3)
}

pub(crate) fn build(stats: usize) -> Tree {
    let registry = scales::Registry::new();
    let (mut scopes, mut counters, mut meters, mut dicts, mut pmfs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut latencies = latencies();
    for s in 0..stats / STATS_PER_SCOPE {
        let scope = registry
            .scope(&format!("/service/shard{s:04}"))
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
            for (k, code) in CODES.into_iter().enumerate() {
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
    let tree = Tree {
        registry,
        stats,
        _scopes: scopes,
        _counters: counters,
        _meters: meters,
        _dicts: dicts,
        _pmfs: pmfs,
    };
    assert_eq!(tree.registry.snapshot().stats().len(), stats);
    tree
}
