//! Faults a production status server meets, by the thousand: slow and idle clients that try
//! to hold every connection slot, and load while the host records. These tests measure, so
//! each has the cores to itself: it holds `support::exclusive()` while it runs and every
//! other test of the binary holds `support::shared()`, so no other test runs beside it (as
//! when they were a binary of their own) and they run one at a time. They are heavy, so they
//! run when `SCALES_E2E=1` (as `scripts/test.sh` sets); without it they print why they skip,
//! taking no lock. Both print their figures; the timing figures are measurements, asserted
//! only against generous sanity bounds, except the one promise the server makes (normal
//! requests answered within 1 s while attacked).
//!
//! Rerun with the figures printed:
//! `SCALES_E2E=1 cargo test -p scales-http --test it pressure:: -- --nocapture`
//! (add `--release` for the figures of an optimised build). The load test takes
//! `SCALES_LOAD_RECORDERS=2` (recording threads, default 1: the host busy on one of two
//! cores), `SCALES_LOAD_LOW_PRIORITY=0` (the server at the host's priority, as before
//! `Config::low_priority`); the slow-client test takes
//! `SCALES_PRESSURE_LOW_PRIORITY=1` (the server at its default low priority rather than the
//! host's). Both want a machine that is otherwise quiet: a build beside them shows in the
//! figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::support::{self, e2e, exclusive, fixture};

/// Raises the soft limit on open files to `needed` when it is lower (up to the hard limit);
/// returns the soft limit in force.
fn raise_fd_limit(needed: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return current;
    }
    let wanted = limit.maximum.map_or(needed, |max| max.min(needed));
    let raised = rustix::process::Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => wanted,
        Err(_) => current,
    }
}

/// What the attackers did.
#[derive(Debug, Default)]
struct AttackCounts {
    /// Connections made (reconnections included).
    connects: AtomicU64,
    /// Connections the server closed on them (evicted, timed out or refused with a 503).
    closed_by_server: AtomicU64,
    /// Connects that failed or took over 2 s.
    failed_connects: AtomicU64,
}

/// Slow-header ("slowloris") and idle connections against `addr` from a thread of their own,
/// until `until`: `slow` connections send a request head one byte a second and never finish
/// it, `idle` ones connect and send nothing. Both reconnect at once when the server closes
/// them, so the pressure stays on.
fn attack(
    addr: SocketAddr,
    slow: usize,
    idle: usize,
    until: Instant,
) -> (Arc<AttackCounts>, std::thread::JoinHandle<()>) {
    let counts = Arc::new(AttackCounts::default());
    let thread = {
        let counts = counts.clone();
        run_tasks_until(until, move |tasks, until| {
            spawn_attackers(tasks, addr, slow, idle, until, &counts);
        })
    };
    (counts, thread)
}

/// Runs the tasks `spawn` starts on a runtime of their own, on a thread of its own, until
/// `until`; whatever is still waiting (a connect, a read) a second after that is dropped with
/// the runtime.
fn run_tasks_until(
    until: Instant,
    spawn: impl FnOnce(&mut tokio::task::JoinSet<()>, tokio::time::Instant) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let until = tokio::time::Instant::from_std(until);
            let mut tasks = tokio::task::JoinSet::new();
            spawn(&mut tasks, until);
            let all = async { while tasks.join_next().await.is_some() {} };
            let _ = tokio::time::timeout_at(until + Duration::from_secs(1), all).await;
        });
    })
}

/// `slow` slow-header and `idle` idle attackers, each reconnecting until `until`.
fn spawn_attackers(
    tasks: &mut tokio::task::JoinSet<()>,
    addr: SocketAddr,
    slow: usize,
    idle: usize,
    until: tokio::time::Instant,
    counts: &Arc<AttackCounts>,
) {
    for i in 0..slow + idle {
        let counts = counts.clone();
        let is_slow = i < slow;
        tasks.spawn(async move {
            while tokio::time::Instant::now() < until {
                attacker(addr, is_slow, until, &counts).await;
            }
        });
    }
}

/// One attacking connection, from connect to the server closing it (or `until`).
async fn attacker(
    addr: SocketAddr,
    slow: bool,
    until: tokio::time::Instant,
    counts: &AttackCounts,
) {
    let connect =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr));
    let mut stream = match connect.await {
        Ok(Ok(stream)) => stream,
        _ => {
            counts.failed_connects.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
    };
    counts.connects.fetch_add(1, Ordering::Relaxed);
    const HEAD: &[u8] = b"GET /status/ HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return,
            read = stream.read(&mut buf) => {
                // Whatever the server says (a 503, a 408) or a close: it is done with us.
                if !matches!(read, Ok(n) if n > 0) || buf.starts_with(b"HTTP/") {
                    counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            _ = tick.tick(), if slow => {
                let byte = HEAD.get(sent).copied().unwrap_or(b'a');
                sent += 1;
                if stream.write_all(&[byte]).await.is_err() {
                    counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// How normal requests fared.
#[derive(Debug)]
struct Probe {
    sent: usize,
    /// Answered `200` within the deadline, with their latencies.
    answered: Vec<Duration>,
    /// Status lines of the others (or what went wrong), counted.
    others: Vec<(String, usize)>,
}

impl Probe {
    fn answered_share(&self) -> f64 {
        self.answered.len() as f64 / self.sent.max(1) as f64
    }

    fn max_latency(&self) -> Duration {
        self.answered.iter().copied().max().unwrap_or_default()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.answered.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }
}

/// One normal request on a new connection (`Connection: close`): the status line, or what
/// went wrong, and the time to the whole answer; gives up at `deadline` after the start.
fn one_request(addr: SocketAddr, path: &str, deadline: Duration) -> (String, Duration) {
    let started = Instant::now();
    let outcome = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, deadline)?;
        let left = |started: Instant| {
            deadline
                .checked_sub(started.elapsed())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline"))
        };
        stream.set_write_timeout(Some(left(started)?))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            stream.set_read_timeout(Some(left(started)?))?;
            match stream.read(&mut buf)? {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&answer);
        Ok(text.lines().next().unwrap_or("(nothing)").to_owned())
    })();
    let status = outcome.unwrap_or_else(|e| format!("error: {:?}", e.kind()));
    (status, started.elapsed())
}

/// Normal requests from `clients` threads, one after the other with `pause` between them,
/// for `length`; each must be answered `200` within `deadline`.
fn probe(
    addr: SocketAddr,
    clients: usize,
    length: Duration,
    pause: Duration,
    deadline: Duration,
) -> Probe {
    let end = Instant::now() + length;
    let results: Vec<(String, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let paths = ["/status/?format=json", "/status/", "/metrics"];
                    let mut out = Vec::new();
                    let mut i = c;
                    while Instant::now() < end {
                        out.push(one_request(addr, paths[i % paths.len()], deadline));
                        i += 1;
                        std::thread::sleep(pause);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut probe = Probe {
        sent: results.len(),
        answered: Vec::new(),
        others: Vec::new(),
    };
    for (status, took) in results {
        if status.starts_with("HTTP/1.1 200") && took <= deadline {
            probe.answered.push(took);
        } else {
            match probe.others.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => probe.others.push((status, 1)),
            }
        }
    }
    probe
}

/// Requests one after the other on one keep-alive connection, as a browser's live refresh
/// makes them, with `pause` between them, for `length`; a new connection when the server
/// closed the last one. Each must be answered `200` within `deadline`. Also returns how many
/// connections it took.
fn keep_alive_probe(
    addr: SocketAddr,
    length: Duration,
    pause: Duration,
    deadline: Duration,
) -> (Probe, usize) {
    use std::io::BufRead;
    let end = Instant::now() + length;
    let mut probe = Probe {
        sent: 0,
        answered: Vec::new(),
        others: Vec::new(),
    };
    let mut connections = 0;
    let mut conn: Option<std::io::BufReader<TcpStream>> = None;
    while Instant::now() < end {
        let started = Instant::now();
        probe.sent += 1;
        let outcome = (|| -> std::io::Result<String> {
            if conn.is_none() {
                let stream = TcpStream::connect_timeout(&addr, deadline)?;
                stream.set_read_timeout(Some(deadline))?;
                connections += 1;
                conn = Some(std::io::BufReader::new(stream));
            }
            let reader = conn.as_mut().unwrap();
            reader
                .get_mut()
                .write_all(b"GET /status/?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut status = String::new();
            reader.read_line(&mut status)?;
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body)?;
            Ok(status.trim_end().to_owned())
        })();
        let took = started.elapsed();
        match outcome {
            Ok(status) if status.starts_with("HTTP/1.1 200") && took <= deadline => {
                probe.answered.push(took);
            }
            other => {
                conn = None;
                let status = match other {
                    Ok(status) => status,
                    Err(e) => format!("error: {:?}", e.kind()),
                };
                match probe.others.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, n)) => *n += 1,
                    None => probe.others.push((status, 1)),
                }
            }
        }
        std::thread::sleep(pause);
    }
    (probe, connections)
}

const SLOW: usize = 1_000;
const IDLE: usize = 2_000;

#[test]
fn slow_and_idle_clients_by_the_thousand_do_not_lock_out_normal_requests() {
    if !e2e("pressure::slow_and_idle_clients_by_the_thousand_do_not_lock_out_normal_requests") {
        return;
    }
    let _alone = exclusive();
    // Attackers' and server's ends of every connection are in this process.
    let needed = 2 * (SLOW + IDLE) as u64 + 1_000;
    let limit = raise_fd_limit(needed);
    assert!(
        limit >= needed,
        "open files limited to {limit}, {needed} needed: raise `ulimit -n`"
    );
    let f = fixture();
    // The default limits: 256 connections, 10 s for a request head. The server runs at the
    // host's priority: the attackers run in this process, where in production they are on
    // other machines and could not outrank it, and other work on this machine (a build)
    // must not decide the outcome. What the priority does is the load test's subject.
    // `SCALES_PRESSURE_LOW_PRIORITY=1` runs it at its default low priority instead.
    let low_priority = std::env::var("SCALES_PRESSURE_LOW_PRIORITY").is_ok_and(|v| v == "1");
    let server = support::config(&f.registry)
        .low_priority(low_priority)
        .serve_in_background(0)
        .unwrap();
    let addr = server.local_addr();
    let ramp = Duration::from_secs(3);
    let measure = Duration::from_secs(10);
    let started = Instant::now();
    let (counts, attackers) = attack(addr, SLOW, IDLE, started + ramp + measure);
    std::thread::sleep(ramp); // every attacker connected (or queued)
    let (probe, (kept, connections)) = std::thread::scope(|s| {
        let kept = s.spawn(|| {
            keep_alive_probe(
                addr,
                measure,
                Duration::from_millis(50),
                Duration::from_secs(1),
            )
        });
        let probe = probe(
            addr,
            2,
            measure,
            Duration::from_millis(20),
            Duration::from_secs(1),
        );
        (probe, kept.join().unwrap())
    });
    attackers.join().unwrap();
    println!(
        "a keep-alive client beside them (a browser's live refresh): {} of {} answered within \
         1 s ({:.1} %) on {connections} connection(s), latency median {:?}, max {:?}; \
         others: {:?}",
        kept.answered.len(),
        kept.sent,
        kept.answered_share() * 100.0,
        kept.percentile(0.5),
        kept.max_latency(),
        kept.others,
    );
    println!(
        "under {SLOW} slow-header and {IDLE} idle connections: {} of {} normal requests \
         answered within 1 s ({:.1} %), latency median {:?}, p95 {:?}, max {:?}; others: {:?}; \
         attackers: {} connects ({} closed by the server, {} failed connects)",
        probe.answered.len(),
        probe.sent,
        probe.answered_share() * 100.0,
        probe.percentile(0.5),
        probe.percentile(0.95),
        probe.max_latency(),
        probe.others,
        counts.connects.load(Ordering::Relaxed),
        counts.closed_by_server.load(Ordering::Relaxed),
        counts.failed_connects.load(Ordering::Relaxed),
    );
    assert!(probe.sent >= 20, "too few requests sent: {probe:?}");
    assert!(
        probe.answered_share() >= 0.95,
        "{:.1} % answered within 1 s",
        probe.answered_share() * 100.0
    );
    assert!(
        kept.answered_share() >= 0.95,
        "{:.1} % answered within 1 s on a keep-alive connection",
        kept.answered_share() * 100.0
    );
    // The server is still fine afterwards.
    let (status, _) = one_request(addr, "/status/?format=json", Duration::from_secs(2));
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

/// Reads one response off a keep-alive connection: false when the connection ended first.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> bool {
    let mut line = String::new();
    let mut length = 0usize;
    let mut first = true;
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        if first && !line.starts_with("HTTP/1.1 200") {
            return false;
        }
        first = false;
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.is_ok()
}

/// What the load did.
#[derive(Debug, Default)]
struct LoadCounts {
    /// Responses read whole by the busy clients.
    answered: AtomicU64,
    /// Connections of the slow readers.
    slow_reads: AtomicU64,
}

/// Load on `addr` from one thread, until `until`: `busy` keep-alive
/// clients asking one page after the other (JSON, HTML, Prometheus and history of the whole
/// tree), `slow_readers` clients asking for the page and reading it 256 bytes every 50 ms,
/// and `slow` slow-header plus `idle` idle connections as in the test above.
fn load(
    addr: SocketAddr,
    busy: usize,
    slow_readers: usize,
    slow: usize,
    idle: usize,
    until: Instant,
) -> (Arc<LoadCounts>, std::thread::JoinHandle<()>) {
    let counts = Arc::new(LoadCounts::default());
    let attack_counts = Arc::new(AttackCounts::default());
    let thread = {
        let counts = counts.clone();
        run_tasks_until(until, move |tasks, until| {
            for i in 0..busy {
                let counts = counts.clone();
                tasks.spawn(async move {
                    let paths = [
                        "/status/?format=json",
                        "/status/",
                        "/metrics",
                        "/status/?format=history",
                    ];
                    let mut n = i;
                    while tokio::time::Instant::now() < until {
                        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        let (read, mut write) = stream.into_split();
                        let mut read = tokio::io::BufReader::new(read);
                        while tokio::time::Instant::now() < until {
                            let request = format!(
                                "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
                                paths[n % paths.len()]
                            );
                            n += 1;
                            if write.write_all(request.as_bytes()).await.is_err() {
                                break;
                            }
                            let got = tokio::time::timeout_at(until, read_response(&mut read));
                            if !matches!(got.await, Ok(true)) {
                                break;
                            }
                            counts.answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            for _ in 0..slow_readers {
                let counts = counts.clone();
                tasks.spawn(async move {
                    while tokio::time::Instant::now() < until {
                        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        counts.slow_reads.fetch_add(1, Ordering::Relaxed);
                        let request = b"GET /status/ HTTP/1.1\r\nHost: x\r\n\r\n";
                        if stream.write_all(request).await.is_err() {
                            continue;
                        }
                        let mut buf = [0u8; 256];
                        while tokio::time::Instant::now() < until {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                            }
                        }
                    }
                });
            }
            spawn_attackers(tasks, addr, slow, idle, until, &attack_counts);
        })
    };
    (counts, thread)
}

/// A tree of about a thousand stats, so that each page is some work to render.
fn big_tree(registry: &scales::Registry) -> Vec<scales::Scope> {
    let mut scopes = Vec::new();
    for s in 0..20 {
        let scope = registry.scope(&format!("/service/shard{s:02}")).unwrap();
        for c in 0..40 {
            scope.int_stat(&format!("counter{c:02}")).unwrap().add(c);
        }
        for p in 0..5 {
            let pmf = scope.pmf_stat(&format!("latency{p}")).unwrap();
            for i in 0..200 {
                pmf.record(f64::from(i) / 1000.0);
            }
        }
        scopes.push(scope);
    }
    scopes
}

/// Recording threads counting what they did, until `stop`.
fn recorders(
    f: &support::Fixture,
    threads: usize,
    done: &Arc<AtomicU64>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let latency = f.latency.clone();
    (0..threads)
        .map(|_| {
            let success = f.success.clone();
            let latency = latency.clone();
            let done = done.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1_000 {
                        success.inc();
                        latency.record(0.001 + (i % 100) as f64 * 1e-5);
                        i += 1;
                    }
                    done.fetch_add(1_000, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

/// Recording operations (an `inc` and a `record`) per second over `length`.
fn rate(done: &AtomicU64, length: Duration) -> f64 {
    let before = done.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(length);
    (done.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64()
}

#[test]
fn recording_goes_on_at_its_idle_rate_under_load() {
    if !e2e("pressure::recording_goes_on_at_its_idle_rate_under_load") {
        return;
    }
    let _alone = exclusive();
    const BUSY: usize = 64;
    const SLOW_READERS: usize = 64;
    const LOAD_SLOW: usize = 500;
    const LOAD_IDLE: usize = 500;
    let needed = 2 * (BUSY + SLOW_READERS + LOAD_SLOW + LOAD_IDLE) as u64 + 1_000;
    let limit = raise_fd_limit(needed);
    assert!(
        limit >= needed,
        "open files limited to {limit}, {needed} needed"
    );
    let recording_threads: usize = std::env::var("SCALES_LOAD_RECORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let f = fixture();
    let _tree = big_tree(&f.registry);
    // `SCALES_LOAD_LOW_PRIORITY=0` measures a server at the host's priority.
    let low_priority = std::env::var("SCALES_LOAD_LOW_PRIORITY").map_or(true, |v| v != "0");
    let server = support::config(&f.registry)
        .history(Duration::from_secs(1), 60, 2_000)
        .low_priority(low_priority)
        .serve_in_background(0)
        .unwrap();
    let addr = server.local_addr();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads = recorders(&f, recording_threads, &done, &stop);
    let phase = Duration::from_secs(4);
    std::thread::sleep(Duration::from_millis(500)); // warm up
    let mut idle = Vec::new();
    let mut loaded = Vec::new();
    let mut answered = 0;
    for _ in 0..2 {
        idle.push(rate(&done, phase));
        let ramp = Duration::from_millis(1_000);
        let (counts, load) = load(
            addr,
            BUSY,
            SLOW_READERS,
            LOAD_SLOW,
            LOAD_IDLE,
            Instant::now() + ramp + phase,
        );
        std::thread::sleep(ramp);
        let before = counts.answered.load(Ordering::Relaxed);
        loaded.push(rate(&done, phase));
        answered += counts.answered.load(Ordering::Relaxed) - before;
        load.join().unwrap();
        // The load ran (connects complete in the kernel whatever CPU the server gets; how
        // many requests it answered depends on what else this machine runs).
        assert!(counts.slow_reads.load(Ordering::Relaxed) > 0, "no load");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&loaded) / mean(&idle);
    let served = answered as f64 / (2.0 * phase.as_secs_f64());
    println!(
        "{recording_threads} recording thread(s), server at {} priority: {:.2} M/s idle ({:?}), {:.2} M/s under load \
         ({:?}): {:.1} % of idle; the server answered {served:.0} requests/s to {BUSY} busy \
         clients beside {SLOW_READERS} slow readers, {LOAD_SLOW} slow-header and {LOAD_IDLE} \
         idle connections",
        if low_priority { "low" } else { "the host's" },
        mean(&idle) / 1e6,
        idle.iter()
            .map(|r| (r / 1e4).round() / 1e2)
            .collect::<Vec<_>>(),
        mean(&loaded) / 1e6,
        loaded
            .iter()
            .map(|r| (r / 1e4).round() / 1e2)
            .collect::<Vec<_>>(),
        ratio * 100.0,
    );
    // A sanity bound only: the figure is a measurement, printed above.
    assert!(
        ratio > 0.5,
        "recording fell to {:.1} % of idle",
        ratio * 100.0
    );
}
