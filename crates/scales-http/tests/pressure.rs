//! Faults a production status server meets, by the thousand: slow and idle clients that try
//! to hold every connection slot, and load while the host records. A test binary of its own,
//! so that no other test shares the two cores while these measure; its tests run one at a
//! time. They are heavy, so they run when `SCALES_E2E=1` (as `scripts/test.sh` sets);
//! without it they print why they skip.
//!
//! Rerun with the figures printed:
//! `SCALES_E2E=1 cargo test -p scales-http --test pressure -- --nocapture`
//! (add `--release` for the recording-rate figures of an optimised build).

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::{e2e, fixture};

/// The tests here measure: one at a time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

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
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let until = tokio::time::Instant::from_std(until);
                let mut tasks = tokio::task::JoinSet::new();
                for i in 0..slow + idle {
                    let counts = counts.clone();
                    let is_slow = i < slow;
                    tasks.spawn(async move {
                        while tokio::time::Instant::now() < until {
                            attacker(addr, is_slow, until, &counts).await;
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
            });
        })
    };
    (counts, thread)
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

const SLOW: usize = 1_000;
const IDLE: usize = 2_000;

#[test]
fn slow_and_idle_clients_by_the_thousand_do_not_lock_out_normal_requests() {
    if !e2e("slow_and_idle_clients_by_the_thousand_do_not_lock_out_normal_requests") {
        return;
    }
    let _one = one_at_a_time();
    // Attackers' and server's ends of every connection are in this process.
    let needed = 2 * (SLOW + IDLE) as u64 + 1_000;
    let limit = raise_fd_limit(needed);
    assert!(
        limit >= needed,
        "open files limited to {limit}, {needed} needed: raise `ulimit -n`"
    );
    let f = fixture();
    // The default limits: 256 connections, 10 s for a request head.
    let server = support::serve(&f.registry);
    let addr = server.local_addr();
    let ramp = Duration::from_secs(3);
    let measure = Duration::from_secs(10);
    let started = Instant::now();
    let (counts, attackers) = attack(addr, SLOW, IDLE, started + ramp + measure);
    std::thread::sleep(ramp); // every attacker connected (or queued)
    let probe = probe(
        addr,
        2,
        measure,
        Duration::from_millis(20),
        Duration::from_secs(1),
    );
    attackers.join().unwrap();
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
    assert!(probe.sent >= 100, "too few requests sent: {probe:?}");
    assert!(
        probe.answered_share() >= 0.95,
        "{:.1} % answered within 1 s",
        probe.answered_share() * 100.0
    );
    // The server is still fine afterwards.
    let (status, _) = one_request(addr, "/status/?format=json", Duration::from_secs(2));
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}
