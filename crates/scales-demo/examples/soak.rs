//! A bounded soak: several threads record with churning keys and objects created and
//! dropped, while the status page is scraped and the Graphite pusher pushes every second.
//! At the end it checks that counts are exact, no warning or error was logged, every scrape
//! answered 200, and resident memory stayed flat; it prints the memory curve.
//!
//! ```sh
//! cargo run --release -p scales-demo --example soak -- --duration 60 [--graphite HOST:PORT]
//! ```
//!
//! Without `--graphite` it pushes to a loopback listener of its own that reads and counts
//! lines. Exit status 0 when every check holds, 1 otherwise (with the reason).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use scales::Stats;

#[derive(Stats)]
struct Parent {
    finished: scales::SumAggregationStat,
    latency: scales::PmfAggregationStat,
}

#[derive(Stats)]
struct Child {
    finished: scales::IntStat,
    latency: scales::PmfStat,
}

/// Counts warnings and errors (and prints them).
struct CountingLogger {
    problems: AtomicU64,
}

impl log::Log for CountingLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.problems.fetch_add(1, Ordering::Relaxed);
            eprintln!("[{}] {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: CountingLogger = CountingLogger {
    problems: AtomicU64::new(0),
};

struct Args {
    duration: Duration,
    graphite: Option<String>,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        duration: Duration::from_secs(30),
        graphite: None,
        threads: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--duration" => {
                let seconds: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--duration: {e}"))?;
                args.duration = Duration::from_secs(seconds.max(3));
            }
            "--graphite" => args.graphite = Some(value()?),
            "--threads" => {
                args.threads = value()?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?;
            }
            other => {
                return Err(format!(
                    "unknown flag {other}; flags: --duration SECONDS, --graphite HOST:PORT, --threads N"
                ))
            }
        }
    }
    Ok(args)
}

/// Resident memory in KiB (Linux; `None` elsewhere).
fn resident_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

/// A loopback "carbon" that reads and counts lines.
fn line_sink() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    let lines = Arc::new(AtomicU64::new(0));
    let counted = lines.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    if line.is_err() {
                        break;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (addr, lines)
}

/// One HTTP/1.1 GET; the status code.
fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("read: {e}"))?;
    let head = String::from_utf8_lossy(&response[..response.len().min(32)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    log::set_logger(&LOGGER).expect("no other logger");
    log::set_max_level(log::LevelFilter::Warn);

    let registry = scales::Registry::new();
    let parent = registry.init::<Parent>("/soak").unwrap();
    let work = registry.collection("/soak/work").unwrap();
    let ops = work.int_stat("ops").unwrap();
    let active = work
        .declare_with::<scales::IntDictStat>("active", scales::StatOptions::auto_delete())
        .unwrap();
    let by_key = work.int_dict_stat("byKey").unwrap();
    let hits = work.meter_stat("hits").unwrap();

    // The page's trend-line history is bounded (120 samples by default, one every 5 s, so it
    // fills for ten minutes); here it samples every 250 ms and fills within 10 s, so that the
    // memory curve of a short soak shows the steady state.
    let server = scales_http::Config::new("soak")
        .registry(&registry)
        .history(Duration::from_millis(250), 40, 2_000)
        .serve_in_background(0)
        .expect("a status server on a free port");
    let status = server.local_addr();
    let (carbon, sink_lines) = match &args.graphite {
        Some(addr) => (addr.clone(), None),
        None => {
            let (addr, lines) = line_sink();
            (addr.to_string(), Some(lines))
        }
    };
    let pusher = scales_graphite::GraphitePusher::builder(carbon.clone())
        .prefix(format!("soak.{}.", std::process::id()))
        .period(Duration::from_secs(1))
        .spawn(&registry)
        .expect("a Graphite pusher");

    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut curve = Vec::new();
    let mut scrapes = 0u64;
    let mut scrape_failures = Vec::new();
    let mut recorded = vec![0u64; args.threads];
    thread::scope(|s| {
        let workers: Vec<_> = (0..args.threads)
            .map(|t| {
                let (parent, ops, active, by_key, hits, stop) =
                    (&parent, &ops, &active, &by_key, &hits, &stop);
                s.spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // An object with its own stats, created and dropped.
                        let child = parent
                            .init_child::<Child>(&format!("t{t}-{}", n % 16))
                            .unwrap();
                        for i in 0..100u64 {
                            ops.inc();
                            hits.mark();
                            child.finished.inc();
                            child.latency.record(((i + 1) as f64) * 1e-4);
                            // Churning keys: each lives briefly and leaves (auto-delete).
                            let key = format!("k{t}-{}", (n * 100 + i) % 5_000);
                            active.inc(&key);
                            active.dec(&key);
                            by_key.inc(["a", "b", "c", "d"][(i % 4) as usize]);
                        }
                        n += 1;
                    }
                    n * 100
                })
            })
            .collect();
        let scraper = s.spawn(|| {
            let mut count = 0u64;
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for path in ["/status/?format=json", "/metrics", "/status/soak"] {
                    count += 1;
                    match get(status, path) {
                        Ok(200) => {}
                        Ok(code) => failures.push(format!("{path}: HTTP {code}")),
                        Err(e) => failures.push(format!("{path}: {e}")),
                    }
                }
                thread::sleep(Duration::from_millis(50));
            }
            (count, failures)
        });
        while started.elapsed() < args.duration {
            if let Some(kib) = resident_kib() {
                curve.push((started.elapsed().as_secs_f64(), kib));
            }
            thread::sleep(Duration::from_secs(1));
        }
        stop.store(true, Ordering::Relaxed);
        for (t, worker) in workers.into_iter().enumerate() {
            recorded[t] = worker.join().unwrap();
        }
        (scrapes, scrape_failures) = scraper.join().unwrap();
    });
    let health = pusher.stop();
    server.stop();

    let total: u64 = recorded.iter().sum();
    let snapshot = registry.snapshot();
    let int = |path: &str| match &snapshot.stat(path).map(|s| &s.value) {
        Some(scales::StatValue::Int(i)) => *i,
        other => panic!("{path}: {other:?}"),
    };
    let mut problems = Vec::new();
    if int("/soak/work/ops") != total as i64 {
        problems.push(format!("ops {} != recorded {total}", int("/soak/work/ops")));
    }
    if int("/soak/finished") != total as i64 {
        problems.push(format!(
            "aggregated finished {} != recorded {total}",
            int("/soak/finished")
        ));
    }
    match &snapshot.stat("/soak/work/active").map(|s| &s.value) {
        Some(scales::StatValue::Counts(entries)) if entries.is_empty() => {}
        other => problems.push(format!("auto-delete dict kept entries: {other:?}")),
    }
    if hits.rates().count != total {
        problems.push(format!("meter count {} != {total}", hits.rates().count));
    }
    if !scrape_failures.is_empty() {
        problems.push(format!(
            "{} of {scrapes} scrapes failed, first: {}",
            scrape_failures.len(),
            scrape_failures[0]
        ));
    }
    if health.points_dropped != 0 || health.failures != 0 {
        problems.push(format!("Graphite pusher: {health:?}"));
    }
    let logged = LOGGER.problems.load(Ordering::Relaxed);
    if logged != 0 {
        problems.push(format!("{logged} warnings or errors logged"));
    }
    // Flat memory: after the first third (warm-up: arenas, caches, history), the peak must
    // not grow by more than 10 % + 4 MiB.
    let third = curve.len() / 3;
    if third >= 1 {
        let peak = |part: &[(f64, u64)]| part.iter().map(|&(_, kib)| kib).max().unwrap_or(0);
        let middle = peak(&curve[third..2 * third]);
        let last = peak(&curve[2 * third..]);
        if last as f64 > middle as f64 * 1.10 + 4096.0 {
            problems.push(format!(
                "resident memory grew: peak {middle} KiB in the middle third, {last} KiB in the last"
            ));
        }
    }

    println!("seconds,resident_kib");
    for (t, kib) in &curve {
        println!("{t:.0},{kib}");
    }
    println!(
        "soak: {:.0} s, {} threads, {total} records ({:.1} M/s), {} objects, {scrapes} scrapes, {} pushes, {} points sent{}",
        started.elapsed().as_secs_f64(),
        args.threads,
        total as f64 / args.duration.as_secs_f64() / 1e6,
        total / 100,
        health.pushes,
        health.points_sent,
        sink_lines
            .map(|lines| format!(" ({} lines read by the loopback sink)", lines.load(Ordering::Relaxed)))
            .unwrap_or_default(),
    );
    if problems.is_empty() {
        println!("soak: every check held");
    } else {
        for problem in &problems {
            eprintln!("soak: FAILED: {problem}");
        }
        std::process::exit(1);
    }
}
