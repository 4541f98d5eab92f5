//! The page in a real browser: Debian's Chromium driven by playwright-core (from npm,
//! installed by `scripts/playwright.sh` into `target/e2e/node`) clicks, types and reads the
//! DOM of pages served here (`tests/e2e/status_page.mjs` holds the steps and their checks),
//! and keeps screenshots under `target/e2e/`.
//!
//! `SCALES_PAGE_BENCH=1` also times first paint and one refresh of trees of 10,000 and
//! 100,000 stats (BENCHMARKS.md, "Status page in Chromium").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{e2e, e2e_dir, serve};

const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// Names that are properties of every JavaScript object: a script that indexes plain objects
/// by stat names breaks on them.
const PROTOTYPE_NAMES: [&str; 4] = ["__proto__", "constructor", "toString", "hasOwnProperty"];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The node_modules directory holding playwright-core, installed if missing.
fn playwright() -> String {
    let out = Command::new("bash")
        .arg(workspace().join("scripts/playwright.sh"))
        .output()
        .expect("run scripts/playwright.sh");
    assert!(
        out.status.success(),
        "scripts/playwright.sh failed (node, npm and the npm registry are needed once): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A tree like the demo's, its stats moving while the browser looks.
struct DemoLike {
    registry: scales::Registry,
    _scopes: Vec<scales::Scope>,
    stop: Arc<AtomicBool>,
    mover: Option<std::thread::JoinHandle<()>>,
}

impl DemoLike {
    fn new() -> Self {
        let registry = scales::Registry::new();
        let scope = |p: &str| registry.scope(p).unwrap();
        let web = scope("/web");
        let requests = web.int_stat("requests").unwrap();
        let errors = web.int_stat("errors").unwrap();
        web.int_stat("config_version").unwrap().set(3);
        let latency = web.pmf_stat("latency").unwrap();
        let by_status = web.int_dict_stat("byStatus").unwrap();
        let by_endpoint = web.named_pmf_dict_stat("latencyByEndpoint").unwrap();
        let hits = web.meter_stat("hits").unwrap();
        web.string_dict_stat("lastError")
            .unwrap()
            .set("message", "connection reset by peer");
        let handler = scope("/handler");
        let by_path = handler.int_dict_stat("byPath").unwrap();
        handler.int_stat("active").unwrap().set(2);
        let processor = scope("/processor");
        let state = processor.state_time_stat("state").unwrap();
        state.set_state("idle");
        let mut threads = Vec::new();
        for t in 0..4 {
            let thread = scope(&format!("/processor/thread-{t}"));
            let jobs = thread.int_stat("jobs").unwrap();
            let time = thread.pmf_stat("job_time").unwrap();
            thread.int_stat("failures").unwrap();
            threads.push((jobs, time, thread));
        }
        let client = scope("/client");
        let connect = client.pmf_stat("connect_time").unwrap();
        // 1, 3, 10, 30 and 100 ms: five buckets, five bars.
        for (v, n) in [(0.001, 4), (0.003, 9), (0.01, 20), (0.03, 7), (0.1, 2)] {
            for _ in 0..n {
                connect.record(v);
            }
        }
        client.int_stat("retries").unwrap().set(1_234);
        client.double_stat("timeout_seconds").unwrap().set(2.5);
        let gauges = scope("/gauges");
        gauges.gauge("queue_depth", || 17i64).unwrap();
        gauges.gauge("cache_bytes", || 48_234_496i64).unwrap();
        gauges.gauge("build", || "v1.4.2 (3f9c2e1)").unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let mover = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u32;
                let paths = ["/", "/index", "/api/users"];
                while !stop.load(Ordering::Relaxed) {
                    requests.add(7);
                    hits.mark();
                    let endpoint = paths[(i % 3) as usize];
                    by_path.inc(endpoint);
                    by_status.inc(if i.is_multiple_of(17) { "500" } else { "200" });
                    if i.is_multiple_of(17) {
                        errors.inc();
                    }
                    let v = 0.002 + f64::from(i % 13) * 0.0013 + f64::from(i % 101) * 1e-4;
                    latency.record(v);
                    by_endpoint.record(endpoint, v * 1.5);
                    let (jobs, time, _) = &threads[(i % 4) as usize];
                    jobs.inc();
                    time.record(0.02 + f64::from(i % 9) * 0.01);
                    state.set_state(if i.is_multiple_of(5) { "busy" } else { "idle" });
                    i += 1;
                    std::thread::sleep(Duration::from_millis(15));
                }
            })
        };
        Self {
            registry,
            _scopes: vec![web, handler, processor, client, gauges],
            stop,
            mover: Some(mover),
        }
    }
}

impl Drop for DemoLike {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(mover) = self.mover.take() {
            let _ = mover.join();
        }
    }
}

/// A gauge whose value is the number of times it was read: every read shows a new value.
fn counting_gauge(scope: &scales::Scope, name: &str) {
    let reads = AtomicI64::new(0);
    scope
        .gauge(name, move || reads.fetch_add(1, Ordering::Relaxed) + 1)
        .unwrap();
}

/// Markup, quotes, prototype names, a very long name and unicode, all counting gauges (so a
/// refresh changes them), and a dict whose keys are the same.
fn hostile_tree() -> (scales::Registry, Vec<scales::Scope>) {
    let registry = scales::Registry::new();
    let long = "long".repeat(80);
    let names: Vec<&str> = vec![
        "<b>bold",
        "\"quoted\" 'single'",
        "naïve ☃ 名前",
        "<script>alert(1)",
        "<img src=x onerror=alert(2)>",
        &long,
    ];
    let mut scopes = Vec::new();
    for group in PROTOTYPE_NAMES.iter().chain(&["<i>group"]) {
        let scope = registry.scope(&format!("/{group}")).unwrap();
        for name in PROTOTYPE_NAMES.iter().chain(names.iter()) {
            counting_gauge(&scope, name);
        }
        scopes.push(scope);
    }
    let dict = registry.scope("/dict").unwrap();
    let reads = AtomicI64::new(0);
    dict.gauge("__proto__", move || {
        let n = reads.fetch_add(1, Ordering::Relaxed) + 1;
        scales::Value::Map(
            PROTOTYPE_NAMES
                .iter()
                .chain(&["<b>k</b>", "valueOf"])
                .map(|k| ((*k).to_owned(), scales::Value::Int(n)))
                .collect(),
        )
    })
    .unwrap();
    dict.pmf_stat("<svg onload=alert(3)>").unwrap().record(0.5);
    scopes.push(dict);
    (registry, scopes)
}

/// `groups` groups of `per_group` stats: a third distributions, the rest counters.
fn big_tree(groups: usize, per_group: usize) -> (scales::Registry, Vec<scales::Scope>) {
    let registry = scales::Registry::new();
    let mut scopes = Vec::new();
    for g in 0..groups {
        let scope = registry.scope(&format!("/service{g:04}")).unwrap();
        for s in 0..per_group {
            if s.is_multiple_of(3) {
                scope
                    .pmf_stat(&format!("latency{s:03}"))
                    .unwrap()
                    .record(0.001 * (s + 1) as f64);
            } else {
                scope
                    .int_stat(&format!("count{s:03}"))
                    .unwrap()
                    .set(s as i64 * 1000);
            }
        }
        scopes.push(scope);
    }
    (registry, scopes)
}

/// `/watched`: a gauge counting its reads and two counters; `/probe/watched_reads`: how many
/// times `/watched/reads` was read, without reading it.
fn watched_tree() -> (scales::Registry, Vec<scales::Scope>) {
    let registry = scales::Registry::new();
    let reads = Arc::new(AtomicI64::new(0));
    let watched = registry.scope("/watched").unwrap();
    let counter = reads.clone();
    watched
        .gauge("reads", move || counter.fetch_add(1, Ordering::SeqCst) + 1)
        .unwrap();
    watched.int_stat("a").unwrap().set(1);
    watched.int_stat("b").unwrap().set(2);
    let probe = registry.scope("/probe").unwrap();
    probe
        .gauge("watched_reads", move || reads.load(Ordering::SeqCst))
        .unwrap();
    (registry, vec![watched, probe])
}

#[test]
fn the_page_in_chromium_with_playwright() {
    let _shared = crate::support::shared();
    if !e2e("browser::the_page_in_chromium_with_playwright") {
        return;
    }
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install the Debian package chromium (scripts/test.sh does)"
    );
    let modules = playwright();
    let demo = DemoLike::new();
    let server = scales_http::Config::new("demo-like <server>")
        .version("1.4.2")
        .registry(&demo.registry)
        .history(Duration::from_millis(250), 120, 2_000)
        .serve_in_background(0)
        .unwrap();
    let guarded = scales_http::Config::new("guarded")
        .registry(&demo.registry)
        .basic_auth("reader", "s3cret-pass")
        .serve_in_background(0)
        .unwrap();
    // 30 groups of 100 stats: 20 fit the page's 2,000 rows, 10 load when opened; one of
    // those holds a stat only the server's search can find.
    let (lazy, mut _lazy_scopes) = big_tree(30, 100);
    let needle = lazy.scope("/service0025").unwrap();
    needle.int_stat("needle_unique").unwrap().set(42);
    _lazy_scopes.push(needle);
    let lazy_server = serve(&lazy);
    // A group whose reads are counted, shown by a gauge outside it: a refresh must not read
    // it while it is closed. No history (its sampler would read it).
    let (watched, _watched_scopes) = watched_tree();
    let watched_server = scales_http::Config::new("watched")
        .registry(&watched)
        .history(Duration::from_secs(1), 0, 0)
        .serve_in_background(0)
        .unwrap();
    let (hostile, _hostile_scopes) = hostile_tree();
    let hostile_server = serve(&hostile);
    // A few history samples, so rates and "what moved" are there on first paint.
    std::thread::sleep(Duration::from_millis(1500));

    let bench = std::env::var("SCALES_PAGE_BENCH").is_ok_and(|v| v == "1");
    let trees: Vec<_> = if bench {
        [("10k", 100, 100), ("100k", 1000, 100)]
            .into_iter()
            .map(|(label, groups, per)| {
                let (registry, scopes) = big_tree(groups, per);
                let server = scales_http::Config::new("big")
                    .registry(&registry)
                    .serve_in_background(0)
                    .unwrap();
                (label, registry, scopes, server)
            })
            .collect()
    } else {
        Vec::new()
    };
    let bench_spec: Vec<String> = trees
        .iter()
        .map(|(label, _, _, server)| format!("{label}={}", server.url()))
        .collect();

    let scratch = std::env::temp_dir().join(format!("scales-pw.{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let out = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/status_page.mjs"))
        .env("PLAYWRIGHT", &modules)
        .env("CHROMIUM", CHROMIUM)
        .env("BASE", server.url())
        .env("HOSTILE", hostile_server.url())
        .env("LAZY", lazy_server.url())
        .env("WATCH", watched_server.url())
        .env("OUT", e2e_dir())
        .env("BENCH", bench_spec.join(","))
        .env("AUTH", format!("reader s3cret-pass {}", guarded.url()))
        .env("TMPDIR", &scratch)
        .output()
        .expect("run node (the Debian package nodejs)");
    let _ = std::fs::remove_dir_all(&scratch);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser steps failed: {stderr}\n{stdout}"
    );
    let results: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the browser steps printed no results ({e}): {stdout}\n{stderr}")
    });
    assert!(
        results["checks"].as_array().unwrap().len() > 40,
        "{results}"
    );
    eprintln!("status page in chromium: {results}");
    if bench {
        std::fs::write(
            e2e_dir().join("status-page-bench.json"),
            results["bench"].to_string(),
        )
        .unwrap();
    }
    for name in [
        "status-default.png",
        "status-expanded.png",
        "status-filtered.png",
        "status-histogram.png",
    ] {
        let size = std::fs::metadata(e2e_dir().join(name)).map_or(0, |m| m.len());
        assert!(size > 10_000, "{name} is {size} bytes");
    }
    drop(trees);
}
