//! The demo's HTTP service: a few endpoints with varied latency and some errors, every
//! request recorded in `/web` by `scales_tower::ScalesLayer` (the original README's web
//! stats, and more, by route template) and in `/handler`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scales::Stats;

use crate::workers::{Job, Queue};

#[derive(Stats)]
struct WebStats {
    #[stat(name = "lastError")]
    last_error: scales::StringDictStat,
}

#[derive(Stats)]
struct HandlerStats {
    requests: scales::IntStat,
    latency: scales::PmfStat,
    #[stat(name = "byPath")]
    by_path: scales::IntDictStat,
}

/// Beside the layer's stats in `/web`, the time of each route's last server error; global,
/// so they outlive the service (the summary and the final dump read them after it stopped).
static WEB: scales::Collection<WebStats> = scales::Collection::new("/web");
/// The original README's class stats, recorded by hand as there.
static HANDLER: scales::Collection<HandlerStats> = scales::Collection::new("/handler");

struct App {
    queue: Queue,
    rng: Mutex<fastrand::Rng>,
}

impl App {
    fn random(&self, f: impl FnOnce(&mut fastrand::Rng) -> f64) -> f64 {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

type Shared = Arc<App>;

/// The service's routes, recording into the global registry.
pub(crate) fn router(queue: Queue) -> Result<axum::Router, scales::Error> {
    // Requests, status classes, latencies, bytes and in-flight requests, in `/web`.
    let web = scales_tower::ScalesLayer::new()?;
    if let Some(error) = WEB.declare_error().or(HANDLER.declare_error()) {
        return Err(error.clone());
    }
    let app = Arc::new(App {
        queue,
        rng: Mutex::new(fastrand::Rng::new()),
    });
    Ok(axum::Router::new()
        .route("/", get(index))
        .route("/search", get(search))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .route("/work", get(work))
        .layer(middleware::from_fn(record))
        .layer(web)
        .with_state(app))
}

/// The current time in UTC, to the second (`2026-12-01T21:40:03Z`).
fn utc_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Records the `/handler` stats and `/web/lastError` of every request (the layer records
/// the rest).
async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str)
        .to_owned();
    let timer = HANDLER.latency.time();
    let response = next.run(request).await;
    drop(timer);
    HANDLER.requests.inc();
    HANDLER.by_path.inc(&route);
    let status = response.status();
    if status.is_server_error() {
        WEB.last_error
            .set(&route, format!("{status} at {}", utc_now()));
    }
    response
}

/// Uniform in [lo, hi).
fn uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.f64()
}

/// A long-tailed value around `median` (log-normal, sigma 0.8): most near it, a few
/// several times above.
fn long_tail(rng: &mut fastrand::Rng, median: f64) -> f64 {
    // Box-Muller: a standard normal from two uniforms.
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (0.8 * normal).exp()
}

/// Waits for the milliseconds `f` draws, as a handler doing work.
async fn pause(app: &App, f: impl FnOnce(&mut fastrand::Rng) -> f64) {
    let ms = app.random(f);
    tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
}

async fn index(State(app): State<Shared>) -> &'static str {
    pause(&app, |r| uniform(r, 0.2, 3.0)).await;
    "scales-demo: try /search?q=x, /slow, /flaky, /work\n"
}

#[derive(serde::Deserialize)]
struct SearchParams {
    q: Option<String>,
}

async fn search(State(app): State<Shared>, Query(params): Query<SearchParams>) -> Response {
    let q = params.q.unwrap_or_default();
    if q.is_empty() {
        return (StatusCode::BAD_REQUEST, "missing ?q=\n").into_response();
    }
    pause(&app, |r| long_tail(r, 25.0).min(2000.0)).await;
    format!("results for {q:?}: none, this is a demo\n").into_response()
}

async fn slow(State(app): State<Shared>) -> &'static str {
    pause(&app, |r| uniform(r, 150.0, 450.0)).await;
    "finally\n"
}

async fn flaky(State(app): State<Shared>) -> Response {
    pause(&app, |r| uniform(r, 5.0, 40.0)).await;
    if app.random(fastrand::Rng::f64) < 0.3 {
        (StatusCode::INTERNAL_SERVER_ERROR, "flaky failed\n").into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn work(State(app): State<Shared>) -> Response {
    let millis = app.random(|r| long_tail(r, 40.0).min(1500.0)) as u64;
    if app.queue.submit(Job { millis }) {
        (StatusCode::ACCEPTED, "queued\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "queue full\n").into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The body of one `GET path`, read to the end of the connection.
    async fn body_of(addr: SocketAddr, path: &str) -> Vec<u8> {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&response[..end]).to_lowercase();
        assert!(!head.contains("transfer-encoding"), "{head}");
        response.split_off(end + 4)
    }

    #[test]
    fn latencies_are_uniform_or_long_tailed_as_drawn() {
        // Seeded, so the check sees the same draws every run.
        let mut rng = fastrand::Rng::with_seed(7);
        let uniform: Vec<f64> = (0..10_000)
            .map(|_| super::uniform(&mut rng, 150.0, 450.0))
            .collect();
        assert!(uniform.iter().all(|x| (150.0..450.0).contains(x)));
        let mean = uniform.iter().sum::<f64>() / uniform.len() as f64;
        assert!((mean - 300.0).abs() < 5.0, "{mean}");

        let mut tail: Vec<f64> = (0..20_001)
            .map(|_| super::long_tail(&mut rng, 25.0))
            .collect();
        tail.sort_by(f64::total_cmp);
        let median = tail[tail.len() / 2];
        assert!((median - 25.0).abs() < 1.0, "{median}");
        // Log-normal with sigma 0.8: P(x > 2 * median) = P(Z > ln 2 / 0.8) ~ 0.193.
        let above = tail.iter().filter(|&&x| x > 50.0).count() as f64 / tail.len() as f64;
        assert!((0.17..0.22).contains(&above), "{above}");
    }

    #[test]
    fn bytes_sent_is_the_sum_of_the_response_bodies_served() {
        let gauges = scales::collection("/gauges").unwrap();
        let pool = crate::workers::start(1, &gauges).unwrap();
        let routes = super::router(pool.sender()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (served, counted) = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, routes).await });
            let mut served = 0;
            for path in [
                "/",
                "/search?q=rust",
                "/search",
                "/flaky",
                "/work",
                "/nope",
                "/",
            ] {
                served += body_of(addr, path).await.len();
            }
            let snapshot = scales::snapshot();
            (
                served,
                snapshot.stat("/web/bytesSent").unwrap().value.clone(),
            )
        });
        assert!(served > 100, "{served}");
        assert_eq!(counted, scales::StatValue::Int(served as i64));
    }
}
