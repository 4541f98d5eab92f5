//! Rendering and pushing 100,000 metrics, and the memory a full buffer holds.
//!
//! * `render/100k`: `format::graphite::write` (into a Vec) of a ready snapshot of 100,000 `IntStat`s.
//! * `snapshot_render/100k`: snapshot plus render (what a push does before the network).
//! * `push_null_sink/100k`: `GraphitePusher::push_at` to a local TCP listener that discards
//!   what it reads: snapshot, render and write, until the listener has read it all (it
//!   closes at the end of stream, as carbon does).
//! * The buffer's memory is computed from the bytes of its batches and printed once.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;
use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scales::format::graphite::{write, Options};
use scales::Registry;
use scales_graphite::GraphitePusher;

const METRICS: usize = 100_000;

/// 100,000 counters in 1,000 groups of 100, with realistic names.
fn registry() -> (Registry, Vec<scales::Scope>) {
    let registry = Registry::new();
    let scopes: Vec<scales::Scope> = (0..METRICS / 100)
        .map(|g| registry.scope(&format!("/service/handler{g}")).unwrap())
        .collect();
    for (g, scope) in scopes.iter().enumerate() {
        for i in 0..100 {
            scope
                .int_stat(&format!("requestsServed{i}"))
                .unwrap()
                .add((g * 1000 + i) as i64);
        }
    }
    (registry, scopes)
}

fn null_sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

fn buffer_memory(registry: &Registry) {
    // Nothing listens on a just-freed port: every push stays buffered.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut pusher = GraphitePusher::builder(addr)
        .prefix("my.server")
        .health_path(None)
        .buffer_points(10 * METRICS)
        .backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build(registry)
        .unwrap();
    for ts in 0..10 {
        let _ = pusher.push_at(1_800_000_000 + ts);
    }
    let health = pusher.health();
    let bytes = pusher.buffered_bytes();
    eprintln!(
        "full buffer: {} points in 10 pushes hold {:.1} MB ({:.1} bytes per point)",
        health.points_buffered,
        bytes as f64 / 1e6,
        bytes as f64 / health.points_buffered as f64
    );
}

fn benches(c: &mut Criterion) {
    let (registry, _scopes) = registry();
    buffer_memory(&registry);

    let mut group = c.benchmark_group("graphite");
    group.sample_size(20);
    group.throughput(Throughput::Elements(METRICS as u64));
    let snapshot = registry.snapshot();
    let options = Options::with_prefix("my.server");
    let mut out = Vec::with_capacity(8 << 20);
    group.bench_function("render/100k", |b| {
        b.iter(|| {
            out.clear();
            black_box(write(&snapshot, &options, 1_800_000_000, &mut out).unwrap());
        });
    });
    group.bench_function("snapshot_render/100k", |b| {
        b.iter(|| {
            out.clear();
            let snapshot = registry.snapshot();
            black_box(write(&snapshot, &options, 1_800_000_000, &mut out).unwrap());
        });
    });
    let mut pusher = GraphitePusher::builder(null_sink())
        .prefix("my.server")
        .health_path(None)
        .build(&registry)
        .unwrap();
    group.bench_function("push_null_sink/100k", |b| {
        b.iter(|| black_box(pusher.push_at(1_800_000_000).unwrap()));
    });
    group.finish();
}

criterion_group!(push, benches);
criterion_main!(push);
