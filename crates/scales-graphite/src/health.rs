//! The pusher's own stats, declared in the registry it pushes.

use scales::{IntStat, Registry, Scope, Stat};

/// A reading of the pusher's health stats (see the [crate docs](crate#health)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// Snapshots rendered.
    pub pushes: i64,
    /// Points written to carbon, resends included.
    pub points_sent: i64,
    /// Points written again because a connection failed before carbon had read them, or
    /// soon after (within [`Builder::confirm_after`](crate::Builder::confirm_after)).
    pub points_resent: i64,
    /// Points given up on: dropped from a full buffer (oldest first) before carbon had
    /// read them. Each point counts once, however often it was written.
    pub points_dropped: i64,
    /// Points carbon has not read yet: waiting to be written, or written and not yet read.
    /// After [`PeriodicPusher::stop`](crate::PeriodicPusher::stop): the points that could
    /// not be delivered before the stop timeout.
    pub points_buffered: i64,
    /// Connections opened to retry after a failure.
    pub reconnects: i64,
    /// Failures: connections refused or timed out, resets, connections carbon closed, and
    /// stalls.
    pub failures: i64,
    /// Connections on which carbon stopped reading (a hung or overloaded carbon): no byte
    /// could be written, or what was written was not read, within the write timeout.
    /// Counted in `failures` too.
    pub stalls: i64,
    /// Gauges left out of pushes because they did not return within the registry's gauge
    /// timeout (see `scales::Registry::set_gauge_timeout`); their stats are not sent.
    pub gauges_timed_out: i64,
    /// The last failure's message and when it happened in UTC, such as `cannot connect to
    /// carbon at 127.0.0.1:2003: Connection refused (os error 111) at
    /// 2026-12-01T21:40:03Z`; empty after a success.
    pub last_error: String,
}

/// Handles to the health stats.
#[derive(Clone)]
pub(crate) struct HealthStats {
    pub(crate) pushes: IntStat,
    pub(crate) points_sent: IntStat,
    pub(crate) points_resent: IntStat,
    pub(crate) points_dropped: IntStat,
    pub(crate) points_buffered: IntStat,
    pub(crate) reconnects: IntStat,
    pub(crate) failures: IntStat,
    pub(crate) stalls: IntStat,
    pub(crate) gauges_timed_out: IntStat,
    pub(crate) last_error: Stat,
    /// Keeps the stats in the tree while the pusher lives.
    _scope: Scope,
}

impl HealthStats {
    /// Declares the stats at `path` of `registry`, or in a private registry when `None`.
    pub(crate) fn declare(registry: &Registry, path: Option<&str>) -> Result<Self, scales::Error> {
        let scope = match path {
            Some(path) => registry.scope(path)?,
            None => Registry::new().scope("/scales/graphite")?,
        };
        let stats = Self {
            pushes: scope.int_stat("pushes")?,
            points_sent: scope.int_stat("pointsSent")?,
            points_resent: scope.int_stat("pointsResent")?,
            points_dropped: scope.int_stat("pointsDropped")?,
            points_buffered: scope.int_stat("pointsBuffered")?,
            reconnects: scope.int_stat("reconnects")?,
            failures: scope.int_stat("failures")?,
            stalls: scope.int_stat("stalls")?,
            gauges_timed_out: scope.int_stat("gaugesTimedOut")?,
            last_error: scope.stat("lastError")?,
            _scope: scope,
        };
        stats.last_error.set("");
        Ok(stats)
    }

    /// Sets `lastError` to `message` followed by the current time (`... at
    /// 2026-12-01T21:40:03Z`).
    pub(crate) fn set_error(&self, message: &str) {
        let at = crate::text::utc(std::time::SystemTime::now());
        self.last_error.set(format!("{message} at {at}"));
    }

    pub(crate) fn read(&self) -> Health {
        Health {
            pushes: self.pushes.get(),
            points_sent: self.points_sent.get(),
            points_resent: self.points_resent.get(),
            points_dropped: self.points_dropped.get(),
            points_buffered: self.points_buffered.get(),
            reconnects: self.reconnects.get(),
            failures: self.failures.get(),
            stalls: self.stalls.get(),
            gauges_timed_out: self.gauges_timed_out.get(),
            last_error: match self.last_error.get() {
                Ok(scales::Value::Str(s)) => s,
                _ => String::new(),
            },
        }
    }
}
