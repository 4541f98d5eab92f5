//! Pushes [scales] stats to Graphite's carbon over its plaintext protocol, from a
//! background thread that never blocks the host and keeps points through outages.
//!
//! # Overview
//!
//! * [`PeriodicPusher`] (the original's `GraphitePeriodicPusher`): a background thread that
//!   snapshots a registry every period (60 s by default), renders it with a
//!   [`scales::format::graphite::Encoder`] (which writes the last push's line names again
//!   while the tree keeps its shape) and sends it to carbon. Built with
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
//! and counted: the thread keeps running. A hung carbon holds up nothing but that thread,
//! which goes on pushing on time (a connection waiting for carbon is picked up again where
//! it was after each push). [`PeriodicPusher::stop`] (and dropping the pusher) waits at most
//! about [`Builder::stop_timeout`]: a blocked write or wait gives up within 100 ms of the
//! stop request, and the final flush within the stop timeout, whatever carbon does. The one
//! wait that has no timeout of its own is the system's host name resolution
//! (`getaddrinfo`), which happens on the pusher thread before each connection.
//!
//! # Timestamps
//!
//! Every point of a push carries the same timestamp, aligned to the period: a push due at
//! 12:01:00 is stamped 12:01:00 even if it runs a few milliseconds late. A tick missed
//! entirely (the machine slept) is skipped, not made up.
//!
//! # Outages: the buffer
//!
//! A rendered push is a *batch*. Batches wait in a bounded buffer until carbon has read
//! them (see [Delivery](#delivery)), oldest first. When carbon is down, hung, slow or
//! refusing connections, the pusher reconnects with capped exponential backoff plus jitter
//! ([`Builder::backoff`]: 100 ms doubling to 30 s, each wait drawn between half and all of
//! the current step) while new batches keep queueing. The buffer holds
//! [`Builder::buffer_points`] points (default [`DEFAULT_BUFFER_POINTS`] = 100,000: ten
//! minutes at the default period of a tree of up to 10,000 numeric leaves; a batch holds
//! exactly its lines, so about 6.4 MB for names of ~45 characters, see `BENCHMARKS.md`);
//! when a new batch would overflow it, batches carbon already read go first, then the
//! oldest unread ones, which are counted in `pointsDropped`. A single batch larger than the
//! whole buffer is kept alone.
//!
//! # Delivery
//!
//! Carbon's plaintext protocol has no acknowledgement, and bytes that carbon's kernel took
//! can still be lost: a frozen carbon (SIGSTOP, a full disk, a hung process) reads none of
//! them while its kernel keeps accepting connections and megabytes of data, and a carbon
//! that dies loses what it had not read, and the points it read but had not yet written to
//! whisper (its memory cache). So the pusher does not take a write as delivery:
//!
//! * **Carbon's read is the acknowledgement.** After writing what is queued (at most about
//!   4 MB per connection), the pusher ends its side of the connection (a half-close).
//!   Carbon closes its side when it reads that end of stream, that is after it has read
//!   every byte before it. That answer, and only it, moves the batches written on the
//!   connection out of the queue.
//! * **Then a watch.** A batch carbon read is kept [`Builder::confirm_after`] longer (5 s),
//!   while the pusher holds a connection open to carbon and looks at it four times a
//!   second: if carbon closes or resets it, or any failure happens in that time, the
//!   batch is sent again. The next push uses that connection (or, when it came after the
//!   watch ended, a new one).
//! * **Any failure resends.** A refused or timed-out connect, a reset, a connection carbon
//!   closed, or a *stall* gives the connection up (it is reset: a hung carbon gets nothing
//!   more to read) and puts every batch written on it, and every batch still watched, back
//!   at the front of the queue, to be written again whole on a new connection. A stall is
//!   a connection on which no byte could be written, or what was written was not read,
//!   within [`Builder::write_timeout`] (10 s): it is counted in `stalls` as well as
//!   `failures`, and `lastError` says `carbon at 127.0.0.1:2003 stopped reading: 63 points
//!   written were not read within 10 s at 2026-12-01T21:40:03Z`.
//!
//! Resending is harmless: a batch is sent again from its first line with the same values
//! and timestamps, a half-written last line has no newline so carbon discards it, and
//! whisper keeps one value per metric and timestamp, so a resend overwrites a point with
//! itself; no point is stored twice.
//!
//! **The guarantee.** Every point the pusher renders ends in exactly one of these states:
//!
//! 1. *delivered*: the receiver at the configured address read it (it answered the end of
//!    stream of the connection it came on), and no failure was seen for `confirm_after`
//!    after that;
//! 2. *dropped*: counted once in `pointsDropped` (a full buffer, oldest first), however
//!    often it had been written;
//! 3. *unsent at stop*: counted in `pointsBuffered` of the health [`PeriodicPusher::stop`]
//!    returns (the stop timeout passed before carbon read it).
//!
//! So through any mix of hangs, kills, restarts, resets, refused and closed connections,
//! every period reaches carbon as long as the buffer does not overflow and the pusher is
//! not stopped (or its process ended, for a [detached](PeriodicPusher::detach) one) before
//! carbon is back. What the pusher cannot see, and so does not cover: a carbon that read
//! points and dies more than `confirm_after` later with them still in its memory cache (a
//! carbon limited by `MAX_UPDATES_PER_SECOND` can hold points for minutes: raise
//! `confirm_after` above its write delay); a carbon host that vanishes without a close or
//! reset reaching the pusher within `confirm_after` (power loss, a network partition);
//! points carbon itself rejects or discards (`MAX_CREATES_PER_MINUTE`, whitelists); and,
//! behind a relay, what the relay does after reading. A receiver that does not close its
//! side when the pusher ends its side would look stalled on every push; carbon-cache does
//! close (checked by the end-to-end tests against carbon 1.1.7), and so must anything
//! between the pusher and carbon (a TCP proxy passes ends of stream on).
//!
//! Why not watch the socket instead: bytes acknowledged by carbon's kernel sit in its
//! receive buffer, which a frozen carbon never empties. Pushes of a few kilobytes take
//! minutes to fill it, so until then neither the unacknowledged send queue (`SIOCOUTQ`,
//! `TCP_INFO`) nor a blocked write shows anything, and an acknowledged byte says nothing
//! about carbon's process anyway. The end-of-stream answer is the one end-to-end signal the
//! plaintext protocol has. It costs one short connection per push (two when the period is
//! longer than `confirm_after`: the push and the watch) and one round trip before a push
//! counts as delivered.
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
//! | `pointsResent` | points written again after a failure (see [Delivery](#delivery)) |
//! | `pointsDropped` | points given up on: dropped from a full buffer before carbon read them, each counted once |
//! | `pointsBuffered` | points carbon has not read yet (waiting, or written and unread) |
//! | `reconnects` | connections opened to retry after a failure |
//! | `failures` | refused or timed-out connects, resets, connections carbon closed, stalls |
//! | `stalls` | connections on which carbon stopped reading (no progress, or no answer, within the write timeout) |
//! | `gaugesTimedOut` | gauges left out of pushes because they did not return within the registry's gauge timeout (1 s by default): a hung gauge delays a push by at most that, once |
//! | `lastError` | the last failure's message and time (`cannot connect to carbon at 127.0.0.1:2003: Connection refused (os error 111) at 2026-12-01T21:40:03Z`), empty once carbon read a push again |
//!
//! [`PeriodicPusher::health`] reads them directly. Failures are logged through the `log`
//! facade (target `scales_graphite`), one line each: a warning for the first failure of an
//! outage, then at most one a minute while it lasts (with the count of failures so far),
//! and one when carbon is reachable again; debug messages for every retry in between. A
//! full buffer warns at its first dropped push and then sums up its drops once a minute.

#![forbid(unsafe_code)]

// The modules' dependencies point one way (no cycle):
//   builder  -> periodic, config, error
//   periodic -> outbox, config, health, error, text
//   outbox   -> config, health, error, text
//   error    -> text
//   health   -> text
//   config, text: leaves (no module of the crate)
// The crate root only declares the modules and re-exports their public items.
mod builder;
mod config;
mod error;
mod health;
mod outbox;
mod periodic;
mod text;

pub use builder::Builder;
pub use config::{DEFAULT_BUFFER_POINTS, DEFAULT_PERIOD};
pub use error::{BuildError, PushError};
pub use health::Health;
pub use periodic::{GraphitePusher, PeriodicPusher};
