//! Memory per stat: `size_of` of the handles, and heap bytes per declared stat measured with a
//! counting global allocator (live bytes after minus before, averaged over many stats).
//!
//! Not a timing benchmark: `cargo bench -p scales-core --bench memory` prints a table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::mem::size_of;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

mod support;
use support::Lognormal;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations made, and bytes they asked for (frees not subtracted).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const N: usize = 1000;

/// Heap bytes per stat for declaring `N` stats with `declare` in a fresh scope (names are
/// allocated before the baseline; the tree's own copy of each name is counted).
fn per_stat<T>(
    kind: &str,
    declare: impl Fn(&scales::Scope, &str) -> T,
    after: impl Fn(&T),
) -> (String, f64) {
    per_stat_of(kind, N, declare, after)
}

/// [`per_stat`] with `n` stats declared.
fn per_stat_of<T>(
    kind: &str,
    n: usize,
    declare: impl Fn(&scales::Scope, &str) -> T,
    after: impl Fn(&T),
) -> (String, f64) {
    let registry = scales::Registry::new();
    let scope = registry.scope("/mem").expect("valid path");
    let names: Vec<String> = (0..n).map(|i| format!("stat{i:04}")).collect();
    let mut handles = Vec::with_capacity(n);
    let before = live();
    for name in &names {
        let handle = declare(&scope, name);
        after(&handle);
        handles.push(handle);
    }
    let bytes = (live() - before) as f64 / n as f64;
    drop(handles);
    (kind.to_owned(), bytes)
}

fn lognormal_seconds(n: usize) -> Vec<f64> {
    Lognormal::new(0x9E37_79B9_7F4A_7C15)
        .take(n)
        .map(|z| z * 1e-3)
        .collect()
}

/// Allocations and bytes asked for by one snapshot of `registry` (taken once before, so that
/// lazily made state is not counted), per stat.
fn snapshot_allocations(registry: &scales::Registry, stats: usize) -> (f64, f64) {
    drop(registry.snapshot());
    let (calls, bytes) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED.load(Ordering::Relaxed),
    );
    drop(registry.snapshot());
    let calls = ALLOCATIONS.load(Ordering::Relaxed) - calls;
    let bytes = ALLOCATED.load(Ordering::Relaxed) - bytes;
    (calls as f64 / stats as f64, bytes as f64 / stats as f64)
}

/// What a snapshot allocates: in proportion to the number of stats, whatever their names'
/// length (names and keys are shared with the tree, not copied).
fn snapshot_rows() {
    println!("allocations per stat of one snapshot (counting allocator):");
    for name_length in [8, 200] {
        let registry = scales::Registry::new();
        let scope = registry.scope("/counters").expect("valid path");
        let stats: Vec<_> = (0..10_000)
            .map(|i| {
                let name = format!("{i:0>width$}", width = name_length);
                scope.int_stat(&name).expect("declare")
            })
            .collect();
        let (calls, bytes) = snapshot_allocations(&registry, stats.len());
        println!(
            "  10,000 IntStats named with {name_length} characters: {calls:.3} allocations, {bytes:.0} B per stat"
        );
    }
    let tree = support::tree::build(10_000);
    let (calls, bytes) = snapshot_allocations(&tree.registry, tree.stats);
    println!(
        "  the benchmark tree (10,000 stats, 500 distributions): {calls:.3} allocations, {bytes:.0} B per stat"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test discovery
    }
    snapshot_rows();
    println!("handle sizes (size_of):");
    println!("  IntStat {} B", size_of::<scales::IntStat>());
    println!("  PmfStat {} B", size_of::<scales::PmfStat>());
    println!("  MeterStat {} B", size_of::<scales::MeterStat>());
    println!("  IntDictStat {} B", size_of::<scales::IntDictStat>());
    println!("  Scope {} B", size_of::<scales::Scope>());

    let lognormal = lognormal_seconds(100_000);
    let mut rows = vec![
        per_stat("IntStat, idle", |s, n| s.int_stat(n).unwrap(), |_| {}),
        per_stat_of(
            "IntStat, idle, 100 000 declared",
            100_000,
            |s, n| s.int_stat(n).unwrap(),
            |_| {},
        ),
        per_stat(
            "IntStat, incremented on this thread (its per-thread cell)",
            |s, n| s.int_stat(n).unwrap(),
            |c| c.inc(),
        ),
        per_stat("MeterStat, idle", |s, n| s.meter_stat(n).unwrap(), |_| {}),
        per_stat(
            "IntDictStat, empty",
            |s, n| s.int_dict_stat(n).unwrap(),
            |_| {},
        ),
        per_stat(
            "IntDictStat, 4 keys",
            |s, n| s.int_dict_stat(n).unwrap(),
            |d| {
                for k in ["200", "304", "404", "500"] {
                    d.inc(k);
                }
            },
        ),
        per_stat(
            "PmfStat, idle (never recorded)",
            |s, n| s.pmf_stat(n).unwrap(),
            |_| {},
        ),
        per_stat_of(
            "PmfStat, idle, 100 000 declared",
            100_000,
            |s, n| s.pmf_stat(n).unwrap(),
            |_| {},
        ),
        per_stat(
            "PmfStat, one value recorded (this thread's block + first octave)",
            |s, n| s.pmf_stat(n).unwrap(),
            |p| p.record(0.012),
        ),
    ];
    // Fewer of these: each records 100k values.
    let registry = scales::Registry::new();
    let scope = registry.scope("/mem").expect("valid path");
    let names: Vec<String> = (0..20).map(|i| format!("pmf{i}")).collect();
    let mut pmfs = Vec::with_capacity(names.len());
    let before = live();
    for name in &names {
        let pmf = scope.pmf_stat(name).unwrap();
        for &v in &lognormal {
            pmf.record(v);
        }
        pmfs.push(pmf);
    }
    rows.push((
        "PmfStat after 100k lognormal(0,1) ms values".to_owned(),
        (live() - before) as f64 / names.len() as f64,
    ));

    // Peers, for context.
    let before = live();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for &v in &lognormal {
        hist.record((v * 1e9) as u64).unwrap();
    }
    rows.push((
        "(peer) hdrhistogram Histogram<u64>::new(3), same values in ns".to_owned(),
        (live() - before) as f64,
    ));
    let before = live();
    let counters: Vec<_> = (0..N)
        .map(|i| prometheus::IntCounter::new(format!("c{i}"), "help").unwrap())
        .collect();
    rows.push((
        "(peer) prometheus IntCounter (name + help + desc)".to_owned(),
        (live() - before) as f64 / N as f64,
    ));

    println!("heap bytes per stat (counting allocator; includes the tree entry and name):");
    for (kind, bytes) in rows {
        println!("  {kind}: {bytes:.0} B");
    }
    drop((pmfs, hist, counters));
}
