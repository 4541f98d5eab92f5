//! [`BuildError`] and [`PushError`]: why a pusher cannot start, why a push did not reach
//! carbon.

use std::io;
use std::time::Duration;

use crate::text;

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
