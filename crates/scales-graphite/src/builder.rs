//! [`Builder`]: every setting of a pusher, and the methods that build one
//! ([`Builder::build`], [`Builder::spawn`], and [`GraphitePusher::builder`] to start). It
//! sits on top: it uses the pushers, which never use it.

use std::time::Duration;

use scales::format::graphite::Rules;
use scales::Registry;

use crate::config::Config;
use crate::error::BuildError;
use crate::periodic::{GraphitePusher, PeriodicPusher};

impl GraphitePusher {
    /// Settings for a pusher to carbon's plaintext port at `addr` (`"host:port"`, usually
    /// port 2003).
    pub fn builder(addr: impl Into<String>) -> Builder {
        Builder {
            config: Config::new(addr.into()),
        }
    }
}

/// Settings of a [`GraphitePusher`] or [`PeriodicPusher`]; start with
/// [`GraphitePusher::builder`].
///
/// ```
/// use std::time::Duration;
/// use scales::format::graphite::Rules;
///
/// let registry = scales::Registry::new();
/// let pusher = scales_graphite::GraphitePusher::builder("127.0.0.1:2003")
///     .prefix("my.server.")
///     .period(Duration::from_secs(10))
///     .rules(Rules::new().do_not_log("/internal"))
///     .buffer_points(50_000)
///     .interval_distributions(true)
///     .build(&registry)?; // or .spawn(&registry) for the background thread
/// # drop(pusher);
/// # Ok::<(), scales_graphite::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// Prepended to every metric name (`"my.server."`); a `.` is added if missing. Empty by
    /// default (the original defaulted to the host name).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.options.prefix = prefix.into();
        self
    }

    /// Which stats are sent (see [`Rules`]); everything by default.
    pub fn rules(mut self, rules: Rules) -> Self {
        self.config.options.rules = rules;
        self
    }

    /// Adds a Graphite tag (`;key=value`, carbon 1.1+) to every line. None by default:
    /// tagged series are stored apart from the dotted names dashboards use.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.options.tags.push((key.into(), value.into()));
        self
    }

    /// Time between pushes; [`DEFAULT_PERIOD`](crate::config::DEFAULT_PERIOD) (60 s) by
    /// default, at least one second. Timestamps are aligned to it.
    pub fn period(mut self, period: Duration) -> Self {
        self.config.period = period;
        self
    }

    /// Buffer size in points;
    /// [`DEFAULT_BUFFER_POINTS`](crate::config::DEFAULT_BUFFER_POINTS) by default. When
    /// full, the oldest pushes are dropped (and counted).
    pub fn buffer_points(mut self, points: usize) -> Self {
        self.config.buffer_points = points;
        self
    }

    /// Longest wait for a TCP connection (per resolved address); 5 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Longest wait for carbon to make progress on a connection: for a write to take a
    /// byte, and for carbon to have read everything written once the pusher ended its side
    /// (see the [crate docs](crate#delivery)); 10 s by default. Past it the connection is a
    /// stall: counted in `stalls` and `failures`, reset, and its points sent again on a new
    /// connection.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// How long stopping may spend flushing the buffer; 5 s by default.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.config.stop_timeout = timeout;
        self
    }

    /// How long a batch is kept after carbon has read it, in case carbon dies before
    /// storing it (carbon holds points in memory before it writes them to whisper): any
    /// failure in that time (a connection carbon closes or resets, a refused connect, a
    /// stall) sends it again. 5 s by default; set it above the time your carbon takes to
    /// write a point (see the [crate docs](crate#delivery)). Zero releases a batch as soon
    /// as carbon has read it.
    pub fn confirm_after(mut self, duration: Duration) -> Self {
        self.config.confirm_after = duration;
        self
    }

    /// Reconnect backoff: the first retry waits about `min`, each failure doubles it up to
    /// `max`; every wait is drawn at random between half and all of the step. 100 ms to
    /// 30 s by default.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min;
        self.config.backoff_max = max.max(min);
        self
    }

    /// Sends each distribution's statistics over the last period only (count, min, max,
    /// mean and percentiles of the values recorded since the previous push) instead of
    /// since the start. Off by default, as the original.
    pub fn interval_distributions(mut self, on: bool) -> Self {
        self.config.interval_distributions = on;
        self
    }

    /// Where the pusher's health stats live in the pushed registry (`/scales/graphite` by
    /// default); `None` keeps them out of the tree (still readable with
    /// [`PeriodicPusher::health`]). Two pushers of one registry should use different paths:
    /// at the same path they would share (and add up) their stats.
    pub fn health_path(mut self, path: Option<&str>) -> Self {
        self.config.health_path = path.map(str::to_owned);
        self
    }

    fn validate(&self) -> Result<(), BuildError> {
        let addr = &self.config.addr;
        let has_port = addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !has_port {
            return Err(BuildError::BadAddress(addr.clone()));
        }
        if self.config.period < Duration::from_secs(1) {
            return Err(BuildError::PeriodTooShort(self.config.period));
        }
        Ok(())
    }

    /// A pusher that pushes when [`GraphitePusher::push`] is called, in the caller's thread.
    ///
    /// # Errors
    /// When the address has no port, the period is under a second, or the health stats
    /// cannot be declared.
    pub fn build(self, registry: &Registry) -> Result<GraphitePusher, BuildError> {
        self.validate()?;
        GraphitePusher::new(self.config, registry.clone())
    }

    /// Starts a background thread that pushes every period; the first push is at the next
    /// period boundary. Stop it with [`PeriodicPusher::stop`] or by dropping it.
    ///
    /// # Errors
    /// As [`build`](Self::build), and when the thread cannot be started.
    pub fn spawn(self, registry: &Registry) -> Result<PeriodicPusher, BuildError> {
        let pusher = self.build(registry)?;
        PeriodicPusher::start(pusher)
    }
}
