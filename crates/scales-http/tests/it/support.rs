//! Shared fixtures: a registry with every kind of stat, a server for it, an HTTP client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use scales::{Registry, Scope};

/// Who has the cores: the tests of this binary run side by side, except the pressure tests,
/// which measure and must run alone (as they did in a binary of their own).
static CORES: RwLock<()> = RwLock::new(());

/// Held for the whole of every test but the pressure tests (their first line is
/// `let _shared = crate::support::shared();`): they run side by side, never beside a
/// pressure test.
pub(crate) fn shared() -> RwLockReadGuard<'static, ()> {
    CORES.read().unwrap_or_else(PoisonError::into_inner)
}

/// Held for the whole of a pressure test: it runs once every other test running has ended,
/// and no other starts until it ends.
pub(crate) fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CORES.write().unwrap_or_else(PoisonError::into_inner)
}

/// The server name used by the fixtures: hostile on purpose, it must show as text.
pub(crate) const HOSTILE_NAME: &str = "test<img src=x onerror=alert(1)>-42";
/// A stat key that would be markup if it were not escaped.
pub(crate) const HOSTILE_KEY: &str = "<img src=x onerror=alert(2)>";

/// A registry like the README's, plus a collapsed group, a panicking gauge and a hostile key.
pub(crate) struct Fixture {
    pub(crate) registry: Registry,
    /// Keeps the declared stats alive.
    _scopes: Vec<Scope>,
    pub(crate) success: scales::IntStat,
    pub(crate) latency: scales::PmfStat,
}

pub(crate) fn fixture() -> Fixture {
    let registry = Registry::new();
    let web = registry.scope("/web").unwrap();
    let success = web.int_stat("success").unwrap();
    success.add(3);
    web.int_stat("errors").unwrap().add(12_345_678);
    let latency = web.pmf_stat("latency").unwrap();
    for ms in [12.0, 15.0, 11.0, 30.0, 250.0] {
        latency.record(ms / 1000.0);
    }
    web.meter_stat("hits").unwrap().add(10);
    let handler = registry.scope("/handler").unwrap();
    handler.int_stat("requests").unwrap().add(3);
    let by_path = handler.int_dict_stat("byPath").unwrap();
    by_path.inc("/index");
    by_path.inc("/about");
    let processor = registry.scope("/processor").unwrap();
    processor.histogram_aggregation_stat("state").unwrap();
    processor.sum_aggregation_stat("finished").unwrap();
    let mut scopes = vec![web, handler];
    for i in 0..2 {
        let thread = processor.child(&format!("thread-{i}")).unwrap();
        thread.stat("state").unwrap().set("waitingForTask");
        thread.int_stat("finished").unwrap().add(i + 1);
        scopes.push(thread);
    }
    scopes.push(processor);
    let hidden = registry.scope("/extended/hidden").unwrap();
    hidden.int_stat("count").unwrap().add(7);
    hidden.set_collapsed(true);
    let extended = registry.scope("/extended").unwrap();
    extended.int_stat("shown").unwrap().add(1);
    let gauges = registry.scope("/gauges").unwrap();
    gauges.gauge("answer", || 42).unwrap();
    let odd = registry.scope("/odd").unwrap();
    odd.stat(HOSTILE_KEY)
        .unwrap()
        .set("<script>alert(3)</script>");
    scopes.extend([hidden, extended, gauges, odd]);
    Fixture {
        registry,
        _scopes: scopes,
        success,
        latency,
    }
}

const GAUGE_PANIC: &str = "this gauge always fails";

/// Adds `/gauges/broken`, a gauge that panics on every read (the panic hook prints each).
/// Its panics are kept off the test output (the sampler reads it ten times a second).
pub(crate) fn broken_gauge(registry: &Registry) -> Scope {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message != Some(GAUGE_PANIC) {
                previous(info);
            }
        }));
    });
    let gauges = registry.scope("/gauges").unwrap();
    gauges
        .gauge("broken", || -> i64 { panic!("{}", GAUGE_PANIC) })
        .unwrap();
    gauges
}

/// A server for `registry` on a free port, history sampled every 100 ms.
pub(crate) fn serve(registry: &Registry) -> scales_http::ServerHandle {
    config(registry).serve_in_background(0).unwrap()
}

pub(crate) fn config(registry: &Registry) -> scales_http::Config {
    scales_http::Config::new(HOSTILE_NAME)
        .registry(registry)
        .history(Duration::from_millis(100), 120, 2_000)
}

/// One response, read whole.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Got {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

pub(crate) fn get_with(agent: &ureq::Agent, url: &str) -> Got {
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap();
    Got {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

pub(crate) fn get(url: &str) -> Got {
    get_with(&agent(), url)
}

/// Sends raw bytes and reads until the server closes (or 10 s pass).
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether end-to-end tests run (`SCALES_E2E=1`); prints why not otherwise.
pub(crate) fn e2e(test: &str) -> bool {
    let on = std::env::var("SCALES_E2E").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipping {test}: set SCALES_E2E=1 (scripts/test.sh does) to run it");
    }
    on
}

/// A setting of an end-to-end server from the environment (its address, say), as
/// `scripts/test.sh` exports it after `scripts/services/<service>.sh start`; panics saying how
/// to get it when it is missing. Servers listen on ports picked when they start.
pub(crate) fn e2e_var(name: &str, service: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "SCALES_E2E=1 but {name} is not set: run scripts/test.sh, or start the server with \
             `scripts/services/{service}.sh start` and export what \
             `scripts/services/{service}.sh env` prints"
        ),
    }
}

/// `target/e2e` of the workspace, created.
pub(crate) fn e2e_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An axum application served on a free port of 127.0.0.1 from its own thread; stopped
/// (gracefully, then joined) when dropped.
pub(crate) struct App {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) fn serve_app(app: axum::Router) -> App {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    App {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl App {
    /// Stops the server and checks its thread ended without a panic.
    pub(crate) fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
