//! [`Config`]: every setting of a pusher, with its defaults. A leaf: it uses no other
//! module of the crate, so the builder, the outbox and the pushers can all depend on it.

use std::time::Duration;

use scales::format::graphite::Options;

/// The default push period: one minute, as the original.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// The default buffer size in points: ten pushes of a 10,000-leaf tree (see the
/// [crate docs](crate#outages-the-buffer)).
pub const DEFAULT_BUFFER_POINTS: usize = 100_000;

/// The settings of a pusher (frozen once built).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) addr: String,
    pub(crate) options: Options,
    pub(crate) period: Duration,
    pub(crate) buffer_points: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) confirm_after: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) interval_distributions: bool,
    pub(crate) health_path: Option<String>,
}

impl Config {
    /// The default settings of a pusher to carbon at `addr` (unchecked).
    pub(crate) fn new(addr: String) -> Self {
        Self {
            addr,
            options: Options::default(),
            period: DEFAULT_PERIOD,
            buffer_points: DEFAULT_BUFFER_POINTS,
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(5),
            confirm_after: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            interval_distributions: false,
            health_path: Some("/scales/graphite".to_owned()),
        }
    }
}
