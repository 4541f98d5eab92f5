//! Status server costs: rendering a 10,000-stat tree in each format, requests per second
//! over keep-alive, and what an `IntStat::inc` costs while the page is being scraped.
//!
//! The big tree is the core benchmark's (`crates/scales/benches/snapshot.rs`): 100 scopes
//! (`/service/shardNN`), each with 80 `IntStat`s, 10 `MeterStat`s, 5 `IntDictStat`s of 4 keys
//! and 5 `PmfStat`s of 1,000 lognormal latencies — 10,000 stats, 500 of them distributions.
//! The small tree is ten stats.
//!
//! Run with `cargo bench -p scales-http --bench http`; results are in `BENCHMARKS.md`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scales::format::{html, json, prometheus};

const SCOPES: usize = 100;
const COUNTERS: usize = 80;
const METERS: usize = 10;
const DICTS: usize = 5;
const PMFS: usize = 5;
const RECORDS_PER_PMF: usize = 1000;
const STATS: u64 = (SCOPES * (COUNTERS + METERS + DICTS + PMFS)) as u64;

/// A registry and the handles that keep its stats alive.
struct Tree {
    registry: scales::Registry,
    _scopes: Vec<scales::Scope>,
}

fn big_tree() -> Tree {
    let registry = scales::Registry::new();
    let mut scopes = Vec::new();
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut latency = move || {
        let u1 = uniform().max(f64::MIN_POSITIVE);
        let u2 = uniform();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()).exp() * 1e-3
    };
    for s in 0..SCOPES {
        let scope = registry.scope(&format!("/service/shard{s:02}")).unwrap();
        for c in 0..COUNTERS {
            scope
                .int_stat(&format!("counter{c:02}"))
                .unwrap()
                .add((s * 1000 + c) as i64);
        }
        for m in 0..METERS {
            scope
                .meter_stat(&format!("meter{m}"))
                .unwrap()
                .add(m as u64 + 1);
        }
        for d in 0..DICTS {
            let dict = scope.int_dict_stat(&format!("dict{d}")).unwrap();
            for k in ["200", "301", "404", "500"] {
                dict.add(k, (s + d) as i64);
            }
        }
        for p in 0..PMFS {
            let pmf = scope.pmf_stat(&format!("latency{p}")).unwrap();
            for _ in 0..RECORDS_PER_PMF {
                pmf.record(latency());
            }
        }
        scopes.push(scope);
    }
    Tree {
        registry,
        _scopes: scopes,
    }
}

fn small_tree() -> Tree {
    let registry = scales::Registry::new();
    let web = registry.scope("/web").unwrap();
    web.int_stat("errors").unwrap().add(3);
    web.int_stat("success").unwrap().add(1000);
    let latency = web.pmf_stat("latency").unwrap();
    for i in 0..100 {
        latency.record(f64::from(i) / 1000.0);
    }
    web.meter_stat("hits").unwrap().add(10);
    let handler = registry.scope("/handler").unwrap();
    handler.int_stat("requests").unwrap().add(10);
    let by_path = handler.int_dict_stat("byPath").unwrap();
    by_path.add("/index", 7);
    by_path.add("/about", 3);
    let gauges = registry.scope("/gauges").unwrap();
    gauges.gauge("answer", || 42).unwrap();
    gauges.stat("state").unwrap().set("serving");
    Tree {
        registry,
        _scopes: vec![web, handler, gauges],
    }
}

/// Snapshot plus rendering, per format, of the 10,000-stat tree (what one request costs the
/// server, without HTTP).
fn render(c: &mut Criterion) {
    let tree = big_tree();
    let mut group = c.benchmark_group("render_10k_stats");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(STATS));
    let registry = &tree.registry;
    group.bench_function("snapshot_only", |b| {
        b.iter(|| black_box(registry.snapshot()))
    });
    group.bench_function("json", |b| {
        b.iter(|| black_box(json::to_string(&registry.snapshot(), json::Style::Compact)))
    });
    group.bench_function("prettyjson", |b| {
        b.iter(|| black_box(json::to_string(&registry.snapshot(), json::Style::Pretty)))
    });
    group.bench_function("html", |b| {
        b.iter(|| {
            let snapshot = registry.snapshot();
            black_box(html::to_string(
                &snapshot,
                &html::Options::for_server("bench"),
            ))
        })
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            black_box(prometheus::to_string(
                &registry.snapshot(),
                &prometheus::Options::default(),
            ))
        })
    });
    group.finish();
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn fetch(agent: &ureq::Agent, url: &str) -> usize {
    let mut response = agent.get(url).call().expect("GET");
    let mut body = Vec::new();
    response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .reader()
        .read_to_end(&mut body)
        .expect("body");
    body.len()
}

/// `GET /status/?format=json` over keep-alive from 1 and 2 client threads; criterion's
/// time per element is the time per request (requests/s = 1 / that).
fn requests(c: &mut Criterion) {
    let small = small_tree();
    let big = big_tree();
    let mut group = c.benchmark_group("requests_json");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    for (name, tree) in [("small", &small), ("10k_stats", &big)] {
        let server = scales_http::Config::new("bench")
            .registry(&tree.registry)
            .history(Duration::from_secs(5), 0, 0)
            .serve_in_background(0)
            .unwrap();
        let url = format!("{}?format=json", server.url());
        for clients in [1u64, 2] {
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(BenchmarkId::new(name, clients), &clients, |b, &clients| {
                let agents: Vec<ureq::Agent> = (0..clients).map(|_| agent()).collect();
                b.iter_custom(|iters| {
                    let per_client = iters.div_ceil(clients);
                    let started = Instant::now();
                    std::thread::scope(|s| {
                        for agent in &agents {
                            let url = &url;
                            s.spawn(move || {
                                for _ in 0..per_client {
                                    black_box(fetch(agent, url));
                                }
                            });
                        }
                    });
                    // Time per request of the whole group of clients.
                    started
                        .elapsed()
                        .mul_f64(iters as f64 / (per_client * clients) as f64)
                })
            });
        }
        server.stop();
    }
    group.finish();
}

/// `IntStat::inc` idle, and while a client scrapes `?format=json` of the 10,000-stat tree
/// in a loop (the server renders on its own thread meanwhile).
fn inc_while_scraped(c: &mut Criterion) {
    let tree = big_tree();
    let counter = tree
        .registry
        .scope("/service/shard00")
        .unwrap()
        .int_stat("counter00")
        .unwrap();
    let mut group = c.benchmark_group("inc");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("idle", |b| b.iter(|| black_box(&counter).inc()));
    let server = scales_http::Config::new("bench")
        .registry(&tree.registry)
        .serve_in_background(0)
        .unwrap();
    let url = format!("{}?format=json", server.url());
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicU64::new(0));
    let scraper = {
        let stop = stop.clone();
        let scrapes = scrapes.clone();
        std::thread::spawn(move || {
            let agent = agent();
            while !stop.load(Ordering::Relaxed) {
                fetch(&agent, &url);
                scrapes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    group.bench_function("while_scraped", |b| b.iter(|| black_box(&counter).inc()));
    stop.store(true, Ordering::Relaxed);
    scraper.join().unwrap();
    eprintln!(
        "inc/while_scraped: {} scrapes of the 10,000-stat tree ran meanwhile",
        scrapes.load(Ordering::Relaxed)
    );
    group.finish();
}

criterion_group!(benches, render, requests, inc_while_scraped);
criterion_main!(benches);
