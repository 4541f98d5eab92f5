//! Faults a production server meets, on loopback listeners (no carbon needed): a peer that
//! accepts and stops reading is a stall in the health and loses nothing once a reading peer
//! is back; resets are failures; `pointsDropped` counts each point given up on once, never
//! the copies written before; stopping never waits for a hung peer. (The same against a
//! real carbon-cache: e2e_faults.rs and e2e_hang.rs.)

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use scales_graphite::{GraphitePusher, PushError};

use crate::support::sink::Sink;
use crate::support::{registry_with, wait_health};

/// The longest wait for the pusher's health to show what a test waits for.
const WAIT: Duration = Duration::from_secs(10);

/// A listener that accepts and never reads; the connections are kept until it is dropped.
struct Deaf {
    addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<TcpListener>>,
}

impl Deaf {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (shared, stopping) = (held.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => shared.lock().unwrap().push(stream),
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            listener
        });
        Self {
            addr,
            held,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the held connections (they reset: their data is unread) and gives back the
    /// listener.
    fn close(mut self) -> TcpListener {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let listener = self.thread.take().unwrap().join().unwrap();
        self.held.lock().unwrap().clear();
        listener.set_nonblocking(false).unwrap();
        listener
    }
}

/// The distinct timestamps of `lines`, sorted.
fn stamps(lines: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = lines
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[test]
fn a_peer_that_stops_reading_is_a_stall_and_loses_nothing_when_a_reader_comes_back() {
    let deaf = Deaf::start();
    let addr = deaf.addr;
    let (registry, _scope) = registry_with(3);
    let pusher = GraphitePusher::builder(addr.to_string())
        .period(Duration::from_secs(1))
        .write_timeout(Duration::from_millis(400))
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .spawn(&registry)
        .unwrap();
    let stalled = wait_health(&pusher, WAIT, |h| h.stalls >= 2);
    assert!(stalled.failures >= stalled.stalls, "{stalled:?}");
    assert!(stalled.points_buffered > 0, "{stalled:?}");
    let expected = format!("carbon at {addr} stopped reading: ");
    assert!(
        stalled.last_error.starts_with(&expected)
            && stalled
                .last_error
                .contains(" points written were not read within 400 ms at "),
        "{}",
        stalled.last_error
    );
    // The stall is in the tree too.
    let snapshot = registry.snapshot();
    let stat = snapshot.stat("/scales/graphite/stalls").unwrap();
    assert!(
        matches!(stat.value, scales::StatValue::Int(n) if n >= 2),
        "{stat:?}"
    );
    let pushes_before = pusher.health().pushes;
    // A reader comes back on the same port: every push arrives, the first included.
    let sink = Sink::on(deaf.close());
    wait_health(&pusher, WAIT, |h| {
        h.points_buffered == 0 && h.pushes > pushes_before
    });
    let health = pusher.stop();
    let got = stamps(&sink.lines());
    assert_eq!(got.len() as i64, health.pushes, "{got:?} {health:?}");
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
    assert_eq!((health.points_dropped, health.points_buffered), (0, 0));
    assert_eq!(health.last_error, "");
}

#[test]
fn stopping_gives_up_on_a_peer_that_never_reads_within_the_stop_timeout() {
    let deaf = Deaf::start();
    let (registry, _scope) = registry_with(3);
    let pusher = GraphitePusher::builder(deaf.addr.to_string())
        .health_path(None)
        .period(Duration::from_secs(1))
        .stop_timeout(Duration::from_millis(300))
        .spawn(&registry)
        .unwrap();
    // The first push is written and waits for an answer that never comes (the write
    // timeout, 10 s, is far off).
    wait_health(&pusher, WAIT, |h| h.points_sent >= 3);
    let started = Instant::now();
    let health = pusher.stop();
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "stop took {:?}",
        started.elapsed()
    );
    // Carbon never read them: they are reported unsent, not delivered.
    assert!(health.points_buffered >= 3, "{health:?}");
    drop(deaf);
}

#[test]
fn resets_are_failures_and_drops_count_each_point_once() {
    // Each connection is read to its end and then reset (SO_LINGER 0): carbon dying with
    // the data unread. Every push fails and is written again, with those before it, on the
    // next connection, until the buffer (three pushes) overflows.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let resetter = thread::spawn(move || {
        for _ in 0..6 {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = io::copy(&mut stream, &mut io::sink());
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        listener
    });
    let (registry, _scope) = registry_with(10);
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .buffer_points(30)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build(&registry)
        .unwrap();
    for ts in 1..=6 {
        let error = pusher.push_at(ts).unwrap_err();
        assert!(
            matches!(error, PushError::Closed { .. } | PushError::Write { .. }),
            "{error}"
        );
        thread::sleep(Duration::from_millis(2));
    }
    let health = pusher.health();
    assert_eq!(health.failures, 6, "{health:?}");
    assert_eq!(health.stalls, 0, "{health:?}");
    // Written 10 + 20 + 30 + 30 + 30 + 30 times: pushes 1 to 3 were dropped once each,
    // not once per copy written.
    assert_eq!(health.points_sent, 150, "{health:?}");
    assert_eq!(
        (health.points_dropped, health.points_buffered),
        (30, 30),
        "{health:?}"
    );
    let message = &health.last_error;
    assert!(
        message.starts_with(&format!("carbon at {addr} closed the connection: "))
            || message.starts_with(&format!("writing to carbon at {addr} failed: ")),
        "{message}"
    );
    // Carbon is back: the three pushes kept arrive; dropped and delivered add up to all.
    let sink = Sink::on(resetter.join().unwrap());
    pusher.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(stamps(&sink.wait_lines(30)), [4, 5, 6]);
    let health = pusher.health();
    assert_eq!(
        health.points_dropped + 30,
        60,
        "every point rendered is delivered or dropped once"
    );
    assert_eq!(health.points_buffered, 0);
}
