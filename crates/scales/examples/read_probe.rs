//! Runs the read side on the benchmark tree (`benches/snapshot.rs`) `--rounds` times, for
//! instruction counts that do not depend on the CPU's clock:
//!
//! ```sh
//! cargo build --release -p scales-core --example read_probe
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/read.cg \
//!     --toggle-collect='read_probe::snapshot_phase' --toggle-collect='read_probe::render_phase' \
//!     target/release/examples/read_probe --stats 10000 --rounds 10
//! callgrind_annotate --inclusive=yes /tmp/read.cg | grep _phase
//! ```
//!
//! `--format prometheus` or `--format graphite` renders that format instead of JSON,
//! `--format prometheus-encoder` renders it with one `prometheus::Encoder` for every round
//! (the first round renders in full, the others reuse its text), `--format graphite-encoder`
//! likewise with one `graphite::Encoder`;
//! `--summaries` takes distributions as summaries (`SketchDetail::Summary`), as the status
//! page does, instead of with their buckets.
//! Without valgrind it prints the time per stat of each phase.

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;

#[inline(never)]
fn snapshot_phase(
    registry: &scales::Registry,
    options: &scales::SnapshotOptions,
) -> scales::Snapshot {
    registry.snapshot_with(options)
}

/// Renders `snapshot` in `format` (JSON into `out`); returns the text's length.
#[inline(never)]
fn render_phase(
    format: &str,
    snapshot: &scales::Snapshot,
    encoder: &mut scales::format::prometheus::Encoder,
    graphite_encoder: &mut scales::format::graphite::Encoder,
    out: &mut Vec<u8>,
) -> usize {
    use scales::format::{graphite, json, prometheus};
    out.clear();
    match format {
        "json" => {
            json::write(snapshot, json::Style::Compact, out).expect("writing into memory");
            out.len()
        }
        // As the benchmarks call them: the text's own `String`, not copied into `out`.
        "prometheus" => {
            let text = prometheus::to_string(snapshot, &prometheus::Options::default());
            black_box(text).len()
        }
        "prometheus-encoder" => black_box(encoder.to_string(snapshot)).len(),
        "graphite" => {
            let text = graphite::to_string(snapshot, &graphite::Options::default(), 1);
            black_box(text).len()
        }
        "graphite-encoder" => black_box(graphite_encoder.to_string(snapshot, 1)).len(),
        other => panic!("unknown format {other}"),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut stats, mut rounds, mut format) = (10_000, 10, "json".to_owned());
    let mut options = scales::SnapshotOptions::default();
    while let Some(arg) = args.next() {
        if arg == "--summaries" {
            options = options.with_distributions(scales::SketchDetail::Summary);
            continue;
        }
        let text = args.next();
        let value = text.as_deref().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--stats", Some(n)) => stats = n,
            ("--rounds", Some(n)) => rounds = n,
            ("--format", _) if text.is_some() => format = text.unwrap_or_default(),
            _ => {
                eprintln!("usage: read_probe [--stats N] [--rounds N] [--format json|prometheus|prometheus-encoder|graphite|graphite-encoder] [--summaries]");
                std::process::exit(2);
            }
        }
    }
    let tree = support::tree::build(stats);
    let mut out = Vec::new();
    let mut encoder = scales::format::prometheus::Encoder::default();
    let mut graphite_encoder = scales::format::graphite::Encoder::default();
    let (mut snapshot_time, mut json_time, mut bytes) = (0.0, 0.0, 0);
    for _ in 0..rounds {
        let start = Instant::now();
        let snapshot = snapshot_phase(black_box(&tree.registry), &options);
        let taken = Instant::now();
        bytes = render_phase(
            &format,
            &snapshot,
            &mut encoder,
            &mut graphite_encoder,
            &mut out,
        );
        json_time += taken.elapsed().as_secs_f64();
        snapshot_time += (taken - start).as_secs_f64();
        black_box(&out);
    }
    let per_stat = |t: f64| t / rounds as f64 / tree.stats as f64 * 1e9;
    println!(
        "{} stats, {rounds} rounds: snapshot {:.0} ns/stat, {format} {:.0} ns/stat, {} bytes",
        tree.stats,
        per_stat(snapshot_time),
        per_stat(json_time),
        bytes
    );
}
