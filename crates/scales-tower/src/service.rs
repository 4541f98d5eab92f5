//! [`ScalesLayer`], its [`Builder`], the [`ScalesService`] it wraps services in, and the
//! service's [`ResponseFuture`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{RequestBody, ResponseBody};
use crate::record::{Config, InFlight, Shared};

/// The route key of requests that match no route: axum's fallback, or a request the
/// classifier returns `None` for (see [`Builder::unmatched`]).
pub const UNMATCHED: &str = "unmatched";

/// The scope a layer records into by default: the original README's `/web` collection.
pub const DEFAULT_PATH: &str = "/web";

/// The number of route keys a layer keeps by default (see [`Builder::max_routes`]).
pub const DEFAULT_MAX_ROUTES: usize = 1_000;

/// A [`Layer`] that records every request of the services it wraps into scales stats.
///
/// Cloning it is cheap and gives a layer recording into the same stats, as does applying it
/// to several services (axum's `Router::layer` applies it to each route). See the
/// [crate documentation](crate) for what is recorded.
#[derive(Clone)]
pub struct ScalesLayer {
    shared: Arc<Shared>,
}

impl ScalesLayer {
    /// A layer recording into the global collection at `/web`, with the route keys of
    /// axum's `MatchedPath` (feature `axum`) and `unmatched` for everything else.
    ///
    /// # Errors
    /// When a stat of the layout already lives at `/web` as another kind of stat (say an
    /// `IntStat` named `latency`).
    pub fn new() -> Result<Self, scales::Error> {
        Builder::default().build()
    }

    /// A builder, to choose the scope, the route classifier, the unmatched key, the cap on
    /// route keys and whether to time response bodies to their end.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<S> Layer<S> for ScalesLayer {
    type Service = ScalesService<S>;

    fn layer(&self, inner: S) -> ScalesService<S> {
        ScalesService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl fmt::Debug for ScalesLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalesLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

/// Configures a [`ScalesLayer`]; from [`ScalesLayer::builder`].
#[must_use]
pub struct Builder {
    scope: Option<scales::Scope>,
    classify: Option<Box<crate::record::Classifier>>,
    unmatched: Cow<'static, str>,
    latency_to_end: bool,
    max_routes: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            scope: None,
            classify: None,
            unmatched: Cow::Borrowed(UNMATCHED),
            latency_to_end: false,
            max_routes: DEFAULT_MAX_ROUTES,
        }
    }
}

impl Builder {
    /// Records into `scope` instead of the global collection at `/web`: another path
    /// (`scales::collection("/api")?`), or a scope of another registry (for tests).
    pub fn scope(mut self, scope: scales::Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Names the route of requests that carry no axum `MatchedPath`: a plain hyper or tower
    /// service, or axum's fallback. Return a route *template* (`/users/{id}`, not
    /// `/users/42`) so that the number of keys stays bounded, or `None` for no route,
    /// counted under the [unmatched](Self::unmatched) key.
    ///
    /// The classifier sees the request's head ([`Parts`]: method, URI, headers,
    /// extensions), not its body, so one classifier serves every body type.
    pub fn classify<F>(mut self, classify: F) -> Self
    where
        F: Fn(&Parts) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    {
        self.classify = Some(Box::new(classify));
        self
    }

    /// The route key of requests that match no route ([`UNMATCHED`] by default).
    pub fn unmatched(mut self, key: impl Into<Cow<'static, str>>) -> Self {
        self.unmatched = key.into();
        self
    }

    /// Also records the time from the request to the end of its response body, in
    /// `latencyToEnd` and `latencyToEndByRoute` (off by default: `latency` is the time to
    /// the response head). A body that fails or is dropped before its end records nothing
    /// there.
    pub fn latency_to_end(mut self, on: bool) -> Self {
        self.latency_to_end = on;
        self
    }

    /// Caps the stats keyed by route at `max` keys ([`DEFAULT_MAX_ROUTES`] by default):
    /// requests of further routes are counted under [`scales::OVERFLOW_KEY`], so the totals
    /// stay exact even if a classifier returns raw paths by mistake, while the number of
    /// series stays bounded (see `StatOptions::with_max_keys`). The unmatched key is a key
    /// like the others.
    pub fn max_routes(mut self, max: usize) -> Self {
        self.max_routes = max;
        self
    }

    /// Declares the stats and gives the layer.
    ///
    /// # Errors
    /// When the global collection cannot be created, or a stat of the layout already lives
    /// in the scope as another kind of stat.
    pub fn build(self) -> Result<ScalesLayer, scales::Error> {
        let scope = match self.scope {
            Some(scope) => scope,
            None => scales::collection(DEFAULT_PATH)?,
        };
        let config = Config {
            latency_to_end: self.latency_to_end,
            max_routes: self.max_routes,
            unmatched: self.unmatched.into_owned().into_boxed_str(),
        };
        let shared = Shared::new(&scope, config, self.classify)?;
        Ok(ScalesLayer {
            shared: Arc::new(shared),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("scope", &self.scope)
            .field("classifier", &self.classify.is_some())
            .field("unmatched", &self.unmatched)
            .field("latency_to_end", &self.latency_to_end)
            .field("max_routes", &self.max_routes)
            .finish()
    }
}

/// A service recording every request of its inner service; made by [`ScalesLayer`].
#[derive(Clone)]
pub struct ScalesService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ScalesService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for ScalesService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalesService")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ScalesService<S>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let route = self.shared.route(&parts);
        let body = RequestBody::new(body, &self.shared);
        // Counted before the inner call: a `call` that panics drops the guard on the way out.
        let request_guard = InFlight::start(Arc::clone(&self.shared), route);
        let inner = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture {
            inner,
            request: Some(request_guard),
        }
    }
}

pin_project! {
    /// The response future of [`ScalesService`]: records the response head (or the
    /// service's error) when it resolves, and counts the request as cancelled when it is
    /// dropped before.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: Option<InFlight>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut request = this.request.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(request) = request.as_mut() {
                    request.head(response.status());
                }
                Ok(response.map(|body| ResponseBody::new(body, request)))
            }
            Err(error) => {
                if let Some(request) = request.as_mut() {
                    request.service_error();
                }
                Err(error)
            }
        })
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}
