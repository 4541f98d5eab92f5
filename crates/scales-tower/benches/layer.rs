//! The cost per request of `ScalesLayer`, against the same service bare and behind other
//! middleware: `tower-http`'s `TraceLayer` (no subscriber installed: its floor) and
//! `axum-prometheus` (`metrics` with the Prometheus recorder, as it ships).
//!
//! Each iteration builds a `GET /users/42`, calls the service, and drains the response body,
//! all on one thread and without a runtime: every future here is ready on its first poll.
//!
//! `cargo bench -p scales-tower --bench layer`

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::routing::get;
use criterion::{criterion_group, criterion_main, Criterion};
use http::Request;
use tower_service::Service;

/// Polls `future` to its end with a waker that does nothing (the futures here never wait).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// One request through `service`, its response body drained; returns the bytes received.
fn request<S, B>(service: &mut S) -> usize
where
    S: Service<Request<Body>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
{
    let request = Request::get("/users/42")
        .body(Body::empty())
        .expect("a valid request");
    let response = block_on(service.call(request)).expect("the service never fails");
    let mut body = pin!(response.into_body());
    let mut cx = Context::from_waker(Waker::noop());
    let mut bytes = 0;
    loop {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                bytes += frame.data_ref().map_or(0, bytes::Buf::remaining);
            }
            Poll::Ready(_) => return bytes,
            Poll::Pending => {}
        }
    }
}

fn router() -> axum::Router {
    axum::Router::new()
        .route("/users/{id}", get(|| async { "user\n" }))
        .route("/", get(|| async { "index\n" }))
}

fn scales_layer(latency_to_end: bool) -> scales_tower::ScalesLayer {
    scales_tower::ScalesLayer::builder()
        .scope(scales::Registry::new().scope("/web").expect("a valid path"))
        .latency_to_end(latency_to_end)
        .build()
        .expect("a fresh registry")
}

fn bench_axum(c: &mut Criterion) {
    let mut group = c.benchmark_group("axum_request");
    let mut bare = router();
    group.bench_function("bare router", |b| b.iter(|| black_box(request(&mut bare))));

    let mut scales = router().layer(scales_layer(false));
    group.bench_function("ScalesLayer", |b| {
        b.iter(|| black_box(request(&mut scales)))
    });

    let mut to_end = router().layer(scales_layer(true));
    group.bench_function("ScalesLayer + latency_to_end", |b| {
        b.iter(|| black_box(request(&mut to_end)))
    });

    let mut trace = router().layer(tower_http::trace::TraceLayer::new_for_http());
    group.bench_function("tower-http TraceLayer (no subscriber)", |b| {
        b.iter(|| black_box(request(&mut trace)))
    });

    // Installs the global `metrics` recorder (once per process), whose upkeep task (it
    // drains the recorded samples every 5 s) needs a tokio runtime running beside.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (prometheus_layer, handle) = {
        let _entered = runtime.enter();
        axum_prometheus::PrometheusMetricLayer::pair()
    };
    let mut prometheus = router().layer(prometheus_layer);
    group.bench_function("axum-prometheus PrometheusMetricLayer", |b| {
        b.iter(|| black_box(request(&mut prometheus)))
    });
    group.finish();
    // Keep the recorder's handle (and its data) until the end, as an application would.
    black_box(handle.render().len());
}

/// A plain tower service (no router): the layer's own cost stands out more.
fn bench_service(c: &mut Criterion) {
    use std::borrow::Cow;
    use tower_layer::Layer;

    fn respond<B>(
        _: Request<B>,
    ) -> std::future::Ready<Result<http::Response<Body>, std::convert::Infallible>> {
        std::future::ready(Ok(http::Response::new(Body::from("user\n"))))
    }
    let mut group = c.benchmark_group("tower_service");
    let mut bare = tower::service_fn(respond::<Body>);
    group.bench_function("bare service_fn", |b| {
        b.iter(|| black_box(request(&mut bare)))
    });

    let layer = scales_tower::ScalesLayer::builder()
        .scope(scales::Registry::new().scope("/web").expect("a valid path"))
        .classify(|head: &http::request::Parts| {
            head.uri
                .path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        })
        .build()
        .expect("a fresh registry");
    let mut scales = layer.layer(tower::service_fn(respond));
    group.bench_function("ScalesLayer (classifier)", |b| {
        b.iter(|| black_box(request(&mut scales)))
    });

    let mut trace = tower_http::trace::TraceLayer::new_for_http().layer(tower::service_fn(respond));
    group.bench_function("tower-http TraceLayer (no subscriber)", |b| {
        b.iter(|| black_box(request(&mut trace)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30);
    targets = bench_service, bench_axum
}
criterion_main!(benches);
