//! The pusher against local TCP listeners (no carbon needed): batching, timestamps,
//! buffering through refused connections, overflow, resets, resends and stopping. Every
//! address is on loopback and no name goes to DNS.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use scales::Registry;
use scales_graphite::{GraphitePusher, Health, PeriodicPusher, PushError};

use crate::support::sink::Sink;
use crate::support::{refused_addr, registry_with};

/// A loopback address where a connect neither succeeds nor fails but hangs until its timeout,
/// as with a host that drops packets: a listener with an accept backlog of 0 that never
/// accepts, its queue filled with connections. While the queue is full, Linux drops the
/// handshake of every new connect (its SYN), so the connect waits.
struct BlackHole {
    addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl BlackHole {
    fn start() -> Self {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        socket.listen(0).unwrap();
        let listener = TcpListener::from(socket);
        let addr = listener.local_addr().unwrap();
        // Fill the queue until a connect hangs (one connection with backlog 0 on Linux).
        let mut queued = Vec::new();
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue of {addr}: {e}"),
            }
            assert!(queued.len() < 64, "the accept queue of {addr} never filled");
        }
        Self {
            addr,
            _listener: listener,
            _queued: queued,
        }
    }
}

/// Stops `pusher`, checking that stopping took less than `limit`; its final health.
fn stop_within(pusher: PeriodicPusher, limit: Duration) -> Health {
    let started = Instant::now();
    let health = pusher.stop();
    assert!(
        started.elapsed() < limit,
        "stop took {:?}",
        started.elapsed()
    );
    health
}

fn timestamps(lines: &[String]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for line in lines {
        let ts: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if out.last() != Some(&ts) {
            out.push(ts);
        }
    }
    out
}

#[test]
fn one_push_is_one_batch_of_lines_sharing_a_timestamp() {
    let sink = Sink::start();
    let (registry, _scope) = registry_with(500);
    let mut pusher = GraphitePusher::builder(sink.addr.to_string())
        .prefix("svc")
        .health_path(None)
        .build(&registry)
        .unwrap();
    assert_eq!(pusher.push_at(1_700_000_000).unwrap(), 500);
    let lines = sink.wait_lines(500);
    assert_eq!(lines.len(), 500);
    assert_eq!(lines[7], "svc.app.stat7 7 1700000000");
    assert!(lines.iter().all(|l| l.ends_with(" 1700000000")));
    let health = pusher.health();
    assert_eq!(
        (health.pushes, health.points_sent, health.points_buffered),
        (1, 500, 0)
    );
    // The push went on one connection, which the pusher ended to learn that carbon read
    // it all; a second one stays open, empty, to watch carbon for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.connections().len() < 2 {
        assert!(Instant::now() < deadline, "no second connection");
        thread::sleep(Duration::from_millis(5));
    }
    let connections = sink.connections();
    assert_eq!(connections.len(), 2);
    assert!(connections[1].is_empty());
}

#[test]
fn each_push_sends_its_own_values_as_stats_come_and_go() {
    let sink = Sink::start();
    let registry = Registry::new();
    let app = registry.scope("/app").unwrap();
    let hits = app.int_stat("hits").unwrap();
    let ratio = app.double_stat("ratio").unwrap();
    let mut pusher = GraphitePusher::builder(sink.addr.to_string())
        .prefix("svc")
        .health_path(None)
        .build(&registry)
        .unwrap();
    // Each push: what changes before it, and the lines it must send.
    let mut added = None;
    let pushes: Vec<(&str, Vec<&str>)> = vec![
        ("first", vec!["svc.app.hits 1", "svc.app.ratio 0.5"]),
        (
            "values change",
            vec!["svc.app.hits 2", "svc.app.ratio 0.25"],
        ),
        ("same shape", vec!["svc.app.hits 3", "svc.app.ratio 0.125"]),
        ("a NaN is skipped", vec!["svc.app.hits 4"]),
        (
            "and comes back",
            vec!["svc.app.hits 5", "svc.app.ratio 2.0"],
        ),
        (
            "a stat is added",
            vec!["svc.app.hits 6", "svc.app.ratio 2.0", "svc.app.extra.new 9"],
        ),
        ("and removed", vec!["svc.app.hits 7", "svc.app.ratio 2.0"]),
    ];
    let mut expected = Vec::new();
    for (n, (step, lines)) in pushes.iter().enumerate() {
        hits.inc();
        match *step {
            "first" => ratio.set(0.5),
            "values change" => ratio.set(0.25),
            "same shape" => ratio.set(0.125),
            "a NaN is skipped" => ratio.set(f64::NAN),
            "and comes back" => ratio.set(2.0),
            "a stat is added" => {
                // A child scope's stats leave the tree with it.
                let extra = app.child("extra").unwrap();
                extra.int_stat("new").unwrap().add(9);
                added = Some(extra);
            }
            _ => drop(added.take()),
        }
        let ts = 1_700_000_000 + 60 * n as u64;
        assert_eq!(pusher.push_at(ts).unwrap(), lines.len(), "{step}");
        expected.extend(lines.iter().map(|line| format!("{line} {ts}")));
    }
    assert_eq!(sink.wait_lines(expected.len()), expected);
}

#[test]
fn health_stats_are_in_the_pushed_tree() {
    let sink = Sink::start();
    let (registry, _scope) = registry_with(2);
    let mut pusher = GraphitePusher::builder(sink.addr.to_string())
        .build(&registry)
        .unwrap();
    pusher.push_at(10).unwrap();
    pusher.push_at(20).unwrap();
    let lines = sink.wait_lines(2 * 11);
    // 2 stats and 9 numeric health stats (`lastError` is a string); each push reports the
    // pushes before it.
    assert!(
        lines.contains(&"scales.graphite.pointsSent 11 20".to_owned()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"scales.graphite.pushes 1 20".to_owned()));
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.stat("/scales/graphite/pointsSent").unwrap().value,
        scales::StatValue::Int(22)
    );
}

#[test]
fn refused_connections_buffer_and_send_oldest_first_later() {
    let addr = refused_addr();
    let (registry, _scope) = registry_with(3);
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .build(&registry)
        .unwrap();
    assert!(matches!(
        pusher.push_at(100),
        Err(PushError::Connect { .. })
    ));
    let health = pusher.health();
    assert_eq!((health.points_buffered, health.failures), (3, 1));
    assert!(
        health.last_error.contains("cannot connect"),
        "{}",
        health.last_error
    );
    thread::sleep(Duration::from_millis(10));
    assert!(pusher.push_at(200).is_err());
    // Carbon comes back on the same port.
    let sink = Sink::on(TcpListener::bind(addr).unwrap());
    thread::sleep(Duration::from_millis(10));
    assert_eq!(pusher.push_at(300).unwrap(), 3);
    let lines = sink.wait_lines(9);
    assert_eq!(timestamps(&lines), [100, 200, 300]);
    let health = pusher.health();
    assert_eq!(
        (
            health.points_sent,
            health.points_buffered,
            health.points_dropped
        ),
        (9, 0, 0)
    );
    assert_eq!(health.last_error, "");
}

#[test]
fn a_full_buffer_drops_the_oldest_pushes_and_counts_them() {
    let addr = refused_addr();
    let (registry, _scope) = registry_with(10);
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .buffer_points(30)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build(&registry)
        .unwrap();
    for ts in 1..=5 {
        assert!(pusher.push_at(ts).is_err());
    }
    let health = pusher.health();
    assert_eq!((health.points_buffered, health.points_dropped), (30, 20));
    let sink = Sink::on(TcpListener::bind(addr).unwrap());
    thread::sleep(Duration::from_millis(5));
    pusher.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(timestamps(&sink.wait_lines(30)), [3, 4, 5]);
}

#[test]
fn a_bad_host_name_is_an_error_not_a_panic() {
    let (registry, _scope) = registry_with(1);
    // A DNS label holds at most 63 bytes: the resolver refuses this name without sending a
    // query (no network needed), as it refuses a name that does not exist.
    let bad_host = format!("{}.invalid:2003", "a".repeat(64));
    let mut pusher = GraphitePusher::builder(bad_host)
        .health_path(None)
        .build(&registry)
        .unwrap();
    let error = pusher.push_at(1).unwrap_err();
    assert!(matches!(error, PushError::Resolve { .. }), "{error}");
    assert_eq!(pusher.health().points_buffered, 1);
    assert!(GraphitePusher::builder("no-port").build(&registry).is_err());
    assert!(GraphitePusher::builder("h:1")
        .period(Duration::from_millis(500))
        .build(&registry)
        .is_err());
}

#[test]
fn a_reset_mid_write_resends_the_whole_batch_on_a_new_connection() {
    // The first connection reads a little, then closes with unread data (a reset).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let first = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = vec![0u8; 1000];
        stream.read_exact(&mut head).unwrap();
        drop(stream);
        listener
    });
    let (registry, _scope) = registry_with(200_000);
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .buffer_points(1_000_000)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build(&registry)
        .unwrap();
    let error = pusher.push_at(42).unwrap_err();
    assert!(matches!(error, PushError::Write { .. }), "{error}");
    assert_eq!(pusher.health().points_buffered, 200_000);
    let sink = Sink::on(first.join().unwrap());
    thread::sleep(Duration::from_millis(5));
    pusher.flush(Duration::from_secs(10)).unwrap();
    let lines = sink.wait_lines(200_000);
    assert_eq!(lines.len(), 200_000);
    assert_eq!(lines[199_999], "app.stat199999 199999 42");
}

#[test]
fn a_batch_carbon_read_just_before_it_died_is_sent_again() {
    // Carbon reads the batch (and answers the end of stream), then dies within the confirm
    // window, maybe with the points still in its memory cache: the connection the pusher
    // keeps open to watch it closes, and the next push sends the batch again.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let carbon = thread::spawn(move || {
        let (mut data, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        data.read_to_end(&mut got).unwrap();
        drop(data);
        let (watch, _) = listener.accept().unwrap();
        drop(watch); // carbon dies
        (listener, got)
    });
    let (registry, _scope) = registry_with(5);
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .build(&registry)
        .unwrap();
    pusher.push_at(1).unwrap();
    let (listener, got) = carbon.join().unwrap();
    assert_eq!(got.iter().filter(|&&b| b == b'\n').count(), 5);
    thread::sleep(Duration::from_millis(20));
    let sink = Sink::on(listener);
    pusher.push_at(2).unwrap();
    assert_eq!(timestamps(&sink.wait_lines(10)), [1, 2]);
    let health = pusher.health();
    assert_eq!((health.points_sent, health.points_resent), (15, 5));
    assert_eq!(
        (health.reconnects, health.failures, health.stalls),
        (1, 1, 0)
    );
    assert_eq!((health.points_buffered, health.points_dropped), (0, 0));
    assert!(health.last_error.is_empty(), "{}", health.last_error);
}

#[test]
fn periodic_pusher_aligns_timestamps_and_stops_promptly() {
    let sink = Sink::start();
    let (registry, _scope) = registry_with(1);
    let pusher = GraphitePusher::builder(sink.addr.to_string())
        .health_path(None)
        .period(Duration::from_secs(1))
        .spawn(&registry)
        .unwrap();
    let lines = sink.wait_lines(2);
    let health = stop_within(pusher, Duration::from_secs(1));
    assert!(health.pushes >= 2);
    let ts = timestamps(&lines);
    assert_eq!(ts[1], ts[0] + 1);
}

#[test]
fn stopping_flushes_the_buffer_within_the_deadline() {
    let addr = refused_addr();
    let (registry, _scope) = registry_with(4);
    let pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .period(Duration::from_secs(1))
        .backoff(Duration::from_secs(30), Duration::from_secs(30))
        .stop_timeout(Duration::from_secs(2))
        .spawn(&registry)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pusher.health().points_buffered < 4 {
        assert!(Instant::now() < deadline, "no push buffered");
        thread::sleep(Duration::from_millis(20));
    }
    // Carbon comes back; the pusher is backing off for 15-30 s, but stopping tries at once.
    let sink = Sink::on(TcpListener::bind(addr).unwrap());
    let health = stop_within(pusher, Duration::from_secs(2));
    assert_eq!(health.points_buffered, 0);
    assert!(sink.wait_lines(4).len() >= 4);
}

#[test]
fn stopping_gives_up_at_the_deadline_when_carbon_is_away() {
    let addr = refused_addr();
    let (registry, _scope) = registry_with(4);
    let pusher = GraphitePusher::builder(addr.to_string())
        .health_path(None)
        .period(Duration::from_secs(1))
        .stop_timeout(Duration::from_millis(300))
        .spawn(&registry)
        .unwrap();
    while pusher.health().pushes < 1 {
        thread::sleep(Duration::from_millis(20));
    }
    let health = stop_within(pusher, Duration::from_secs(1));
    assert_eq!(health.points_buffered, 4);
}

#[test]
fn interval_distributions_report_the_last_period_only() {
    let sink = Sink::start();
    let registry = Registry::new();
    let scope = registry.scope("/web").unwrap();
    let latency = scope.pmf_stat("latency").unwrap();
    let mut pusher = GraphitePusher::builder(sink.addr.to_string())
        .health_path(None)
        .interval_distributions(true)
        .build(&registry)
        .unwrap();
    latency.record(1.0);
    latency.record(1.0);
    pusher.push_at(1).unwrap();
    latency.record(5.0);
    pusher.push_at(2).unwrap();
    let lines = sink.wait_lines(12);
    assert!(lines.contains(&"web.latency.count 2 1".to_owned()));
    assert!(lines.contains(&"web.latency.count 1 2".to_owned()));
    assert!(
        lines.contains(&"web.latency.mean 5.0 2".to_owned()),
        "{lines:#?}"
    );
}

#[test]
fn the_stop_of_a_never_connected_pusher_does_not_hang_on_drop() {
    // A black-hole address would hang a connect without a timeout.
    let hole = BlackHole::start();
    let (registry, _scope) = registry_with(1);
    let pusher = GraphitePusher::builder(hole.addr.to_string())
        .health_path(None)
        .period(Duration::from_secs(1))
        .connect_timeout(Duration::from_millis(200))
        .stop_timeout(Duration::from_millis(200))
        .spawn(&registry)
        .unwrap();
    thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    drop(pusher);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let _ = TcpStream::connect_timeout(&refused_addr(), Duration::from_millis(1));
}

#[test]
fn stopping_does_not_wait_for_a_peer_that_stopped_reading() {
    // A listener that accepts and never reads: the first push (tens of MB) fills the socket
    // buffers and its write blocks. Stopping still returns within the stop timeout.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    let (registry, _scope) = registry_with(200_000);
    let pusher = GraphitePusher::builder(addr.to_string())
        .prefix("p".repeat(150))
        .health_path(None)
        .period(Duration::from_secs(1))
        .buffer_points(1_000_000)
        .stop_timeout(Duration::from_millis(300))
        .spawn(&registry)
        .unwrap();
    let _stream = holder.join().unwrap().unwrap();
    while pusher.health().pushes < 1 {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    let health = stop_within(pusher, Duration::from_secs(1));
    assert!(health.points_buffered >= 200_000, "{health:?}");
}
