//! Failures are reported through the `log` facade (target `scales_graphite`): one warning
//! when an outage starts and one when carbon is back, debug messages in between (so a
//! burst of failures is not a flood), each a readable line.
//!
//! The binary's one logger captures what this test's own thread logs (see
//! `support::logs`): the pushes run on it, and the other tests' lines do not mix in.

use std::net::TcpListener;
use std::time::Duration;

use log::Level;

use crate::support::logs;
use crate::support::sink::Sink;

#[test]
fn an_outage_logs_one_warning_then_debug_messages_then_one_recovery() {
    let capture = logs::capture();
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let registry = scales::Registry::new();
    let _stat = registry.scope("/x").unwrap().int_stat("y").unwrap();
    let mut pusher = scales_graphite::GraphitePusher::builder(addr.to_string())
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .build(&registry)
        .unwrap();
    for ts in 1..=20 {
        assert!(pusher.push_at(ts).is_err());
        std::thread::sleep(Duration::from_millis(2));
    }
    // Carbon is back: it reads to the end of stream and closes, as carbon does.
    let _carbon = Sink::on(TcpListener::bind(addr).unwrap());
    std::thread::sleep(Duration::from_millis(2));
    pusher.push_at(4).unwrap();

    let records = capture.lines();
    let ours: Vec<_> = records
        .iter()
        .filter(|(_, t, _)| t == "scales_graphite")
        .collect();
    let warnings: Vec<_> = ours.iter().filter(|(l, _, _)| *l == Level::Warn).collect();
    assert_eq!(warnings.len(), 2, "{ours:#?}");
    let first = &warnings[0].2;
    let refused = format!("cannot connect to carbon at {addr}: ");
    assert!(first.starts_with(&refused), "{first}");
    assert!(
        first.contains("; buffering points and retrying (first retry in ")
            && first.ends_with(" ms)"),
        "{first}"
    );
    let back = &warnings[1].2;
    let expected = format!("carbon at {addr} is reachable again after 20 failures in ");
    assert!(back.starts_with(&expected), "{back}");
    assert!(back.ends_with(" ms") || back.ends_with(" s"), "{back}");
    let debug: Vec<_> = ours.iter().filter(|(l, _, _)| *l == Level::Debug).collect();
    assert_eq!(debug.len(), 19, "{ours:#?}");
    assert!(
        debug[0].2.contains("; retrying in ") && debug[0].2.ends_with(" ms"),
        "{}",
        debug[0].2
    );
    for (_, _, message) in &ours {
        for debug_output in ["Os {", "kind:", "SystemTime", "`", "\n"] {
            assert!(!message.contains(debug_output), "{message}");
        }
    }
}
