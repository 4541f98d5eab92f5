//! Periodic file dumps for crash forensics: [`Dumper`], a background thread that writes the
//! tree as JSON every interval, at shutdown and (optionally) when the program panics.
//!
//! # Where dumps go
//!
//! The path given to [`Dumper::builder`] is either
//!
//! - **a file** (a path that is not a directory): each dump replaces it atomically, through
//!   the same write as [`dump_stats_to`](crate::dump_stats_to) — a reader sees the old dump
//!   or the new one, never a torn file; a symlink is written through; or
//! - **a directory** (an existing one, or a path ending in `/`, created if missing): each
//!   dump is a new file named after its UTC time to the millisecond,
//!   `stats-20261202T051500.123Z.json` ([`prefix`](DumperBuilder::prefix) changes `stats`),
//!   so that names sort by time. A dump taken in the same millisecond as the one before it,
//!   or after the clock went back, is named one millisecond after the newest name so far
//!   (names found in the directory at start included): names are unique and their order is
//!   the order of writing. After each dump the oldest of the dumper's own files are deleted
//!   so that at most [`keep`](DumperBuilder::keep) remain (10 by default), within
//!   [`max_bytes`](DumperBuilder::max_bytes) if set (the newest dump is always kept). Its
//!   own files are exactly the names `{prefix}-{time}.json` (and their temporary files,
//!   once older than ten minutes): nothing else in the directory is touched. The oldest is
//!   deleted just after the newest is renamed into place, so for that moment the directory
//!   holds `keep + 1` dumps (and may exceed `max_bytes` by one dump). Two dumpers
//!   should not share a directory and prefix, since each would count the other's files as
//!   its own.
//!
//! # Faults
//!
//! A dump that cannot be written (directory removed or replaced by a file, disk full,
//! permissions) is counted in the dumper's health stats and logged through the `log` crate
//! (target `scales::dumper`): a warning at the first failure, then at most one a minute
//! while it lasts (with the count of failures), and one line when dumps work again. The
//! thread never stops for it: the next dump tries again, so dumps resume by themselves once
//! the fault is gone. A removed directory is not created again (it may be a mount point
//! whose volume is gone). No dump error panics or reaches the program.
//!
//! # Health
//!
//! The dumper's own stats live in the registry it dumps, at `/scales/dumps` by default
//! ([`health_path`](DumperBuilder::health_path)), so each dump shows the state before it:
//!
//! | stat | meaning |
//! |---|---|
//! | `written` | dumps written (the first, periodic, panic and final ones) |
//! | `failed` | dumps that failed, and rotations that could not list or delete old dumps |
//! | `removed` | old dumps deleted to keep within `keep` and `max_bytes` |
//! | `lastError` | the last failure and its UTC time (`cannot write the dump /var/dumps/stats-20261202T051500.123Z.json: No such file or directory (os error 2) at 2026-12-02T05:15:00Z`); empty after a dump is written |
//! | `lastDump` | the file the last dump was written to |
//!
//! # Crashes
//!
//! [`shutdown`](Dumper::shutdown) (and dropping the dumper) writes a final dump, and with
//! [`dump_on_panic`](DumperBuilder::dump_on_panic) a panic writes one before the panic is
//! reported (see [`DumperBuilder::dump_on_panic`] for how it avoids deadlocks). Nothing runs
//! when the process is killed by `SIGKILL` (the kernel's OOM killer included), calls
//! `std::process::abort` or `exit` without dropping the dumper, or dies of a signal such as
//! `SIGSEGV`: then the last periodic dump is what remains, up to one interval old.

mod health;
mod names;
mod panic;

use std::fmt;
use std::fs;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

pub use health::DumpHealth;

use health::{FailureLog, HealthStats, LOG_TARGET};
use names::{human, Names};

use crate::dump::{describe, write_dump};
use crate::snapshot::Snapshot;
use crate::Registry;

/// The default interval between two dumps.
const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// The default number of dumps a directory keeps.
const DEFAULT_KEEP: usize = 10;
/// The default bound on the final dump (at shutdown) and on a panic dump.
const DEFAULT_FINAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How old a temporary file of the dumper's must be before it counts as left over by a
/// crashed write and is deleted.
const STALE_TEMPORARY: Duration = Duration::from_secs(600);

/// Error returned by [`DumperBuilder::start`]: nothing was started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The interval is zero.
    #[error(
        "the dump interval is zero; give a positive interval (Duration::MAX for no periodic dumps)"
    )]
    ZeroInterval,
    /// `keep(0)` would delete every dump.
    #[error("keep(0) would delete every dump; keep at least 1")]
    ZeroKeep,
    /// `max_bytes(0)`: no dump fits in zero bytes.
    #[error("max_bytes(0) leaves no room for a dump; give a budget in bytes of at least one dump")]
    ZeroMaxBytes,
    /// `keep` or `max_bytes` was given for a file, which holds one dump anyway.
    #[error(
        "{option} applies to a directory of dumps, and {} is a file (each dump replaces it); \
         give a directory (an existing one, or a path ending in `/`)",
        path.display()
    )]
    NeedsDirectory {
        /// The dump path.
        path: PathBuf,
        /// The builder method that needs a directory (`keep` or `max_bytes`).
        option: &'static str,
    },
    /// The path is a FIFO, socket or device: writing dumps there would block or clobber it.
    #[error(
        "refusing to dump stats to {}: it is {found}, not a regular file or a directory",
        path.display()
    )]
    NotAFileOrDirectory {
        /// The dump path.
        path: PathBuf,
        /// What was found there (`a FIFO`, `a socket`, `a device`).
        found: &'static str,
    },
    /// The file name prefix is not a plain word.
    #[error(
        "invalid dump name prefix {prefix:?}: use ASCII letters, digits, `.`, `_` and `-` \
         (not starting with `.`, at most 100 bytes)"
    )]
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// The directory (a path ending in `/`) could not be created.
    #[error("cannot create the dump directory {}: {source}", path.display())]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The health stats could not be declared (the health path is invalid or taken by
    /// something else).
    #[error("cannot declare the dumper's health stats: {0}")]
    Health(#[from] crate::Error),
    /// The first dump, written by `start` to check the path, failed.
    #[error(transparent)]
    FirstDump(DumpError),
    /// The system refused a thread.
    #[error("cannot start the dumper thread: {0}")]
    Spawn(io::Error),
}

/// Error of one dump ([`Dumper::dump_now`], [`Dumper::shutdown`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The file could not be written (nothing was replaced: the last dump is intact).
    #[error("cannot write the dump {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The final dump did not finish within the [final timeout](DumperBuilder::final_timeout)
    /// (a hung disk, or a gauge stuck past the registry's gauge timeout); it may still end
    /// later.
    #[error("the final dump did not finish within {}", human(*after))]
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// Every name up to year 9999 is taken (the directory holds a dump from then).
    #[error("no dump name left in {}: a dump is named at the end of year 9999", dir.display())]
    NoNameLeft {
        /// The directory.
        dir: PathBuf,
    },
    /// Writing the dump panicked (a bug: please report it).
    #[error("the dump panicked: {0}")]
    Panicked(String),
}

/// Where dumps go (checked by the builder).
#[derive(Debug)]
enum Target {
    File(PathBuf),
    Directory {
        dir: PathBuf,
        keep: usize,
        max_bytes: Option<u64>,
    },
}

impl Target {
    fn path(&self) -> &Path {
        match self {
            Target::File(path) => path,
            Target::Directory { dir, .. } => dir,
        }
    }
}

/// Why a dump is written (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    First,
    Periodic,
    Requested,
    Final,
    Panic,
}

/// What the dumping thread, the handle and the panic hook share.
struct Shared {
    registry: Registry,
    target: Target,
    /// Naming and the failure log; held while a dump is written and old ones deleted, so
    /// that dumps (periodic, requested, panic) are written one at a time.
    writer: Mutex<Writer>,
    health: HealthStats,
    final_timeout: Duration,
    stop: Mutex<bool>,
    wake: Condvar,
}

struct Writer {
    names: Names,
    log: FailureLog,
}

impl Shared {
    /// Takes a snapshot and writes it; never panics.
    fn dump(&self, reason: Reason) -> Result<PathBuf, DumpError> {
        let _guard = panic::DumpingHere::enter();
        catch_unwind(AssertUnwindSafe(|| self.dump_inner(reason))).unwrap_or_else(|payload| {
            let message = panic::message(payload.as_ref());
            log::error!(target: LOG_TARGET, "a stats dump panicked: {message}");
            Err(DumpError::Panicked(message))
        })
    }

    fn dump_inner(&self, reason: Reason) -> Result<PathBuf, DumpError> {
        // Taken before the writer lock: gauges may take a while (up to the gauge timeout).
        let snapshot = self.registry.snapshot();
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let written = self.write(&mut writer.names, &snapshot);
        if reason == Reason::First && written.is_err() {
            // `start` returns the error and starts nothing: not a fault to log or count.
            return written;
        }
        let (removed, rotation_error) = match (&written, &self.target) {
            (Ok(path), Target::Directory { .. }) => self.rotate(&writer.names, path),
            _ => (0, None),
        };
        if removed > 0 {
            self.health.removed(removed);
        }
        if let Ok(path) = &written {
            self.health.wrote(path);
        }
        let now = Instant::now();
        let problem = written
            .as_ref()
            .err()
            .map(ToString::to_string)
            .or(rotation_error);
        if let Some(message) = problem {
            self.health.failed(&message);
            writer.log.failure(now, &message).log();
        } else if let Ok(path) = &written {
            if let Some(line) = writer.log.success(now, path) {
                line.log();
            }
            log::debug!(target: LOG_TARGET, "{reason:?} dump written to {}", path.display());
        }
        written
    }

    fn write(&self, names: &mut Names, snapshot: &Snapshot) -> Result<PathBuf, DumpError> {
        let path = match &self.target {
            Target::File(path) => path.clone(),
            Target::Directory { dir, .. } => {
                let name = names
                    .next(snapshot.taken_at())
                    .ok_or_else(|| DumpError::NoNameLeft { dir: dir.clone() })?;
                dir.join(name)
            }
        };
        match write_dump(snapshot, &path) {
            Ok(()) => Ok(path),
            Err(source) => Err(DumpError::Write { path, source }),
        }
    }

    /// Deletes the oldest of the directory's own dumps beyond `keep` and `max_bytes`, and
    /// temporary files left by crashed writes. Returns how many dumps were deleted, and what
    /// went wrong, if anything.
    fn rotate(&self, names: &Names, newest: &Path) -> (usize, Option<String>) {
        let Target::Directory {
            dir,
            keep,
            max_bytes,
        } = &self.target
        else {
            return (0, None);
        };
        let own = match own_files(dir, names) {
            Ok(own) => own,
            Err(e) => {
                return (
                    0,
                    Some(format!(
                        "cannot list the dumps in {} to delete old ones: {e}",
                        dir.display()
                    )),
                )
            }
        };
        let mut dumps = own.dumps;
        // Newest first; the dump just written is kept whatever its size.
        dumps.sort_unstable_by_key(|dump| std::cmp::Reverse(dump.ms));
        let mut kept = 0;
        let mut bytes = 0u64;
        let mut full = false;
        let mut removed = 0;
        let mut errors = Vec::new();
        for dump in &dumps {
            let fits = kept < *keep && max_bytes.is_none_or(|max| bytes + dump.len <= max);
            if dump.path == newest || (!full && fits) {
                kept += 1;
                bytes += dump.len;
                continue;
            }
            full = true;
            match fs::remove_file(&dump.path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => errors.push(format!("{}: {e}", dump.path.display())),
            }
        }
        for temporary in own.stale_temporaries {
            let _ = fs::remove_file(temporary);
        }
        let error =
            (!errors.is_empty()).then(|| format!("cannot delete old dumps: {}", errors.join("; ")));
        (removed, error)
    }
}

/// One of a directory's own dumps.
struct OwnDump {
    path: PathBuf,
    ms: u64,
    len: u64,
}

struct OwnFiles {
    dumps: Vec<OwnDump>,
    stale_temporaries: Vec<PathBuf>,
}

/// The dumper's own files in `dir`: regular files named as its dumps, and its temporary
/// files older than [`STALE_TEMPORARY`]. Symlinks and directories are never its own.
fn own_files(dir: &Path, names: &Names) -> io::Result<OwnFiles> {
    let mut own = OwnFiles {
        dumps: Vec::new(),
        stale_temporaries: Vec::new(),
    };
    let now = SystemTime::now();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // The entry's own type: a symlink is not followed.
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        if let Some(ms) = names.parse(name) {
            own.dumps.push(OwnDump {
                path: entry.path(),
                ms,
                len: metadata.len(),
            });
        } else if names.is_temporary(name) {
            let old = metadata
                .modified()
                .ok()
                .and_then(|at| now.duration_since(at).ok())
                .is_some_and(|age| age > STALE_TEMPORARY);
            if old {
                own.stale_temporaries.push(entry.path());
            }
        }
    }
    Ok(own)
}

/// Builds a [`Dumper`]; from [`Dumper::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .start()"]
pub struct DumperBuilder {
    path: PathBuf,
    registry: Option<Registry>,
    every: Duration,
    keep: Option<usize>,
    max_bytes: Option<u64>,
    prefix: String,
    health_path: Option<String>,
    final_timeout: Duration,
    dump_on_panic: bool,
}

impl DumperBuilder {
    /// Dumps this registry instead of the global one.
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// The interval between two dumps (60 s by default). `Duration::MAX` turns periodic
    /// dumps off: the dumper then writes at start, on [`Dumper::dump_now`], at shutdown and
    /// on panics.
    pub fn every(mut self, interval: Duration) -> Self {
        self.every = interval;
        self
    }

    /// How many dumps a directory keeps (10 by default): after each dump, the oldest of the
    /// dumper's own files beyond this are deleted. Only for a directory.
    pub fn keep(mut self, dumps: usize) -> Self {
        self.keep = Some(dumps);
        self
    }

    /// A budget for the directory's dumps, in bytes: after each dump, the oldest are deleted
    /// until the rest fit (the newest is kept even if it alone is larger). Unbounded by
    /// default (only [`keep`](Self::keep) applies). Only for a directory.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// The start of a directory's dump names (`stats` by default, giving
    /// `stats-20261202T051500.123Z.json`): ASCII letters, digits, `.`, `_` and `-`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Where the dumper's health stats live in the dumped registry (`/scales/dumps` by
    /// default), or `None` to keep them out of the tree (still readable through
    /// [`Dumper::health`]). Two dumpers of one registry should use different paths: they
    /// would count into the same stats.
    pub fn health_path(mut self, path: Option<&str>) -> Self {
        self.health_path = path.map(str::to_owned);
        self
    }

    /// How long [`Dumper::shutdown`] (and dropping the dumper) waits for the final dump,
    /// and a panic waits for its dump, before giving up on it (5 s by default).
    pub fn final_timeout(mut self, timeout: Duration) -> Self {
        self.final_timeout = timeout;
        self
    }

    /// Also writes a dump when any thread panics, before the panic is reported (off by
    /// default).
    ///
    /// This installs, once per process, a panic hook that chains the hook installed before
    /// it: on a panic it writes a dump for every running dumper that asked for it, then
    /// calls the previous hook (the default one prints the panic message). Writing first
    /// means the dump exists even if the previous hook ends the process; the cost is that
    /// the panic message is printed after the dump, within the final timeout. Install your
    /// own hook *before* starting the dumper, or chain it (`std::panic::take_hook`): a hook
    /// set later without chaining replaces this one.
    ///
    /// The dump is written by a helper thread while the panicking thread waits, at most the
    /// [final timeout](Self::final_timeout). So a panic can never deadlock on it, even when
    /// the panicking thread holds a lock the dump needs (a lock a gauge takes, or any lock
    /// of scales itself while it snapshots or dumps): the wait times out, the panic goes on,
    /// and the dump finishes once unwinding has released the lock (if the process still
    /// runs). Panics inside gauges (caught and shown as the stat's error) and inside the
    /// dumper's own threads write no dump. While one panic dump is being written, other
    /// panics write none, and panics off the main thread write at most one a second, so a
    /// storm of panics (a handler failing on every request) neither floods the directory
    /// nor slows the program down. A main-thread panic always dumps.
    ///
    /// A panic with `panic = "abort"` still runs the hook, so it still dumps. `SIGKILL`,
    /// the OOM killer, `std::process::abort` and fatal signals do not run it: then only the
    /// last periodic dump remains.
    pub fn dump_on_panic(mut self, on: bool) -> Self {
        self.dump_on_panic = on;
        self
    }

    /// Checks the settings, writes the first dump (so that a wrong path fails here, not in
    /// the background) and starts the thread.
    ///
    /// # Errors
    /// See [`StartError`]: a zero interval, `keep(0)` or `max_bytes(0)`; `keep` or
    /// `max_bytes` for a file; a path that is a FIFO, socket or device; an invalid prefix;
    /// a directory that cannot be created; health stats that cannot be declared; a first
    /// dump that cannot be written (a missing parent directory, permissions, ...).
    pub fn start(self) -> Result<Dumper, StartError> {
        if self.every.is_zero() {
            return Err(StartError::ZeroInterval);
        }
        if self.keep == Some(0) {
            return Err(StartError::ZeroKeep);
        }
        if self.max_bytes == Some(0) {
            return Err(StartError::ZeroMaxBytes);
        }
        if !names::valid_prefix(&self.prefix) {
            return Err(StartError::InvalidPrefix {
                prefix: self.prefix,
            });
        }
        let mut names = Names::new(&self.prefix);
        let target = self.target(&mut names)?;
        let registry = self.registry.unwrap_or_else(|| crate::registry().clone());
        let health = HealthStats::declare(&registry, self.health_path.as_deref())?;
        let shared = Arc::new(Shared {
            registry,
            target,
            writer: Mutex::new(Writer {
                names,
                log: FailureLog::default(),
            }),
            health,
            final_timeout: self.final_timeout,
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        shared.dump(Reason::First).map_err(StartError::FirstDump)?;
        let (done, finished) = mpsc::sync_channel(1);
        let thread_shared = shared.clone();
        let every = self.every;
        let thread = thread::Builder::new()
            .name("scales-dumper".to_owned())
            .spawn(move || run(&thread_shared, every, &done))
            .map_err(StartError::Spawn)?;
        if self.dump_on_panic {
            panic::register(&shared);
        }
        Ok(Dumper {
            shared,
            thread: Some(thread),
            finished,
            on_panic: self.dump_on_panic,
        })
    }

    /// The target the path names; notes a directory's existing dump names.
    fn target(&self, names: &mut Names) -> Result<Target, StartError> {
        let path = &self.path;
        let is_dir = match fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => true,
            Ok(metadata) if metadata.is_file() => false,
            Ok(metadata) => {
                return Err(StartError::NotAFileOrDirectory {
                    path: path.clone(),
                    found: describe(&metadata.file_type()),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && ends_with_separator(path) => {
                fs::create_dir_all(path).map_err(|source| StartError::CreateDirectory {
                    path: path.clone(),
                    source,
                })?;
                true
            }
            // A new file, a dangling symlink, or an error the first dump will report.
            Err(_) => false,
        };
        if !is_dir {
            if self.keep.is_some() || self.max_bytes.is_some() {
                return Err(StartError::NeedsDirectory {
                    path: path.clone(),
                    option: if self.keep.is_some() {
                        "keep"
                    } else {
                        "max_bytes"
                    },
                });
            }
            return Ok(Target::File(path.clone()));
        }
        // Names already there: new ones sort after them even if the clock went back.
        if let Ok(own) = own_files(path, names) {
            for dump in own.dumps {
                names.saw(dump.ms);
            }
        }
        Ok(Target::Directory {
            dir: path.clone(),
            keep: self.keep.unwrap_or(DEFAULT_KEEP),
            max_bytes: self.max_bytes,
        })
    }
}

fn ends_with_separator(path: &Path) -> bool {
    path.as_os_str()
        .as_encoded_bytes()
        .last()
        .is_some_and(|&b| std::path::is_separator(char::from(b)))
}

/// A background thread writing dumps of a registry every interval (see the
/// [module docs](self)); start one with [`Dumper::builder`].
///
/// Dropping it stops it as [`shutdown`](Self::shutdown) does, final dump included, so keep
/// it for as long as it should dump (in `main`, or the struct of your server), or call
/// [`detach`](Self::detach) to let it dump for the life of the program.
///
/// ```
/// use std::time::Duration;
///
/// # let dir = std::env::temp_dir().join(format!("scales-doc-dumper-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// // `dir` is a directory: it keeps the last 100 dumps, within 50 MiB.
/// let dumper = scales::Dumper::builder(&dir)
///     .every(Duration::from_secs(10))
///     .keep(100)
///     .max_bytes(50 << 20)
///     .dump_on_panic(true)
///     .start()?; // writes the first dump
///
/// // ... serve ...
///
/// let last = dumper.shutdown()?; // the final dump
/// assert!(last.file_name().unwrap().to_str().unwrap().starts_with("stats-"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the dumper stops it (after a final dump); keep it for as long as it should dump, or call .detach()"]
pub struct Dumper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The final dump's result, sent by the thread as it ends.
    finished: Receiver<Result<PathBuf, DumpError>>,
    on_panic: bool,
}

impl fmt::Debug for Dumper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dumper")
            .field("target", &self.shared.target)
            .field("health", &self.shared.health.read())
            .finish_non_exhaustive()
    }
}

impl Dumper {
    /// A builder for a dumper writing to `path`: a file, replaced by each dump, or a
    /// directory keeping the last dumps (an existing directory, or a path ending in `/`,
    /// created if missing). See the [module docs](crate::dumper).
    pub fn builder(path: impl AsRef<Path>) -> DumperBuilder {
        DumperBuilder {
            path: path.as_ref().to_path_buf(),
            registry: None,
            every: DEFAULT_EVERY,
            keep: None,
            max_bytes: None,
            prefix: "stats".to_owned(),
            health_path: Some("/scales/dumps".to_owned()),
            final_timeout: DEFAULT_FINAL_TIMEOUT,
            dump_on_panic: false,
        }
    }

    /// The file or directory dumps go to, as given to the builder.
    pub fn target(&self) -> &Path {
        self.shared.target.path()
    }

    /// Whether dumps go into a directory (which keeps the last ones), not one file.
    pub fn is_directory(&self) -> bool {
        matches!(self.shared.target, Target::Directory { .. })
    }

    /// The dumper's health stats.
    pub fn health(&self) -> DumpHealth {
        self.shared.health.read()
    }

    /// Writes a dump now, in the calling thread (between two periodic dumps, which go on
    /// as before). Returns the file written.
    ///
    /// # Errors
    /// When the dump could not be written; it is counted and logged as a periodic failure.
    pub fn dump_now(&self) -> Result<PathBuf, DumpError> {
        self.shared.dump(Reason::Requested)
    }

    /// Stops the thread after a final dump, waiting for it at most the
    /// [final timeout](DumperBuilder::final_timeout). Returns the file of the final dump.
    ///
    /// # Errors
    /// When the final dump failed or timed out (the last one written before stays).
    pub fn shutdown(mut self) -> Result<PathBuf, DumpError> {
        let thread = self.thread.take();
        match thread {
            Some(thread) => self.stop(thread),
            // Only `detach` takes the thread, and it consumes the handle.
            None => Err(DumpError::TimedOut {
                after: Duration::ZERO,
            }),
        }
    }

    /// Lets the dumper run until the process exits, without a handle to stop it. There is
    /// no final dump then (a panic dump still is, if asked for): what remains is the last
    /// periodic dump.
    pub fn detach(mut self) {
        drop(self.thread.take());
    }

    fn stop(&mut self, thread: JoinHandle<()>) -> Result<PathBuf, DumpError> {
        {
            // Set under the lock so that the thread cannot miss the wake-up between its
            // check and its wait.
            let mut stop = self
                .shared
                .stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *stop = true;
        }
        self.shared.wake.notify_all();
        let timeout = self.shared.final_timeout;
        let result = match self.finished.recv_timeout(timeout) {
            Ok(result) => {
                let _ = thread.join();
                result
            }
            Err(RecvTimeoutError::Timeout) => {
                log::warn!(
                    target: LOG_TARGET,
                    "the final stats dump to {} did not finish within {}; leaving it behind",
                    self.target().display(),
                    human(timeout)
                );
                Err(DumpError::TimedOut { after: timeout })
            }
            Err(RecvTimeoutError::Disconnected) => {
                let message = match thread.join() {
                    Err(payload) => panic::message(payload.as_ref()),
                    Ok(()) => "the dumper thread ended without a final dump".to_owned(),
                };
                Err(DumpError::Panicked(message))
            }
        };
        if self.on_panic {
            panic::unregister(&self.shared);
        }
        result
    }
}

impl Drop for Dumper {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // Failures are logged (and counted) where they happen.
            let _ = self.stop(thread);
        }
    }
}

/// The dumper thread: a dump every `every` until stopped, then the final one.
fn run(shared: &Shared, every: Duration, done: &SyncSender<Result<PathBuf, DumpError>>) {
    let _guard = panic::DumpingHere::enter();
    let mut next = Instant::now().checked_add(every);
    while !wait_until(shared, next) {
        // Errors are counted and logged by `dump`.
        let _ = shared.dump(Reason::Periodic);
        let now = Instant::now();
        // The next interval boundary; after a dump that overran, one interval from now
        // (no burst of dumps to catch up).
        next = next.and_then(|at| at.checked_add(every)).and_then(|at| {
            if at > now {
                Some(at)
            } else {
                now.checked_add(every)
            }
        });
    }
    let _ = done.send(shared.dump(Reason::Final));
}

/// Sleeps until `deadline` (for ever if `None`); true when asked to stop.
fn wait_until(shared: &Shared, deadline: Option<Instant>) -> bool {
    let mut stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if *stop {
            return true;
        }
        stop = match deadline {
            None => shared
                .wake
                .wait(stop)
                .unwrap_or_else(PoisonError::into_inner),
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                shared
                    .wake
                    .wait_timeout(stop, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}
