//! Hot-path benchmarks: scales' recording operations beside the peer crates' equivalents, in
//! the same criterion groups, so that the ratios inside a group mean something.
//!
//! Method (see `BENCHMARKS.md` at the repository root for results):
//!
//! * Every iteration passes the metric handle through [`black_box`], so the compiler cannot
//!   hoist the handle's address or fold successive increments together.
//! * Histogram inputs are 64 Ki precomputed lognormal(0, 1) × 1000 µs values cycled from an
//!   array: hdrhistogram gets integer nanoseconds, prometheus and scales get seconds,
//!   DDSketch gets microseconds. Every histogram is prefilled with the whole input array
//!   before timing, so no bucket allocation or resize happens inside the timed loop.
//! * `*_2t` groups use `iter_custom`: a helper thread is spawned, both threads meet at a spin
//!   barrier, and only the main thread's `iters` operations are timed. The helper performs the
//!   same operation on the same metric **until the main thread has finished**, so the main
//!   thread is contended for its whole timed interval (a helper limited to `iters` operations
//!   could finish early, leaving the tail of the main loop uncontended). After each 2-thread
//!   benchmark the harness prints how many operations the helper did per main-thread
//!   operation: about 1.0 means both threads really ran together; well below 1.0 means the
//!   helper was descheduled (this machine has 2 cores, shared with other work). A sample in
//!   which the helper did less than half the main thread's operations is measured again
//!   (up to 5 attempts), so such samples do not pass for contended ones.
//! * The metrics-rs counter is a `metrics::Counter::from_arc(Arc<AtomicU64>)` handle: the
//!   crate's own `CounterFn for AtomicU64` implementation, which is the storage
//!   metrics-util's `AtomicStorage` (and so metrics-exporter-prometheus) hands out. That is
//!   the real cost of incrementing a pre-registered handle (an `Option<Arc<dyn CounterFn>>`
//!   check and a dynamic call), without the `counter!` macro's registry lookup.
//! * The `counter!` macro rows measure what applications that use the macro at the call site
//!   pay: the global recorder is a `metrics_util::registry::Registry` with atomic storage
//!   (what metrics-exporter-prometheus uses), so each call builds the key, hashes it, looks it
//!   up under the shard's read lock and clones the counter's `Arc`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use hdrhistogram::Histogram as HdrHistogram;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;
use sketches_ddsketch::{Config as DdConfig, DDSketch};

mod support;
use support::Lognormal;

const INPUTS: usize = 1 << 16;
const MASK: usize = INPUTS - 1;
/// Where the helper thread starts in the input array, so the two threads of a 2-thread
/// histogram benchmark record different values at any moment.
const HELPER_OFFSET: usize = INPUTS / 2;
/// Operations the helper runs between checks of the stop flag.
const HELPER_CHUNK: u64 = 256;
/// Status codes used as keys in the keyed-counter group.
const CODES: [&str; 16] = [
    "200", "201", "204", "301", "302", "304", "400", "401", "403", "404", "409", "429", "500",
    "502", "503", "504",
];

thread_local! {
    static TLS_COUNT: Cell<u64> = const { Cell::new(0) };
}

/// The global `metrics` recorder of the `counter!` rows: metrics-util's registry with atomic
/// storage, as exporters build it.
struct RegistryRecorder(
    metrics_util::registry::Registry<metrics::Key, metrics_util::registry::AtomicStorage>,
);

impl metrics::Recorder for RegistryRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        self.0
            .get_or_create_counter(key, |c| metrics::Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        self.0
            .get_or_create_gauge(key, |g| metrics::Gauge::from_arc(g.clone()))
    }

    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.0
            .get_or_create_histogram(key, |h| metrics::Histogram::from_arc(h.clone()))
    }
}

/// Installs [`RegistryRecorder`] as the global recorder (once per process).
fn install_metrics_recorder() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        metrics::set_global_recorder(RegistryRecorder(metrics_util::registry::Registry::atomic()))
            .expect("no other recorder in this benchmark");
    });
}

/// The same lognormal sample in the units each library expects.
struct Inputs {
    micros: Arc<Vec<f64>>,
    seconds: Arc<Vec<f64>>,
    nanos: Arc<Vec<u64>>,
}

impl Inputs {
    fn new() -> Self {
        // lognormal(0, 1) × 1000 µs.
        let micros: Vec<f64> = Lognormal::new(0x9E37_79B9_7F4A_7C15)
            .take(INPUTS)
            .map(|z| z * 1000.0)
            .collect();
        Self {
            seconds: Arc::new(micros.iter().map(|us| us * 1e-6).collect()),
            nanos: Arc::new(micros.iter().map(|us| (us * 1e3).round() as u64).collect()),
            micros: Arc::new(micros),
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
        .without_plots()
}

fn scales_scope() -> (scales::Registry, scales::Scope) {
    let registry = scales::Registry::new();
    let scope = registry.scope("/bench").expect("valid path");
    (registry, scope)
}

fn hdr() -> HdrHistogram<u64> {
    HdrHistogram::<u64>::new(3).expect("3 significant figures is valid")
}

fn prometheus_histogram() -> prometheus::Histogram {
    prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("h", "help"))
        .expect("valid options")
}

// ---------------------------------------------------------------------------------------
// Two-thread harness.

/// How much the helper thread overlapped the main thread in each sample of one benchmark.
#[derive(Default)]
struct Overlap {
    /// Helper operations per main-thread operation, for samples of at least 10 000 ops.
    ratios: Vec<f64>,
    /// Samples measured again because the helper thread had been descheduled.
    retries: usize,
}

impl Overlap {
    fn report(&mut self, name: &str) {
        let ratios = &mut self.ratios;
        if ratios.is_empty() {
            return;
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let below = ratios.iter().filter(|&&r| r < 0.5).count();
        println!(
            "    overlap {name}: helper ops per main op: median {median:.2}, min {:.2}, max {:.2}; \
             {below}/{} samples still below 0.5 after {} re-measured",
            ratios[0],
            ratios[ratios.len() - 1],
            ratios.len(),
            self.retries
        );
        ratios.clear();
        self.retries = 0;
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

/// Attempts per sample: a sample whose helper thread did less than half as many operations
/// as the main thread (it was descheduled, so the main thread ran partly uncontended) is
/// measured again, up to this many times.
const ATTEMPTS: usize = 5;

/// Times `iters` calls of a worker on the main thread while a helper thread runs its own
/// worker (from the same `factory`) until the main thread is done.
fn two_threads<F, W>(iters: u64, factory: &F, overlap: &mut Overlap) -> Duration
where
    F: Fn() -> W + Clone + Send + 'static,
    W: FnMut(usize),
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (elapsed, helper_ops) = two_threads_once(iters, factory);
        let ratio = helper_ops as f64 / iters as f64;
        if iters < 10_000 {
            return elapsed;
        }
        if ratio >= 0.5 || attempt == ATTEMPTS {
            overlap.ratios.push(ratio);
            overlap.retries += attempt - 1;
            return elapsed;
        }
    }
}

fn two_threads_once<F, W>(iters: u64, factory: &F) -> (Duration, u64)
where
    F: Fn() -> W + Clone + Send + 'static,
    W: FnMut(usize),
{
    let ready = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let helper = {
        let (ready, stop, factory) = (ready.clone(), stop.clone(), factory.clone());
        thread::spawn(move || {
            let mut work = factory();
            rendezvous(&ready);
            let mut done = 0u64;
            let mut i = HELPER_OFFSET;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..HELPER_CHUNK {
                    work(i);
                    i = i.wrapping_add(1);
                }
                done += HELPER_CHUNK;
            }
            done
        })
    };
    let mut work = factory();
    rendezvous(&ready);
    let start = Instant::now();
    for i in 0..iters as usize {
        work(i);
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let helper_ops = helper.join().expect("helper thread panicked");
    (elapsed, helper_ops)
}

/// Registers a 2-thread benchmark in `group` and prints its overlap afterwards.
fn bench_2t<F, W>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    factory: F,
) where
    F: Fn() -> W + Clone + Send + 'static,
    W: FnMut(usize),
{
    let mut overlap = Overlap::default();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| two_threads(iters, &factory, &mut overlap))
    });
    overlap.report(name);
}

// ---------------------------------------------------------------------------------------
// Counters.

fn counter_inc_1t(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_1t");

    // On the heap, like every handle's storage (not in this stack frame, next to spills).
    let atomic = Arc::new(AtomicU64::new(0));
    group.bench_function("AtomicU64::fetch_add (shared, Relaxed)", |b| {
        b.iter(|| black_box(&*atomic).fetch_add(1, Ordering::Relaxed))
    });

    group.bench_function("thread_local! Cell += 1 (floor)", |b| {
        b.iter(|| {
            TLS_COUNT.with(|cell| {
                let cell = black_box(cell);
                cell.set(cell.get() + 1);
            })
        })
    });

    let (_registry, scope) = scales_scope();
    let stat = scope.int_stat("hits").expect("declare");
    group.bench_function("scales IntStat::inc", |b| b.iter(|| black_box(&stat).inc()));

    let prom = prometheus::IntCounter::new("hits", "help").expect("valid counter");
    group.bench_function("prometheus IntCounter::inc", |b| {
        b.iter(|| black_box(&prom).inc())
    });

    let pc: PcCounter = PcCounter::default();
    group.bench_function("prometheus-client Counter::inc", |b| {
        b.iter(|| black_box(&pc).inc())
    });

    let metrics_counter = metrics::Counter::from_arc(Arc::new(AtomicU64::new(0)));
    group.bench_function("metrics Counter::increment (handle)", |b| {
        b.iter(|| black_box(&metrics_counter).increment(1))
    });

    install_metrics_recorder();
    group.bench_function("metrics counter!(\"hits\").increment(1) (macro)", |b| {
        b.iter(|| metrics::counter!("hits").increment(1))
    });

    group.finish();
}

fn counter_inc_2t(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_2t");

    let atomic = Arc::new(AtomicU64::new(0));
    bench_2t(
        &mut group,
        "AtomicU64::fetch_add (shared, Relaxed)",
        move || {
            let atomic = atomic.clone();
            move |_| {
                black_box(&*atomic).fetch_add(1, Ordering::Relaxed);
            }
        },
    );

    bench_2t(&mut group, "thread_local! Cell += 1 (floor)", || {
        |_| {
            TLS_COUNT.with(|cell| {
                let cell = black_box(cell);
                cell.set(cell.get() + 1);
            })
        }
    });

    let (_registry, scope) = scales_scope();
    let stat = scope.int_stat("hits").expect("declare");
    bench_2t(&mut group, "scales IntStat::inc", move || {
        let stat = stat.clone();
        move |_| black_box(&stat).inc()
    });

    let prom = prometheus::IntCounter::new("hits", "help").expect("valid counter");
    bench_2t(&mut group, "prometheus IntCounter::inc", move || {
        let prom = prom.clone();
        move |_| black_box(&prom).inc()
    });

    let pc: PcCounter = PcCounter::default();
    bench_2t(&mut group, "prometheus-client Counter::inc", move || {
        let pc = pc.clone();
        move |_| {
            black_box(&pc).inc();
        }
    });

    let metrics_counter = metrics::Counter::from_arc(Arc::new(AtomicU64::new(0)));
    bench_2t(
        &mut group,
        "metrics Counter::increment (handle)",
        move || {
            let counter = metrics_counter.clone();
            move |_| black_box(&counter).increment(1)
        },
    );

    install_metrics_recorder();
    bench_2t(
        &mut group,
        "metrics counter!(\"hits\").increment(1) (macro)",
        || |_| metrics::counter!("hits").increment(1),
    );

    group.finish();
}

// ---------------------------------------------------------------------------------------
// Histograms.

fn histogram_record_1t(c: &mut Criterion) {
    let inputs = Inputs::new();
    let mut group = c.benchmark_group("histogram_record_1t");

    let mut hist = hdr();
    for &v in inputs.nanos.iter() {
        hist.record(v).expect("auto-resizing histogram");
    }
    let nanos = &inputs.nanos;
    let mut i = 0usize;
    group.bench_function("hdrhistogram Histogram<u64>::record (3 sf)", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&mut hist)
                .record(black_box(nanos[i & MASK]))
                .expect("auto-resizing histogram")
        })
    });

    let mut sketch = DDSketch::new(DdConfig::defaults());
    for &v in inputs.micros.iter() {
        sketch.add(v);
    }
    let micros = &inputs.micros;
    group.bench_function("sketches-ddsketch DDSketch::add", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&mut sketch).add(black_box(micros[i & MASK]))
        })
    });

    let prom = prometheus_histogram();
    for &v in inputs.seconds.iter() {
        prom.observe(v);
    }
    let seconds = &inputs.seconds;
    group.bench_function("prometheus Histogram::observe (default buckets)", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&prom).observe(black_box(seconds[i & MASK]))
        })
    });

    let (_registry, scope) = scales_scope();
    let pmf = scope.pmf_stat("latency").expect("declare");
    for &v in inputs.seconds.iter() {
        pmf.record(v);
    }
    group.bench_function("scales PmfStat::record", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&pmf).record(black_box(seconds[i & MASK]))
        })
    });

    group.finish();
}

fn histogram_record_2t(c: &mut Criterion) {
    let inputs = Inputs::new();
    let mut group = c.benchmark_group("histogram_record_2t");

    // The floor: each thread records into its own (single-writer) hdrhistogram.
    let nanos = inputs.nanos.clone();
    bench_2t(
        &mut group,
        "hdrhistogram record, one histogram per thread",
        move || {
            let nanos = nanos.clone();
            let mut hist = hdr();
            for &v in nanos.iter() {
                hist.record(v).expect("auto-resizing histogram");
            }
            move |i| {
                black_box(&mut hist)
                    .record(black_box(nanos[i & MASK]))
                    .expect("auto-resizing histogram")
            }
        },
    );

    let shared = Arc::new(Mutex::new(hdr()));
    for &v in inputs.nanos.iter() {
        shared.lock().unwrap().record(v).expect("auto-resizing");
    }
    let nanos = inputs.nanos.clone();
    bench_2t(
        &mut group,
        "hdrhistogram record in a shared Mutex",
        move || {
            let nanos = nanos.clone();
            let shared = shared.clone();
            move |i| {
                black_box(&shared)
                    .lock()
                    .unwrap()
                    .record(black_box(nanos[i & MASK]))
                    .expect("auto-resizing histogram")
            }
        },
    );

    let prom = prometheus_histogram();
    for &v in inputs.seconds.iter() {
        prom.observe(v);
    }
    let seconds = inputs.seconds.clone();
    bench_2t(
        &mut group,
        "prometheus Histogram::observe (shared)",
        move || {
            let seconds = seconds.clone();
            let prom = prom.clone();
            move |i| black_box(&prom).observe(black_box(seconds[i & MASK]))
        },
    );

    let (_registry, scope) = scales_scope();
    let pmf = scope.pmf_stat("latency").expect("declare");
    for &v in inputs.seconds.iter() {
        pmf.record(v);
    }
    let seconds = inputs.seconds.clone();
    bench_2t(&mut group, "scales PmfStat::record (shared)", move || {
        let seconds = seconds.clone();
        let pmf = pmf.clone();
        move |i| black_box(&pmf).record(black_box(seconds[i & MASK]))
    });

    group.finish();
}

// ---------------------------------------------------------------------------------------
// Meter, timer, keyed counter.

fn meter_mark(c: &mut Criterion) {
    let mut group = c.benchmark_group("meter_mark");
    let (_registry, scope) = scales_scope();

    // On the heap, like every handle's storage (not in this stack frame, next to spills).
    let atomic = Arc::new(AtomicU64::new(0));
    group.bench_function("AtomicU64::fetch_add (shared, Relaxed)", |b| {
        b.iter(|| black_box(&*atomic).fetch_add(1, Ordering::Relaxed))
    });

    let stat = scope.int_stat("hits").expect("declare");
    group.bench_function("scales IntStat::inc", |b| b.iter(|| black_box(&stat).inc()));

    let meter = scope.meter_stat("rate").expect("declare");
    group.bench_function("scales MeterStat::mark", |b| {
        b.iter(|| black_box(&meter).mark())
    });

    group.finish();
}

fn timer(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer");
    let (_registry, scope) = scales_scope();

    group.bench_function("Instant::now()", |b| b.iter(Instant::now));

    group.bench_function("Instant::now() pair (start; start.elapsed())", |b| {
        b.iter(|| {
            let start = Instant::now();
            start.elapsed()
        })
    });

    let reference = scope.pmf_stat("reference").expect("declare");
    group.bench_function("Instant pair + scales PmfStat::record(secs)", |b| {
        b.iter(|| {
            let start = black_box(Instant::now());
            black_box(&reference).record(start.elapsed().as_secs_f64())
        })
    });

    let mut hist = hdr();
    group.bench_function("Instant pair + hdrhistogram record(ns)", |b| {
        b.iter(|| {
            let start = black_box(Instant::now());
            black_box(&mut hist)
                .record(start.elapsed().as_nanos() as u64)
                .expect("auto-resizing histogram")
        })
    });

    // The clock the guard uses: quanta's raw TSC read, scaled once per measurement.
    let clock = quanta::Clock::new();
    group.bench_function("quanta Clock::raw()", |b| {
        b.iter(|| black_box(&clock).raw())
    });
    group.bench_function("quanta raw pair + delta_as_nanos", |b| {
        b.iter(|| {
            let start = black_box(clock.raw());
            clock.delta_as_nanos(start, clock.raw())
        })
    });
    let quanta_reference = scope.pmf_stat("quantaReference").expect("declare");
    group.bench_function("quanta raw pair + scales PmfStat::record(secs)", |b| {
        b.iter(|| {
            let start = black_box(clock.raw());
            let nanos = clock.delta_as_nanos(start, clock.raw());
            black_box(&quanta_reference).record(nanos as f64 * 1e-9)
        })
    });

    let pmf = scope.pmf_stat("latency").expect("declare");
    group.bench_function("scales PmfStat::time() guard drop", |b| {
        b.iter(|| {
            let _timer = black_box(&pmf).time();
        })
    });

    group.finish();
}

fn dict_inc(c: &mut Criterion) {
    let mut group = c.benchmark_group("dict_inc");
    let (_registry, scope) = scales_scope();

    let dict = scope.int_dict_stat("byCode").expect("declare");
    let vec = prometheus::IntCounterVec::new(prometheus::Opts::new("by_code", "help"), &["code"])
        .expect("valid counter vec");
    let family: PcFamily<[(&'static str, &'static str); 1], PcCounter> = PcFamily::default();
    for code in CODES {
        dict.inc(code);
        vec.with_label_values(&[code]).inc();
        family.get_or_create(&[("code", code)]).inc();
    }

    group.bench_function("scales IntDictStat::inc(\"200\")", |b| {
        b.iter(|| black_box(&dict).inc(black_box("200")))
    });
    let ok = dict.key("200");
    group.bench_function("scales IntDictStat::key(\"200\") handle, inc()", |b| {
        b.iter(|| black_box(&ok).inc())
    });
    let prometheus_ok = vec.with_label_values(&["200"]);
    group.bench_function("prometheus with_label_values handle, inc()", |b| {
        b.iter(|| black_box(&prometheus_ok).inc())
    });
    group.bench_function(
        "prometheus IntCounterVec::with_label_values([\"200\"]).inc()",
        |b| b.iter(|| black_box(&vec).with_label_values(&[black_box("200")]).inc()),
    );
    group.bench_function(
        "prometheus-client Family::get_or_create([(code, \"200\")]).inc()",
        |b| {
            b.iter(|| {
                black_box(&family)
                    .get_or_create(&[("code", black_box("200"))])
                    .inc()
            })
        },
    );

    let mut i = 0usize;
    group.bench_function("scales IntDictStat::inc, 16 keys round-robin", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&dict).inc(black_box(CODES[i % CODES.len()]))
        })
    });
    group.bench_function("prometheus IntCounterVec, 16 keys round-robin", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&vec)
                .with_label_values(&[black_box(CODES[i % CODES.len()])])
                .inc()
        })
    });

    group.finish();
}

/// Two threads incrementing the same key of one keyed counter.
fn dict_inc_2t(c: &mut Criterion) {
    let mut group = c.benchmark_group("dict_inc_2t");
    let (_registry, scope) = scales_scope();
    let dict = scope.int_dict_stat("byCode").expect("declare");
    let vec = prometheus::IntCounterVec::new(prometheus::Opts::new("by_code", "help"), &["code"])
        .expect("valid counter vec");
    for code in CODES {
        dict.inc(code);
        vec.with_label_values(&[code]).inc();
    }
    bench_2t(&mut group, "scales IntDictStat::inc(\"200\")", move || {
        let dict = dict.clone();
        move |_| black_box(&dict).inc(black_box("200"))
    });
    bench_2t(
        &mut group,
        "prometheus IntCounterVec::with_label_values([\"200\"]).inc()",
        move || {
            let vec = vec.clone();
            move |_| black_box(&vec).with_label_values(&[black_box("200")]).inc()
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_inc_1t, counter_inc_2t, histogram_record_1t, histogram_record_2t,
        meter_mark, timer, dict_inc, dict_inc_2t
}
criterion_main!(benches);
