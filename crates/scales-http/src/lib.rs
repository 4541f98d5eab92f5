//! The scales status page over HTTP: browsable HTML, JSON and Prometheus for a
//! [`scales::Registry`], in one line.
//!
//! # Overview
//!
//! [`serve_in_background`] starts a small HTTP server on its own thread, with its own
//! single-threaded async runtime (the host program needs none), bound to 127.0.0.1 unless
//! you pass another address. It returns a [`ServerHandle`] that stops the server on
//! [`ServerHandle::stop`] or when dropped; [`ServerHandle::detach`] lets it serve for the
//! life of the program. Programs that already run axum merge or nest the same routes with
//! [`router`]. [`Config`] sets everything else (registry, server name, limits, history).
//!
//! | route | serves |
//! |---|---|
//! | `GET /status/`, `GET /status/<path>` (with or without a trailing `/`) | the tree (or a sub-tree, or one stat) as an HTML page, the original's layout, with live refresh, readable numbers and trend lines |
//! | `GET /status/<path>/<stat>/<key>` | one key of a stat (`/status/web/latency/count`; one segment per level, `/status/dists/a/median`), in every format but Prometheus (a `400`); a key holding `/` is percent-encoded (`/status/handler/byPath/%2Findex` for the key `/index`); an unknown key is a `404` |
//! | `…?format=json`, `…?format=prettyjson` | the same node as JSON (`application/json`), the core's shapes |
//! | `…?format=prometheus`, `GET /metrics` | Prometheus text format 0.0.4 |
//! | `…?format=history` | the recent history of the numbers at or below the node, as JSON (feeds the trend lines) |
//! | `…?query=key`, `…?query=key>=10` | only the matching entries ([`scales::query`]); a malformed query is a 400 |
//! | `GET /status` | a 308 redirect to `/status/` |
//!
//! Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff` and a
//! Content-Security-Policy that allows only the page's own inline style and script (by hash)
//! and requests to the same origin.
//!
//! # Example
//!
//! ```
//! let web = scales::collection("/web")?;
//! web.int_stat("success")?.inc();
//!
//! // Port 0 picks a free port; a real program passes 8765 or so.
//! let server = scales_http::serve_in_background(0, "something-server-42")?;
//! println!("stats at {}", server.url());
//! # let addr = server.local_addr();
//! # assert!(addr.ip().is_loopback());
//! server.stop(); // or let it drop
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A program that serves the page for as long as it runs detaches the handle:
//!
//! ```no_run
//! scales_http::serve_in_background(8765, "something-server-42")?.detach();
//! # Ok::<(), scales_http::Error>(())
//! ```
//!
//! In an axum application, the routes claim only `/status`, `/status/`, `/status/…` and
//! `/metrics`: every other URL stays the application's (its own fallback included), and
//! the page's links follow wherever the routes are nested:
//!
//! ```
//! use axum::Router;
//!
//! let app: Router = Router::new()
//!     .route("/", axum::routing::get(|| async { "the app" }))
//!     .merge(scales_http::router(scales::registry(), "my-server")) // at /status/
//!     .nest("/admin", scales_http::router(scales::registry(), "my-server")) // at /admin/status/
//!     .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "the app's own 404") });
//! # let _ = app;
//! ```
//!
//! # Robustness
//!
//! Snapshots are taken and rendered on the runtime's blocking pool, so a slow gauge does not
//! stall other clients, and a panic while rendering becomes a 500 for that request only. A
//! gauge closure that panics shows as an error on its stat (the core catches it). Taking a
//! snapshot never blocks recording threads.
//!
//! The background server ([`serve_in_background`], [`Config::serve_in_background`]) holds
//! these limits ([`Limits`] changes them):
//!
//! | limit | default | past it |
//! |---|---|---|
//! | open connections | 256 | the newcomer takes the place of an open connection without a request in progress (below); when every one has a request in progress, `503` with `Retry-After: 1` |
//! | time to send a request head | 10 s, from the connection's start or the end of its previous response | the connection is closed |
//! | life of a connection, keep-alive included | 60 s | closed (a request in progress gets 2 s to finish) |
//! | request head size | 16 KiB | `431` |
//! | declared request body (`Content-Length`) | 64 KiB; bodies are never read | `413` |
//! | connections waiting to be accepted (listen backlog) | 4096, capped by the kernel (`net.core.somaxconn`) | the client's connect is retried after a second or more |
//! | threads rendering at once | 4 | requests wait their turn |
//!
//! **Full server, slow clients.** When every connection slot is taken and one more client
//! connects, the server closes, to make room, the connection least likely to be a client
//! waiting for an answer: first those that have not completed a request head (slow-header
//! and idle connections, "slowloris"), the oldest first; then those idle between requests
//! (keep-alive), the longest idle first. A connection with a request in progress (from its
//! complete request head until its response is queued for sending) is never closed for
//! another, nor is one just accepted before it had a turn to read. So however many
//! connections hold slots without completing requests, a client that sends its request
//! right away is served, and a browser's keep-alive connection (the page's live refresh)
//! outlasts them all. Under 1,000 slow-header and 2,000 idle connections that reconnect as
//! soon as they are closed, every normal request in the crate's pressure test is answered
//! within 1 s (most of that time is the kernel's accept queue, full of the attackers'
//! connects), and the keep-alive client within a few milliseconds.
//!
//! **Load.** The server's threads run at the lowest CPU priority (nice 19 on Linux; see
//! [`Config::low_priority`]): when the host's threads want the cores, they get them and the
//! page waits, so heavy scraping or an attack on the page costs the host's recording little.
//! In the crate's pressure test (two cores, an optimised build), recording threads beside
//! 64 clients asking for one page after the other, 64 slow readers and 1,000 slow-header
//! and idle connections kept 92 % (one thread) and 97 % (two) of their idle rate, where at
//! the host's priority they kept about 40 %. The price: while the host keeps every core
//! busy, the page is slow (it gets what the host leaves); [`Config::low_priority`]`(false)`
//! turns this off.
//!
//! Routes mounted in the host's own axum application ([`router`]) get the security headers
//! and, when set, authentication, but the connection limits and priority are then the host's
//! server's.
//!
//! # Security
//!
//! **What the page shows.** Anyone who reaches the routes reads, without writing anything
//! (they answer `GET` only): every stat's name and value, collapsed groups included (one
//! click or URL away); whatever the host's gauge closures return, and the messages of those
//! that fail or panic; the server name (in the page title); every stat's kind; the last ten
//! minutes of every number (`?format=history`); the same again as Prometheus text at
//! `/metrics`. Nothing else: no environment, files, process or request data. Each request
//! also runs the host's gauges (within the gauge timeout), so a stranger who can reach the
//! page can make the host do that work.
//!
//! **Binding beyond localhost.** The server binds 127.0.0.1 unless told otherwise, and that
//! is the safe place for it. To serve other machines, require credentials on every route
//! (every format, `/metrics` and the history too): [`Config::basic_auth`] for people with
//! browsers (the browser asks once; the page and its live refresh then work as usual) and
//! [`Config::bearer_token`] for scrapers and scripts; either one lets a request in when both
//! are set. Others get `401` with a `WWW-Authenticate` challenge and no stats. Secrets are
//! kept only as SHA-256 digests and compared in constant time (`subtle`), but failed attempts
//! are not slowed down: use long random secrets (`openssl rand -hex 16`). Neither scheme
//! hides anything on the wire, so put a TLS-terminating reverse proxy (nginx, Caddy, Envoy)
//! in front, with the status server bound to loopback behind it, or at least limit who can
//! connect with a firewall.
//!
//! ```no_run
//! let server = scales_http::Config::new("my-server")
//!     .basic_auth("ops", &std::env::var("STATUS_PASSWORD")?)
//!     .bearer_token(&std::env::var("STATUS_TOKEN")?)
//!     .serve_in_background(([127, 0, 0, 1], 8765))?; // the TLS proxy forwards here
//! # server.detach();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

// The modules' dependencies point one way (each module's doc says what it uses):
// `server` → `routes`, `config`, `error`; `routes` → `config`, `auth`, `history`, `page`;
// `history` → `config`; `config` → `auth`; `auth`, `page` and `error` use none. The
// entry points that tie them together are here and in `impl Config` blocks of the module
// that owns the behaviour (`Config::router` in `routes`, `Config::serve_in_background` in
// `server`).
mod auth;
mod config;
mod error;
mod histogram;
mod history;
mod overview;
mod page;
mod routes;
mod server;
mod units;

pub use config::{BindAddr, Config, Limits};
pub use error::Error;
pub use server::ServerHandle;

/// Serves the global registry's stats on `addr` from a background thread.
///
/// `addr` is a port (bound on 127.0.0.1) or a full socket address: binding another interface
/// than loopback is an explicit choice. Port 0 picks a free port; see
/// [`ServerHandle::local_addr`]. The page title is `{server_name} - Status`.
///
/// # Errors
/// When the address cannot be bound or the runtime or thread cannot be started.
pub fn serve_in_background(
    addr: impl Into<BindAddr>,
    server_name: &str,
) -> Result<ServerHandle, Error> {
    Config::new(server_name).serve_in_background(addr)
}

/// The status routes for `registry`, to merge into or nest in an existing axum application
/// (`app.merge(scales_http::router(scales::registry(), "my-server"))`, or
/// `.nest("/admin", ..)` for `/admin/status/`).
///
/// They claim only `/status`, `/status/`, `/status/…` and `/metrics`, and have no fallback:
/// every other URL is left to the application, so an application with its own fallback can
/// merge them. Their responses carry the security headers; the application's do not get
/// them. An application with state merges them after its `with_state(..)`.
///
/// The page's links and its script's requests follow the URL the routes answer at (found
/// with axum's `OriginalUri`, so nesting needs no setting); when a reverse proxy in front
/// changes the path, set [`Config::link_prefix`]. The history for the trend lines is
/// sampled by a task spawned on the first request.
pub fn router(registry: &scales::Registry, server_name: &str) -> axum::Router {
    Config::new(server_name).registry(registry).router()
}

/// Doctest-only: a dropped [`ServerHandle`] is a warning (so an error under
/// `deny(unused_must_use)`), while keeping or detaching it is not.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() -> Result<(), scales_http::Error> {
///     scales_http::serve_in_background(0, "x")?;
///     Ok(())
/// }
/// ```
///
/// ```
/// #![deny(unused_must_use)]
/// fn main() -> Result<(), scales_http::Error> {
///     let server = scales_http::serve_in_background(0, "x")?;
///     server.stop();
///     scales_http::serve_in_background(0, "x")?.detach();
///     Ok(())
/// }
/// ```
#[cfg(doctest)]
pub struct MustUseHandle;
