//! Malformed, oversized and slow requests: 4xx answers, bounded waits, other clients unharmed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{config, fixture, get, raw, serve};

#[test]
fn oversized_headers_are_431() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let request = format!(
        "GET /status/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw(server.local_addr(), request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    assert_eq!(get(&server.url()).status, 200, "the server goes on");
}

#[test]
fn malformed_requests_are_400() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /status/ HTTP/9.9\r\n\r\n",
        b"GET /status/ HTTP/1.1\r\nHost x\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let answer = raw(server.local_addr(), request);
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 505"),
            "{request:?} -> {answer:.200}"
        );
    }
    let big_body = raw(
        server.local_addr(),
        b"GET /status/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n",
    );
    assert!(big_body.starts_with("HTTP/1.1 413"), "{big_body:.200}");
    assert_eq!(get(&server.url()).status, 200, "the server goes on");
}

#[test]
fn slow_clients_do_not_stall_others_and_time_out() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = config(&f.registry)
        .limits(scales_http::Limits {
            header_read_timeout: Duration::from_millis(800),
            ..Default::default()
        })
        .serve_in_background(0)
        .unwrap();
    // Five clients send half a request line and stall.
    let mut slow: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(server.local_addr()).unwrap();
            s.write_all(b"GET /status/ HTTP/1.1\r\nHo").unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let agent = crate::support::agent();
    for _ in 0..20 {
        let got = crate::support::get_with(&agent, &format!("{}?format=json", server.url()));
        assert_eq!(got.status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "20 requests took {:?} beside slow clients",
        started.elapsed()
    );
    // The stalled ones are cut off after the header timeout.
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let waited = Instant::now();
        let _ = s.read_to_end(&mut buf);
        assert!(
            waited.elapsed() < Duration::from_secs(4),
            "slow client kept open"
        );
    }
}

/// Reads one response (status line, headers, a `Content-Length` body) off a keep-alive
/// connection; the status line.
fn read_response(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "closed mid-head: {got:?}"
        );
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head.lines().next().unwrap_or_default().to_owned()
}

/// Whether the server closed `stream` (within `wait`), rather than leaving it open.
fn closed(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A keep-alive connection that has had one request answered.
fn served(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /status/?format=json HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let status = read_response(&mut stream);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    stream
}

#[test]
fn a_full_server_closes_connections_without_a_request_oldest_first_then_idle_ones() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = config(&f.registry)
        .limits(scales_http::Limits {
            max_connections: 3,
            ..Default::default()
        })
        .serve_in_background(0)
        .unwrap();
    let addr = server.local_addr();
    let settle = || std::thread::sleep(Duration::from_millis(150));
    let mut kept_alive = served(addr);
    settle();
    let mut idle = TcpStream::connect(addr).unwrap();
    settle();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /status/ HTTP/1.1\r\nHo").unwrap();
    settle();
    let open = Duration::from_millis(200);
    let gone = Duration::from_secs(3);

    // Full: a newcomer takes the place of the oldest connection without a request...
    let mut second = served(addr);
    assert!(closed(&mut idle, gone), "the idle connection was kept");
    assert!(
        !closed(&mut slow, open),
        "the slow one went before its turn"
    );
    assert!(!closed(&mut kept_alive, open));
    // ... then of the next one ...
    let _third = served(addr);
    assert!(
        closed(&mut slow, gone),
        "the slow-header connection was kept"
    );
    assert!(!closed(&mut kept_alive, open));
    assert!(!closed(&mut second, open));
    // ... and once every connection has completed a request, of the longest idle.
    let _fourth = served(addr);
    assert!(closed(&mut kept_alive, gone), "the longest idle was kept");
    assert!(!closed(&mut second, open), "a younger idle one went first");
}

#[test]
fn connections_over_the_cap_get_503_only_when_all_are_busy_and_slots_come_back() {
    let _shared = crate::support::shared();
    let f = fixture();
    f.registry.set_gauge_timeout(Duration::from_secs(5));
    let slow = f.registry.scope("/slow").unwrap();
    slow.gauge("answer", || {
        std::thread::sleep(Duration::from_millis(1500));
        1
    })
    .unwrap();
    let server = config(&f.registry)
        .history(Duration::from_secs(5), 0, 0)
        .limits(scales_http::Limits {
            max_connections: 2,
            ..Default::default()
        })
        .serve_in_background(0)
        .unwrap();
    let addr = server.local_addr();
    std::thread::scope(|s| {
        // Two requests in progress (the gauge takes 1.5 s) fill the server.
        let busy: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    raw(
                        addr,
                        b"GET /status/slow?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    )
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let answer = raw(addr, b"GET /status/ HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer:.200}");
        assert!(answer.contains("Retry-After: 1"), "{answer:.300}");
        for request in busy {
            let answer = request.join().unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.200}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = raw(
            addr,
            b"GET /status/?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slots never came back: {answer:.200}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connections_are_closed_after_their_lifetime() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = config(&f.registry)
        .limits(scales_http::Limits {
            connection_lifetime: Duration::from_millis(500),
            ..Default::default()
        })
        .serve_in_background(0)
        .unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}
