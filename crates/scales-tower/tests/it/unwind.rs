//! Futures dropped early and panics unwinding through the layer (driven by hand, no
//! server): the request leaves `inFlight` every time.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use scales_tower::RequestBody;
use tower_layer::Layer;
use tower_service::Service;

use crate::support::Stats;

type In = Request<RequestBody<Empty<Bytes>>>;
type Out = Response<Empty<Bytes>>;

fn request() -> Request<Empty<Bytes>> {
    Request::get("/").body(Empty::new()).unwrap()
}

/// A service whose `call` itself panics.
#[derive(Clone)]
struct PanicsOnCall;

impl Service<In> for PanicsOnCall {
    type Response = Out;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Out, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: In) -> Self::Future {
        panic!("call panicked (expected by the test)")
    }
}

#[test]
fn dropped_futures_and_panics_leave_nothing_in_flight() {
    let registry = scales::Registry::new();
    let scope = registry.scope("/web").unwrap();
    let stats = Stats::new(&scope);
    let layer = scales_tower::ScalesLayer::builder()
        .scope(scope)
        .build()
        .unwrap();
    let mut cx = Context::from_waker(Waker::noop());

    // A future dropped before its response (a timeout above the layer, a client gone).
    let mut pending = layer.layer(tower::service_fn(|_: In| {
        std::future::pending::<Result<Out, Infallible>>()
    }));
    let mut future = Box::pin(pending.call(request()));
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert_eq!(stats.int("inFlight"), 1);
    drop(future);
    assert_eq!((stats.int("inFlight"), stats.int("cancelled")), (0, 1));

    // A panic while the inner future is polled.
    let mut panics = layer.layer(tower::service_fn(|_: In| async {
        panic!("the handler panicked (expected by the test)");
        #[allow(unreachable_code)]
        Ok::<Out, Infallible>(Response::new(Empty::new()))
    }));
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let mut future = pin!(panics.call(request()));
        let _ = future.as_mut().poll(&mut cx);
    }));
    assert!(unwound.is_err());
    assert_eq!((stats.int("inFlight"), stats.int("cancelled")), (0, 2));

    // A panic in the inner service's `call`.
    let mut panics_on_call = layer.layer(PanicsOnCall);
    let unwound = catch_unwind(AssertUnwindSafe(|| drop(panics_on_call.call(request()))));
    assert!(unwound.is_err());
    assert_eq!((stats.int("inFlight"), stats.int("cancelled")), (0, 3));

    assert_eq!(stats.hits(), 3);
    assert_eq!(stats.count("latency"), 0);
    assert_eq!(stats.int("success") + stats.int("errors"), 0);
}
