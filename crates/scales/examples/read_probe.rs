//! Runs the read side on the benchmark tree (`benches/snapshot.rs`) `--rounds` times, for
//! instruction counts that do not depend on the CPU's clock:
//!
//! ```sh
//! cargo build --release -p scales-core --example read_probe
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/read.cg \
//!     --toggle-collect='read_probe::snapshot_phase' --toggle-collect='read_probe::json_phase' \
//!     target/release/examples/read_probe --stats 10000 --rounds 10
//! callgrind_annotate --inclusive=yes /tmp/read.cg | grep _phase
//! ```
//!
//! Without valgrind it prints the time per stat of each phase.

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;

#[inline(never)]
fn snapshot_phase(registry: &scales::Registry) -> scales::Snapshot {
    registry.snapshot()
}

#[inline(never)]
fn json_phase(snapshot: &scales::Snapshot, out: &mut Vec<u8>) {
    out.clear();
    scales::format::json::write(snapshot, scales::format::json::Style::Compact, out)
        .expect("writing into memory");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut stats, mut rounds) = (10_000, 10);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--stats", Some(n)) => stats = n,
            ("--rounds", Some(n)) => rounds = n,
            _ => {
                eprintln!("usage: read_probe [--stats N] [--rounds N]");
                std::process::exit(2);
            }
        }
    }
    let tree = support::tree::build(stats);
    let mut out = Vec::new();
    let (mut snapshot_time, mut json_time) = (0.0, 0.0);
    for _ in 0..rounds {
        let start = Instant::now();
        let snapshot = snapshot_phase(black_box(&tree.registry));
        let taken = Instant::now();
        json_phase(&snapshot, &mut out);
        json_time += taken.elapsed().as_secs_f64();
        snapshot_time += (taken - start).as_secs_f64();
        black_box(&out);
    }
    let per_stat = |t: f64| t / rounds as f64 / tree.stats as f64 * 1e9;
    println!(
        "{} stats, {rounds} rounds: snapshot {:.0} ns/stat, json {:.0} ns/stat, {} bytes",
        tree.stats,
        per_stat(snapshot_time),
        per_stat(json_time),
        out.len()
    );
}
