//! What one request records, and when: [`Shared`] holds the declared stats, [`InFlight`] is
//! one request's guard from `call` until its response body ends or is dropped.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;
use scales::{
    Clock, IntDictStat, IntStat, MeterDictStat, MeterStat, NamedPmfDictStat, PmfStat, Scope,
    StatOptions,
};

/// A route classifier: the route template of a request, or `None` for no route.
pub(crate) type Classifier = dyn Fn(&Parts) -> Option<Cow<'static, str>> + Send + Sync;

/// Keys of `byStatusClass`, indexed by the status code's hundreds digit (`StatusCode`
/// guarantees 100..=999, so index 0 is never used).
const CLASSES: [&str; 10] = [
    "0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "7xx", "8xx", "9xx",
];

/// The stats of the layout (see the crate documentation), declared once per layer.
pub(crate) struct WebStats {
    pub(crate) hits: MeterStat,
    pub(crate) success: IntStat,
    pub(crate) errors: IntStat,
    pub(crate) latency: PmfStat,
    pub(crate) in_flight: IntStat,
    pub(crate) cancelled: IntStat,
    pub(crate) service_errors: IntStat,
    pub(crate) by_status_class: IntDictStat,
    pub(crate) bytes_received: IntStat,
    pub(crate) bytes_sent: IntStat,
    pub(crate) hits_by_route: MeterDictStat,
    pub(crate) errors_by_route: IntDictStat,
    pub(crate) latency_by_route: NamedPmfDictStat,
}

impl WebStats {
    /// Declares the layout in `scope`, in this order (the tree's order, unless the scope
    /// already had some of them); the stats keyed by route hold at most `max_routes` keys.
    fn declare(scope: &Scope, max_routes: usize) -> Result<Self, scales::Error> {
        let by_route = StatOptions::default().with_max_keys(max_routes);
        Ok(Self {
            hits: scope.meter_stat("hits")?,
            success: scope.int_stat("success")?,
            errors: scope.int_stat("errors")?,
            latency: scope.pmf_stat("latency")?,
            in_flight: scope.int_stat("inFlight")?,
            cancelled: scope.int_stat("cancelled")?,
            service_errors: scope.int_stat("serviceErrors")?,
            by_status_class: scope.int_dict_stat("byStatusClass")?,
            bytes_received: scope.int_stat("bytesReceived")?,
            bytes_sent: scope.int_stat("bytesSent")?,
            hits_by_route: scope.declare_with("hitsByRoute", by_route)?,
            errors_by_route: scope.declare_with("errorsByRoute", by_route)?,
            latency_by_route: scope.declare_with("latencyByRoute", by_route)?,
        })
    }
}

/// The optional distributions of the time until the response body's end.
pub(crate) struct ToEndStats {
    pub(crate) latency: PmfStat,
    pub(crate) latency_by_route: NamedPmfDictStat,
}

impl ToEndStats {
    fn declare(scope: &Scope, max_routes: usize) -> Result<Self, scales::Error> {
        let by_route = StatOptions::default().with_max_keys(max_routes);
        Ok(Self {
            latency: scope.pmf_stat("latencyToEnd")?,
            latency_by_route: scope.declare_with("latencyToEndByRoute", by_route)?,
        })
    }
}

/// The builder's choices, besides the scope and the classifier.
pub(crate) struct Config {
    pub(crate) latency_to_end: bool,
    pub(crate) max_routes: usize,
    pub(crate) unmatched: Box<str>,
}

/// Everything a layer's services share: its stats, clock and route classifier.
pub(crate) struct Shared {
    pub(crate) stats: WebStats,
    pub(crate) to_end: Option<ToEndStats>,
    clock: Clock,
    classify: Option<Box<Classifier>>,
    unmatched: Box<str>,
}

impl Shared {
    pub(crate) fn new(
        scope: &Scope,
        config: Config,
        classify: Option<Box<Classifier>>,
    ) -> Result<Self, scales::Error> {
        let stats = WebStats::declare(scope, config.max_routes)?;
        // The five classes HTTP defines are there from the start, at 0: a dashboard or an
        // alert on `5xx` has a series before the first server error.
        for class in &CLASSES[1..=5] {
            stats.by_status_class.add(class, 0);
        }
        let to_end = if config.latency_to_end {
            Some(ToEndStats::declare(scope, config.max_routes)?)
        } else {
            None
        };
        Ok(Self {
            stats,
            to_end,
            clock: scope.registry().clock().clone(),
            classify,
            unmatched: config.unmatched,
        })
    }

    /// The route key of a request: axum's matched route template, else the classifier's
    /// answer, else the unmatched key.
    pub(crate) fn route(&self, parts: &Parts) -> Route {
        #[cfg(feature = "axum")]
        if let Some(matched) = parts.extensions.get::<axum::extract::MatchedPath>() {
            return Route::Matched(matched.clone());
        }
        match self.classify.as_ref().and_then(|classify| classify(parts)) {
            Some(Cow::Borrowed(route)) => Route::Static(route),
            Some(Cow::Owned(route)) => Route::Owned(route),
            None => Route::Unmatched,
        }
    }

    fn key<'a>(&'a self, route: &'a Route) -> &'a str {
        match route {
            Route::Unmatched => &self.unmatched,
            Route::Static(route) => route,
            Route::Owned(route) => route,
            #[cfg(feature = "axum")]
            Route::Matched(matched) => matched.as_str(),
        }
    }

    fn seconds_since(&self, start: u64) -> f64 {
        self.clock.now_nanos().saturating_sub(start) as f64 * 1e-9
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("latency_to_end", &self.to_end.is_some())
            .field("classifier", &self.classify.is_some())
            .field("unmatched", &self.unmatched)
            .finish_non_exhaustive()
    }
}

/// A request's route key, held from `call` to the end of its response.
pub(crate) enum Route {
    Unmatched,
    Static(&'static str),
    Owned(String),
    #[cfg(feature = "axum")]
    Matched(axum::extract::MatchedPath),
}

/// Where a request is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Waiting for the inner service's response.
    Head,
    /// The head was returned; the body is streaming.
    Body,
    /// Recorded and no longer in flight.
    Done,
}

/// One request in flight: counted in `inFlight` from its creation until it is finished or
/// dropped, whichever comes first — so a future or body dropped by a disconnecting client,
/// a timeout or a panic's unwinding leaves the count right.
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    route: Route,
    start: u64,
    phase: Phase,
}

impl InFlight {
    /// Starts a request: counts it and starts its clock.
    pub(crate) fn start(shared: Arc<Shared>, route: Route) -> Self {
        let stats = &shared.stats;
        stats.in_flight.inc();
        stats.hits.mark();
        stats.hits_by_route.mark(shared.key(&route));
        let start = shared.clock.now_nanos();
        Self {
            shared,
            route,
            start,
            phase: Phase::Head,
        }
    }

    /// The inner service returned a response head with `status`.
    pub(crate) fn head(&mut self, status: StatusCode) {
        if self.phase != Phase::Head {
            return;
        }
        self.phase = Phase::Body;
        let (shared, stats) = (&*self.shared, &self.shared.stats);
        let key = shared.key(&self.route);
        let seconds = shared.seconds_since(self.start);
        stats.latency.record(seconds);
        stats.latency_by_route.record(key, seconds);
        let class = usize::from(status.as_u16() / 100);
        stats
            .by_status_class
            .inc(CLASSES.get(class).copied().unwrap_or(CLASSES[0]));
        if status.is_server_error() {
            stats.errors.inc();
            stats.errors_by_route.inc(key);
        } else {
            stats.success.inc();
        }
    }

    /// The inner service failed: no response.
    pub(crate) fn service_error(&mut self) {
        if self.phase != Phase::Head {
            return;
        }
        let (shared, stats) = (&*self.shared, &self.shared.stats);
        let key = shared.key(&self.route);
        let seconds = shared.seconds_since(self.start);
        stats.latency.record(seconds);
        stats.latency_by_route.record(key, seconds);
        stats.service_errors.inc();
        stats.errors.inc();
        stats.errors_by_route.inc(key);
        self.leave();
    }

    /// The response body ended: records the time to its end (if asked for) and leaves.
    pub(crate) fn body_end(&mut self) {
        if self.phase != Phase::Body {
            return;
        }
        if let Some(to_end) = &self.shared.to_end {
            let seconds = self.shared.seconds_since(self.start);
            to_end.latency.record(seconds);
            to_end
                .latency_by_route
                .record(self.shared.key(&self.route), seconds);
        }
        self.leave();
    }

    /// The response body failed: no time to its end, the request is over.
    pub(crate) fn body_error(&mut self) {
        if self.phase == Phase::Body {
            self.leave();
        }
    }

    /// The bytes of one response body frame.
    pub(crate) fn sent(&self, bytes: usize) {
        self.shared.stats.bytes_sent.add(saturating_i64(bytes));
    }

    fn leave(&mut self) {
        self.phase = Phase::Done;
        self.shared.stats.in_flight.dec();
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        match self.phase {
            Phase::Head => {
                self.shared.stats.cancelled.inc();
                self.leave();
            }
            Phase::Body => self.leave(),
            Phase::Done => {}
        }
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("route", &self.shared.key(&self.route))
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// A byte count as the `i64` of an `IntStat`.
pub(crate) fn saturating_i64(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
