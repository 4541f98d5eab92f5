//! HTTP paths and query strings against the status server's router: every request gets an
//! answer that is not a server error (a 500 would mean a handler panicked).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

mod tree;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Half the inputs under /status/, so that the router's own paths are explored.
    let target = if text.starts_with('/') {
        text.to_owned()
    } else {
        format!("/status/{text}")
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    let router = ROUTER
        .get_or_init(|| scales_http::router(tree::registry(), "fuzz"))
        .clone();
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = runtime().block_on(router.oneshot(request)).unwrap();
    assert_ne!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{target:?}"
    );
});
