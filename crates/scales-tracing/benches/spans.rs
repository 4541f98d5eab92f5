//! What a span and an event cost with `ScalesLayer`, beside the same subscriber without it
//! and with the layers a server would otherwise use to get span timings.
//!
//! Method (results in `BENCHMARKS.md`, section *Tracing layer*):
//!
//! * Every row runs the same function — the same callsites — with a different default
//!   subscriber (`tracing::subscriber::with_default`), so the rows of a group differ only
//!   by the subscriber.
//! * `span`: create an `info_span!`, enter it, exit it, drop it (so it closes). `event`: one
//!   `info!` outside any span. `span_with_event`: a span with one event inside, what
//!   `tracing-timing` (which times the gaps between a span's events) needs to record
//!   anything.
//! * Rows: `no_subscriber` (spans disabled: the floor of the macros); `registry` (the
//!   `tracing_subscriber::registry()` every layer sits on, alone); `scales` (the registry
//!   and `ScalesLayer`, every target); `scales_filtered_out` (the layer with
//!   `with_targets(["elsewhere"])`, so it skips these spans); `fmt_sink` (the registry and
//!   `tracing_subscriber::fmt::layer()` writing to `io::sink`, span events off: a logging
//!   setup's own cost); `fmt_close_timing_sink` (the same with `FmtSpan::CLOSE`, the built-in
//!   way to get busy/idle times: one formatted line per close, written to the sink);
//!   `tracing_timing` (the registry and `tracing_timing::TimingLayer`, HdrHistograms per span
//!   and event name).
//! * The scales rows use a registry on the system clock (quanta's TSC reads).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use scales_tracing::ScalesLayer;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

fn span() {
    let span = tracing::info_span!(target: "bench", "work");
    let entered = span.enter();
    drop(entered);
    drop(span);
}

fn event() {
    tracing::info!(target: "bench", "hello");
}

fn span_with_event() {
    let span = tracing::info_span!(target: "bench", "request");
    let entered = span.enter();
    tracing::info!(target: "bench", "done");
    drop(entered);
    drop(span);
}

/// Benchmarks `routine` under `subscriber` as the default.
fn run<S>(group: &mut BenchmarkGroup<'_, WallTime>, row: &str, subscriber: S, routine: fn())
where
    S: Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function(row, |b| b.iter(routine));
    });
}

fn scales_layer(targets: Option<&[&str]>) -> ScalesLayer {
    let registry = scales::Registry::new();
    let builder = ScalesLayer::builder();
    let builder = match targets {
        Some(targets) => builder.with_targets(targets.iter().copied()),
        None => builder,
    };
    match builder.build(&registry) {
        Ok(layer) => layer,
        Err(error) => panic!("a fresh registry takes the layer: {error}"),
    }
}

fn timing_layer() -> tracing_timing::TimingLayer {
    tracing_timing::Builder::default().layer(|| {
        // Nanoseconds up to 10 s, 2 significant digits (the crate's documented example).
        match tracing_timing::Histogram::new_with_max(10_000_000_000, 2) {
            Ok(histogram) => histogram,
            Err(error) => panic!("valid histogram bounds: {error}"),
        }
    })
}

fn group(c: &mut Criterion, name: &str, routine: fn()) {
    let registry = tracing_subscriber::registry;
    let mut group = c.benchmark_group(name);
    run(
        &mut group,
        "no_subscriber",
        tracing::subscriber::NoSubscriber::default(),
        routine,
    );
    run(&mut group, "registry", registry(), routine);
    run(
        &mut group,
        "scales",
        registry().with(scales_layer(None)),
        routine,
    );
    run(
        &mut group,
        "scales_filtered_out",
        registry().with(scales_layer(Some(&["elsewhere"]))),
        routine,
    );
    let fmt = || tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    run(&mut group, "fmt_sink", registry().with(fmt()), routine);
    run(
        &mut group,
        "fmt_close_timing_sink",
        registry().with(fmt().with_span_events(FmtSpan::CLOSE)),
        routine,
    );
    run(
        &mut group,
        "tracing_timing",
        registry().with(timing_layer()),
        routine,
    );
    group.finish();
}

fn spans(c: &mut Criterion) {
    group(c, "span", span);
    group(c, "event", event);
    group(c, "span_with_event", span_with_event);
}

criterion_group!(benches, spans);
criterion_main!(benches);
