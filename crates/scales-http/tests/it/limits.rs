//! Malformed, oversized and slow requests: 4xx answers, bounded waits, other clients unharmed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{config, fixture, get, raw, serve};

#[test]
fn oversized_headers_are_431() {
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

#[test]
fn connections_over_the_cap_get_503_and_slots_come_back() {
    let f = fixture();
    let server = config(&f.registry)
        .limits(scales_http::Limits {
            max_connections: 2,
            ..Default::default()
        })
        .serve_in_background(0)
        .unwrap();
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200)); // let the server accept both
    let answer = raw(
        server.local_addr(),
        b"GET /status/ HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:.200}");
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = raw(
            server.local_addr(),
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
