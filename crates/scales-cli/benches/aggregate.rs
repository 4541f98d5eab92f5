//! `scales aggregate`'s work without the network: parsing 100 dumps of a 10k-stat tree (900
//! counters and 100 distributions with sketches in each of 100 groups... see `dump_texts`)
//! and folding them into one tree. Reports the time per aggregation (criterion) and the
//! peak heap memory of one aggregation (a counting global allocator), printed once.
//!
//! `cargo bench -p scales-cli --bench aggregate` (run it on a quiet machine).

#![allow(missing_docs)] // criterion's generated functions

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use scales::format::json;

// The aggregation code itself (the binary crate has no library to import); `merge` finds
// `spec` as `super::spec`, as in the binary.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/aggregate/merge.rs"]
mod merge;
#[allow(dead_code, unreachable_pub, unused_imports)]
#[path = "../src/aggregate/spec.rs"]
mod spec;

use merge::Aggregation;
use spec::Spec;

/// Counts heap bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System::alloc`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System::dealloc`'s.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SOURCES: usize = 100;
const GROUPS: usize = 100;
const PER_GROUP: usize = 100;

/// Five distinct dumps of the 10k-stat tree (each used for 20 of the 100 sources).
fn dump_texts() -> Vec<Vec<u8>> {
    (0..5)
        .map(|variant| {
            let registry = scales::Registry::new();
            let mut scopes = Vec::new();
            for g in 0..GROUPS {
                let scope = registry.scope(&format!("/service/group{g}")).unwrap();
                for s in 0..PER_GROUP {
                    if s % 10 == 0 {
                        let pmf = scope.pmf_stat(&format!("latency{s}")).unwrap();
                        for k in 0..200u64 {
                            pmf.record(
                                1e-4 * (1.0 + ((k * 7919 + variant * 31 + s as u64) % 997) as f64),
                            );
                        }
                    } else {
                        scope
                            .int_stat(&format!("count{s}"))
                            .unwrap()
                            .add((g * s) as i64 + variant as i64);
                    }
                }
                scopes.push(scope);
            }
            json::to_string(
                &registry.snapshot(),
                json::Options::default().with_last_updated().with_sketches(),
            )
            .into_bytes()
        })
        .collect()
}

fn aggregate_all(spec: &Spec, texts: &[Vec<u8>]) -> usize {
    let mut aggregation = Aggregation::new(spec);
    for i in 0..SOURCES {
        let snapshot = json::parse(&texts[i % texts.len()]).expect("the dumps parse");
        aggregation.add(&format!("web{i}"), &snapshot);
    }
    let (snapshot, approximate) = aggregation.finish();
    snapshot.stats().len() + approximate.len()
}

fn bench(c: &mut Criterion) {
    let spec = Spec::default_spec();
    let texts = dump_texts();
    let bytes: usize = texts.iter().map(Vec::len).sum::<usize>() / texts.len();
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let stats = aggregate_all(&spec, &texts);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    println!(
        "aggregate: {SOURCES} dumps of {} stats ({} KiB each) -> {stats} stats; peak heap {:.1} MiB",
        GROUPS * PER_GROUP,
        bytes / 1024,
        peak as f64 / (1024.0 * 1024.0)
    );
    let mut group = c.benchmark_group("aggregate");
    group.sample_size(10);
    group.bench_function("100 dumps of 10k stats", |b| {
        b.iter(|| aggregate_all(&spec, &texts))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
