//! [`StateTimeStat`]: how long an object spent in each of its states.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indexmap::IndexMap;

use super::{Lease, Place, StatCore, StatOptions, StatType};
use crate::clock::Clock;
use crate::snapshot::{Keyed, StatKind};

struct States {
    current: Option<String>,
    since: u64,
    seconds: IndexMap<String, f64>,
    depth: u64,
}

/// Storage of a [`StateTimeStat`]; one per declared stat, so per object.
pub(crate) struct StateTimeCore {
    states: Mutex<States>,
    clock: Clock,
}

impl StateTimeCore {
    fn lock(&self) -> MutexGuard<'_, States> {
        self.states.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transition(&self, states: &mut States, next: &str) {
        if states.current.as_deref() == Some(next) {
            return;
        }
        let now = self.clock.now_nanos();
        if let Some(previous) = states.current.take() {
            let spent = now.saturating_sub(states.since) as f64 * 1e-9;
            *states.seconds.entry(previous).or_insert(0.0) += spent;
        }
        states.seconds.entry(next.to_owned()).or_insert(0.0);
        states.current = Some(next.to_owned());
        states.since = now;
    }

    /// Seconds per state, the current state's running time included.
    pub(crate) fn durations(&self) -> Vec<Keyed<f64>> {
        let states = self.lock();
        let now = self.clock.now_nanos();
        states
            .seconds
            .iter()
            .map(|(state, &seconds)| {
                let running = if states.current.as_deref() == Some(state) {
                    now.saturating_sub(states.since) as f64 * 1e-9
                } else {
                    0.0
                };
                Keyed::new(state.as_str(), seconds + running)
            })
            .collect()
    }
}

/// Time spent in each state, in seconds, for one object: set the state on every change.
///
/// Each declared stat keeps its own state (the original shared it across every instance of
/// a class). Reported times include the time spent so far in the current state.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let time = scales::ManualClock::new(UNIX_EPOCH);
/// let reg = scales::Registry::with_clock(time.clock());
/// let worker = reg.scope("/worker")?.state_time_stat("state")?;
/// worker.set_state("idle");
/// time.advance(Duration::from_secs(2));
/// worker.set_state("busy");
/// time.advance(Duration::from_secs(3));
/// assert_eq!(worker.durations(), [scales::Keyed::new("idle", 2.0), scales::Keyed::new("busy", 3.0)]);
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct StateTimeStat {
    core: Arc<StateTimeCore>,
    _lease: Lease,
}

impl StateTimeStat {
    /// Enters `state` (no effect if already in it). Time before the first state is not counted.
    pub fn set_state(&self, state: &str) {
        let mut states = self.core.lock();
        self.core.transition(&mut states, state);
    }

    /// The current state, if any.
    pub fn current(&self) -> Option<String> {
        self.core.lock().current.clone()
    }

    /// Seconds per state, including the running time of the current state.
    pub fn durations(&self) -> Vec<Keyed<f64>> {
        self.core.durations()
    }

    /// Counts nested activity: the state is the number of guards alive (`"1"`, `"2"`, ...),
    /// so the durations tell how long the object spent at each level of concurrency.
    pub fn acquire(&self) -> StateGuard {
        let mut states = self.core.lock();
        states.depth += 1;
        let level = states.depth.to_string();
        self.core.transition(&mut states, &level);
        StateGuard {
            core: self.core.clone(),
        }
    }
}

/// Returned by [`StateTimeStat::acquire`]; lowers the level when dropped.
#[must_use = "the level drops back when the guard is dropped"]
pub struct StateGuard {
    core: Arc<StateTimeCore>,
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        let mut states = self.core.lock();
        states.depth = states.depth.saturating_sub(1);
        let level = states.depth.to_string();
        self.core.transition(&mut states, &level);
    }
}

impl fmt::Debug for StateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateGuard").finish_non_exhaustive()
    }
}

impl StatType for StateTimeStat {
    fn kind(_: StatOptions) -> StatKind {
        StatKind::StateTime
    }

    fn new_core(place: &Place<'_>, _: StatOptions) -> StatCore {
        {
            StatCore::StateTime(Arc::new(StateTimeCore {
                states: Mutex::new(States {
                    current: None,
                    since: 0,
                    seconds: IndexMap::new(),
                    depth: 0,
                }),
                clock: place.clock.clone(),
            }))
        }
    }

    fn handle(core: StatCore, lease: Lease) -> Option<Self> {
        let StatCore::StateTime(core) = core else {
            return None;
        };
        Some(Self {
            core,
            _lease: lease,
        })
    }
}

impl fmt::Debug for StateTimeStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateTimeStat")
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}
