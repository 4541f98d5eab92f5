//! Pushes [scales] stats to Graphite's carbon over its plaintext protocol, from a
//! background thread that never blocks the host and keeps points through outages.
//!
//! # Overview
//!
//! * [`PeriodicPusher`] (the original's `GraphitePeriodicPusher`): a background thread that
//!   snapshots a registry every period (60 s by default), renders it with
//!   [`scales::format::graphite`] and sends it to carbon. Built with
//!   [`GraphitePusher::builder`]`(...).spawn(&registry)`.
//! * [`GraphitePusher`] (the original's `GraphitePusher`): the same, one push at a time, in
//!   the caller's thread ([`GraphitePusher::push`]).
//!
//! Names, sanitising and the allow/forbid/prune rules are the format's: see
//! [`scales::format::graphite`].
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use scales::format::graphite::Rules;
//!
//! let pusher = scales_graphite::GraphitePusher::builder("127.0.0.1:2003")
//!     .prefix("my.server.")
//!     .period(Duration::from_secs(60))
//!     .rules(Rules::new().do_not_log("/internal").forbid("*999percentile"))
//!     .spawn(scales::registry())?;
//! // ... on shutdown (dropping it does the same):
//! let health = pusher.stop(); // sends what is buffered, within 5 s
//! println!("{} points sent, {} unsent", health.points_sent, health.points_buffered);
//! # Ok::<(), scales_graphite::BuildError>(())
//! ```
//!
//! A pusher that should push for the whole life of the program, with no shutdown step,
//! is [detached](PeriodicPusher::detach): `builder(..).spawn(&registry)?.detach()`.
//! Dropping a [`PeriodicPusher`] stops it, so the compiler warns about one left unused.
//!
//! The demo's `--graphite HOST:PORT`, `--graphite-prefix P` and `--graphite-period SECONDS`
//! map onto [`GraphitePusher::builder`], [`Builder::prefix`] and [`Builder::period`].
//!
//! # Never blocking the host
//!
//! Recording never touches the pusher. The periodic pusher takes its snapshot, renders and
//! does every network call on its own thread, with connect and write timeouts; a gauge that
//! panics is already contained by the core, and a panic anywhere in a push is caught, logged
//! and counted: the thread keeps running. [`PeriodicPusher::stop`] (and dropping the
//! pusher) waits at most about [`Builder::stop_timeout`]: a blocked write gives up within
//! 100 ms of the stop request, and the final flush within the stop timeout. The one wait
//! that has no timeout of its own is the system's host name resolution (`getaddrinfo`),
//! which happens on the pusher thread before each connection.
//!
//! # Timestamps
//!
//! Every point of a push carries the same timestamp, aligned to the period: a push due at
//! 12:01:00 is stamped 12:01:00 even if it runs a few milliseconds late. A tick missed
//! entirely (the machine slept) is skipped, not made up.
//!
//! # Outages: the buffer
//!
//! A rendered push is a *batch*. Batches wait in a bounded buffer until carbon takes them,
//! oldest first. When carbon is down, slow or refusing connections, the pusher reconnects
//! with capped exponential backoff plus jitter ([`Builder::backoff`]: 100 ms doubling to
//! 30 s, each wait drawn between half and all of the current step) while new batches keep
//! queueing. The buffer holds [`Builder::buffer_points`] points (default
//! [`DEFAULT_BUFFER_POINTS`] = 100,000: ten minutes at the default period of a tree of up to
//! 10,000 numeric leaves; a batch holds exactly its lines, so about 6.4 MB for names of
//! ~45 characters, see `BENCHMARKS.md`); when a new batch would overflow
//! it, the oldest batches are dropped and counted in `pointsDropped`. A single batch larger
//! than the whole buffer is kept alone.
//!
//! A batch leaves the buffer only when it was written completely. A write that fails half
//! way (a reset, a timeout) is retried from the batch's first line on a new connection: the
//! half-written last line has no newline, so carbon discards it, and lines carbon already
//! took are sent again with the same value and timestamp. Whisper keeps one value per
//! metric and timestamp, so a resend overwrites a point with itself: it is idempotent, and
//! no point is stored twice.
//!
//! TCP accepting bytes does not mean carbon stored them: carbon keeps points in memory for
//! up to a second or so before writing them, and loses that cache when it is stopped.
//! So a written batch stays *unconfirmed* for [`Builder::confirm_after`] (5 s): if the
//! connection closes in that time (carbon shutting down or crashing), the batch goes back
//! to the front of the buffer and is sent again after reconnecting. The pusher checks the
//! connection four times a second while batches are unconfirmed (a non-blocking peek;
//! carbon never writes on this port, so readable means closed). This is also what catches
//! a connection carbon closed while idle, where the next write would "succeed" into the
//! void.
//!
//! # Health
//!
//! The pusher's own stats live in the registry it pushes, at `/scales/graphite` by default
//! ([`Builder::health_path`]), so they reach Graphite one push later:
//!
//! | stat | meaning |
//! |---|---|
//! | `pushes` | snapshots rendered |
//! | `pointsSent` | points written to carbon, resends included |
//! | `pointsResent` | points written again after a connection failed before they were confirmed |
//! | `pointsDropped` | points dropped from a full buffer |
//! | `pointsBuffered` | points waiting to be sent |
//! | `reconnects` | connections opened after the first |
//! | `failures` | failed connects and writes |
//! | `lastError` | the last failure's message and time (`cannot connect to carbon at 127.0.0.1:2003: Connection refused (os error 111) at 2026-12-01T21:40:03Z`), empty after a success |
//!
//! [`PeriodicPusher::health`] reads them directly. Failures are logged through the `log`
//! facade (target `scales_graphite`), one line each: a warning for the first failure of an
//! outage, then at most one a minute while it lasts (with the count of failures so far),
//! and one when carbon is reachable again; debug messages for every retry in between. A
//! full buffer warns at its first dropped push and then sums up its drops once a minute.

#![forbid(unsafe_code)]

mod builder;
mod health;
mod outbox;
mod periodic;
mod text;

use std::io;
use std::time::Duration;

pub use builder::{Builder, DEFAULT_BUFFER_POINTS, DEFAULT_PERIOD};
pub use health::Health;
pub use periodic::{GraphitePusher, PeriodicPusher};

/// Error returned when a pusher cannot be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The period is below one second: Graphite timestamps are whole seconds.
    #[error("the period must be at least one second, got {}", text::Human(*.0))]
    PeriodTooShort(Duration),
    /// The address is empty or has no port (`host:port` is expected).
    #[error("'{0}' is not a host:port address (such as 127.0.0.1:2003)")]
    BadAddress(String),
    /// The health stats could not be declared (the health path is invalid or taken by
    /// stats of other kinds).
    #[error("cannot declare the pusher's health stats: {0}")]
    Health(#[from] scales::Error),
    /// The background thread could not be started.
    #[error("cannot start the pusher thread: {0}")]
    Spawn(#[source] io::Error),
}

/// Why a push did not reach carbon. The push's points stay buffered and are sent by a later
/// push (or flush) unless the buffer overflows first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The host name did not resolve.
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        /// The configured address.
        addr: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Connecting failed (refused, timed out, unreachable).
    #[error("cannot connect to carbon at {addr}: {source}")]
    Connect {
        /// The configured address.
        addr: String,
        /// The last connect error.
        source: io::Error,
    },
    /// Writing failed (reset, broken pipe); what was written on the connection is sent
    /// again on a new one.
    #[error("writing to carbon at {addr} failed: {source}")]
    Write {
        /// The configured address.
        addr: String,
        /// The write error.
        source: io::Error,
    },
    /// Carbon closed or reset the connection before it had read everything written on it
    /// (or while the pusher watched it after a push); what it may not have stored is sent
    /// again on a new connection.
    #[error("carbon at {addr} closed the connection: {source}")]
    Closed {
        /// The configured address.
        addr: String,
        /// How: `end of stream`, or the reset.
        source: io::Error,
    },
    /// Carbon stopped reading (hung, frozen, overloaded, or its host stopped answering): no
    /// byte could be written, or what was written was not read, within the write timeout.
    /// The connection is reset and its points are sent again on a new one.
    #[error(
        "carbon at {addr} stopped reading: {points} points written were not read within {}",
        text::Human(*.timeout)
    )]
    Stalled {
        /// The configured address.
        addr: String,
        /// The points written on the connection and not read.
        points: usize,
        /// The write timeout.
        timeout: Duration,
    },
    /// A recent failure: the next attempt waits for the backoff to pass.
    #[error("backing off after a failure; next attempt in {}", text::Human(*.0))]
    BackingOff(Duration),
    /// The stop or flush deadline passed with points still buffered.
    #[error("deadline passed with points still buffered")]
    Deadline,
    /// Rendering the snapshot panicked (a bug); the push was skipped.
    #[error("rendering the snapshot panicked: {0}")]
    RenderPanicked(String),
}
