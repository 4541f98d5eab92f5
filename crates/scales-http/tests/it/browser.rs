//! The page in a real browser: headless Chromium loads it, runs its script, and the test
//! reads the DOM it dumps and keeps screenshots under `target/e2e/`.

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{broken_gauge, e2e, e2e_dir, fixture, serve};

const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// A fresh directory of one browser run, removed when dropped: its profile and `TMPDIR`.
///
/// It is in /tmp, not under `target/`: Chromium makes a Unix socket (`SingletonSocket`) in
/// `TMPDIR`, a socket path holds at most 107 bytes, and with a longer one (a clone at a long
/// path) the browser aborts at start.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!(
                "scales-chromium.{}-{}-{nanos:x}",
                std::process::id(),
                RUN.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Self(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a pipe to its end on a thread of its own.
fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs headless Chromium with `args` and a fresh profile; returns its stdout. When it fails,
/// the panic shows what the browser printed on stderr.
fn chromium(args: &[&str]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install the Debian package chromium (scripts/test.sh does)"
    );
    let scratch = Scratch::new();
    let profile = scratch.0.join("profile");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--log-level=3",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("TMPDIR", &scratch.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = stdout.join().unwrap();
    let err = stderr.join().unwrap();
    match status {
        Some(status) if status.success() => out,
        Some(status) => panic!("chromium {args:?}: {status}; its stderr:\n{err}"),
        None => panic!("chromium {args:?} did not finish in 60 s; its stderr:\n{err}"),
    }
}

fn dom(url: &str) -> String {
    chromium(&["--dump-dom", url])
}

fn screenshot(url: &str, name: &str) {
    let path = e2e_dir().join(name);
    let _ = std::fs::remove_file(&path);
    chromium(&[
        "--window-size=1200,900",
        "--hide-scrollbars",
        &format!("--screenshot={}", path.display()),
        url,
    ]);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    assert!(size > 10_000, "{} is {size} bytes", path.display());
}

#[test]
fn the_page_in_headless_chromium() {
    let _shared = crate::support::shared();
    if !e2e("browser::the_page_in_headless_chromium") {
        return;
    }
    let f = fixture();
    let _broken = broken_gauge(&f.registry);
    let server = serve(&f.registry);
    let base = server.url();
    // Stats move while the browser looks, as in a real server.
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let success = f.success.clone();
        let latency = f.latency.clone();
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                success.inc();
                latency.record(0.01 + f64::from(i % 7) * 0.004);
                i += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    // A gauge whose map grows at every read: the page the server rendered and the JSON the
    // script fetches differ in shape, so the script rebuilds the tree from JSON.
    let growing = f.registry.scope("/zz").unwrap(); // sorts last: the screenshot shows the rest
    let reads = Arc::new(AtomicUsize::new(0));
    {
        let reads = reads.clone();
        growing
            .gauge("map", move || {
                let n = (reads.fetch_add(1, Ordering::Relaxed) + 1).min(500);
                scales::Value::Map(
                    (0..n)
                        .map(|i| (format!("k{i:03}"), scales::Value::Int(i as i64)))
                        .collect(),
                )
            })
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(600)); // a few history samples
    let rendered = crate::support::get(&base).body;
    let keys = |page: &str| page.matches(r#"<span class="key">k"#).count();

    let root = dom(&base);
    assert!(
        keys(&root) > keys(&rendered),
        "the script did not rebuild the tree from newer JSON: {} keys, {} server-rendered",
        keys(&root),
        keys(&rendered)
    );
    assert!(
        root.contains(r#"<div class="leaf"><span class="key">success</span>"#),
        "leaves are marked for hover"
    );
    assert!(
        root.contains(r#"data-enhanced="1""#),
        "the script did not run: {root}"
    );
    assert!(root.contains(r#"id="scales-bar""#));
    assert!(root.contains("every 5 s"), "refresh interval control");
    // A live refresh happened (the status line, not the script's text).
    assert!(status_line(&root).starts_with("updated "), "{root}");
    // Stats, readable numbers with the raw value as tooltip, trend lines.
    assert!(root.contains(r#"<span class="key">success</span>"#));
    assert!(
        root.contains(r#"title="12345678">12,345,678</span>"#),
        "{root}"
    );
    assert!(
        root.contains(r#"title="0.25">250 ms</span>"#),
        "durations: {root}"
    );
    assert!(root.contains("/s</span>"), "rates");
    assert!(
        root.contains(r#"<svg class="spark""#),
        "trend lines: {root}"
    );
    assert!(root.contains("error: gauge panicked"));
    // Links into sub-trees: the script's for every group, the core's for collapsed ones.
    assert!(
        root.contains(r#"<a href="/status/web" title="open this sub-tree">web</a>"#),
        "{root}"
    );
    assert!(root.contains(r#"<a href="/status/extended/hidden">hidden</a>"#));
    assert!(
        !root.contains(r#"href="/status/web/latency/"#),
        "keys inside a stat are no pages"
    );
    // Hostile server name and key show as text; nothing was injected.
    assert!(!root.contains("<img"), "an injected element: {root}");
    assert!(root.contains("test&lt;img src=x onerror=alert(1)&gt;-42"));
    assert!(root.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(root.contains("&lt;script&gt;alert(3)&lt;/script&gt;"));

    // Following a link renders the sub-tree.
    let web = dom(&format!("{base}web"));
    assert!(web.contains("- Status: /web</title>"));
    assert!(web.contains(r#"<span class="key">success</span>"#));
    assert!(!web.contains("byPath"));
    assert!(web.contains(r#"data-enhanced="1""#));
    let hidden = dom(&format!("{base}extended/hidden"));
    assert!(
        hidden.contains(r#"<span class="key">count</span>"#),
        "{hidden}"
    );

    // The filter filters, and stays in its input.
    let filtered = dom(&format!("{base}?query=success"));
    assert!(filtered.contains(r#"<span class="key">success</span>"#));
    assert!(!filtered.contains("byPath"));
    assert!(!filtered.contains(">latency<"));
    assert!(filtered.contains(r#"value="success""#));

    screenshot(&base, "status.png");
    screenshot(&format!("{base}web"), "status-web.png");
    stop.store(true, Ordering::Relaxed);
    mover.join().unwrap();
}

/// Names that are properties of every JavaScript object: a script that indexes plain objects
/// by stat names breaks on them.
const PROTOTYPE_NAMES: [&str; 4] = ["__proto__", "constructor", "toString", "hasOwnProperty"];

/// A gauge whose value is the number of times it was read: every read (the page's render,
/// each refresh, each history sample) shows a new value.
fn counting_gauge(scope: &scales::Scope, name: &str) -> scales::Stat {
    let reads = AtomicI64::new(0);
    scope
        .gauge(name, move || reads.fetch_add(1, Ordering::Relaxed) + 1)
        .unwrap()
}

/// `/<a>/<b>` for every pair of prototype names, `/nested/__proto__/constructor/toString/
/// hasOwnProperty`, and `/dict/__proto__`, a stat whose keys are the names (and `valueOf`):
/// all of them counting gauges. `/dict/plain` holds 12,345,678.
fn prototype_tree(registry: &scales::Registry) -> Vec<scales::Scope> {
    let mut scopes = Vec::new();
    for group in PROTOTYPE_NAMES {
        let scope = registry.scope(&format!("/{group}")).unwrap();
        for name in PROTOTYPE_NAMES {
            counting_gauge(&scope, name);
        }
        scopes.push(scope);
    }
    let nested = registry
        .scope("/nested/__proto__/constructor/toString")
        .unwrap();
    counting_gauge(&nested, "hasOwnProperty");
    let dict = registry.scope("/dict").unwrap();
    let reads = AtomicI64::new(0);
    dict.gauge("__proto__", move || {
        let n = reads.fetch_add(1, Ordering::Relaxed) + 1;
        scales::Value::Map(
            PROTOTYPE_NAMES
                .iter()
                .chain(&["valueOf"])
                .map(|k| ((*k).to_owned(), scales::Value::Int(n)))
                .collect(),
        )
    })
    .unwrap();
    dict.int_stat("plain").unwrap().add(12_345_678);
    scopes.extend([nested, dict]);
    scopes
}

/// How many leaves named `name` the script updated in place on its refresh (their value
/// changed since the server rendered the page).
fn updated(dom: &str, name: &str) -> usize {
    dom.matches(&format!(
        r#"<span class="key">{name}</span> <span class="int changed">"#
    ))
    .count()
}

/// What the toolbar's status says (`updated 10:42:07`, `update failed: ..`).
fn status_line(dom: &str) -> &str {
    let Some(at) = dom.find(r#"<span id="scales-status""#) else {
        return "";
    };
    let rest = &dom[at..];
    let start = rest.find('>').map_or(0, |i| i + 1);
    let end = rest.find("</span>").unwrap_or(rest.len());
    &rest[start..end]
}

/// The page's refresh ran, and nothing failed.
fn assert_refreshed(dom: &str, page: &str) {
    assert!(
        dom.contains(r#"data-enhanced="1""#),
        "{page}: no script: {dom}"
    );
    let status = status_line(dom);
    assert!(
        status.starts_with("updated "),
        "{page}: the refresh said {status:?}: {dom}"
    );
}

#[test]
fn names_of_object_properties_refresh_like_any_other() {
    let _shared = crate::support::shared();
    if !e2e("browser::names_of_object_properties_refresh_like_any_other") {
        return;
    }
    let registry = scales::Registry::new();
    let _scopes = prototype_tree(&registry);
    let server = serve(&registry);
    let base = server.url();
    std::thread::sleep(Duration::from_millis(600)); // a few history samples: trend lines

    let root = dom(&base);
    assert_refreshed(&root, "/status/");
    for (name, leaves) in [
        ("__proto__", 5),
        ("constructor", 5),
        ("toString", 5),
        ("hasOwnProperty", 6),
        ("valueOf", 1),
    ] {
        assert_eq!(updated(&root, name), leaves, "{name}: {root}");
    }
    for group in PROTOTYPE_NAMES {
        assert!(
            root.contains(&format!(
                r#"<a href="/status/{group}" title="open this sub-tree">{group}</a>"#
            )),
            "{group} is not linked: {root}"
        );
    }
    assert!(root.contains(
        r#"<a href="/status/nested/__proto__/constructor" title="open this sub-tree">constructor</a>"#
    ));
    assert!(
        root.matches(r#"<svg class="spark""#).count() >= 22,
        "trend lines: {root}"
    );
    assert!(root.contains(r#"title="12345678">12,345,678</span>"#));

    // A group page: its leaves are keyed by the bare names.
    let group = dom(&format!("{base}__proto__"));
    assert_refreshed(&group, "/status/__proto__");
    for name in PROTOTYPE_NAMES {
        assert_eq!(updated(&group, name), 1, "{name}: {group}");
    }
    assert_eq!(group.matches(r#"<svg class="spark""#).count(), 4, "{group}");

    // A stat named `__proto__`, and a key of it.
    let stat = dom(&format!("{base}dict/__proto__"));
    assert_refreshed(&stat, "/status/dict/__proto__");
    for name in PROTOTYPE_NAMES.iter().chain(&["valueOf"]) {
        assert_eq!(updated(&stat, name), 1, "{name}: {stat}");
    }
    let key = dom(&format!("{base}dict/__proto__/constructor"));
    assert_refreshed(&key, "/status/dict/__proto__/constructor");
    assert_eq!(updated(&key, "constructor"), 1, "{key}");
}

#[test]
fn the_page_refreshes_behind_basic_authentication() {
    let _shared = crate::support::shared();
    if !e2e("browser::the_page_refreshes_behind_basic_authentication") {
        return;
    }
    let registry = scales::Registry::new();
    let _scopes = prototype_tree(&registry);
    let server = crate::support::config(&registry)
        .basic_auth("ops", "s3cret pass")
        .serve_in_background(0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(600)); // a few history samples: trend lines
    let addr = server.local_addr();

    // Without credentials the browser gets the 401 (and would ask for them): no stats.
    let refused = dom(&server.url());
    assert!(!refused.contains("scales-tree"), "{refused}");
    assert!(!refused.contains("__proto__"), "{refused}");

    // With them (as a person types them into the browser's prompt), the page and every
    // request of its script are let in: the refresh updates the values and draws the
    // trend lines.
    let page = dom(&format!("http://ops:s3cret%20pass@{addr}/status/__proto__"));
    assert_refreshed(&page, "/status/__proto__ behind basic auth");
    for name in PROTOTYPE_NAMES {
        assert_eq!(updated(&page, name), 1, "{name}: {page}");
    }
    assert_eq!(page.matches(r#"<svg class="spark""#).count(), 4, "{page}");
}
