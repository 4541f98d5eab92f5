//! The routes and their handlers: path and parameter parsing, format dispatch, errors as
//! short plain-text messages, and the security headers every response carries.
//!
//! Snapshots and rendering run on the blocking pool (`spawn_blocking`): a slow gauge or a
//! huge tree never holds up the async thread that serves other clients, and a panic there
//! becomes a 500 for that one request.
//!
//! Depends on: `config` (the settings the routes are built from), `auth`, `history` and
//! `page`. Implements [`Config::router`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use scales::format::{json, prometheus};
use scales::query;
use scales::{
    Group, Node, Registry, SketchDetail, Snapshot, SnapshotOptions, StatAt, StatPath, StatSnapshot,
    StatValue, Value,
};

use crate::auth::Credentials;
use crate::config::Config;
use crate::history::{History, SEP};
use crate::overview::Overview;
use crate::page::{self, PageRequest, CSP};

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const FORMATS: &str = "html, json, prettyjson, prometheus or history";
/// Parameter values echoed in error messages are cut to this many characters.
const ECHO_MAX: usize = 100;
/// `closed=`: at most this many group paths ...
pub(crate) const CLOSED_MAX_PATHS: usize = 256;
/// ... and this many bytes (once the query string is form-decoded).
pub(crate) const CLOSED_MAX_BYTES: usize = 8 * 1024;
/// `search=`: at most this many matches are answered (`"capped": true` says there were more).
pub(crate) const SEARCH_MAX_MATCHES: usize = 100;
/// `search=`: the longest text searched for, in characters.
pub(crate) const SEARCH_MAX_CHARS: usize = 200;

/// The shared state of the routes.
#[derive(Clone)]
pub(crate) struct State {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    server_name: String,
    link_prefix: Option<String>,
    history: History,
    overview: Overview,
    max_body_bytes: u64,
    credentials: Credentials,
    sampler_started: AtomicBool,
    /// Writes the Prometheus text of an unchanged tree faster, scrape after scrape.
    prometheus: Mutex<prometheus::Encoder>,
}

impl State {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: config.registry.clone(),
                server_name: config.server_name.clone(),
                link_prefix: config.link_prefix.clone(),
                history: History::new(config.history),
                overview: Overview::new(config.version.clone()),
                max_body_bytes: config.limits.max_body_bytes,
                credentials: config.credentials.clone(),
                sampler_started: AtomicBool::new(false),
                prometheus: Mutex::default(),
            }),
        }
    }

    /// Where the page's links point: the configured prefix, or else `/status/` under
    /// wherever the routes are mounted (`original` is the URL as the client sent it, `uri`
    /// what is left of it once `Router::nest` took its prefix off).
    fn link_prefix(&self, original: &Uri, uri: &Uri) -> String {
        if let Some(prefix) = &self.inner.link_prefix {
            return prefix.clone();
        }
        let mount = original.path().strip_suffix(uri.path()).unwrap_or_default();
        format!("{mount}/status/")
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

impl Config {
    /// The routes, to merge into or nest in an axum application. See
    /// [`router`](crate::router).
    pub fn router(&self) -> axum::Router {
        // Only `/status`, `/status/`, `/status/*` and `/metrics`, and no fallback, so every
        // other URL stays the application's (axum cannot merge two routers that both have a
        // fallback). The guard is a route layer, so the application's own responses do not
        // pass through it.
        let state = State::new(self);
        let guard_state = state.clone();
        routes(state).route_layer(middleware::from_fn_with_state(guard_state, guard))
    }
}

/// The background server's whole application: the routes and a plain-text 404 for
/// everything else, all with the security headers.
pub(crate) fn standalone(state: State) -> axum::Router {
    let guard_state = state.clone();
    routes(state)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(guard_state, guard))
}

fn routes(state: State) -> axum::Router {
    axum::Router::new()
        .route("/status", get(redirect_to_slash))
        .route("/status/", get(status))
        .route("/status/{*rest}", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Asks for credentials when they are set and missing or wrong, rejects declared bodies over
/// the limit, and adds the security headers to every response.
async fn guard(
    axum::extract::State(state): axum::extract::State<State>,
    request: Request,
    next: Next,
) -> Response {
    let credentials = &state.inner.credentials;
    let too_big = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > state.inner.max_body_bytes);
    let mut response = if !credentials.allow(request.headers()) {
        let mut response = text(
            StatusCode::UNAUTHORIZED,
            "Authentication required to see the stats\n".to_owned(),
        );
        for challenge in credentials.challenges() {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, challenge);
        }
        response
    } else if too_big {
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

async fn status(
    axum::extract::State(state): axum::extract::State<State>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Response {
    let asked = Asked {
        rest: uri
            .path()
            .strip_prefix("/status")
            .unwrap_or_default()
            .to_owned(),
        params: uri.query().map(str::to_owned),
        forced: None,
        link_prefix: state.link_prefix(&original, &uri),
    };
    run(state, asked).await
}

async fn metrics(axum::extract::State(state): axum::extract::State<State>, uri: Uri) -> Response {
    let asked = Asked {
        rest: String::new(),
        params: uri.query().map(str::to_owned),
        forced: Some(Format::Prometheus),
        link_prefix: String::new(),
    };
    run(state, asked).await
}

async fn not_found(uri: Uri) -> Response {
    let _ = uri;
    text(
        StatusCode::NOT_FOUND,
        "Not found: the stats are at /status/ (HTML, ?format=json|prettyjson|prometheus) and /metrics\n"
            .to_owned(),
    )
}

/// What a request asks for.
struct Asked {
    /// The path after `/status`, still percent-encoded (`/web/latency`).
    rest: String,
    /// The query string.
    params: Option<String>,
    /// The format of the route (`/metrics`), whatever the parameters say.
    forced: Option<Format>,
    /// Where the page's links point (`/status/`, `/admin/status/`).
    link_prefix: String,
}

async fn run(state: State, asked: Asked) -> Response {
    state.start_sampler();
    off_thread(move || respond(&state.inner, &asked)).await
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
    /// The status page (no `format`, or an empty one).
    Page,
    /// The original's page, the core's markup (`format=html`).
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

/// What a path names: a group or a stat, or keys inside a stat.
struct Target {
    /// The group or stat; for keys, their stat with a value of only those keys
    /// (`{"count": 5}` for `/web/latency/count`), as a query filter would leave it.
    snapshot: Snapshot,
    /// Where the stat is among the path's segments, when the target is a stat or keys in one.
    stat_at: Option<usize>,
}

/// Finds what `segments` name: the node at that path, or else the deepest stat on the way
/// and the keys after it (`/web/latency/count`, `/handler/byPath/%2Findex`). The answer is
/// the 404 message when there is nothing there.
fn locate(
    registry: &Registry,
    segments: &[String],
    options: &SnapshotOptions,
) -> Result<Target, String> {
    let path = |segments: &[String]| format!("/{}", segments.join("/"));
    // Group and stat names never contain `/`, so a segment that does (`%2F`) is a key.
    let names = segments
        .iter()
        .position(|s| s.contains('/'))
        .unwrap_or(segments.len());
    if names == segments.len() {
        if let Some(snapshot) = registry.snapshot_at_with(&path(segments), options) {
            let stat_at = matches!(snapshot.root(), Node::Stat(_)).then(|| segments.len() - 1);
            return Ok(Target { snapshot, stat_at });
        }
    }
    // The deepest node on the way: when it is a stat, the rest of the path are keys in it.
    for len in (1..=names.min(segments.len().saturating_sub(1))).rev() {
        let Some(snapshot) = registry.snapshot_at_with(&path(&segments[..len]), options) else {
            continue;
        };
        let Node::Stat(stat) = snapshot.root() else {
            break;
        };
        let stat_path = path(&segments[..len]);
        let value = keys_value(stat, &segments[len..], &stat_path)?;
        // One distribution of a NamedPmfDict keeps its sketch, for the page's histogram;
        // its JSON is the same as the pruned value's.
        if let (StatValue::Distributions(ds), [key]) = (&stat.value, &segments[len..]) {
            if let Some(entry) = ds.iter().find(|e| &*e.key == key.as_str()) {
                let one = Node::Stat(StatSnapshot {
                    kind: stat.kind,
                    value: StatValue::Distributions(vec![entry.clone()]),
                });
                return Ok(Target {
                    snapshot: Snapshot::new(snapshot.path().clone(), one, snapshot.taken_at()),
                    stat_at: Some(len - 1),
                });
            }
        }
        let pruned = Node::Stat(StatSnapshot {
            kind: stat.kind,
            value: StatValue::Value(
                segments[len..]
                    .iter()
                    .rev()
                    .fold(value, |inner, key| Value::Map(vec![(key.clone(), inner)])),
            ),
        });
        return Ok(Target {
            snapshot: Snapshot::new(snapshot.path().clone(), pruned, snapshot.taken_at()),
            stat_at: Some(len - 1),
        });
    }
    Err(format!(
        "No stats found with path {}\n",
        echo(&path(segments))
    ))
}

/// The value of `keys` inside `stat` (one key per level of its JSON shape), or why not.
fn keys_value(stat: &StatSnapshot, keys: &[String], stat_path: &str) -> Result<Value, String> {
    let missing = |depth: usize, why: &str| {
        let mut message = format!(
            "No key \"{}\" in stat {}",
            echo(&keys[depth]),
            echo(stat_path)
        );
        for (i, key) in keys[..depth].iter().enumerate() {
            message.push_str(if i == 0 { ", under \"" } else { " › \"" });
            message.push_str(&echo(key));
            message.push('"');
        }
        message.push_str(why);
        message.push('\n');
        message
    };
    if matches!(stat.value, StatValue::Error(_)) {
        return Err(missing(0, ": it could not be read"));
    }
    let mut value = stat.to_value();
    for (depth, key) in keys.iter().enumerate() {
        let Value::Map(entries) = value else {
            return Err(missing(depth, ": it has no keys"));
        };
        value = match entries.into_iter().find(|(k, _)| k == key) {
            Some((_, inner)) => inner,
            None => return Err(missing(depth, "")),
        };
    }
    Ok(value)
}

/// The value under `keys` in a stat left by [`locate`] (and maybe a query filter): an
/// empty object when the filter left nothing there.
fn value_at(node: &Node, keys: &[String]) -> Value {
    let Node::Stat(stat) = node else {
        return Value::Map(Vec::new());
    };
    let mut value = stat.to_value();
    for key in keys {
        value = match value {
            Value::Map(entries) => match entries.into_iter().find(|(k, _)| k == key) {
                Some((_, inner)) => inner,
                None => return Value::Map(Vec::new()),
            },
            _ => return Value::Map(Vec::new()),
        };
    }
    value
}

/// The response for `/status{rest}?{query}` (or `/metrics` with `forced`).
fn respond(inner: &Inner, asked: &Asked) -> Response {
    // Parameters: the first `format` and `query` win; others are ignored.
    let mut format_param = None;
    let mut query_param = None;
    let mut sketches_param = None;
    let mut closed_param = None;
    let mut search_param = None;
    for (key, value) in form_urlencoded::parse(asked.params.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "format" if format_param.is_none() => format_param = Some(value.into_owned()),
            "query" if query_param.is_none() => query_param = Some(value.into_owned()),
            "sketches" if sketches_param.is_none() => sketches_param = Some(value.into_owned()),
            "closed" if closed_param.is_none() => closed_param = Some(value.into_owned()),
            "search" if search_param.is_none() => search_param = Some(value.into_owned()),
            _ => {}
        }
    }
    let closed = match closed_param.as_deref().map(parse_closed).transpose() {
        Ok(closed) => closed.unwrap_or_default(),
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    if let Some(search) = &search_param {
        if asked.forced.is_some() || !matches!(format_param.as_deref(), None | Some("" | "json")) {
            return text(
                StatusCode::BAD_REQUEST,
                "search= answers JSON: leave out format=, or use format=json\n".to_owned(),
            );
        }
        if search.trim().is_empty() {
            return text(
                StatusCode::BAD_REQUEST,
                "Empty search: search=TEXT finds the stats whose path contains TEXT\n".to_owned(),
            );
        }
        if search.chars().count() > SEARCH_MAX_CHARS {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Search too long: at most {SEARCH_MAX_CHARS} characters\n"),
            );
        }
    }
    let format = match (asked.forced, format_param.as_deref()) {
        (Some(format), _) => format,
        (None, None | Some("")) => Format::Page,
        (None, Some("html")) => Format::Html,
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
    // `sketches=1`: JSON distributions carry their sketches (json::Options::sketches), for
    // `scales aggregate` to merge exactly.
    let sketches = match sketches_param.as_deref() {
        None | Some("" | "0" | "false" | "no" | "off") => false,
        Some("1" | "true" | "yes" | "on") => true,
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "Bad sketches value \"{}\": use 1 (distributions carry their sketches) or 0\n",
                    echo(other)
                ),
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
    for raw in asked.rest.split('/').filter(|s| !s.is_empty()) {
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
    // Text formats show six percentiles per distribution: summaries, without bucket lists
    // (less memory and time on big trees). The page draws histograms from the buckets, and
    // `sketches=1` carries them.
    let detail = match format {
        _ if search_param.is_some() => SketchDetail::Summary,
        Format::Json | Format::PrettyJson if !sketches => SketchDetail::Summary,
        Format::Prometheus => SketchDetail::Summary,
        _ => SketchDetail::Buckets,
    };
    let mut options = SnapshotOptions::default().with_distributions(detail);
    // `closed=` leaves the page's closed groups unread, on the status page only, without a
    // `query=` (whose matches may be inside them), and below a path of group names.
    let mut closed_full: Vec<(Vec<String>, StatPath)> = Vec::new();
    if format == Format::Page
        && query_text.is_none()
        && search_param.is_none()
        && !segments.iter().any(|s| s.contains('/'))
    {
        for relative in closed {
            let full: Vec<String> = segments.iter().cloned().chain(relative).collect();
            match StatPath::from_names(&full) {
                Ok(path) => closed_full.push((full, path)),
                Err(_) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "Bad closed= path {}: not a group path\n",
                            echo(&full.join("/"))
                        ),
                    )
                }
            }
        }
    }
    if !closed_full.is_empty() {
        let set: HashSet<StatPath> = closed_full.iter().map(|(_, p)| p.clone()).collect();
        options = options.with_prune(move |path| set.contains(path));
    }
    let Target { snapshot, stat_at } = match locate(&inner.registry, &segments, &options) {
        Ok(target) => target,
        Err(message) => return text(StatusCode::NOT_FOUND, message),
    };
    if let Some(search) = &search_param {
        return reply(StatusCode::OK, JSON, search_json(&snapshot, search));
    }
    // The groups left unread, by their segments, with their stats at every depth.
    let pruned: HashMap<Vec<String>, usize> = closed_full
        .into_iter()
        .filter_map(|(full, path)| Some((full, snapshot.pruned(&path)?)))
        .collect();
    // Keys inside the stat, after its name (`["count"]` for `/web/latency/count`).
    let keys = stat_at.map_or(&[][..], |at| &segments[at + 1..]);

    if format == Format::History {
        // Keys of the history are relative to the group shown: the node itself, or the
        // group holding the stat.
        let base = &segments[..stat_at.unwrap_or(segments.len())];
        let mut body = inner.history.to_json(base, &segments);
        // Kinds are read now (not from the last sample), so they are there from the start.
        let kinds: serde_json::Map<String, serde_json::Value> = snapshot
            .stats()
            .into_iter()
            .map(|StatAt { path, stat }| {
                let key: Vec<&str> = path[base.len()..].iter().map(|n| n.as_str()).collect();
                (key.join(&SEP.to_string()), stat.kind.name().into())
            })
            .collect();
        body["kinds"] = serde_json::Value::Object(kinds);
        return reply(StatusCode::OK, JSON, format!("{body}\n"));
    }
    if format == Format::Prometheus && !keys.is_empty() {
        let stat = &segments[..stat_at.map_or(0, |at| at + 1)];
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "The prometheus format has no metric for a key inside a stat: ask for the stat, \
                 {}?format=prometheus\n",
                echo(&format!("/{}", stat.join("/")))
            ),
        );
    }

    let snapshot = match &parsed_query {
        None => snapshot,
        Some(q) => {
            let kept =
                query::filter(snapshot.root(), q).unwrap_or_else(|| Node::Group(Group::default()));
            Snapshot::new(snapshot.path().clone(), kept, snapshot.taken_at())
        }
    };
    let json_text = |style| {
        if keys.is_empty() {
            let options = json::Options::from(style);
            let options = if sketches {
                options.with_sketches()
            } else {
                options
            };
            json::to_string(&snapshot, options)
        } else {
            let mut text = Vec::new();
            json::write_value(&value_at(snapshot.root(), keys), style, &mut text)
                .expect("writing into memory");
            text.push(b'\n');
            String::from_utf8(text).expect("the JSON writer writes ASCII only")
        }
    };
    match format {
        Format::Json => reply(StatusCode::OK, JSON, json_text(json::Style::Compact)),
        Format::PrettyJson => reply(StatusCode::OK, JSON, json_text(json::Style::Pretty)),
        Format::Prometheus => {
            // Scrapes of the whole tree use the encoder, one at a time; a scrape at the same
            // time, of a sub-tree or of a query's result renders in full (the same text,
            // without waiting, and without making the encoder's kept text that one's).
            let encoder = if segments.is_empty() && parsed_query.is_none() {
                inner.prometheus.try_lock().ok()
            } else {
                None
            };
            let body = match encoder {
                Some(mut encoder) => encoder.to_string(&snapshot),
                None => prometheus::to_string(&snapshot, &prometheus::Options::default()),
            };
            reply(StatusCode::OK, prometheus::CONTENT_TYPE, body)
        }
        Format::Page | Format::Html | Format::History => {
            let request = PageRequest {
                node: snapshot.root(),
                path: &segments,
                server_name: &inner.server_name,
                query: query_text.as_deref(),
                link_prefix: &asked.link_prefix,
                stat_at,
                history: &inner.history,
                overview: &inner.overview,
                pruned: &pruned,
            };
            let body = if format == Format::Html {
                page::render_original(&request)
            } else {
                page::render(&request)
            };
            reply(StatusCode::OK, HTML, body)
        }
    }
}

/// The groups of `closed=`, each as its names: relative to the page's path, for the page to
/// leave unread (see [`page`]'s pruned groups).
///
/// Encoding: once the query string is form-decoded as usual, the value is a list of group
/// paths separated by `,`; each path is its names separated by `/`, and each name is
/// percent-encoded (at least `%`, `,` and `/`, as JavaScript's `encodeURIComponent` does), so
/// neither separator ever appears unescaped inside a name. `closed=web,processor/thread-0`
/// (sent as `closed=web%2Cprocessor%2Fthread-0`). An empty value is no path.
///
/// Limits: at most [`CLOSED_MAX_PATHS`] paths and [`CLOSED_MAX_BYTES`] bytes; an empty path
/// or name, a name that is not UTF-8 once percent-decoded, and anything over the limits are a
/// `400` saying so.
pub(crate) fn parse_closed(value: &str) -> Result<Vec<Vec<String>>, String> {
    if value.len() > CLOSED_MAX_BYTES {
        return Err(format!(
            "closed= is too long ({} bytes): at most {CLOSED_MAX_BYTES} bytes\n",
            value.len()
        ));
    }
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let count = value.split(',').count();
    if count > CLOSED_MAX_PATHS {
        return Err(format!(
            "closed= names {count} groups: at most {CLOSED_MAX_PATHS}\n"
        ));
    }
    let mut paths = Vec::with_capacity(count);
    for (i, raw) in value.split(',').enumerate() {
        if raw.is_empty() {
            return Err(format!(
                "Malformed closed=: path {} of {count} is empty (paths are separated by ',')\n",
                i + 1
            ));
        }
        let mut names = Vec::new();
        for segment in raw.split('/') {
            let name = match percent_decode_str(segment).decode_utf8() {
                Ok(name) if !name.is_empty() => name.into_owned(),
                Ok(_) => {
                    return Err(format!(
                        "Malformed closed= path {}: an empty name (names are separated by '/')\n",
                        echo(raw)
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "Malformed closed= path {}: not UTF-8 once percent-decoded\n",
                        echo(raw)
                    ))
                }
            };
            names.push(name);
        }
        if StatPath::from_names(&names).is_err() {
            return Err(format!(
                "Malformed closed= path {}: not a group path\n",
                echo(raw)
            ));
        }
        paths.push(names);
    }
    Ok(paths)
}

/// The answer to `search=TEXT`: the stats of `snapshot` whose path contains TEXT (case
/// folded, as the page's filter compares), and the keys of keyed stats whose path with the key
/// does, in tree order, at most [`SEARCH_MAX_MATCHES`]:
/// `{"search": TEXT, "matches": ["web/latency", ...], "capped": false, "limit": 100}`. Paths
/// are as the page's `data-path`: names from the tree's root joined by `/`. A search reads one
/// snapshot of the node, distributions as summaries.
fn search_json(snapshot: &Snapshot, search: &str) -> String {
    let needle = search.trim().to_lowercase();
    let mut matches: Vec<String> = Vec::new();
    let mut capped = false;
    let mut take = |path: String| {
        if matches.len() < SEARCH_MAX_MATCHES {
            matches.push(path);
        } else {
            capped = true;
        }
    };
    snapshot.for_each_stat(|path, stat| {
        let joined = path
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join("/");
        if joined.to_lowercase().contains(&needle) {
            take(joined);
            return;
        }
        let keyed = matches!(
            stat.value,
            StatValue::Distributions(_)
                | StatValue::Meters(_)
                | StatValue::Counts(_)
                | StatValue::Strings(_)
                | StatValue::Durations(_)
                | StatValue::Value(Value::Map(_))
        );
        if keyed {
            if let Value::Map(entries) = stat.to_value() {
                for (key, _) in entries {
                    let with_key = format!("{joined}/{key}");
                    if with_key.to_lowercase().contains(&needle) {
                        take(with_key);
                    }
                }
            }
        }
    });
    let body = serde_json::json!({
        "search": search,
        "matches": matches,
        "capped": capped,
        "limit": SEARCH_MAX_MATCHES,
    });
    format!("{body}\n")
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
