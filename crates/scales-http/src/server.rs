//! The background server: a thread with a single-threaded tokio runtime, an accept loop with
//! a connection cap, per-connection timeouts, and a clean stop.
//!
//! Depends on: `config` (the settings), `routes` (the application it serves) and `error`.
//! Implements [`Config::serve_in_background`].

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use crate::config::{BindAddr, Config, Limits};
use crate::error::Error;
use crate::routes;

/// How long a stop waits for open requests to finish before closing their connections.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Connections accepted in a row before the connections' tasks get their turn.
const ACCEPT_BATCH: usize = 64;

/// Tasks the runtime runs before it polls for I/O again (and returns to the accept loop):
/// enough that every connection accepted in a batch gets its turn before the next batch.
const EVENT_INTERVAL: u32 = 256;
/// Threads taking snapshots and rendering them: a slow gauge holds up one of them, not every
/// client.
const RENDER_THREADS: usize = 4;

/// A running status server. Stops it when dropped, or on [`stop`](Self::stop); keep it for
/// as long as the page should be served, or [`detach`](Self::detach) it to serve for the
/// life of the program.
///
/// ```no_run
/// // Kept: the server runs until `server` is stopped or dropped.
/// let server = scales_http::serve_in_background(8765, "my-server")?;
/// println!("stats at {}", server.url());
/// server.stop();
///
/// // Detached: the server runs until the program exits.
/// scales_http::serve_in_background(8766, "my-server")?.detach();
/// # Ok::<(), scales_http::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the handle stops the server; keep it, or call .detach() to serve for the life of the program"]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The status page's URL, such as `http://127.0.0.1:8765/status/` (with the loopback
    /// address when the server listens on every interface, `0.0.0.0` or `::`).
    pub fn url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        format!("http://{addr}/status/")
    }

    /// Stops accepting, lets open requests finish (for up to 2 s), closes every connection
    /// and waits for the server thread to end.
    pub fn stop(mut self) {
        self.shutdown_and_join();
    }

    /// Lets the server run for the life of the program: the handle goes away, the server
    /// thread goes on until the process exits. There is no way to stop it afterwards.
    pub fn detach(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server stops once this sender is dropped: keep it alive for good (a few
            // bytes, once per detached server).
            let _: &'static watch::Sender<bool> = Box::leak(Box::new(shutdown));
        }
        // Dropping the join handle detaches the thread; `Drop` then has nothing to stop.
        drop(self.thread.take());
    }

    fn shutdown_and_join(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        if let Some(thread) = self.thread.take() {
            // The thread catches nothing that could panic on its way out; if it did, there
            // is nothing more to stop.
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown_and_join();
    }
}

impl Config {
    /// Starts serving on `addr` (a port on 127.0.0.1, or a socket address) from a new
    /// thread running its own single-threaded runtime.
    ///
    /// # Errors
    /// When the address cannot be bound, or the runtime or thread cannot start.
    pub fn serve_in_background(self, addr: impl Into<BindAddr>) -> Result<ServerHandle, Error> {
        spawn(self, addr.into().0)
    }
}

fn spawn(config: Config, addr: SocketAddr) -> Result<ServerHandle, Error> {
    let low_priority = config.low_priority;
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder
        .enable_all()
        .max_blocking_threads(RENDER_THREADS)
        .event_interval(EVENT_INTERVAL)
        .thread_name("scales-http-render");
    if low_priority {
        builder.on_thread_start(lower_priority);
    }
    let runtime = builder.build().map_err(Error::Start)?;
    let listener = {
        let _inside = runtime.enter();
        listen(addr, config.limits.listen_backlog).map_err(|source| Error::Bind { addr, source })?
    };
    let local_addr = listener.local_addr().map_err(Error::Start)?;
    let (shutdown, stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("scales-http".to_owned())
        .spawn(move || {
            if low_priority {
                lower_priority();
            }
            runtime.block_on(async move {
                let state = routes::State::new(&config);
                state.start_sampler();
                let app = routes::standalone(state);
                accept_loop(listener, app, config.limits, stopped).await;
            });
            // Dropping the runtime here ends the sampler and any connection still open.
        })
        .map_err(Error::Start)?;
    Ok(ServerHandle {
        local_addr,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

/// Lowers the calling thread's CPU priority to the lowest there is (nice 19, on Linux; other
/// systems keep it), so that the host's own threads come first whenever they want the CPU.
/// Only lowering needs no privilege; the thread keeps it to its end.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
    }
}

/// A listening socket with room for `backlog` connections waiting to be accepted (the
/// kernel caps it at `net.core.somaxconn`), reusing the address as `std` does.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

/// Where a connection stands in the eviction order: when the server is full and a client
/// connects, the open connection with the lowest rank is closed to make room. Connections
/// that never completed a request head come first, oldest first; then connections idle
/// between requests, longest idle first. A connection with a request in progress is never
/// closed for another, nor is one just accepted whose task has not had a turn to read yet
/// (under a flood of connects, it would otherwise be closed before reading the request that
/// was already there).
struct Rank(AtomicU64);

/// The rank of a connection with a request in progress: not to be closed.
const BUSY: u64 = u64::MAX;
/// Added to the rank of connections that have completed a request (idle keep-alive ones),
/// so that connections that never completed one go first.
const SERVED: u64 = 1 << 62;

impl Rank {
    fn evictable(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&rank| rank != BUSY)
    }
}

/// An open connection, as the accept loop sees it.
struct Open {
    rank: Arc<Rank>,
    abort: AbortHandle,
}

async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let max = limits.max_connections.max(1);
    // Orders the ranks: a new connection, or one done with a request, takes the next number.
    let clock = Arc::new(AtomicU64::new(0));
    let mut open: HashMap<tokio::task::Id, Open> = HashMap::new();
    let mut connections = JoinSet::new();
    let mut rejections = JoinSet::new();
    let mut accepted_in_a_row = 0;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(done) = connections.join_next_with_id(), if !connections.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                open.remove(&id);
            }
            Some(_) = rejections.join_next(), if !rejections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                if open.len() >= max && !evict_one(&mut open) {
                    // Every connection has a request in progress.
                    if rejections.len() < max {
                        rejections.spawn(reject_busy(stream));
                    }
                    continue;
                }
                // Not to be closed before its task has had a turn to read (see `Rank`).
                let rank = Arc::new(Rank(AtomicU64::new(BUSY)));
                let conn = Conn {
                    app: app.clone(),
                    rank: rank.clone(),
                    clock: clock.clone(),
                };
                let limits = limits.clone();
                let stopped = stopped.clone();
                let abort = connections.spawn(async move {
                    serve_connection(stream, conn, &limits, stopped).await;
                });
                open.insert(abort.id(), Open { rank, abort });
                // Let the connections run every few accepts: a flood of connects must not
                // keep a new connection from reading its request until it is the oldest one
                // and closed for the next.
                accepted_in_a_row += 1;
                if accepted_in_a_row >= ACCEPT_BATCH {
                    accepted_in_a_row = 0;
                    tokio::task::yield_now().await;
                }
            }
        }
    }
    drop(listener);
    rejections.abort_all();
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE + Duration::from_millis(500), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
}

/// Closes the open connection that goes first in the eviction order ([`Rank`]); false when
/// every one has a request in progress.
fn evict_one(open: &mut HashMap<tokio::task::Id, Open>) -> bool {
    let first = open
        .iter()
        .filter_map(|(id, conn)| Some((conn.rank.evictable()?, *id)))
        .min();
    match first.and_then(|(_, id)| open.remove(&id)) {
        Some(conn) => {
            // The task is dropped at its next turn, and its socket closed with it.
            conn.abort.abort();
            true
        }
        None => false,
    }
}

/// What a connection needs: the routes, its rank, and the clock that orders ranks.
struct Conn {
    app: axum::Router,
    rank: Arc<Rank>,
    clock: Arc<AtomicU64>,
}

/// The routes for one connection, marking it busy from a complete request head to the end of
/// its response's body.
#[derive(Clone)]
struct Tracked {
    inner: TowerToHyperService<axum::Router>,
    rank: Arc<Rank>,
    clock: Arc<AtomicU64>,
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<TrackedBody>;
    type Error = std::convert::Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.rank.0.store(BUSY, Ordering::Relaxed);
        let done = Done {
            rank: self.rank.clone(),
            clock: self.clock.clone(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody { body, _done: done }))
        })
    }
}

/// Marks the connection idle between requests when dropped (with its response's body, or
/// with the request if the connection goes away first).
struct Done {
    rank: Arc<Rank>,
    clock: Arc<AtomicU64>,
}

impl Drop for Done {
    fn drop(&mut self) {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        self.rank.0.store(SERVED + now, Ordering::Relaxed);
    }
}

/// A response body that marks its connection idle once it is sent (dropped).
struct TrackedBody {
    body: axum::body::Body,
    _done: Done,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

async fn serve_connection(
    stream: TcpStream,
    conn: Conn,
    limits: &Limits,
    mut stopped: watch::Receiver<bool>,
) {
    // The first turn: from now on, the connection is in the eviction order (the request
    // head may already be there, and then it is busy before this turn ends).
    let now = conn.clock.fetch_add(1, Ordering::Relaxed);
    conn.rank.0.store(now, Ordering::Relaxed);
    let service = Tracked {
        inner: TowerToHyperService::new(conn.app),
        rank: conn.rank,
        clock: conn.clock,
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        // A connection that lives too long is closed, so a slow or stuck client cannot hold
        // a slot forever; a request in flight gets a short grace to finish.
        _ = tokio::time::sleep(limits.connection_lifetime) => {}
        _ = stopped.changed() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(STOP_GRACE, connection).await;
}

/// Answers a connection over the cap with a 503 and closes it, without reading a request.
async fn reject_busy(mut stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        Content-Length: 42\r\n\
        Retry-After: 1\r\n\
        Cache-Control: no-store\r\n\
        Connection: close\r\n\r\n\
        Too many connections to the status server\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
