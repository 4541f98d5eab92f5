//! Time sources: the monotonic system clock, and a manual clock for tests.
//!
//! Meters, state timers and timer guards read time through a [`Clock`], so tests can drive
//! time by hand with [`ManualClock`] instead of sleeping.
//!
//! The system clock is [`quanta`]'s: on x86-64 with an invariant TSC (and on aarch64) a raw
//! counter read (`rdtsc`, ~9 ns here against ~23 ns for `Instant::now()` through the vDSO),
//! scaled to nanoseconds with a factor calibrated once per process against the OS monotonic
//! clock (the first read spends 0.5–200 ms calibrating). Where the counter is not usable,
//! quanta reads the OS monotonic clock instead. The reads are not serialising: the CPU may
//! move a read a few dozen instructions earlier or later, which only matters for intervals
//! of tens of nanoseconds. Measured scaling error: see `BENCHMARKS.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

/// The process-wide system clock and its origin (a raw reading taken at first use).
struct SystemClock {
    clock: quanta::Clock,
    origin: u64,
}

static SYSTEM: LazyLock<SystemClock> = LazyLock::new(|| {
    let clock = quanta::Clock::new();
    let origin = clock.raw();
    SystemClock { clock, origin }
});

/// A source of monotonic time, in nanoseconds since an arbitrary origin.
///
/// Cloning is cheap. The default is the system's monotonic clock (the CPU's time-stamp
/// counter through [`quanta`], calibrated against the OS monotonic clock).
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
            None => {
                let system = &*SYSTEM;
                system
                    .clock
                    .delta_as_nanos(system.origin, system.clock.raw())
            }
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
