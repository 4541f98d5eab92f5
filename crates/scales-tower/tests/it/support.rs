//! Servers on 127.0.0.1 (free ports), a hyper client, bodies that stream, and readers of the
//! layer's stats.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long a test waits for something the server does before failing (never reached when
/// the code works: no assertion is about time).
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Serves `router` on a free port of 127.0.0.1.
pub(crate) async fn serve(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// One request on a connection of its own; the status and the whole body.
pub(crate) async fn send<B>(addr: SocketAddr, request: Request<B>) -> (StatusCode, Bytes)
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    try_send(addr, request).await.expect("a response")
}

/// [`send`], with the client's error when the server closes the connection instead.
pub(crate) async fn try_send<B>(
    addr: SocketAddr,
    request: Request<B>,
) -> Result<(StatusCode, Bytes), hyper::Error>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// `GET uri` with an empty body.
pub(crate) fn get(uri: &str) -> Request<http_body_util::Empty<Bytes>> {
    Request::get(uri)
        .header(http::header::HOST, "127.0.0.1")
        .body(http_body_util::Empty::new())
        .expect("request")
}

/// A body that streams `chunks` one frame at a time, returning `Pending` once before each
/// (so each is a frame of its own on the wire: chunked, no length known up front).
pub(crate) struct Chunks {
    chunks: VecDeque<Bytes>,
    paused: bool,
}

impl Chunks {
    pub(crate) fn new<I: IntoIterator<Item = Bytes>>(chunks: I) -> Self {
        Self {
            chunks: chunks.into_iter().collect(),
            paused: false,
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.paused && !self.chunks.is_empty() {
            self.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.paused = false;
        Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// Sends `name` on `to` when dropped: tells the test that the server dropped a handler's
/// future or a body.
pub(crate) struct DropSignal {
    pub(crate) name: &'static str,
    pub(crate) to: mpsc::UnboundedSender<&'static str>,
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.to.send(self.name);
    }
}

/// The next message of `from`, or a failed test after [`PATIENCE`].
pub(crate) async fn next(from: &mut mpsc::UnboundedReceiver<&'static str>) -> &'static str {
    tokio::time::timeout(PATIENCE, from.recv())
        .await
        .expect("the server did not get there")
        .expect("the server's end of the channel is gone")
}

/// The layer's stats in one scope, read through handles to the same stats.
pub(crate) struct Stats {
    scope: scales::Scope,
}

impl Stats {
    pub(crate) fn new(scope: &scales::Scope) -> Self {
        Self {
            scope: scope.clone(),
        }
    }

    pub(crate) fn int(&self, name: &str) -> i64 {
        self.scope.int_stat(name).expect("an IntStat").get()
    }

    pub(crate) fn hits(&self) -> u64 {
        self.scope
            .meter_stat("hits")
            .expect("a MeterStat")
            .rates()
            .count
    }

    pub(crate) fn hits_by_route(&self, route: &str) -> u64 {
        let stat = self
            .scope
            .meter_dict_stat("hitsByRoute")
            .expect("a MeterDictStat");
        stat.rates(route).map_or(0, |rates| rates.count)
    }

    pub(crate) fn class(&self, class: &str) -> i64 {
        let stat = self
            .scope
            .int_dict_stat("byStatusClass")
            .expect("an IntDictStat");
        stat.get(class)
    }

    pub(crate) fn classes(&self) -> Vec<(String, i64)> {
        let stat = self
            .scope
            .int_dict_stat("byStatusClass")
            .expect("an IntDictStat");
        stat.entries()
            .into_iter()
            .map(|entry| (entry.key.to_string(), entry.value))
            .collect()
    }

    pub(crate) fn errors_by_route(&self, route: &str) -> i64 {
        let stat = self
            .scope
            .int_dict_stat("errorsByRoute")
            .expect("an IntDictStat");
        stat.get(route)
    }

    pub(crate) fn count(&self, name: &str) -> u64 {
        self.scope
            .pmf_stat(name)
            .expect("a PmfStat")
            .snapshot()
            .count()
    }

    pub(crate) fn count_by_route(&self, name: &str, route: &str) -> u64 {
        let stat = self
            .scope
            .named_pmf_dict_stat(name)
            .expect("a NamedPmfDictStat");
        stat.snapshot(route).map_or(0, |sketch| sketch.count())
    }
}
