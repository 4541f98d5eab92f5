//! Tower middleware that records every HTTP request of a service into [scales] stats:
//! counts, status classes and latencies per route template, requests in flight, and the
//! bytes of request and response bodies.
//!
//! [`ScalesLayer`] is a [`tower_layer::Layer`] for any [`tower_service::Service`] of
//! [`http::Request`]s to [`http::Response`]s, so it serves axum, hyper (through
//! `hyper_util::service::TowerToHyperService`) and anything else built on tower. It needs no
//! async runtime.
//!
//! # Example
//!
//! With axum, add the layer with `Router::layer`: routes are keyed by their template
//! (`/users/{id}`), as axum's `MatchedPath` gives it (feature `axum`).
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower::ServiceExt; // oneshot
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = scales::Registry::new(); // or leave the scope out: the global `/web`
//! let layer = scales_tower::ScalesLayer::builder()
//!     .scope(registry.scope("/web")?)
//!     .build()?;
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(layer);
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! for uri in ["/users/1", "/users/2", "/nope"] {
//!     let request = http::Request::get(uri).body(axum::body::Body::empty())?;
//!     let response = app.clone().oneshot(request).await?;
//!     axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! let web = registry.scope("/web")?;
//! assert_eq!(web.meter_dict_stat("hitsByRoute")?.rates("/users/{id}").unwrap().count, 2);
//! assert_eq!(web.meter_dict_stat("hitsByRoute")?.rates("unmatched").unwrap().count, 1);
//! assert_eq!(web.int_dict_stat("byStatusClass")?.get("2xx"), 2);
//! assert_eq!(web.int_dict_stat("byStatusClass")?.get("4xx"), 1);
//! assert_eq!(web.int_stat("success")?.get(), 3);
//! assert_eq!(web.int_stat("bytesSent")?.get(), 10);
//! assert_eq!(web.int_stat("inFlight")?.get(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! Without axum (or for axum's fallback), a classifier names the route from the request's
//! head; requests it returns `None` for are counted under `unmatched`:
//!
//! ```
//! use std::borrow::Cow;
//!
//! # fn main() -> Result<(), scales::Error> {
//! let layer = scales_tower::ScalesLayer::builder()
//!     .scope(scales::Registry::new().scope("/api")?)
//!     .classify(|head: &http::request::Parts| match head.uri.path() {
//!         "/" => Some(Cow::Borrowed("/")),
//!         path if path.starts_with("/users/") => Some(Cow::Borrowed("/users/{id}")),
//!         _ => None,
//!     })
//!     .build()?;
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! # What is recorded
//!
//! Under the layer's scope (default `/web`, the global collection of the original README's
//! web stats, whose `success`, `errors`, `latency` and `hits` come out as the README shows
//! them):
//!
//! | stat | type | what |
//! |---|---|---|
//! | `hits` | `MeterStat` | every request, as a count and 1/5/15-minute rates |
//! | `hitsByRoute` | `MeterDictStat` | the same, by route key |
//! | `success` | `IntStat` | responses with a status below 500 |
//! | `errors` | `IntStat` | responses with a 5xx status, and inner-service errors |
//! | `errorsByRoute` | `IntDictStat` | the same, by route key |
//! | `serviceErrors` | `IntStat` | calls whose inner service returned `Err` (no response) |
//! | `byStatusClass` | `IntDictStat` | responses by class: `1xx` to `5xx`, present from the start at 0 |
//! | `latency` | `PmfStat` | seconds from the call to the response head (or the service's error) |
//! | `latencyByRoute` | `NamedPmfDictStat` | the same, by route key |
//! | `inFlight` | `IntStat` | requests called and not yet over (see below) |
//! | `cancelled` | `IntStat` | requests dropped before their response head: a client that went away, a timeout above this layer, a panic |
//! | `bytesReceived` | `IntStat` | request body bytes, as the service reads them |
//! | `bytesSent` | `IntStat` | response body bytes, as the server takes them |
//! | `latencyToEnd`, `latencyToEndByRoute` | `PmfStat`, `NamedPmfDictStat` | with [`Builder::latency_to_end`]: seconds from the call to the end of the response body |
//!
//! Every request counts in `hits` when it is called, then in exactly one of `success`,
//! `errors` and `cancelled`; `latency` counts every request that got a response head or an
//! error. Status classes are a keyed stat rather than five stats (`/web/status/2xx`): one
//! stat is one Prometheus family with a `key` label, which is what `sum by` and ratios
//! want, and a snapshot shows the classes side by side.
//!
//! **Route keys** are route templates, never raw paths, so the number of keys stays bounded:
//! axum's `MatchedPath` when the request carries one (feature `axum`), else the
//! [classifier](Builder::classify)'s answer, else [`UNMATCHED`]. axum sets `MatchedPath`
//! before the middleware of `Router::layer` runs; a layer wrapped around the whole router
//! from outside sees requests before routing, so there every request is a classifier's (or
//! `unmatched`). As a safety net, the stats keyed by route keep at most
//! [`DEFAULT_MAX_ROUTES`] keys ([`Builder::max_routes`]); further routes are counted under
//! [`scales::OVERFLOW_KEY`], so totals stay exact.
//!
//! **In flight** means from the call until the response body ends, fails or is dropped — or
//! until the response future is dropped before the head. Each request holds a guard whose
//! `Drop` leaves the count, so a client that disconnects, a timeout, or a panic unwinding
//! through the inner service never leaves a request counted.
//!
//! **Bytes** are counted from the body frames as they stream through (the length of each
//! data frame), never by buffering a body. A size hint is a promise, not bytes sent, so it
//! is used only to tell, when a server drops a response body without polling it to its end,
//! that no bytes were left (for `latencyToEnd`).
//!
//! # Cost
//!
//! Declaring happens once, in [`Builder::build`]; a request then takes no lock: the stats are
//! the core's per-thread counters and sketches, and the keyed ones a lock-free lookup of the
//! route key. `BENCHMARKS.md` (*Tower middleware*) measures the cost per request against a
//! bare service and against `tower-http`'s `TraceLayer` and `axum-prometheus`.
//!
//! # Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | no | route keys from `axum::extract::MatchedPath` (adds an axum dependency without its default features) |

#![forbid(unsafe_code)]

mod body;
mod record;
mod service;

pub use body::{RequestBody, ResponseBody};
pub use service::{
    Builder, ResponseFuture, ScalesLayer, ScalesService, DEFAULT_MAX_ROUTES, DEFAULT_PATH,
    UNMATCHED,
};
