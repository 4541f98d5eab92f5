//! A [`tracing_subscriber`] layer that turns spans and events into scales stats: how long
//! each kind of span was busy and idle, how many closed, and how many events each target
//! logged at each level.
//!
//! # Example
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let registry = scales::Registry::new();
//! let layer = scales_tracing::ScalesLayer::builder()
//!     .with_targets(["my_crate"])
//!     .build(&registry)?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//!
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!(target: "my_crate::db", "query");
//!     span.in_scope(|| tracing::warn!(target: "my_crate::db", "slow query"));
//!     tracing::info!(target: "hyper", "not recorded: not a listed target");
//! });
//!
//! let snapshot = registry.snapshot();
//! let scales::StatValue::Distribution(busy) = &snapshot.stat("/spans/my_crate::db/query/busy").unwrap().value
//! else { unreachable!() };
//! assert_eq!(busy.count(), 1);
//! assert_eq!(snapshot.stat("/spans/my_crate::db/query/closed").unwrap().value, scales::StatValue::Int(1));
//! let scales::StatValue::Counts(warnings) = &snapshot.stat("/events/warn").unwrap().value
//! else { unreachable!() };
//! assert_eq!(&*warnings[0].key, "my_crate::db");
//! assert_eq!(warnings[0].value, 1);
//! # Ok::<(), scales::Error>(())
//! ```
//!
//! In a server, add the layer beside the others (`fmt`, `EnvFilter`) and install the
//! subscriber once; the stats then show on the status page with the rest.
//!
//! # Stat layout
//!
//! | path | stat | what |
//! |---|---|---|
//! | `/spans/<target>/<name>/busy` | [`PmfStat`](scales::PmfStat) | seconds each span was busy |
//! | `/spans/<target>/<name>/idle` | [`PmfStat`](scales::PmfStat) | seconds each span was idle |
//! | `/spans/<target>/<name>/closed` | [`CounterStat`](scales::CounterStat) | spans closed |
//! | `/events/<level>` | [`IntDictStat`](scales::IntDictStat) | events by target, one dict per level (`error`, `warn`, `info`, `debug`, `trace`) |
//!
//! A span is recorded once, when it closes: one value in `busy`, one in `idle`, and one in
//! `closed`, so the two distributions' counts equal `closed`. Spans of the same target
//! and name share their stats whatever callsite created them.
//!
//! **Busy and idle** are those of `tracing_subscriber::fmt`'s span timing
//! (`FmtSpan::CLOSE`'s `time.busy` and `time.idle`), read from the registry's
//! [clock](scales::Registry::clock):
//!
//! * *busy* is the time during which the span was entered on at least one thread: from
//!   an enter that finds it not entered to the exit that leaves it entered nowhere.
//!   Nested or concurrent entries of the same span count once.
//! * *idle* is the rest of its life: from its creation to its first enter, between an exit
//!   and the next enter, and from its last exit to its close.
//!
//! So `busy + idle` is the span's lifetime, from creation to close (the close comes when
//! the last handle to the span is dropped, after the children that hold it). An
//! [instrumented](https://docs.rs/tracing/latest/tracing/trait.Instrument.html) future is
//! busy while it is polled and idle while it waits to be polled again.
//!
//! **Names.** The target is one path segment, kept as it is (`my_crate::db` is a valid
//! stat name), and so is the span's name. In both, `/` and control characters become `_`
//! and an empty string becomes `_` (`GET /users` is stored as `GET _users`). Keeping the
//! target in one segment, rather than splitting it at `::`, means no span path can
//! clash with another's stats.
//!
//! **Events** are counted by level in a fixed set of five dicts keyed by target, rather
//! than one stat per target: a new target adds a key to an existing dict (lock-free
//! copy of its key map), never a stat to the tree, and "all errors" is one stat to read.
//! Keys are the targets exactly as written. Events that `tracing-log` bridges from the
//! `log` crate count under the target `log`.
//!
//! # Filters and cardinality
//!
//! [`Builder::with_targets`] records only the listed targets and the modules inside
//! them; other spans and events cost this layer one cache lookup and still reach the other
//! layers. The layer also works under tracing-subscriber's per-layer filters
//! (`layer.with_filter(LevelFilter::INFO)`, `Targets`, `filter_fn`), which is the way to
//! filter by level or fields.
//!
//! The number of stats is bounded: at most [`Builder::max_spans`] distinct span names
//! (default 256) get their own three stats; spans of any further name are timed into
//! `/spans/other/other`. At most [`Builder::max_event_targets`] targets (default 64) get
//! a key in the event dicts; further ones count under the key `other`. A name whose stats
//! cannot be declared (another kind of stat already at its path) is also timed into
//! `other`. A real target or name spelt `other` shares the overflow's stats.
//!
//! # Cost
//!
//! What a callsite records into — its stats, or nothing — is found when its first span or
//! event reaches the layer (declaring the stats then, under a mutex) and cached in a map
//! keyed by the callsite, read without a lock and without writing shared memory. In
//! steady state a span costs, in this layer:
//!
//! * creation: a cache lookup, a clock read, and the insertion of 32 bytes into the span's
//!   extensions (tracing-subscriber boxes each extension; `fmt`'s span timing pays the same);
//! * each enter and exit: a clock read (only for the outermost one), under the span's own
//!   extensions lock (tracing-subscriber's, uncontended unless two threads enter the same
//!   span at once);
//! * close: a clock read, a read of the span's extensions (the same lock), a cache lookup,
//!   and three writes to the calling thread's own cells (two distribution records and a
//!   counter increment). No allocation, no lock of the layer's, no write to memory another
//!   thread writes.
//!
//! An event costs a cache lookup and an increment through a handle onto its key
//! ([`IntDictKey`](scales::IntDictKey), looked up once per callsite). Measured (instruction
//! counts, `BENCHMARKS.md` at the repository root): a span adds about 1 450 instructions to
//! the registry's 770, of which most are tracing-subscriber's own span look-ups and
//! extension handling; `fmt` with `FmtSpan::CLOSE` adds about 15 500. An event adds about
//! 140 to the registry's 110.

#![forbid(unsafe_code)]

mod cache;
mod layer;
mod name;
mod recorder;

pub use layer::{Builder, ScalesLayer, DEFAULT_MAX_EVENT_TARGETS, DEFAULT_MAX_SPANS};
