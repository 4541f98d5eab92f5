//! [`ScalesLayer`] and its [`Builder`].

use std::fmt;
use std::sync::Arc;

use scales::{Error, Registry};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::name::TargetFilter;
use crate::recorder::{Config, Recorder};

/// Distinct span names (pairs of target and name) that get their own stats by default.
pub const DEFAULT_MAX_SPANS: usize = 256;
/// Distinct event targets that get their own key by default.
pub const DEFAULT_MAX_EVENT_TARGETS: usize = 64;

/// A [`Layer`] that times spans into distributions and counts events, in a scales
/// [`Registry`]. See the [crate documentation](crate) for the stats it keeps.
///
/// Cloning gives another handle to the same stats and caches (to put one layer in several
/// subscribers, as tests do).
#[derive(Clone)]
pub struct ScalesLayer {
    recorder: Arc<Recorder>,
}

impl ScalesLayer {
    /// A builder, to choose the targets, the caps and the paths.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A layer with the default settings (every target, stats at `/spans` and `/events`)
    /// recording into `registry`.
    ///
    /// # Errors
    /// When `/spans` or `/events` crosses a stat of `registry`, or `/events/<level>` is
    /// already another kind of stat.
    pub fn new(registry: &Registry) -> Result<Self, Error> {
        Self::builder().build(registry)
    }
}

impl fmt::Debug for ScalesLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (span_callsites, event_callsites) = self.recorder.callsites();
        f.debug_struct("ScalesLayer")
            .field("targets", &self.recorder.filter().targets())
            .field("max_spans", &self.recorder.max_spans())
            .field("max_event_targets", &self.recorder.max_event_targets())
            .field("span_callsites", &span_callsites)
            .field("event_callsites", &event_callsites)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ScalesLayer`]: which targets it records, its cardinality caps and where
/// its stats live.
///
/// ```
/// let registry = scales::Registry::new();
/// let layer = scales_tracing::ScalesLayer::builder()
///     .with_targets(["my_crate", "tower_http"])
///     .max_spans(100)
///     .max_event_targets(20)
///     .spans_path("/tracing/spans")
///     .events_path("/tracing/events")
///     .build(&registry)?;
/// # let _ = layer;
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    spans_path: String,
    events_path: String,
    filter: TargetFilter,
    max_spans: usize,
    max_event_targets: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            spans_path: "/spans".to_owned(),
            events_path: "/events".to_owned(),
            filter: TargetFilter::default(),
            max_spans: DEFAULT_MAX_SPANS,
            max_event_targets: DEFAULT_MAX_EVENT_TARGETS,
        }
    }
}

impl Builder {
    /// Records only spans and events whose target is one of `targets` or a module inside
    /// one: `"my_crate"` takes `my_crate` and `my_crate::db`, not `my_crate_extra`. By
    /// default every target is recorded. Calling it again replaces the list; an empty list
    /// records nothing.
    ///
    /// Other spans and events still reach the other layers: this layer only skips them
    /// (for one cache lookup per span or event). For level or field filters, wrap the
    /// layer in a per-layer filter instead (`layer.with_filter(LevelFilter::INFO)`).
    pub fn with_targets<I>(mut self, targets: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.filter = TargetFilter::only(targets.into_iter().map(Into::into).collect());
        self
    }

    /// How many distinct span names — pairs of target and name, after
    /// [sanitising](crate#stat-layout) — get their own stats (default
    /// [`DEFAULT_MAX_SPANS`]). Spans of further names are timed into
    /// `<spans>/other/other`.
    pub fn max_spans(mut self, max: usize) -> Self {
        self.max_spans = max;
        self
    }

    /// How many distinct event targets get their own key in the `<events>/<level>` dicts
    /// (default [`DEFAULT_MAX_EVENT_TARGETS`]). Events of further targets are counted under
    /// the key `other`.
    pub fn max_event_targets(mut self, max: usize) -> Self {
        self.max_event_targets = max;
        self
    }

    /// Where the span stats live (default `/spans`).
    pub fn spans_path(mut self, path: impl Into<String>) -> Self {
        self.spans_path = path.into();
        self
    }

    /// Where the event counts live (default `/events`).
    pub fn events_path(mut self, path: impl Into<String>) -> Self {
        self.events_path = path.into();
        self
    }

    /// The layer, recording into `registry` and reading its clock (a registry built with
    /// [`Registry::with_clock`] and a [`ManualClock`](scales::ManualClock) times spans by
    /// hand). The containers at the two paths become global collections of `registry`:
    /// the stats stay in the tree after the layer is dropped.
    ///
    /// # Errors
    /// When a path is invalid or crosses a stat, or an `<events>/<level>` stat already
    /// exists as another kind.
    pub fn build(self, registry: &Registry) -> Result<ScalesLayer, Error> {
        let config = Config {
            spans_path: self.spans_path,
            events_path: self.events_path,
            filter: self.filter,
            max_spans: self.max_spans,
            max_event_targets: self.max_event_targets,
        };
        Ok(ScalesLayer {
            recorder: Arc::new(Recorder::new(registry, config)?),
        })
    }
}

/// What the layer keeps in a span's extensions: the busy and idle nanoseconds so far, as
/// `tracing_subscriber::fmt` defines them, and when they were last brought up to date.
#[derive(Debug, Clone, Copy)]
struct SpanTiming {
    busy: u64,
    idle: u64,
    /// Clock reading of the last change between idle and busy (or of the creation).
    last: u64,
    /// Entries not yet exited, on any thread.
    entered: u64,
}

impl SpanTiming {
    fn new(now: u64) -> Self {
        Self {
            busy: 0,
            idle: 0,
            last: now,
            entered: 0,
        }
    }

    /// The busy and idle nanoseconds of the whole life, closed at `now`. A span still
    /// entered when it closes (only a subscriber driven by hand can do that) is busy to the
    /// end.
    fn finish(mut self, now: u64) -> (u64, u64) {
        let tail = now.saturating_sub(self.last);
        if self.entered > 0 {
            self.busy += tail;
        } else {
            self.idle += tail;
        }
        (self.busy, self.idle)
    }
}

impl<S> Layer<S> for ScalesLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // `register_callsite` and `enabled` keep their defaults: this layer never disables
    // anything for the other layers, and it declares a callsite's stats when the first span
    // or event of it arrives, not when it is registered (registration reaches every layer of
    // every subscriber, for callsites that their filters may never enable).

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.recorder.records_span(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let timing = SpanTiming::new(self.recorder.now());
        let mut extensions = span.extensions_mut();
        // Another `ScalesLayer` in the same subscriber shares the timing (the type is the
        // key), so `insert`, which panics on a second insert, is only called once.
        if extensions.get_mut::<SpanTiming>().is_none() {
            extensions.insert(timing);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(timing) = extensions.get_mut::<SpanTiming>() {
            if timing.entered == 0 {
                let now = self.recorder.now();
                timing.idle += now.saturating_sub(timing.last);
                timing.last = now;
            }
            timing.entered += 1;
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(timing) = extensions.get_mut::<SpanTiming>() {
            // An exit without its enter (only a subscriber driven by hand can do that)
            // changes nothing.
            if timing.entered > 0 {
                timing.entered -= 1;
                if timing.entered == 0 {
                    let now = self.recorder.now();
                    timing.busy += now.saturating_sub(timing.last);
                    timing.last = now;
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(timing) = span.extensions().get::<SpanTiming>().copied() else {
            return;
        };
        let (busy, idle) = timing.finish(self.recorder.now());
        self.recorder.record_span(span.metadata(), busy, idle);
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        self.recorder.count_event(event.metadata());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_adds_the_tail_to_idle_or_busy() {
        let mut timing = SpanTiming::new(10);
        timing.idle = 5;
        timing.busy = 7;
        timing.last = 20;
        assert_eq!(timing.finish(25), (7, 10));
        timing.entered = 1;
        assert_eq!(timing.finish(25), (12, 5));
        // A clock that went backwards adds nothing.
        assert_eq!(timing.finish(3), (7, 5));
    }
}
