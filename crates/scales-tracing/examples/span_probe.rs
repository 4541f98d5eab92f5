//! Runs `N` spans (or events) under one subscriber, for instruction counts that machine
//! noise does not move (see `BENCHMARKS.md`, *Tracing layer*):
//!
//! ```sh
//! cargo build --release -p scales-tracing --example span_probe
//! for n in 100000 600000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!   target/release/examples/span_probe --subscriber scales --op span --n $n 2>&1 | grep Collected; done
//! # instructions per span = (difference of the two counts) / 500 000
//! ```
//!
//! `--subscriber`: `registry` (no layer), `scales`, `scales_filtered_out`, `fmt_close_timing`
//! (`fmt` with `FmtSpan::CLOSE` to `io::sink`) or `tracing_timing`. `--op`: `span` (create,
//! enter, exit, close) or `event` (one `info!`).

use std::hint::black_box;
use std::process::ExitCode;

use scales_tracing::ScalesLayer;
use tracing::Dispatch;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

fn span() {
    let span = tracing::info_span!(target: "bench", "work");
    let entered = span.enter();
    drop(black_box(entered));
    drop(span);
}

fn event() {
    tracing::info!(target: "bench", "hello");
}

fn dispatch(name: &str) -> Result<Dispatch, String> {
    let registry = tracing_subscriber::registry;
    let scales = |targets: &[&str]| {
        let builder = ScalesLayer::builder();
        let builder = if targets.is_empty() {
            builder
        } else {
            builder.with_targets(targets.iter().copied())
        };
        builder
            .build(&scales::Registry::new())
            .map_err(|e| e.to_string())
    };
    Ok(match name {
        "registry" => Dispatch::new(registry()),
        "scales" => Dispatch::new(registry().with(scales(&[])?)),
        "scales_filtered_out" => Dispatch::new(registry().with(scales(&["elsewhere"])?)),
        "fmt_close_timing" => Dispatch::new(
            registry().with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_span_events(FmtSpan::CLOSE),
            ),
        ),
        "tracing_timing" => {
            let histogram = || tracing_timing::Histogram::new_with_max(10_000_000_000, 2);
            histogram().map_err(|e| e.to_string())?;
            Dispatch::new(
                registry().with(tracing_timing::Builder::default().layer(
                    move || match histogram() {
                        Ok(histogram) => histogram,
                        Err(error) => unreachable!("the same bounds were accepted above: {error}"),
                    },
                )),
            )
        }
        other => return Err(format!("unknown subscriber {other:?}")),
    })
}

fn run() -> Result<(), String> {
    let mut subscriber = "scales".to_owned();
    let mut op = "span".to_owned();
    let mut n: u64 = 1_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--subscriber" => subscriber = value,
            "--op" => op = value,
            "--n" => n = value.parse().map_err(|e| format!("--n {value}: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let routine: fn() = match op.as_str() {
        "span" => span,
        "event" => event,
        other => return Err(format!("unknown op {other:?}")),
    };
    let dispatch = dispatch(&subscriber)?;
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..n {
            routine();
        }
    });
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("span_probe: {message}");
            ExitCode::from(2)
        }
    }
}
