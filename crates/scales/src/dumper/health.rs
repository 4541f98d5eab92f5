//! The dumper's own stats, declared in the registry it dumps, and its rate-limited log of
//! failures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::names::{human, utc};
use crate::{IntStat, Registry, Scope, Stat, Value};

/// The log target of the dumper's messages.
pub(crate) const LOG_TARGET: &str = "scales::dumper";

/// How often a failure that goes on is logged again (with the count since the first).
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(60);

/// A reading of a dumper's health stats (see [`Dumper::health`](super::Dumper::health)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DumpHealth {
    /// Dumps written, the first one, panic dumps and the final one included.
    pub written: i64,
    /// Dumps that could not be written (or whose old files could not be listed).
    pub failed: i64,
    /// Old dumps deleted to keep within the file count and byte budget.
    pub removed: i64,
    /// The last failure's message and when it happened in UTC, such as `cannot write the
    /// dump /var/dumps/stats-20261202T051500.123Z.json: No space left on device (os error
    /// 28) at 2026-12-02T05:15:00Z`; empty after a dump is written.
    pub last_error: String,
    /// The file the last dump was written to, if any.
    pub last_dump: Option<PathBuf>,
}

/// Handles to the health stats.
pub(crate) struct HealthStats {
    written: IntStat,
    failed: IntStat,
    removed: IntStat,
    last_error: Stat,
    last_dump: Stat,
    /// Keeps the stats in the tree while the dumper lives.
    _scope: Scope,
}

impl HealthStats {
    /// Declares the stats at `path` of `registry`, or in a private registry when `None`.
    pub(crate) fn declare(registry: &Registry, path: Option<&str>) -> Result<Self, crate::Error> {
        let scope = match path {
            Some(path) => registry.scope(path)?,
            None => Registry::new().scope("/scales/dumps")?,
        };
        let stats = Self {
            written: scope.int_stat("written")?,
            failed: scope.int_stat("failed")?,
            removed: scope.int_stat("removed")?,
            last_error: scope.stat("lastError")?,
            last_dump: scope.stat("lastDump")?,
            _scope: scope,
        };
        stats.last_error.set("");
        stats.last_dump.set("");
        Ok(stats)
    }

    pub(crate) fn wrote(&self, path: &Path) {
        self.written.inc();
        self.last_error.set("");
        self.last_dump.set(path.display().to_string());
    }

    pub(crate) fn failed(&self, message: &str) {
        self.failed.inc();
        self.last_error
            .set(format!("{message} at {}", utc(SystemTime::now())));
    }

    pub(crate) fn removed(&self, files: usize) {
        self.removed.add(i64::try_from(files).unwrap_or(i64::MAX));
    }

    pub(crate) fn read(&self) -> DumpHealth {
        let text = |stat: &Stat| match stat.get() {
            Ok(Value::Str(s)) => s,
            _ => String::new(),
        };
        let last_dump = text(&self.last_dump);
        DumpHealth {
            written: self.written.get(),
            failed: self.failed.get(),
            removed: self.removed.get(),
            last_error: text(&self.last_error),
            last_dump: (!last_dump.is_empty()).then(|| PathBuf::from(last_dump)),
        }
    }
}

/// What to log about a failure or a success, so that a fault that lasts is not logged once a
/// dump for ever: a warning at its first failure, then at most one every [`WARN_EVERY`] with
/// the count so far (debug messages in between), and one line when dumps work again.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    outage: Option<Outage>,
}

#[derive(Debug)]
struct Outage {
    started: Instant,
    failures: u64,
    last_warned: Instant,
}

/// A line to log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Warn(String),
    Info(String),
    Debug(String),
}

impl Line {
    pub(crate) fn log(self) {
        match self {
            Line::Warn(text) => log::warn!(target: LOG_TARGET, "{text}"),
            Line::Info(text) => log::info!(target: LOG_TARGET, "{text}"),
            Line::Debug(text) => log::debug!(target: LOG_TARGET, "{text}"),
        }
    }
}

impl FailureLog {
    /// The line for a failure at `now` described by `message`.
    pub(crate) fn failure(&mut self, now: Instant, message: &str) -> Line {
        match &mut self.outage {
            None => {
                self.outage = Some(Outage {
                    started: now,
                    failures: 1,
                    last_warned: now,
                });
                Line::Warn(format!(
                    "{message}; retrying at every dump (logged again at most once a minute)"
                ))
            }
            Some(outage) => {
                outage.failures += 1;
                if now.duration_since(outage.last_warned) >= WARN_EVERY {
                    outage.last_warned = now;
                    Line::Warn(format!(
                        "{message}; still failing: {} failures in {}",
                        outage.failures,
                        human(now.duration_since(outage.started))
                    ))
                } else {
                    Line::Debug(message.to_owned())
                }
            }
        }
    }

    /// The line for a dump written at `now` to `path`: one after a failure, none otherwise.
    pub(crate) fn success(&mut self, now: Instant, path: &Path) -> Option<Line> {
        let outage = self.outage.take()?;
        Some(Line::Info(format!(
            "dumps work again ({} written) after {} failures in {}",
            path.display(),
            outage.failures,
            human(now.duration_since(outage.started))
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_fault_warns_once_a_minute_and_once_when_it_ends() {
        let mut log = FailureLog::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let path = Path::new("/d/stats.json");
        assert_eq!(log.success(at(0), path), None);
        let lines: Vec<Line> = (1..=130).map(|s| log.failure(at(s), "disk full")).collect();
        let warnings: Vec<&Line> = lines
            .iter()
            .filter(|l| matches!(l, Line::Warn(_)))
            .collect();
        assert_eq!(
            warnings,
            [
                &Line::Warn(
                    "disk full; retrying at every dump (logged again at most once a minute)".into()
                ),
                &Line::Warn("disk full; still failing: 61 failures in 60 s".into()),
                &Line::Warn("disk full; still failing: 121 failures in 120 s".into()),
            ]
        );
        assert_eq!(
            log.success(at(131), path),
            Some(Line::Info(
                "dumps work again (/d/stats.json written) after 130 failures in 130 s".into()
            ))
        );
        assert_eq!(log.success(at(132), path), None);
        // The next fault warns at once again.
        assert!(matches!(log.failure(at(133), "gone"), Line::Warn(_)));
    }
}
