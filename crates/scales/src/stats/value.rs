//! [`Stat`]: a held value (string, number, ...) or a gauge computed by a closure.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use super::{declare_core, Declare, StatCore, StatOptions};
use crate::registry::{Owner, Scope};
use crate::snapshot::StatKind;
use crate::value::Value;
use crate::Error;

type GaugeFn = Arc<dyn Fn() -> Value + Send + Sync>;

enum Source {
    Held(Value),
    Computed(GaugeFn),
}

/// Storage of a [`Stat`].
pub(crate) struct ValueCell {
    source: Mutex<Source>,
}

impl ValueCell {
    fn new(source: Source) -> Self {
        Self {
            source: Mutex::new(source),
        }
    }

    fn replace(&self, source: Source) {
        // A poisoned lock only means a panic elsewhere; the stored value is still whole.
        *self.source.lock().unwrap_or_else(PoisonError::into_inner) = source;
    }

    /// The held value, or the closure's result. A panicking closure gives `Err(message)`.
    pub(crate) fn evaluate(&self) -> Result<Value, String> {
        let gauge = match &*self.source.lock().unwrap_or_else(PoisonError::into_inner) {
            Source::Held(value) => return Ok(value.clone()),
            Source::Computed(gauge) => gauge.clone(),
        };
        // The closure runs outside the lock, so it may itself read or declare stats.
        catch_unwind(AssertUnwindSafe(|| gauge())).map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            format!("gauge panicked: {message}")
        })
    }
}

/// A stat that holds a value, or computes one with a closure each time a snapshot is taken
/// (a gauge).
///
/// A gauge closure that panics does not take the snapshot down: that stat shows as an error
/// and every other stat is read as usual.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let reg = scales::Registry::new();
/// let server = reg.scope("/server")?;
/// let state = server.stat("state")?;
/// state.set("starting");
///
/// let queue = Arc::new(AtomicUsize::new(3));
/// let q = queue.clone();
/// server.gauge("queueLength", move || q.load(Ordering::Relaxed))?;
///
/// let snap = reg.snapshot();
/// assert_eq!(snap.stat("/server/state").unwrap().value, scales::StatValue::Value("starting".into()));
/// assert_eq!(snap.stat("/server/queueLength").unwrap().value.as_f64(), Some(3.0));
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Clone)]
pub struct Stat {
    cell: Arc<ValueCell>,
    _owner: Arc<Owner>,
}

impl Stat {
    /// Stores a value (replacing a closure, if one was set).
    pub fn set(&self, value: impl Into<Value>) {
        self.cell.replace(Source::Held(value.into()));
    }

    /// Makes this stat a gauge: `f` is called each time the stat is read.
    pub fn set_fn<V, F>(&self, f: F)
    where
        V: Into<Value>,
        F: Fn() -> V + Send + Sync + 'static,
    {
        self.cell
            .replace(Source::Computed(Arc::new(move || f().into())));
    }

    /// The current value (calls the closure of a gauge).
    ///
    /// # Errors
    /// The panic message, when a gauge closure panicked.
    pub fn get(&self) -> Result<Value, String> {
        self.cell.evaluate()
    }
}

impl Declare for Stat {
    fn declare(scope: &Scope, name: &str, _: StatOptions) -> Result<Self, Error> {
        let (cell, owner) = declare_core(
            scope,
            name,
            StatKind::Stat,
            |_| StatCore::Value(Arc::new(ValueCell::new(Source::Held(Value::Null)))),
            |core| match core {
                StatCore::Value(cell) => Some(cell),
                _ => None,
            },
        )?;
        Ok(Self {
            cell,
            _owner: owner,
        })
    }
}

impl fmt::Debug for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stat").finish_non_exhaustive()
    }
}
