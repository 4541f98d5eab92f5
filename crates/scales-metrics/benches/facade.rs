//! The cost of a `metrics` macro call with the scales recorder, beside metrics-util's
//! `Registry`-based recorder (the registry and atomic storage metrics-exporter-prometheus is
//! built on), in the same criterion groups so that the ratios inside a group mean something.
//!
//! * Each recorder is installed for the benchmark's threads only, with
//!   `metrics::with_local_recorder`, so both run in one process.
//! * *macro* rows call `counter!("a.b").increment(1)` every iteration: the facade's key
//!   lookup (the recorder's `register_counter`), the increment, and the handle's drop.
//!   *handle* rows increment a `metrics::Counter` registered once, through `black_box`.
//! * `*_2t` groups: a helper thread runs the same operation on the same metric, with the
//!   same recorder installed, until the main thread has timed its `iters` operations. A sample
//!   in which the helper did less than half as many operations (it was descheduled; this
//!   machine has 2 cores shared with other work) is measured again, up to 5 times, and the
//!   overlap is printed after each benchmark.
//! * `keys_256` rows: one label taking 256 values round-robin (`metrics` builds the key,
//!   allocating its labels, on every call): more keys than the scales recorder's per-thread
//!   cache holds, so most calls take its shared map.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use metrics::{Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use scales_metrics::ScalesRecorder;

/// The peer: metrics-util's registry with atomic storage, behind a minimal recorder.
struct PeerRecorder(Registry<Key, AtomicStorage>);

impl Recorder for PeerRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        self.0
            .get_or_create_counter(key, |c| metrics::Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.0
            .get_or_create_gauge(key, |g| metrics::Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.0
            .get_or_create_histogram(key, |h| metrics::Histogram::from_arc(h.clone()))
    }
}

/// Both recorders, shareable with helper threads.
fn recorders() -> [(&'static str, Arc<dyn Recorder + Send + Sync>); 2] {
    let registry = scales::Registry::new();
    [
        ("scales", Arc::new(ScalesRecorder::new(&registry))),
        ("metrics-util", Arc::new(PeerRecorder(Registry::atomic()))),
    ]
}

/// 256 label values, for the `keys_256` rows.
fn label_values() -> &'static [String] {
    static VALUES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| (0..256).map(|i| format!("k{i}")).collect())
}

/// Latency-like values (seconds) for the histogram rows.
fn inputs() -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..4096)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1e-4 + (state >> 11) as f64 / (1u64 << 53) as f64 * 1e-2
        })
        .collect()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
}

fn facade_1t(c: &mut Criterion) {
    let mut group = c.benchmark_group("facade_1t");
    let inputs = inputs();
    for (name, recorder) in recorders() {
        metrics::with_local_recorder(&*recorder, || {
            group.bench_function(
                format!("{name} counter!(\"a.b\").increment(1) (macro)"),
                |b| b.iter(|| metrics::counter!("a.b").increment(1)),
            );
            let handle = metrics::counter!("a.b");
            group.bench_function(format!("{name} Counter::increment (handle)"), |b| {
                b.iter(|| black_box(&handle).increment(1))
            });
            group.bench_function(
                format!("{name} counter!(\"a.b\", \"code\" => \"200\").increment(1)"),
                |b| b.iter(|| metrics::counter!("a.b.by_code", "code" => "200").increment(1)),
            );
            let mut i = 0;
            group.bench_function(format!("{name} histogram!(\"a.h\").record(v)"), |b| {
                b.iter(|| {
                    i = (i + 1) & 4095;
                    metrics::histogram!("a.h").record(inputs[i]);
                })
            });
            let values = label_values();
            let mut k = 0;
            group.bench_function(
                format!("{name} counter!(\"a.k\", \"key\" => 256 values).increment(1)"),
                |b| {
                    b.iter(|| {
                        k = (k + 1) & 255;
                        metrics::counter!("a.k", "key" => values[k].clone()).increment(1);
                    })
                },
            );
        });
    }
    group.finish();
}

fn facade_2t(c: &mut Criterion) {
    let mut group = c.benchmark_group("facade_2t");
    for (name, recorder) in recorders() {
        bench_2t(
            &mut group,
            &format!("{name} counter!(\"a.b\").increment(1) (macro)"),
            &recorder,
            || metrics::counter!("a.b").increment(1),
        );
        let handle = metrics::with_local_recorder(&*recorder, || metrics::counter!("a.b"));
        bench_2t(
            &mut group,
            &format!("{name} Counter::increment (handle)"),
            &recorder,
            move || black_box(&handle).increment(1),
        );
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Two-thread harness (as in scales-core's `hot_paths`, with a recorder on each thread).

/// Operations the helper runs between checks of the stop flag.
const HELPER_CHUNK: u64 = 256;
/// Attempts per sample whose helper thread did less than half the main thread's operations.
const ATTEMPTS: usize = 5;

fn bench_2t<W>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    recorder: &Arc<dyn Recorder + Send + Sync>,
    work: W,
) where
    W: Fn() + Clone + Send + 'static,
{
    let mut ratios = Vec::new();
    let mut retries = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let (elapsed, helper_ops) = two_threads(iters, recorder, &work);
                let ratio = helper_ops as f64 / iters as f64;
                if iters < 10_000 {
                    return elapsed;
                }
                if ratio >= 0.5 || attempt == ATTEMPTS {
                    ratios.push(ratio);
                    retries += attempt - 1;
                    return elapsed;
                }
            }
        })
    });
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let below = ratios.iter().filter(|&&r| r < 0.5).count();
        println!(
            "    overlap {name}: helper ops per main op: median {:.2}, min {:.2}; \
             {below}/{} samples below 0.5 after {retries} re-measured",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios.len(),
        );
    }
}

/// Both threads spin here until both have arrived.
fn rendezvous(ready: &AtomicU32) {
    ready.fetch_add(1, Ordering::AcqRel);
    let mut spins = 0u32;
    while ready.load(Ordering::Acquire) < 2 {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Times `iters` calls of `work` on this thread while a helper thread calls it until this
/// thread is done; both with `recorder` installed. Returns the time and the helper's count.
fn two_threads<W>(
    iters: u64,
    recorder: &Arc<dyn Recorder + Send + Sync>,
    work: &W,
) -> (Duration, u64)
where
    W: Fn() + Clone + Send + 'static,
{
    let ready = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let helper = {
        let (ready, stop, recorder, work) =
            (ready.clone(), stop.clone(), recorder.clone(), work.clone());
        thread::spawn(move || {
            metrics::with_local_recorder(&*recorder, || {
                rendezvous(&ready);
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..HELPER_CHUNK {
                        work();
                    }
                    done += HELPER_CHUNK;
                }
                done
            })
        })
    };
    let elapsed = metrics::with_local_recorder(&**recorder, || {
        rendezvous(&ready);
        let start = Instant::now();
        for _ in 0..iters {
            work();
        }
        start.elapsed()
    });
    stop.store(true, Ordering::Relaxed);
    let helper_ops = helper.join().expect("helper thread panicked");
    (elapsed, helper_ops)
}

criterion_group! {
    name = benches;
    config = config();
    targets = facade_1t, facade_2t
}
criterion_main!(benches);
