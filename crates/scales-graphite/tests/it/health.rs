//! The pusher's health and error messages read as messages (never Rust `Debug` output), a
//! stopped pusher flushes what it buffered, and a detached one keeps pushing. Everything
//! against listeners on 127.0.0.1 (no carbon needed).

use std::net::TcpListener;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use scales::{Registry, StatValue, Value};
use scales_graphite::{GraphitePusher, PushError};

use crate::support::refused_addr;
use crate::support::sink::Sink;

/// Whether `text` ends with ` at YYYY-MM-DDTHH:MM:SSZ`.
fn ends_with_utc_time(text: &str) -> bool {
    let Some((_, time)) = text.rsplit_once(" at ") else {
        return false;
    };
    let b = time.as_bytes();
    b.len() == 20
        && time.starts_with("20")
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// No trace of `Debug` output of an io::Error, a SystemTime, a Duration or a string.
fn assert_readable(text: &str) {
    for debug in [
        "Os {",
        "kind:",
        "SystemTime",
        "tv_sec",
        "Duration",
        "`",
        "\"",
    ] {
        assert!(!text.contains(debug), "{debug:?} in {text:?}");
    }
    assert!(!text.contains('\n'), "more than one line: {text:?}");
}

#[test]
fn last_error_is_a_message_with_its_utc_time_in_the_tree_and_in_health() {
    let addr = refused_addr();
    let registry = Registry::new();
    let _stat = registry.scope("/app").unwrap().int_stat("x").unwrap();
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build(&registry)
        .unwrap();
    let error = pusher.push_at(100).unwrap_err();
    assert!(matches!(error, PushError::Connect { .. }), "{error}");

    let health = pusher.health();
    let message = health.last_error.as_str();
    let expected = format!("cannot connect to carbon at {addr}: ");
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("(os error "), "{message}");
    assert!(ends_with_utc_time(message), "{message}");
    assert_readable(message);
    // The error itself is the message without the time.
    assert_eq!(message.rsplit_once(" at ").unwrap().0, error.to_string());

    // The same text is the stat at /scales/graphite/lastError.
    let snapshot = registry.snapshot();
    let stat = snapshot.stat("/scales/graphite/lastError").unwrap();
    assert_eq!(stat.value, StatValue::Value(Value::Str(message.to_owned())));

    // Carbon comes back: the buffered push goes out and lastError is empty again.
    let sink = Sink::on(TcpListener::bind(addr).unwrap());
    thread::sleep(Duration::from_millis(5));
    pusher.push_at(200).unwrap();
    sink.wait_until(|lines| lines.iter().any(|l| l.ends_with(" 200")));
    assert_eq!(pusher.health().last_error, "");
}

#[test]
fn errors_read_as_messages() {
    let registry = Registry::new();
    let error = GraphitePusher::builder("no-port")
        .build(&registry)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "'no-port' is not a host:port address (such as 127.0.0.1:2003)"
    );
    let error = GraphitePusher::builder("127.0.0.1:2003")
        .period(Duration::from_millis(500))
        .build(&registry)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the period must be at least one second, got 500 ms"
    );

    // A second push within the backoff says when the next attempt is, in seconds.
    let _stat = registry.scope("/app").unwrap().int_stat("x").unwrap();
    let mut pusher = GraphitePusher::builder(refused_addr().to_string())
        .health_path(None)
        .backoff(Duration::from_secs(20), Duration::from_secs(20))
        .build(&registry)
        .unwrap();
    assert!(matches!(pusher.push_at(1), Err(PushError::Connect { .. })));
    let error = pusher.push_at(2).unwrap_err();
    assert!(matches!(error, PushError::BackingOff(_)), "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with("backing off after a failure; next attempt in ") && text.ends_with(" s"),
        "{text}"
    );
    assert_readable(&text);
    // The backing-off refusal is not a failure: lastError keeps the connect error.
    assert!(pusher.health().last_error.starts_with("cannot connect"));
}

#[test]
fn a_stopped_pusher_flushes_what_it_buffered_during_an_outage() {
    let addr = refused_addr();
    let registry = Registry::new();
    let counter = registry.scope("/app").unwrap().int_stat("x").unwrap();
    counter.add(42);
    let pusher = GraphitePusher::builder(addr.to_string())
        .period(Duration::from_secs(1))
        // Long enough that only the stop can send the buffered pushes.
        .backoff(Duration::from_secs(60), Duration::from_secs(60))
        .stop_timeout(Duration::from_secs(3))
        .spawn(&registry)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    // Buffered and failed: the first connect is refused right after the first render.
    while pusher.health().points_buffered == 0 || pusher.health().last_error.is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing was buffered, or no failure seen"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let during = pusher.health();
    assert!(during
        .last_error
        .starts_with("cannot connect to carbon at "));
    assert!(
        ends_with_utc_time(&during.last_error),
        "{}",
        during.last_error
    );

    let sink = Sink::on(TcpListener::bind(addr).unwrap());
    let started = Instant::now();
    let health = pusher.stop();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(health.points_buffered, 0, "{health:?}");
    assert_eq!(health.last_error, "");
    assert!(health.points_sent >= during.points_buffered);
    let lines = sink.wait_until(|lines| lines.iter().any(|l| l.starts_with("app.x 42 ")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("scales.graphite.failures ")),
        "{lines:#?}"
    );
}

#[test]
fn a_detached_pusher_keeps_pushing() {
    let sink = Sink::start();
    let addr = sink.addr;
    let registry = Registry::new();
    let _stat = registry.scope("/app").unwrap().int_stat("x").unwrap();
    GraphitePusher::builder(addr.to_string())
        .period(Duration::from_secs(1))
        .spawn(&registry)
        .unwrap()
        .detach();
    // Two pushes after the handle is gone, a second apart.
    let lines = sink.wait_until(|lines| {
        let mut stamps: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("app.x "))
            .filter_map(|l| l.rsplit(' ').next())
            .collect();
        stamps.dedup();
        stamps.len() >= 2
    });
    assert!(
        lines.iter().all(|l| l.split(' ').count() == 3),
        "{lines:#?}"
    );
    // Its health stays in the tree, counting on.
    let snapshot = registry.snapshot();
    let pushes = snapshot.stat("/scales/graphite/pushes").unwrap();
    assert!(
        matches!(pushes.value, StatValue::Int(n) if n >= 2),
        "{pushes:?}"
    );
}

#[test]
fn a_hung_gauge_delays_a_push_once_and_is_counted() {
    let sink = Sink::start();
    let addr = sink.addr;
    let reg = Registry::new();
    reg.set_gauge_timeout(Duration::from_millis(200));
    let scope = reg.collection("/app").unwrap();
    scope.int_stat("requests").unwrap().add(7);
    let (_release, wait) = std::sync::mpsc::sync_channel::<()>(1);
    let wait = Mutex::new(wait);
    scope
        .gauge("hung", move || {
            let _ = wait.lock().unwrap().recv();
            1
        })
        .unwrap();
    let mut pusher = GraphitePusher::builder(addr.to_string())
        .prefix("t.")
        .build(&reg)
        .unwrap();
    for _ in 0..2 {
        pusher.push().unwrap();
    }
    let lines = sink.wait_until(|lines| {
        lines
            .iter()
            .filter(|l| l.starts_with("t.app.requests 7 "))
            .count()
            == 2
    });
    assert!(!lines.iter().any(|l| l.contains("hung")), "{lines:#?}");
    // Two pushes, the gauge left out of both (the second did not wait for it).
    assert_eq!(pusher.health().gauges_timed_out, 2);
    assert_eq!(
        reg.snapshot()
            .stat("/scales/graphite/gaugesTimedOut")
            .map(|s| s.value.clone()),
        Some(StatValue::Int(2))
    );
}
