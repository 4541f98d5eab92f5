//! The layer around a plain tower service (no axum), served by hyper: route keys from a
//! classifier, the inner service's errors.

use std::borrow::Cow;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use scales_tower::RequestBody;
use tokio::net::TcpListener;
use tower_layer::Layer;

use crate::support::{get, send, try_send, Stats};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Fails on `/error`; otherwise reads the whole request body and says how long it was.
async fn handle(
    request: Request<RequestBody<Incoming>>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    if request.uri().path() == "/error" {
        return Err("the service failed".into());
    }
    let body = request.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{} bytes\n",
        body.len()
    )))))
}

fn classify(head: &Parts) -> Option<Cow<'static, str>> {
    match head.uri.path() {
        "/" => Some(Cow::Borrowed("/")),
        "/error" => Some(Cow::Borrowed("/error")),
        path if path.starts_with("/items/") => {
            Some(Cow::Owned(format!("{} /items/{{id}}", head.method)))
        }
        _ => None,
    }
}

/// Serves `handle` behind `layer` with hyper on a free port of 127.0.0.1.
async fn serve_hyper(layer: scales_tower::ScalesLayer) -> std::net::SocketAddr {
    let service = layer.layer(tower::service_fn(handle));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

#[tokio::test]
async fn a_hyper_service_is_keyed_by_its_classifier_and_its_errors_are_counted() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/api").unwrap();
    let stats = Stats::new(&scope);
    let layer = scales_tower::ScalesLayer::builder()
        .scope(scope.clone())
        .classify(classify)
        .unmatched("other")
        .build()
        .unwrap();
    let addr = serve_hyper(layer).await;

    let mut received = 0;
    for uri in ["/", "/items/1", "/items/2", "/elsewhere"] {
        received += send(addr, get(uri)).await.1.len();
    }
    let posted = Bytes::from_static(b"twelve bytes");
    let (status, body) = send(
        addr,
        Request::post("/items/3")
            .body(Full::new(posted.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"12 bytes\n"[..]));
    received += body.len();
    // The service's error closes the connection without a response.
    assert!(try_send(addr, get("/error")).await.is_err());

    assert_eq!(stats.hits(), 6);
    assert_eq!(stats.hits_by_route("/"), 1);
    assert_eq!(stats.hits_by_route("GET /items/{id}"), 2);
    assert_eq!(stats.hits_by_route("POST /items/{id}"), 1);
    assert_eq!(stats.hits_by_route("other"), 1);
    assert_eq!(stats.hits_by_route("unmatched"), 0);
    assert_eq!(stats.int("success"), 5);
    assert_eq!(stats.int("serviceErrors"), 1);
    assert_eq!(stats.int("errors"), 1);
    assert_eq!(stats.errors_by_route("/error"), 1);
    assert_eq!(stats.class("2xx"), 5);
    assert_eq!(stats.class("5xx"), 0, "an error is not a response");
    assert_eq!(stats.count("latency"), 6, "responses and errors");
    assert_eq!(stats.int("bytesReceived"), posted.len() as i64);
    assert_eq!(stats.int("bytesSent"), received as i64);
    assert_eq!(stats.int("inFlight"), 0);
    assert_eq!(stats.int("cancelled"), 0);
}

#[tokio::test]
async fn route_keys_beyond_the_cap_are_counted_under_the_overflow_key() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/api").unwrap();
    let stats = Stats::new(&scope);
    // The mistake the cap is for: a classifier that returns raw paths.
    let layer = scales_tower::ScalesLayer::builder()
        .scope(scope.clone())
        .classify(|head: &Parts| Some(Cow::Owned(head.uri.path().to_owned())))
        .max_routes(2)
        .build()
        .unwrap();
    let addr = serve_hyper(layer).await;
    for uri in ["/a", "/b", "/c", "/d", "/a", "/e"] {
        send(addr, get(uri)).await;
    }
    assert_eq!(stats.hits(), 6);
    assert_eq!(stats.hits_by_route("/a"), 2);
    assert_eq!(stats.hits_by_route("/b"), 1);
    assert_eq!(stats.hits_by_route("/c"), 0);
    assert_eq!(stats.hits_by_route(scales::OVERFLOW_KEY), 3);
    assert_eq!(
        stats.count_by_route("latencyByRoute", scales::OVERFLOW_KEY),
        3
    );
    assert_eq!(stats.count("latency"), 6);
}
