//! The demo's HTTP service: a few endpoints with varied latency and some errors, every
//! request recorded in `/web` (the original README's web stats) and `/handler`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scales::Stats;

use crate::rng::Rng;
use crate::workers::{Job, Queue};

#[derive(Stats)]
struct WebStats {
    errors: scales::IntStat,
    success: scales::IntStat,
    latency: scales::PmfStat,
    hits: scales::MeterStat,
    #[stat(name = "byStatus")]
    by_status: scales::IntDictStat,
    #[stat(name = "hitsByEndpoint")]
    hits_by_endpoint: scales::MeterDictStat,
    #[stat(name = "latencyByEndpoint")]
    latency_by_endpoint: scales::NamedPmfDictStat,
    #[stat(name = "lastError")]
    last_error: scales::StringDictStat,
    #[stat(name = "bytesSent")]
    bytes_sent: scales::IntStat,
}

#[derive(Stats)]
struct HandlerStats {
    requests: scales::IntStat,
    latency: scales::PmfStat,
    #[stat(name = "byPath")]
    by_path: scales::IntDictStat,
}

struct App {
    web: scales::StatSet<WebStats>,
    handler: scales::StatSet<HandlerStats>,
    queue: Queue,
    rng: Mutex<Rng>,
}

impl App {
    fn random(&self, f: impl FnOnce(&mut Rng) -> f64) -> f64 {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

type Shared = Arc<App>;

/// The service's routes, recording into the global registry.
pub(crate) fn router(queue: Queue) -> Result<axum::Router, scales::Error> {
    let app = Arc::new(App {
        web: scales::init("/web")?,
        handler: scales::init("/handler")?,
        queue,
        rng: Mutex::new(Rng::new(7)),
    });
    Ok(axum::Router::new()
        .route("/", get(index))
        .route("/search", get(search))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .route("/work", get(work))
        .layer(middleware::from_fn_with_state(app.clone(), record))
        .with_state(app))
}

/// Records every request: latency, status, endpoint, size.
async fn record(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let endpoint = match request.uri().path() {
        "/" | "/search" | "/slow" | "/flaky" | "/work" => request.uri().path().to_owned(),
        _ => "other".to_owned(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status();
    let web = &app.web;
    web.hits.mark();
    web.hits_by_endpoint.mark(&endpoint);
    web.by_status.inc(status.as_str());
    web.latency.record(seconds);
    web.latency_by_endpoint.record(&endpoint, seconds);
    if status.is_server_error() {
        web.errors.inc();
        web.last_error.set(
            &endpoint,
            format!("{status} at {:?}", std::time::SystemTime::now()),
        );
    } else {
        web.success.inc();
    }
    if let Some(len) = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<i64>().ok())
    {
        web.bytes_sent.add(len);
    }
    app.handler.requests.inc();
    app.handler.by_path.inc(&endpoint);
    app.handler.latency.record(seconds);
    response
}

async fn pause(app: &App, f: impl FnOnce(&mut Rng) -> f64) {
    let ms = app.random(f);
    tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
}

async fn index(State(app): State<Shared>) -> &'static str {
    pause(&app, |r| r.range(0.2, 3.0)).await;
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
    pause(&app, |r| r.long_tail(25.0).min(2000.0)).await;
    format!("results for {q:?}: none, this is a demo\n").into_response()
}

async fn slow(State(app): State<Shared>) -> &'static str {
    pause(&app, |r| r.range(150.0, 450.0)).await;
    "finally\n"
}

async fn flaky(State(app): State<Shared>) -> Response {
    pause(&app, |r| r.range(5.0, 40.0)).await;
    if app.random(Rng::unit) < 0.3 {
        (StatusCode::INTERNAL_SERVER_ERROR, "flaky failed\n").into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn work(State(app): State<Shared>) -> Response {
    let millis = app.random(|r| r.long_tail(40.0).min(1500.0)) as u64;
    if app.queue.submit(Job { millis }) {
        (StatusCode::ACCEPTED, "queued\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "queue full\n").into_response()
    }
}
