//! Time sources: the monotonic system clock, and a manual clock for tests.
//!
//! Meters, state timers and timer guards read time through a [`Clock`], so tests can drive
//! time by hand with [`ManualClock`] instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime};

static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// A source of monotonic time, in nanoseconds since an arbitrary origin.
///
/// Cloning is cheap. The default is the system's monotonic clock ([`Instant`]).
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<ManualState>>,
}

struct ManualState {
    nanos: AtomicU64,
    wall_origin: SystemTime,
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// Monotonic nanoseconds since this clock's origin.
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        match &self.manual {
            None => PROCESS_START.elapsed().as_nanos() as u64,
            // Relaxed: a test's `advance` happens-before the reads it cares about.
            Some(state) => state.nanos.load(Ordering::Relaxed),
        }
    }

    /// Wall-clock time, for timestamps in outputs.
    pub fn wall_time(&self) -> SystemTime {
        match &self.manual {
            None => SystemTime::now(),
            Some(state) => {
                state.wall_origin + Duration::from_nanos(state.nanos.load(Ordering::Relaxed))
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(state) => write!(
                f,
                "Clock::Manual({} ns)",
                state.nanos.load(Ordering::Relaxed)
            ),
        }
    }
}

/// A clock that only moves when told to; for tests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let manual = scales::ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
/// let clock = manual.clock();
/// manual.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now_nanos(), 1_500_000_000);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<ManualState>,
}

impl ManualClock {
    /// A manual clock at monotonic time zero, whose wall time starts at `wall_origin`.
    pub fn new(wall_origin: SystemTime) -> Self {
        Self {
            state: Arc::new(ManualState {
                nanos: AtomicU64::new(0),
                wall_origin,
            }),
        }
    }

    /// The [`Clock`] to hand to a registry; it follows this manual clock.
    pub fn clock(&self) -> Clock {
        Clock {
            manual: Some(self.state.clone()),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.state
            .nanos
            .fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.clock().fmt(f)
    }
}
