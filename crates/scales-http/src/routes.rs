//! The routes and their handlers: path and parameter parsing, format dispatch, errors as
//! short plain-text messages, and the security headers every response carries.
//!
//! Snapshots and rendering run on the blocking pool (`spawn_blocking`): a slow gauge or a
//! huge tree never holds up the async thread that serves other clients, and a panic there
//! becomes a 500 for that one request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use scales::format::{json, prometheus, query};
use scales::{Group, Node, Registry, Snapshot};

use crate::config::Config;
use crate::history::{History, SEP};
use crate::page::{self, PageRequest, CSP};

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const FORMATS: &str = "html, json, prettyjson, prometheus or history";
/// Parameter values echoed in error messages are cut to this many characters.
const ECHO_MAX: usize = 100;

/// The shared state of the routes.
#[derive(Clone)]
pub(crate) struct State {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    server_name: String,
    link_prefix: String,
    history: History,
    max_body_bytes: u64,
    sampler_started: AtomicBool,
}

impl State {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: config.registry.clone(),
                server_name: config.server_name.clone(),
                link_prefix: config.link_prefix.clone(),
                history: History::new(config.history),
                max_body_bytes: config.limits.max_body_bytes,
                sampler_started: AtomicBool::new(false),
            }),
        }
    }

    /// Starts the history sampler on the current tokio runtime, once. It stops when the
    /// routes are dropped.
    pub(crate) fn start_sampler(&self) {
        if !self.inner.history.enabled() || self.inner.sampler_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        tokio::spawn(sample_forever(Arc::downgrade(&self.inner)));
    }
}

async fn sample_forever(inner: Weak<Inner>) {
    let Some(interval) = inner.upgrade().map(|i| i.history.options().interval) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        // A panic in here (there should be none: gauges are caught by the core) loses one
        // sample, not the sampler.
        let _ = tokio::task::spawn_blocking(move || {
            let snapshot = inner.registry.snapshot();
            inner.history.record(&snapshot);
        })
        .await;
    }
}

pub(crate) fn router(config: &Config) -> axum::Router {
    router_with_state(State::new(config))
}

pub(crate) fn router_with_state(state: State) -> axum::Router {
    let limits_state = state.clone();
    axum::Router::new()
        .route("/status", get(redirect_to_slash))
        .route("/status/", get(status))
        .route("/status/{*rest}", get(status))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn_with_state(limits_state, guard))
}

/// Rejects declared bodies over the limit and adds the security headers to every response.
async fn guard(
    axum::extract::State(state): axum::extract::State<State>,
    request: Request,
    next: Next,
) -> Response {
    let too_big = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > state.inner.max_body_bytes);
    let mut response = if too_big {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large: the status server reads no bodies\n".to_owned(),
        )
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

async fn redirect_to_slash(uri: Uri) -> Response {
    // Relative, so that it also works when the routes are mounted under a prefix.
    let location = match uri.query() {
        Some(q) => format!("status/?{q}"),
        None => "status/".to_owned(),
    };
    let mut response = text(
        StatusCode::PERMANENT_REDIRECT,
        "Moved to /status/\n".to_owned(),
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn status(axum::extract::State(state): axum::extract::State<State>, uri: Uri) -> Response {
    let rest = uri
        .path()
        .strip_prefix("/status")
        .unwrap_or_default()
        .to_owned();
    run(state, rest, uri.query().map(str::to_owned), None).await
}

async fn metrics(axum::extract::State(state): axum::extract::State<State>, uri: Uri) -> Response {
    run(
        state,
        String::new(),
        uri.query().map(str::to_owned),
        Some(Format::Prometheus),
    )
    .await
}

async fn not_found(uri: Uri) -> Response {
    let _ = uri;
    text(
        StatusCode::NOT_FOUND,
        "Not found: the stats are at /status/ (HTML, ?format=json|prettyjson|prometheus) and /metrics\n"
            .to_owned(),
    )
}

async fn run(
    state: State,
    rest: String,
    query: Option<String>,
    forced: Option<Format>,
) -> Response {
    state.start_sampler();
    off_thread(move || respond(&state.inner, &rest, query.as_deref(), forced)).await
}

/// Runs `work` on the blocking pool; a panic there becomes a 500 for this request only.
async fn off_thread(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(reply) => reply,
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error while rendering the stats (see the server's log); the server goes on\n"
                .to_owned(),
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
    PrettyJson,
    Prometheus,
    History,
}

fn text(status: StatusCode, body: String) -> Response {
    reply(status, TEXT, body)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Body::from(body),
    )
        .into_response()
}

fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(ECHO_MAX).collect();
    if value.chars().count() > ECHO_MAX {
        out.push('…');
    }
    out.escape_debug().to_string()
}

/// The response for `/status{rest}?{query}` (or `/metrics` with `forced`).
fn respond(inner: &Inner, rest: &str, params: Option<&str>, forced: Option<Format>) -> Response {
    // Parameters: the first `format` and `query` win; others are ignored.
    let mut format_param = None;
    let mut query_param = None;
    for (key, value) in form_urlencoded::parse(params.unwrap_or("").as_bytes()) {
        match &*key {
            "format" if format_param.is_none() => format_param = Some(value.into_owned()),
            "query" if query_param.is_none() => query_param = Some(value.into_owned()),
            _ => {}
        }
    }
    let format = match (forced, format_param.as_deref()) {
        (Some(format), _) => format,
        (None, None | Some("" | "html")) => Format::Html,
        (None, Some("json")) => Format::Json,
        (None, Some("prettyjson")) => Format::PrettyJson,
        (None, Some("prometheus")) => Format::Prometheus,
        (None, Some("history")) => Format::History,
        (None, Some(other)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Unknown format \"{}\": use {FORMATS}\n", echo(other)),
            )
        }
    };
    let query_text = query_param.filter(|q| !q.trim().is_empty());
    let parsed_query = match query_text.as_deref().map(query::parse) {
        None => None,
        Some(Ok(q)) => Some(q),
        Some(Err(error)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "Bad query \"{}\": {error}\n",
                    echo(query_text.as_deref().unwrap_or_default())
                ),
            )
        }
    };

    // The path: percent-decoded segments; empty segments (trailing or doubled `/`) ignored.
    let mut segments = Vec::new();
    for raw in rest.split('/').filter(|s| !s.is_empty()) {
        match percent_decode_str(raw).decode_utf8() {
            Ok(segment) => segments.push(segment.into_owned()),
            Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "The path is not valid UTF-8 once percent-decoded\n".to_owned(),
                )
            }
        }
    }
    let display_path = format!("/{}", segments.join("/"));
    let not_found = || {
        text(
            StatusCode::NOT_FOUND,
            format!("No stats found with path {}\n", echo(&display_path)),
        )
    };
    // A `/` inside a decoded segment (`%2F`) cannot be part of any stat name.
    if segments.iter().any(|s| s.contains('/')) {
        return not_found();
    }
    let Some(snapshot) = inner.registry.snapshot_at(&display_path) else {
        return not_found();
    };
    let is_stat = matches!(snapshot.root(), Node::Stat(_));

    if format == Format::History {
        let base = if is_stat {
            &segments[..segments.len() - 1]
        } else {
            &segments[..]
        };
        let mut body = inner.history.to_json(base);
        // Kinds are read now (not from the last sample), so they are there from the start.
        let kinds: serde_json::Map<String, serde_json::Value> = snapshot
            .stats()
            .into_iter()
            .map(|(path, stat)| {
                // Keys of the history are relative to `base`.
                let key = &path[base.len()..];
                (key.join(&SEP.to_string()), stat.kind.name().into())
            })
            .collect();
        body["kinds"] = serde_json::Value::Object(kinds);
        return reply(
            StatusCode::OK,
            JSON,
            json::render(&body, json::Style::Compact),
        );
    }

    let snapshot = match &parsed_query {
        None => snapshot,
        Some(q) => {
            let kept =
                query::filter(snapshot.root(), q).unwrap_or_else(|| Node::Group(Group::default()));
            Snapshot::new(snapshot.path().to_vec(), kept, snapshot.taken_at())
        }
    };
    match format {
        Format::Json => reply(
            StatusCode::OK,
            JSON,
            json::to_string(&snapshot, json::Style::Compact),
        ),
        Format::PrettyJson => reply(
            StatusCode::OK,
            JSON,
            json::to_string(&snapshot, json::Style::Pretty),
        ),
        Format::Prometheus => reply(
            StatusCode::OK,
            prometheus::CONTENT_TYPE,
            prometheus::to_string(&snapshot, &prometheus::Options::default()),
        ),
        Format::Html | Format::History => reply(
            StatusCode::OK,
            HTML,
            page::render(&PageRequest {
                node: snapshot.root(),
                path: &segments,
                server_name: &inner.server_name,
                query: query_text.as_deref(),
                link_prefix: &inner.link_prefix,
                is_stat: matches!(snapshot.root(), Node::Stat(_)),
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_rendering_is_a_500_not_a_crash() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = runtime.block_on(off_thread(|| panic!("a renderer bug")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let fine = runtime.block_on(off_thread(|| text(StatusCode::OK, "ok".to_owned())));
        assert_eq!(fine.status(), StatusCode::OK);
    }

    #[test]
    fn echoed_values_are_cut_and_quoted() {
        assert_eq!(echo("a\"b"), "a\\\"b");
        assert_eq!(echo(&"x".repeat(150)).chars().count(), ECHO_MAX + 1);
    }
}
