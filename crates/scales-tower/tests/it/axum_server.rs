//! The layer in a real axum server on 127.0.0.1, driven by a real HTTP client.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::{get as get_request, next, send, serve, Chunks, DropSignal, Stats};

/// The chunks of `GET /stream`.
fn stream_chunks() -> Vec<Bytes> {
    [
        "first chunk, ",
        "then a longer second chunk, ",
        "and the end\n",
    ]
    .into_iter()
    .map(Bytes::from)
    .collect()
}

/// What the handlers tell the test: `"entered"` when `/sleep` starts, and the name of
/// whatever the server dropped.
#[derive(Clone)]
struct Signals {
    to: mpsc::UnboundedSender<&'static str>,
}

/// A test's app: routes with templates, a fallback (404), and handlers that fail, redirect,
/// stream, echo, sleep forever, and stream forever.
fn app(layer: scales_tower::ScalesLayer) -> (axum::Router, mpsc::UnboundedReceiver<&'static str>) {
    let (to, from) = mpsc::unbounded_channel();
    let router = axum::Router::new()
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}\n") }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failed\n") }),
        )
        .route(
            "/old",
            get(|| async { (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "/users/1")]) }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/stream",
            get(|| async { axum::body::Body::new(Chunks::new(stream_chunks())) }),
        )
        .route("/sleep", get(sleep))
        .route("/endless", get(endless))
        .layer(layer)
        .with_state(Signals { to });
    (router, from)
}

/// Never answers; tells the test when it starts and when its future is dropped.
async fn sleep(State(signals): State<Signals>) -> &'static str {
    let _dropped = DropSignal {
        name: "sleep",
        to: signals.to.clone(),
    };
    let _ = signals.to.send("entered");
    std::future::pending::<()>().await;
    "never"
}

/// A response whose body sends one chunk and then waits forever; tells the test when the
/// body is dropped.
async fn endless(State(signals): State<Signals>) -> impl IntoResponse {
    struct Endless {
        first: Option<Bytes>,
        _dropped: DropSignal,
    }
    impl http_body::Body for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            match self.first.take() {
                Some(chunk) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk)))),
                None => std::task::Poll::Pending,
            }
        }
    }
    axum::body::Body::new(Endless {
        first: Some(Bytes::from_static(b"the first and last chunk\n")),
        _dropped: DropSignal {
            name: "endless body",
            to: signals.to,
        },
    })
}

fn layer(scope: &scales::Scope) -> scales_tower::ScalesLayer {
    scales_tower::ScalesLayer::builder()
        .scope(scope.clone())
        .latency_to_end(true)
        .build()
        .expect("the layout declares")
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status_class() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/web").unwrap();
    let stats = Stats::new(&scope);
    let (router, _signals) = app(layer(&scope));
    let addr = serve(router).await;

    let mut requests: Vec<Request<Full<Bytes>>> = Vec::new();
    let plain = |uri: &str| Request::get(uri).body(Full::default()).unwrap();
    requests.extend((0..6).map(|id| plain(&format!("/users/{id}"))));
    requests.extend((0..2).map(|_| plain("/fail")));
    requests.extend((0..3).map(|n| plain(&format!("/nope/{n}"))));
    requests.push(plain("/old"));
    // A route that matched with a method it does not have: 405, under its template.
    requests.push(Request::post("/users/7").body(Full::default()).unwrap());
    let total = requests.len() as u64;
    let clients: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(send(addr, request)))
        .collect();
    let mut body_bytes = 0;
    let mut statuses = Vec::new();
    for client in clients {
        let (status, body) = client.await.unwrap();
        statuses.push(status.as_u16());
        body_bytes += body.len();
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 308, 404, 404, 404, 405, 500, 500]
    );

    assert_eq!(stats.hits(), total);
    assert_eq!(stats.hits_by_route("/users/{id}"), 7);
    assert_eq!(stats.hits_by_route("/fail"), 2);
    assert_eq!(stats.hits_by_route("/old"), 1);
    assert_eq!(stats.hits_by_route("unmatched"), 3);
    assert_eq!(
        stats.hits_by_route("/users/3"),
        0,
        "raw paths are never keys"
    );
    let classes: Vec<_> = ["1xx", "2xx", "3xx", "4xx", "5xx"]
        .iter()
        .map(|class| stats.class(class))
        .collect();
    assert_eq!(classes, [0, 6, 1, 4, 2]);
    assert_eq!(stats.classes().len(), 5, "{:?}", stats.classes());
    assert_eq!(stats.int("success"), 11);
    assert_eq!(stats.int("errors"), 2);
    assert_eq!(stats.errors_by_route("/fail"), 2);
    assert_eq!(stats.errors_by_route("/users/{id}"), 0);
    assert_eq!(stats.int("serviceErrors"), 0);
    assert_eq!(stats.int("cancelled"), 0);
    assert_eq!(stats.int("inFlight"), 0);
    assert_eq!(stats.count("latency"), total);
    assert_eq!(stats.count_by_route("latencyByRoute", "/users/{id}"), 7);
    assert_eq!(stats.count_by_route("latencyByRoute", "unmatched"), 3);
    assert_eq!(stats.count("latencyToEnd"), total);
    assert_eq!(stats.count_by_route("latencyToEndByRoute", "/fail"), 2);
    assert_eq!(stats.int("bytesSent"), body_bytes as i64);
    assert_eq!(stats.int("bytesReceived"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_two_threads_add_up_exactly() {
    const CLIENTS: usize = 8;
    const EACH: usize = 12;
    let registry = scales::Registry::new();
    let scope = registry.scope("/api").unwrap();
    let stats = Stats::new(&scope);
    let (router, _signals) = app(layer(&scope));
    let addr = serve(router).await;

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(async move {
                let mut bytes = 0;
                for n in 0..EACH {
                    let uri = if n % 4 == 3 {
                        "/fail".to_owned()
                    } else {
                        format!("/users/{client}{n}")
                    };
                    bytes += send(addr, get_request(&uri)).await.1.len();
                }
                bytes
            })
        })
        .collect();
    let mut bytes = 0;
    for client in clients {
        bytes += client.await.unwrap();
    }
    let total = (CLIENTS * EACH) as u64;
    assert_eq!(stats.hits(), total);
    assert_eq!(stats.hits_by_route("/users/{id}"), total / 4 * 3);
    assert_eq!(stats.hits_by_route("/fail"), total / 4);
    assert_eq!(stats.class("2xx") as u64, total / 4 * 3);
    assert_eq!(stats.class("5xx") as u64, total / 4);
    assert_eq!(stats.count("latency"), total);
    assert_eq!(stats.int("bytesSent"), bytes as i64);
    assert_eq!(stats.int("inFlight"), 0);
}

#[tokio::test]
async fn bytes_in_and_out_are_the_bodies_sent_including_streamed_ones() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/web").unwrap();
    let stats = Stats::new(&scope);
    let (router, _signals) = app(layer(&scope));
    let addr = serve(router).await;

    let bodies: Vec<Bytes> = [0, 1, 1000, 70_000]
        .into_iter()
        .map(|len| Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>()))
        .collect();
    let mut sent = 0;
    let mut received = 0;
    for body in &bodies {
        let request = Request::post("/echo")
            .body(Full::new(body.clone()))
            .unwrap();
        let (status, echoed) = send(addr, request).await;
        assert_eq!((status, &echoed), (StatusCode::OK, body));
        sent += body.len();
        received += echoed.len();
    }
    // A streamed request body (chunked, no length up front), echoed back.
    let chunks = stream_chunks();
    let streamed: usize = chunks.iter().map(Bytes::len).sum();
    let request = Request::post("/echo")
        .body(Chunks::new(chunks.clone()))
        .unwrap();
    let (status, echoed) = send(addr, request).await;
    assert_eq!((status, echoed.len()), (StatusCode::OK, streamed));
    sent += streamed;
    received += echoed.len();
    // A streamed response body.
    let (status, body) = send(addr, get_request("/stream")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &chunks.concat()[..]));
    received += body.len();

    assert_eq!(stats.int("bytesReceived"), sent as i64);
    assert_eq!(stats.int("bytesSent"), received as i64);
    assert_eq!(stats.count("latency"), 6);
    assert_eq!(stats.count("latencyToEnd"), 6);
    assert_eq!(stats.count_by_route("latencyToEndByRoute", "/stream"), 1);
    assert_eq!(stats.int("inFlight"), 0);
}

/// Writes `GET path` on a raw connection, which the test can then drop.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_client_that_disconnects_before_the_response_leaves_nothing_in_flight() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/web").unwrap();
    let stats = Stats::new(&scope);
    let (router, mut signals) = app(layer(&scope));
    let addr = serve(router).await;

    for round in 1..=2 {
        let stream = raw_get(addr, "/sleep").await;
        assert_eq!(next(&mut signals).await, "entered");
        assert_eq!(stats.int("inFlight"), 1);
        drop(stream);
        assert_eq!(next(&mut signals).await, "sleep", "hyper drops the handler");
        assert_eq!(stats.int("inFlight"), 0);
        assert_eq!(stats.int("cancelled"), round);
    }
    assert_eq!(stats.hits_by_route("/sleep"), 2);
    assert_eq!(stats.count("latency"), 0, "no response, no latency");
    assert_eq!(stats.int("success") + stats.int("errors"), 0);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_body_leaves_nothing_in_flight() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/web").unwrap();
    let stats = Stats::new(&scope);
    let (router, mut signals) = app(layer(&scope));
    let addr = serve(router).await;

    let mut stream = raw_get(addr, "/endless").await;
    let mut seen = Vec::new();
    let mut buffer = [0; 1024];
    while !String::from_utf8_lossy(&seen).contains("the first and last chunk") {
        let n = tokio::time::timeout(crate::support::PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the first chunk")
            .unwrap();
        assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    assert_eq!(stats.int("inFlight"), 1, "the body is still streaming");
    assert_eq!(stats.int("success"), 1, "the head was sent");
    drop(stream);
    assert_eq!(next(&mut signals).await, "endless body");
    assert_eq!(stats.int("inFlight"), 0);
    assert_eq!(stats.int("cancelled"), 0, "it had its head");
    assert_eq!(stats.count("latency"), 1);
    assert_eq!(stats.count("latencyToEnd"), 0, "the body never ended");
    assert_eq!(stats.int("bytesSent"), 25);
}

#[tokio::test]
async fn the_seed_web_example_comes_out_of_the_layer_alone() {
    // The global collection at `/web`, as the original README declares it; no other test
    // of this binary records there.
    let layer = scales_tower::ScalesLayer::new().unwrap();
    let (router, _signals) = app(layer);
    let addr = serve(router).await;
    for uri in ["/users/1", "/users/2", "/fail"] {
        send(addr, get_request(uri)).await;
    }
    let snapshot = scales::registry().snapshot_at("/web").unwrap();
    let json = scales::format::json::to_string(&snapshot, scales::format::json::Style::Compact);
    let web: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(web["success"], 2, "{web}");
    assert_eq!(web["errors"], 1, "{web}");
    assert_eq!(web["latency"]["count"], 3, "{web}");
    assert_eq!(web["hits"]["count"], 3, "{web}");
    assert_eq!(web["hitsByRoute"]["/users/{id}"]["count"], 2, "{web}");
    assert_eq!(
        web["byStatusClass"],
        serde_json::json!({"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 0, "5xx": 1})
    );
    assert_eq!(web["inFlight"], 0, "{web}");
    // The JSON shapes of the original's stats.
    for key in ["min", "max", "mean", "median", "99percentile"] {
        assert!(web["latency"][key].is_number(), "{key}: {web}");
    }
    assert!(web["hits"]["m1"].is_number(), "{web}");
}
