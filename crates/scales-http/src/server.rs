//! The background server: a thread with a single-threaded tokio runtime, an accept loop with
//! a connection cap, per-connection timeouts, and a clean stop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::{Config, Limits};
use crate::Error;

/// How long a stop waits for open requests to finish before closing their connections.
const STOP_GRACE: Duration = Duration::from_secs(2);

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

pub(crate) fn spawn(config: Config, addr: SocketAddr) -> Result<ServerHandle, Error> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(Error::Start)?;
    let local_addr = listener.local_addr().map_err(Error::Start)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_name("scales-http-render")
        .build()
        .map_err(Error::Start)?;
    let (shutdown, stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("scales-http".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(_) => return,
                };
                let state = crate::routes::State::new(&config);
                state.start_sampler();
                let app = crate::routes::standalone(state);
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

async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
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
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let app = app.clone();
                        let limits = limits.clone();
                        let stopped = stopped.clone();
                        connections.spawn(async move {
                            serve_connection(stream, app, &limits, stopped).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        connections.spawn(reject_busy(stream));
                    }
                }
            }
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE + Duration::from_millis(500), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
}

async fn serve_connection(
    stream: TcpStream,
    app: axum::Router,
    limits: &Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(app);
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
