//! Integration tests of `scales-tracing`: a real `tracing_subscriber::registry()` with the
//! layer, set as the default subscriber of each test, timing spans against a
//! [`ManualClock`] so that busy and idle times are exact.

mod alloc;
mod events;
mod filters;
mod spans;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use scales::{ManualClock, Registry, SketchSnapshot, StatValue};
use scales_tracing::ScalesLayer;
use tracing_subscriber::prelude::*;

/// A registry on a manual clock, and the clock.
fn manual_registry() -> (ManualClock, Registry) {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let registry = Registry::with_clock(clock.clock());
    (clock, registry)
}

/// Runs `f` with `registry().with(layer)` as the default subscriber.
fn with_layer<R>(layer: ScalesLayer, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The distribution at `path`.
#[track_caller]
fn distribution(registry: &Registry, path: &str) -> SketchSnapshot {
    match registry
        .snapshot()
        .stat(path)
        .map(|stat| stat.value.clone())
    {
        Some(StatValue::Distribution(sketch)) => *sketch,
        other => panic!("no distribution at {path}: {other:?}"),
    }
}

/// The integer stat at `path`.
#[track_caller]
fn int(registry: &Registry, path: &str) -> i64 {
    match registry
        .snapshot()
        .stat(path)
        .map(|stat| stat.value.clone())
    {
        Some(StatValue::Int(n)) => n,
        other => panic!("no integer at {path}: {other:?}"),
    }
}

/// The entries of the dict at `path`, sorted by key.
#[track_caller]
fn counts(registry: &Registry, path: &str) -> Vec<(String, i64)> {
    match registry
        .snapshot()
        .stat(path)
        .map(|stat| stat.value.clone())
    {
        Some(StatValue::Counts(entries)) => {
            let mut entries: Vec<_> = entries
                .into_iter()
                .map(|entry| (entry.key.to_string(), entry.value))
                .collect();
            entries.sort();
            entries
        }
        other => panic!("no dict at {path}: {other:?}"),
    }
}

/// Whether anything (a stat or a container) is at `path`.
fn exists(registry: &Registry, path: &str) -> bool {
    registry.snapshot().get(path).is_some()
}

/// Asserts that a distribution holds exactly these values, in milliseconds (up to the
/// rounding of nanoseconds to seconds).
#[track_caller]
fn assert_ms(sketch: &SketchSnapshot, values_ms: &[u64]) {
    assert_eq!(
        sketch.count(),
        values_ms.len() as u64,
        "count of {sketch:?}"
    );
    let seconds = |ms: u64| ms as f64 / 1000.0;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
    let sum: u64 = values_ms.iter().sum();
    assert!(
        close(sketch.sum(), seconds(sum)),
        "sum {} against {sum} ms",
        sketch.sum()
    );
    if let (Some(min), Some(max)) = (values_ms.iter().min(), values_ms.iter().max()) {
        let (got_min, got_max) = (
            sketch.min().unwrap_or(f64::NAN),
            sketch.max().unwrap_or(f64::NAN),
        );
        assert!(
            close(got_min, seconds(*min)),
            "min {got_min} against {min} ms"
        );
        assert!(
            close(got_max, seconds(*max)),
            "max {got_max} against {max} ms"
        );
    }
}

/// A layer that counts the spans it sees close, to show what other layers receive.
#[derive(Clone, Default)]
struct CloseCounter(Arc<AtomicUsize>);

impl CloseCounter {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CloseCounter {
    fn on_close(&self, _: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
