//! Runs each recording hot path `N` times, for instruction counts and for the comparison
//! with Python scales (`scripts/bench-python.sh`).
//!
//! ```sh
//! cargo run --release -p scales-core --example hot_path_probe               # ns/op table
//! cargo run --release -p scales-core --example hot_path_probe -- --json     # the same as JSON
//! # instructions per op: run one op under callgrind with N and with 0, take the difference
//! cargo build --release -p scales-core --example hot_path_probe
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/hot_path_probe --op counter --n 1000000
//! ```
//!
//! `--references` adds the same launch's reference ops (`atomic`, `tls`, `hdr`), for ratios
//! that do not depend on the vCPU's clock of the moment.
//!
//! `--clock-accuracy` compares scales' system [`Clock`](scales::Clock) (quanta's calibrated
//! TSC) with `Instant` over sleeps of 1 ms to 2 s, and times the first read (calibration).
//!
//! Ops: `counter` (`IntStat::inc`), `pmf` (`PmfStat::record` of lognormal seconds), `meter`
//! (`MeterStat::mark`), `dict` (`IntDictStat::inc("200")` with 16 keys), `timer`
//! (`PmfStat::time()` guard, create and drop). The handle goes through `black_box` on every
//! iteration, as in `benches/hot_paths.rs`.

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;
use support::Lognormal;

const OPS: [&str; 5] = ["counter", "pmf", "meter", "dict", "timer"];
/// Reference ops of the same launch, for quick ratios: a shared `AtomicU64::fetch_add`, a
/// `thread_local!` `Cell` add (the floor), and `hdrhistogram` `record` (3 significant figures).
const REFERENCES: [&str; 3] = ["atomic", "tls", "hdr"];
const CODES: [&str; 16] = [
    "200", "201", "204", "301", "302", "304", "400", "401", "403", "404", "409", "429", "500",
    "502", "503", "504",
];

struct Stats {
    counter: scales::IntStat,
    pmf: scales::PmfStat,
    meter: scales::MeterStat,
    dict: scales::IntDictStat,
    inputs: Vec<f64>,
    atomic: std::sync::atomic::AtomicU64,
    hdr: std::cell::RefCell<hdrhistogram::Histogram<u64>>,
    nanos: Vec<u64>,
}

thread_local! {
    static FLOOR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn setup() -> (scales::Registry, Stats) {
    let registry = scales::Registry::new();
    let scope = registry.scope("/probe").expect("scope");
    let dict = scope.int_dict_stat("codes").expect("dict");
    for code in CODES {
        dict.inc(code);
    }
    // lognormal(0, 1) × 1 ms, in seconds, as the benches.
    let inputs: Vec<f64> = Lognormal::new(0x9E37_79B9_7F4A_7C15)
        .take(1 << 16)
        .map(|z| z * 1e-3)
        .collect();
    let stats = Stats {
        counter: scope.int_stat("counter").expect("counter"),
        pmf: scope.pmf_stat("pmf").expect("pmf"),
        meter: scope.meter_stat("meter").expect("meter"),
        dict,
        atomic: std::sync::atomic::AtomicU64::new(0),
        hdr: std::cell::RefCell::new(hdrhistogram::Histogram::new(3).expect("histogram")),
        nanos: inputs.iter().map(|&s| (s * 1e9) as u64).collect(),
        inputs,
    };
    // Warm the per-thread slow paths (registration, chunk and block allocation).
    stats.counter.inc();
    stats.meter.mark();
    for &v in &stats.inputs {
        stats.pmf.record(v);
    }
    for &v in &stats.nanos {
        stats.hdr.borrow_mut().record(v).expect("in range");
    }
    (registry, stats)
}

fn run(stats: &Stats, op: &str, n: u64) {
    match op {
        "counter" => {
            for _ in 0..n {
                black_box(&stats.counter).inc();
            }
        }
        "pmf" => {
            let inputs = &stats.inputs;
            for i in 0..n as usize {
                black_box(&stats.pmf).record(inputs[i & 0xFFFF]);
            }
        }
        "meter" => {
            for _ in 0..n {
                black_box(&stats.meter).mark();
            }
        }
        "dict" => {
            for _ in 0..n {
                black_box(&stats.dict).inc(black_box("200"));
            }
        }
        "timer" => {
            for _ in 0..n {
                drop(black_box(&stats.pmf).time());
            }
        }
        "atomic" => {
            for _ in 0..n {
                black_box(&stats.atomic).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        "tls" => FLOOR.with(|cell| {
            for _ in 0..n {
                let cell = black_box(cell);
                cell.set(cell.get() + 1);
            }
        }),
        "hdr" => {
            let mut hdr = stats.hdr.borrow_mut();
            let nanos = &stats.nanos;
            for i in 0..n as usize {
                // `record` of an in-range value cannot fail (the histogram auto-resizes).
                let _ = black_box(&mut *hdr).record(nanos[i & 0xFFFF]);
            }
        }
        other => panic!("unknown op {other:?}; expected one of {OPS:?} or {REFERENCES:?}"),
    }
}

/// Best of 7 runs of `n` ops, in ns per op.
fn time(stats: &Stats, op: &str, n: u64) -> f64 {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            run(stats, op, n);
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Prints the first-read (calibration) time, the smallest step between reads, and the
/// difference between scales' clock and `Instant` over sleeps.
fn clock_accuracy() {
    let clock = scales::Clock::system();
    let start = Instant::now();
    let _ = clock.now_nanos();
    println!("first read (quanta calibration): {:?}", start.elapsed());
    let step = (0..1000)
        .map(|_| {
            let a = clock.now_nanos();
            let mut b = clock.now_nanos();
            while b == a {
                b = clock.now_nanos();
            }
            b - a
        })
        .min()
        .unwrap_or(0);
    println!("smallest step between two reads: {step} ns");
    for ms in [1u64, 10, 100, 1000, 2000] {
        let (i0, c0) = (Instant::now(), clock.now_nanos());
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let (c1, i1) = (clock.now_nanos(), Instant::now());
        let instant = (i1 - i0).as_nanos() as f64;
        let scales = (c1 - c0) as f64;
        println!(
            "sleep {ms:>4} ms: Instant {instant:>13.0} ns, scales clock {scales:>13.0} ns, \
             difference {:+.0} ns ({:+.1} ppm)",
            scales - instant,
            (scales - instant) / instant * 1e6
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--clock-accuracy") {
        clock_accuracy();
        return;
    }
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: u64 = value_of("--n").map_or(2_000_000, |s| s.parse().expect("--n N"));
    let (_registry, stats) = setup();
    if let Some(op) = value_of("--op") {
        run(&stats, &op, n);
        return;
    }
    let with_references = args.iter().any(|a| a == "--references");
    let ops = OPS
        .iter()
        .chain(REFERENCES.iter().filter(|_| with_references));
    let results: Vec<(&str, f64)> = ops.map(|&op| (op, time(&stats, op, n))).collect();
    if args.iter().any(|a| a == "--json") {
        let body: Vec<String> = results
            .iter()
            .map(|(op, ns)| format!("\"{op}\": {ns:.3}"))
            .collect();
        println!("{{{}}}", body.join(", "));
    } else {
        for (op, ns) in results {
            println!("{op:>8}  {ns:8.2} ns/op");
        }
    }
}
