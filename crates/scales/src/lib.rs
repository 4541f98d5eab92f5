//! Hierarchical in-process metrics for Rust servers: a Rust rebuild of Greplin's *scales*.
//!
//! # Overview
//!
//! A server declares stats — counters, gauges computed by closures, keyed counters,
//! distributions with percentiles (timers), 1/5/15-minute rate meters, state timers — in a
//! **tree of paths** such as `/web/errors`, globally or per object. Each object gets its own
//! sub-tree, and aggregation stats add its children up into the parent. Recording is a
//! handle method that takes no lock: counters, meters and distributions write cells owned by
//! the recording thread (no `lock`-prefixed instruction, no shared cache line), which are
//! folded into the stat when the thread exits. Only a thread's first record into a stat
//! allocates.
//!
//! Everything that reads stats works from a [`Snapshot`]: the output formats of [`format`](mod@format),
//! the [`query`] filter, file dumps (`dump_stats_to`), and the HTTP status page and Graphite
//! pusher of the sibling crates.
//!
//! # Features
//!
//! Each output format is a cargo feature: `json` (on by default; file dumps and
//! `dump_stats_to` need it), `html`, `prometheus` and `graphite`; `full` turns on all four.
//! A program that only records can turn them all off (`default-features = false`).
//!
//! # Example
//!
//! ```
//! use scales::Stats;
//!
//! #[derive(Stats)]
//! struct WebStats {
//!     errors: scales::IntStat,
//!     success: scales::IntStat,
//!     latency: scales::PmfStat,
//! }
//!
//! let web = scales::init::<WebStats>("/web")?;
//! web.success.inc();
//! {
//!     let _timer = web.latency.time();
//!     // ... handle the request ...
//! }
//!
//! let snapshot = scales::snapshot();
//! assert_eq!(snapshot.stat("/web/success").unwrap().value, scales::StatValue::Int(1));
//! println!("{}", scales::format::json::to_string(&snapshot, scales::format::json::Style::Compact));
//! # Ok::<(), scales::Error>(())
//! ```
//!
//! # Stat types
//!
//! | type | records | reports |
//! |---|---|---|
//! | [`IntStat`], [`DoubleStat`] | `inc`, `add`, `set` | the number |
//! | [`Stat`] | `set(value)` or `set_fn(closure)` (a gauge) | the value |
//! | [`IntDictStat`], [`StringDictStat`] | per key | `{key: value}` |
//! | [`PmfStat`], [`NamedPmfDictStat`] | `record(v)`, `time()` | count, min, max, mean, stddev, percentiles |
//! | [`MeterStat`], [`MeterDictStat`] | `mark()` | count, m1, m5, m15, mean rate |
//! | [`StateTimeStat`] | `set_state(s)` | seconds in each state |
//! | [`SumAggregationStat`], [`HistogramAggregationStat`], [`IntDictSumAggregationStat`], [`PmfAggregationStat`] | — | children's stats of the same name, combined |

#![deny(unsafe_code)]

#[cfg(any(feature = "graphite", feature = "prometheus"))]
#[allow(unsafe_code)]
mod append;
mod atomic_f64;
#[allow(unsafe_code)]
mod cells;
mod clock;
mod collection;
#[cfg(feature = "json")]
mod dump;
#[cfg(feature = "json")]
pub mod dumper;
mod error;
pub mod format;
mod gauges;
mod number;
mod path;
pub mod process;
pub mod query;
mod registry;
pub mod sketch;
mod snapshot;
mod stats;
mod sync;
mod value;

#[cfg(feature = "json")]
use std::path::Path;

pub use clock::{Clock, ManualClock};
pub use collection::Collection;
#[cfg(feature = "json")]
pub use dumper::Dumper;
pub use error::{EntryKind, Error};
pub use path::{validate_name, Name, PathError, StatPath};
pub use registry::{registry, Declare, Registry, Scope, SnapshotOptions, StatSet, Stats};
pub use sketch::{SketchDetail, SketchSnapshot};
pub use snapshot::{
    Entry, Group, Keyed, MeterSnapshot, Node, Snapshot, StatAt, StatKind, StatSnapshot, StatValue,
};
pub use stats::{
    CounterStat, DoubleStat, HistogramAggregationStat, IntDictKey, IntDictStat,
    IntDictSumAggregationStat, IntStat, MeterDictStat, MeterStat, NamedPmfDictStat,
    PmfAggregationStat, PmfStat, Stat, StatOptions, StateGuard, StateTimeStat, StringDictStat,
    SumAggregationStat, TimerGuard, OVERFLOW_KEY,
};
pub use value::Value;

/// Derives [`Stats`] for a struct whose fields are stat types, so that
/// [`init`] and [`Scope::init_child`] declare them all at once.
///
/// Each field is declared under its own name, or under `#[stat(name = "...")]`.
/// `#[stat(auto_delete)]` declares an [`IntDictStat`] or [`HistogramAggregationStat`] that
/// drops zero entries.
pub use scales_derive::Stats;

/// A global collection at `path`, to declare stats in by name (the original's
/// `scales.collection`). Its stats stay in the tree for the life of the program, even when
/// every handle is dropped; for a fixed set of stats, a `static` [`Collection`] does the
/// same in one declaration.
///
/// ```
/// fn setup() -> Result<(), scales::Error> {
///     let web = scales::collection("/doc/collection")?;
///     web.int_stat("errors")?.inc();
///     Ok(())
/// } // the handles are gone, the stat stays
///
/// setup()?;
/// let snapshot = scales::snapshot();
/// assert_eq!(snapshot.stat("/doc/collection/errors").unwrap().value, scales::StatValue::Int(1));
/// # Ok::<(), scales::Error>(())
/// ```
///
/// # Errors
/// When the path is invalid or crosses a stat.
pub fn collection(path: &str) -> Result<Scope, Error> {
    registry().collection(path)
}

/// Declares the stat set `T` at `path` in the global registry for one object (the
/// original's `scales.init(self, path)`): the stats leave the tree when the returned
/// [`StatSet`] and every handle cloned from it are dropped. For stats that live as long as
/// the program, use a `static` [`Collection`].
///
/// # Errors
/// When the path or a stat name is invalid, or clashes with a stat of another kind.
pub fn init<T: Stats>(path: &str) -> Result<StatSet<T>, Error> {
    registry().init(path)
}

/// A snapshot of the whole global tree.
pub fn snapshot() -> Snapshot {
    registry().snapshot()
}

/// Marks a container of the global tree as collapsed (see [`Scope::set_collapsed`]).
///
/// # Errors
/// When the path is invalid or crosses a stat.
pub fn set_collapsed(path: &str) -> Result<(), Error> {
    registry().set_collapsed(path, true)
}

/// Clears the global tree. Meant for tests.
pub fn reset() {
    registry().reset();
}

#[cfg(feature = "json")]
/// Writes the global tree as JSON to `path`, atomically: a reader never sees a torn file.
///
/// A symlink is written through (its target is replaced atomically, the link stays); a
/// directory, FIFO, socket or device is refused and left alone. The replaced file's
/// permissions are kept.
///
/// # Errors
/// When the file cannot be written, or `path` is not (a symlink to) a regular file or a new
/// file (`InvalidInput`).
pub fn dump_stats_to(path: impl AsRef<Path>) -> std::io::Result<()> {
    registry().dump_to(path)
}
