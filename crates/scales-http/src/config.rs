//! Server configuration: which registry, the server name, limits and history size. Plain
//! data and its builder methods; what a [`Config`] starts is implemented where that
//! behaviour lives ([`Config::router`] in `routes`, [`Config::serve_in_background`] in
//! `server`).
//!
//! Depends on: `auth` (the secrets it keeps), and nothing else of the crate.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use scales::Registry;

use crate::auth::{Credentials, Secret};

/// Where to listen: a port on 127.0.0.1 (`8765.into()`), or any socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindAddr(pub SocketAddr);

impl From<u16> for BindAddr {
    /// The port on 127.0.0.1 (the loopback interface only).
    fn from(port: u16) -> Self {
        Self(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
    }
}

impl From<SocketAddr> for BindAddr {
    fn from(addr: SocketAddr) -> Self {
        Self(addr)
    }
}

impl From<(IpAddr, u16)> for BindAddr {
    fn from((ip, port): (IpAddr, u16)) -> Self {
        Self(SocketAddr::new(ip, port))
    }
}

impl From<([u8; 4], u16)> for BindAddr {
    fn from((ip, port): ([u8; 4], u16)) -> Self {
        Self(SocketAddr::from((ip, port)))
    }
}

/// Limits that keep misbehaving clients from hurting the server or each other.
///
/// When `max_connections` are open and one more client connects, the server makes room by
/// closing the open connection that is least likely to be a client in the middle of a
/// request: first the connections that have not completed a request head yet (slow-header
/// and idle connections), the oldest first; then connections idle between requests
/// (keep-alive), the longest idle first. A connection is never closed for another while a
/// request of its own is in progress (from its complete request head until its response has
/// been handed to the socket); only when every open connection has one is the newcomer
/// answered `503` (with `Retry-After: 1`) and closed. So clients that hold connections
/// without completing requests cannot lock out a client that asks and waits for the answer,
/// however many they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; when full, a new one takes the place of an open one that
    /// has no request in progress (see above), or else is answered `503` and closed.
    /// Default 256.
    pub max_connections: usize,
    /// Time a client has to send a request's head (request line and headers), from the
    /// connection's start or the end of its previous response; then the connection is
    /// closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// Longest life of one connection, keep-alive included; then it is closed (clients
    /// reconnect). Default 60 s.
    pub connection_lifetime: Duration,
    /// Size of the request head (request line and headers) at most; bigger is answered
    /// `431`. At least 8192 (the HTTP parser's floor). Default 16 KiB.
    pub max_header_bytes: usize,
    /// Declared request body size at most (`Content-Length`); bigger is answered `413`.
    /// Bodies are never read. Default 64 KiB.
    pub max_body_bytes: u64,
    /// Connections the kernel queues for the server to accept (the listen backlog; Linux
    /// caps it at `net.core.somaxconn`, 4096 by default). Connections beyond it wait for
    /// the client's retry, a second or more. Default 4096.
    pub listen_backlog: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            listen_backlog: 4096,
        }
    }
}

/// How much history the trend lines keep (see [`Config::history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryOptions {
    pub(crate) interval: Duration,
    pub(crate) samples: usize,
    pub(crate) max_series: usize,
}

/// A status server's settings; start one with [`Config::serve_in_background`] or mount its
/// routes with [`Config::router`].
///
/// ```
/// use std::time::Duration;
///
/// let registry = scales::Registry::new();
/// let server = scales_http::Config::new("my-server")
///     .registry(&registry)
///     .history(Duration::from_secs(5), 120, 2_000)
///     .serve_in_background(0)?;
/// assert!(server.url().ends_with("/status/"));
/// # Ok::<(), scales_http::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) registry: Registry,
    pub(crate) server_name: String,
    /// Shown beside the server's name at the top of the page.
    pub(crate) version: Option<String>,
    /// `None`: links follow wherever the routes are mounted (see [`Config::link_prefix`]).
    pub(crate) link_prefix: Option<String>,
    pub(crate) history: HistoryOptions,
    pub(crate) limits: Limits,
    pub(crate) low_priority: bool,
    pub(crate) credentials: Credentials,
}

impl Config {
    /// Settings for the global registry under this server name, with default limits and a
    /// history of 120 samples taken every 5 s (10 minutes) of at most 2,000 numbers.
    pub fn new(server_name: &str) -> Self {
        Self {
            registry: scales::registry().clone(),
            server_name: server_name.to_owned(),
            version: None,
            link_prefix: None,
            history: HistoryOptions {
                interval: Duration::from_secs(5),
                samples: 120,
                max_series: 2_000,
            },
            limits: Limits::default(),
            low_priority: true,
            credentials: Credentials::default(),
        }
    }

    /// The server's version, shown beside its name at the top of the page (such as
    /// `env!("CARGO_PKG_VERSION")`).
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    /// Serves this registry instead of the global one.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = registry.clone();
        self
    }

    /// Where the page's links point, instead of where the request came in: by default the
    /// links follow the URL the routes answer at (`/status/`, or `/admin/status/` when the
    /// router is nested with `Router::nest("/admin", ..)`), so set this only when something
    /// in front of the server changes the path, such as a reverse proxy that serves
    /// `/stats/status/` from the server's `/status/`.
    pub fn link_prefix(mut self, prefix: &str) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.link_prefix = Some(prefix);
        self
    }

    /// The trend-line history: a sample of every numeric value every `interval` (at least
    /// 100 ms), the last `samples` of them (at least 2), for at most `max_series` numbers;
    /// stats beyond that get no trend line. Memory is about `samples × max_series × 8`
    /// bytes plus the names. `samples = 0` turns history off.
    pub fn history(mut self, interval: Duration, samples: usize, max_series: usize) -> Self {
        self.history = HistoryOptions {
            interval: interval.max(Duration::from_millis(100)),
            samples: if samples == 0 { 0 } else { samples.max(2) },
            max_series,
        };
        self
    }

    /// Replaces the connection limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request to the routes (the page,
    /// every format, `/metrics` and the history), for scrapers and scripts: Prometheus's
    /// `authorization: {credentials: ..}`, `curl -H "Authorization: Bearer $TOKEN"`. Other
    /// requests get `401` with `WWW-Authenticate: Bearer realm="scales"`. With
    /// [`basic_auth`](Self::basic_auth) too, either one lets a request in. The token is
    /// kept only as its SHA-256 digest and compared in constant time. Use a long random
    /// token, and TLS in front of the server (see the crate docs): over plain HTTP, anyone
    /// on the path reads it.
    ///
    /// # Panics
    /// When `token` is empty.
    pub fn bearer_token(mut self, token: &str) -> Self {
        assert!(!token.is_empty(), "scales_http: an empty bearer token");
        self.credentials.bearer = Some(Secret::new(token.as_bytes()));
        self
    }

    /// Requires HTTP basic authentication (`Authorization: Basic ..`) with this user name and
    /// password on every request to the routes, for people with browsers: the browser asks
    /// once, then sends them with every request, the page's own live refresh included. Other
    /// requests get `401` with `WWW-Authenticate: Basic realm="scales", charset="UTF-8"`.
    /// With [`bearer_token`](Self::bearer_token) too, either one lets a request in. Both are
    /// kept only as SHA-256 digests and compared in constant time. Basic credentials are
    /// only base64-encoded on the wire: put TLS in front of the server (see the crate docs).
    ///
    /// # Panics
    /// When `password` is empty, or `user` holds a `:` (which basic authentication cannot
    /// carry in a user name).
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        assert!(!password.is_empty(), "scales_http: an empty password");
        assert!(
            !user.contains(':'),
            "scales_http: a basic-auth user name cannot hold ':'"
        );
        self.credentials.basic = Some((
            Secret::new(user.as_bytes()),
            Secret::new(password.as_bytes()),
        ));
        self
    }

    /// Whether the background server's threads (the one serving connections and the ones
    /// rendering) run at the lowest CPU priority, nice 19 on Linux (default `true`): when the
    /// host's own threads want every core, they get it, and the page waits; when cores are
    /// idle, the page is as fast as ever. `false` keeps the priority of the thread that
    /// started the server. Routes mounted in the host's own axum application
    /// ([`Config::router`]) run on the host's runtime, at its priority.
    pub fn low_priority(mut self, low: bool) -> Self {
        self.low_priority = low;
        self
    }
}
