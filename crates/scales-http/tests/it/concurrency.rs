//! Many clients at once while threads record: no errors, and the final values are exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{agent, fixture, get, get_with, serve};

const CLIENTS: usize = 16;
const REQUESTS: usize = 50;
const WRITERS: usize = 4;
const INCREMENTS: i64 = 50_000;

#[test]
fn many_clients_while_threads_record() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let url = format!("{}web?format=json", server.url());
    let latency = f.latency.clone();
    let started = Instant::now();
    let go = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let success = f.success.clone();
                let latency = latency.clone();
                let go = go.clone();
                s.spawn(move || {
                    while !go.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    for i in 0..INCREMENTS {
                        success.inc();
                        if i % 10 == 0 {
                            latency.record(0.001);
                        }
                    }
                })
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let url = url.clone();
                s.spawn(move || {
                    let agent = agent();
                    let mut last = 0;
                    for _ in 0..REQUESTS {
                        let got = get_with(&agent, &url);
                        assert_eq!(got.status, 200, "{got:?}");
                        let seen = got.json()["success"].as_i64().unwrap();
                        assert!(seen >= last, "went back from {last} to {seen}");
                        last = seen;
                    }
                })
            })
            .collect();
        go.store(true, Ordering::Release);
        for handle in writers.into_iter().chain(clients) {
            handle.join().unwrap();
        }
    });
    let json = get(&url).json();
    assert_eq!(json["success"], 3 + WRITERS as i64 * INCREMENTS);
    assert_eq!(
        json["latency"]["count"],
        5 + WRITERS as i64 * INCREMENTS / 10
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}
