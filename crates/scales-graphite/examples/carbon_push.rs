//! One push of 100,000 metrics to a real local carbon-cache, timed (not run in CI).
//!
//! ```sh
//! scripts/services/carbon.sh start
//! cargo run --release -p scales-graphite --example carbon_push [-- RUN_ID]
//! rm -rf target/e2e/carbon/storage/whisper/bench   # between runs: 100,000 files
//! scripts/services/carbon.sh stop
//! ```
//!
//! The tree is the push benchmark's (`benches/push.rs`): 100,000 `IntStat`s in 1,000 groups
//! of 100, pushed once with the prefix `bench.RUN_ID.` (carbon.sh gives `bench.*` small
//! whisper files, 748 bytes each). Prints
//!
//! * (a) snapshot + render alone, best of 5 (the CPU work of a push before the network);
//! * (b) `GraphitePusher::push_at`: snapshot, render and write, until carbon has read all
//!   of it (its answer to the pusher's end of stream, see the crate docs on delivery);
//! * (c) carbon's own ingest: from the start of the push until all 100,000 whisper files
//!   exist and each holds the pushed value (polled once a second, 5 minutes at most), with carbon's CPU
//!   time and peak memory from `/proc` when its pid file is found;
//! * (d) a second push of the same tree, stamped a minute earlier: carbon only updates the
//!   existing files (the steady state of a periodic pusher).
//!
//! Environment: `CARBON_PORT` and `CARBON_DIR` (`target/e2e/carbon`), as carbon.sh. Without
//! `CARBON_PORT`, the port carbon.sh picked and wrote to `CARBON_DIR/env`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scales::format::graphite::{write, Options};
use scales::Registry;
use scales_graphite::GraphitePusher;

const GROUPS: usize = 1_000;
const PER_GROUP: usize = 100;
const METRICS: usize = GROUPS * PER_GROUP;
const INGEST_LIMIT: Duration = Duration::from_secs(300);

fn value(g: usize, i: usize) -> i64 {
    (g * 1000 + i) as i64
}

/// The push benchmark's tree; the scopes must live as long as the registry is used.
fn registry() -> (Registry, Vec<scales::Scope>) {
    let registry = Registry::new();
    let scopes: Vec<scales::Scope> = (0..GROUPS)
        .map(|g| registry.scope(&format!("/service/handler{g}")).unwrap())
        .collect();
    for (g, scope) in scopes.iter().enumerate() {
        for i in 0..PER_GROUP {
            scope
                .int_stat(&format!("requestsServed{i}"))
                .unwrap()
                .add(value(g, i));
        }
    }
    (registry, scopes)
}

fn carbon_dir() -> PathBuf {
    std::env::var_os("CARBON_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e/carbon"),
        PathBuf::from,
    )
}

/// Carbon's plaintext port: `CARBON_PORT`, or the one carbon.sh wrote to `dir/env`.
fn carbon_port(dir: &Path) -> Option<String> {
    if let Ok(port) = std::env::var("CARBON_PORT") {
        return Some(port);
    }
    let env = fs::read_to_string(dir.join("env")).ok()?;
    env.lines()
        .find_map(|line| line.strip_prefix("CARBON_PORT="))
        .map(str::to_owned)
}

/// `.wsp` files under `dir` (two levels: `handlerG/requestsServedI.wsp`).
fn count_files(dir: &Path) -> usize {
    let Ok(groups) = fs::read_dir(dir) else {
        return 0;
    };
    groups
        .flatten()
        .map(|group| fs::read_dir(group.path()).map_or(0, |files| files.flatten().count()))
        .sum()
}

/// The value a single-archive whisper file holds for `timestamp`, if any.
fn whisper_value(path: &Path, timestamp: u64) -> Option<f64> {
    let data = fs::read(path).ok()?;
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    // Header: aggregation, max retention, xFilesFactor, archive count; then per archive:
    // offset, seconds per point, points; then (u32 timestamp, f64 value) points.
    let offset = u32_at(16)? as usize;
    let step = u64::from(u32_at(20)?);
    let points = u32_at(24)? as usize;
    let wanted = timestamp - timestamp % step;
    (0..points).find_map(|p| {
        let at = offset + p * 12;
        if u64::from(u32_at(at)?) != wanted {
            return None;
        }
        Some(f64::from_be_bytes(
            data.get(at + 4..at + 12)?.try_into().ok()?,
        ))
    })
}

/// Metrics whose file is missing or does not hold the pushed value yet.
fn unwritten(dir: &Path, timestamp: u64, candidates: &[(usize, usize)]) -> Vec<(usize, usize)> {
    candidates
        .iter()
        .copied()
        .filter(|&(g, i)| {
            let path = dir.join(format!("handler{g}/requestsServed{i}.wsp"));
            whisper_value(&path, timestamp) != Some(value(g, i) as f64)
        })
        .collect()
}

/// CPU seconds (user + system) of a process (`"self"` or a pid).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// Carbon's pid, CPU seconds (user + system) and peak resident memory in MB.
fn carbon_usage(dir: &Path) -> Option<(u32, f64, f64)> {
    let pid: u32 = fs::read_to_string(dir.join("run/carbon-cache.pid.shell"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cpu = cpu_seconds(&pid.to_string())?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((pid, cpu, hwm_kb / 1024.0))
}

/// (d) A second push of the same tree, stamped a minute earlier (whisper refuses future
/// points): the files exist now, so carbon only updates them.
fn update(pusher: &mut GraphitePusher, carbon: &Path, dir: &Path, timestamp: u64) -> ExitCode {
    let usage_before = carbon_usage(carbon);
    let start = Instant::now();
    if let Err(e) = pusher.push_at(timestamp) {
        eprintln!("second push failed: {e}");
        return ExitCode::FAILURE;
    }
    let push_time = start.elapsed();
    let mut missing: Vec<(usize, usize)> = (0..GROUPS)
        .flat_map(|g| (0..PER_GROUP).map(move |i| (g, i)))
        .collect();
    while start.elapsed() < INGEST_LIMIT {
        missing = unwritten(dir, timestamp, &missing);
        if missing.is_empty() {
            break;
        }
        thread::sleep(Duration::from_secs(1));
    }
    let ingest = start.elapsed();
    println!(
        "(d) second push (updates only): push_at {:.1} ms; all values on disk after {:.2} s ({:.0} metrics/s)",
        push_time.as_secs_f64() * 1e3,
        ingest.as_secs_f64(),
        METRICS as f64 / ingest.as_secs_f64()
    );
    if let (Some((_, cpu0, _)), Some((_, cpu1, hwm))) = (usage_before, carbon_usage(carbon)) {
        println!(
            "    carbon-cache: {:.1} s CPU, peak RSS {hwm:.0} MB",
            cpu1 - cpu0
        );
    }
    if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("    {} values still missing", missing.len());
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let run_id = std::env::args().nth(1).unwrap_or_else(|| format!("r{now}"));
    let carbon = carbon_dir();
    let Some(port) = carbon_port(&carbon) else {
        eprintln!(
            "no CARBON_PORT and no {}: start carbon first (scripts/services/carbon.sh start)",
            carbon.join("env").display()
        );
        return ExitCode::FAILURE;
    };
    let dir = carbon.join(format!("storage/whisper/bench/{run_id}/service"));
    let prefix = format!("bench.{run_id}.");

    let (registry, _scopes) = registry();

    // (a) snapshot + render, best of 5.
    let options = Options::with_prefix(prefix.as_str());
    let mut text = Vec::with_capacity(8 << 20);
    let mut render_best = Duration::MAX;
    for _ in 0..5 {
        text.clear();
        let start = Instant::now();
        let snapshot = registry.snapshot();
        write(&snapshot, &options, now, &mut text).expect("a Vec takes any write");
        render_best = render_best.min(start.elapsed());
    }
    let bytes = text.len();

    // (b) the push.
    let mut pusher = GraphitePusher::builder(format!("127.0.0.1:{port}"))
        .prefix(prefix.as_str())
        .health_path(None)
        .build(&registry)
        .unwrap();
    let usage_before = carbon_usage(&carbon);
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let own_cpu_before = cpu_seconds("self");
    let start = Instant::now();
    let points = match pusher.push_at(timestamp) {
        Ok(points) => points,
        Err(e) => {
            eprintln!("push failed: {e} (is carbon running? scripts/services/carbon.sh start)");
            return ExitCode::FAILURE;
        }
    };
    let push_time = start.elapsed();
    assert_eq!(points, METRICS);

    // (c) carbon's ingest: files first (cheap to count), then their values.
    let mut first_file = None;
    let mut all_files = None;
    let mut missing: Vec<(usize, usize)> = (0..GROUPS)
        .flat_map(|g| (0..PER_GROUP).map(move |i| (g, i)))
        .collect();
    while start.elapsed() < INGEST_LIMIT {
        if all_files.is_none() {
            let files = count_files(&dir);
            if files > 0 && first_file.is_none() {
                first_file = Some(start.elapsed());
            }
            if files >= METRICS {
                all_files = Some(start.elapsed());
            }
        }
        if all_files.is_some() {
            missing = unwritten(&dir, timestamp, &missing);
            if missing.is_empty() {
                break;
            }
        }
        thread::sleep(Duration::from_secs(1));
    }
    let ingest = start.elapsed();
    let usage_after = carbon_usage(&carbon);
    let own_cpu_after = cpu_seconds("self");

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "run {run_id}: {points} metrics, {bytes} bytes ({:.1} per line)",
        bytes as f64 / points as f64
    );
    println!(
        "(a) snapshot + render (best of 5): {:.1} ms",
        ms(render_best)
    );
    println!(
        "(b) push_at until carbon read it all: {:.1} ms ({:.2} M metrics/s)",
        ms(push_time),
        points as f64 / push_time.as_secs_f64() / 1e6
    );
    if let Some(first) = first_file {
        println!("    first whisper file after {:.2} s", first.as_secs_f64());
    }
    if let Some(all) = all_files {
        println!(
            "    all {METRICS} files exist after {:.2} s",
            all.as_secs_f64()
        );
    }
    if let (Some((pid, cpu0, _)), Some((_, cpu1, hwm))) = (usage_before, usage_after) {
        println!(
            "    carbon-cache (pid {pid}): {:.1} s CPU during the run, peak RSS {hwm:.0} MB",
            cpu1 - cpu0
        );
    }
    if let (Some(cpu0), Some(cpu1)) = (own_cpu_before, own_cpu_after) {
        println!(
            "    this process (push + polling once a second): {:.1} s CPU",
            cpu1 - cpu0
        );
    }
    if missing.is_empty() {
        println!(
            "(c) carbon ingest, push start to all values on disk: {:.2} s ({:.0} metrics/s)",
            ingest.as_secs_f64(),
            METRICS as f64 / ingest.as_secs_f64()
        );
        update(&mut pusher, &carbon, &dir, timestamp - 60)
    } else {
        println!(
            "(c) carbon ingest: {} of {METRICS} values still missing after {:.0} s",
            missing.len(),
            ingest.as_secs_f64()
        );
        ExitCode::FAILURE
    }
}
