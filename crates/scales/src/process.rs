//! Stats of the process itself under `/process`, like Prometheus's process collector:
//! uptime, memory, CPU time, threads and file descriptors, read at each snapshot.
//!
//! One call declares them all ([`register`]). On Linux they are read from `/proc/self`
//! (`stat`, `fd`, `limits`, and `auxv` for the clock tick and page size, so no `libc`);
//! elsewhere only what the standard library can tell is declared (the uptime since the
//! call), and nothing is an error. A file that cannot be read at a snapshot (a sandbox that
//! hides `/proc`) reads as `null` for that snapshot.
//!
//! | stat | unit | Linux source |
//! |---|---|---|
//! | `uptime_seconds` | s | `/proc/self/stat` start time and `/proc/uptime` |
//! | `start_time_seconds` | s since the Unix epoch | the same |
//! | `cpu_user_seconds`, `cpu_system_seconds`, `cpu_seconds` | s | `/proc/self/stat` |
//! | `resident_memory_bytes`, `virtual_memory_bytes` | B | `/proc/self/stat` |
//! | `threads` | | `/proc/self/stat` |
//! | `open_fds` | | entries of `/proc/self/fd` (the one used to list them not counted) |
//! | `max_fds` | | the soft limit in `/proc/self/limits` (`null` when unlimited) |
//!
//! A snapshot reads `/proc/self/stat` once for all the stats that come from it (a reading
//! is reused for 100 ms).
//!
//! ```
//! let reg = scales::Registry::new();
//! scales::process::register(&reg)?;
//! let snapshot = reg.snapshot();
//! let uptime = snapshot.stat("/process/uptime_seconds").unwrap();
//! assert!(uptime.value.as_f64().unwrap() >= 0.0);
//! # Ok::<(), scales::Error>(())
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::registry::{Registry, Scope};
use crate::value::Value;

/// Where the stats are declared.
pub const PATH: &str = "/process";

/// Declares the process stats in `registry` under [`PATH`] (a collection: they stay for the
/// registry's life). Calling it again declares nothing new.
///
/// # Errors
/// When something of another kind already sits at one of the paths.
pub fn register(registry: &Registry) -> Result<Scope, Error> {
    let scope = registry.collection(PATH)?;
    let registered = Instant::now();
    if !linux::available() {
        scope.gauge("uptime_seconds", move || registered.elapsed().as_secs_f64())?;
        return Ok(scope);
    }
    let reader = Arc::new(linux::Reader::default());
    let from_stat = |name: &str, f: fn(&linux::Stat) -> Value| -> Result<(), Error> {
        let reader = reader.clone();
        scope.gauge(name, move || reader.stat().map_or(Value::Null, |s| f(&s)))?;
        Ok(())
    };
    from_stat("uptime_seconds", |s| s.uptime_seconds.into())?;
    from_stat("start_time_seconds", |s| s.start_time_seconds.into())?;
    from_stat("cpu_user_seconds", |s| s.cpu_user_seconds.into())?;
    from_stat("cpu_system_seconds", |s| s.cpu_system_seconds.into())?;
    from_stat("cpu_seconds", |s| {
        (s.cpu_user_seconds + s.cpu_system_seconds).into()
    })?;
    from_stat("resident_memory_bytes", |s| s.resident_bytes.into())?;
    from_stat("virtual_memory_bytes", |s| s.virtual_bytes.into())?;
    from_stat("threads", |s| s.threads.into())?;
    scope.gauge("open_fds", || {
        linux::open_fds().map_or(Value::Null, Value::from)
    })?;
    scope.gauge("max_fds", || {
        linux::max_fds().map_or(Value::Null, Value::from)
    })?;
    Ok(scope)
}

/// How long one reading of `/proc/self/stat` serves the stats that come from it.
const REUSE_FOR: Duration = Duration::from_millis(100);

mod linux {
    use super::*;
    use std::fs;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// What `/proc/self/stat` (with `/proc/uptime` and the clock tick) tells.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Stat {
        pub(super) uptime_seconds: f64,
        pub(super) start_time_seconds: f64,
        pub(super) cpu_user_seconds: f64,
        pub(super) cpu_system_seconds: f64,
        pub(super) resident_bytes: u64,
        pub(super) virtual_bytes: u64,
        pub(super) threads: u64,
    }

    pub(super) fn available() -> bool {
        cfg!(target_os = "linux") && read_stat().is_some()
    }

    /// Readings of `/proc/self/stat`, each reused for [`REUSE_FOR`].
    #[derive(Default)]
    pub(super) struct Reader {
        last: Mutex<Option<(Instant, Stat)>>,
    }

    impl Reader {
        pub(super) fn stat(&self) -> Option<Stat> {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, stat)) = *last {
                if at.elapsed() < REUSE_FOR {
                    return Some(stat);
                }
            }
            let stat = read_stat()?;
            *last = Some((Instant::now(), stat));
            Some(stat)
        }
    }

    fn read_stat() -> Option<Stat> {
        let text = fs::read_to_string("/proc/self/stat").ok()?;
        let uptime = fs::read_to_string("/proc/uptime").ok()?;
        let (clock_tick, page_size) = clock_tick_and_page_size()?;
        parse_stat(&text, &uptime, clock_tick, page_size, SystemTime::now())
    }

    /// Parses `/proc/self/stat`. The command name (field 2) is in parentheses and may hold
    /// spaces and parentheses itself, so fields are counted from the last `)`.
    pub(super) fn parse_stat(
        stat: &str,
        uptime: &str,
        clock_tick: u64,
        page_size: u64,
        now: SystemTime,
    ) -> Option<Stat> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // `fields[0]` is field 3 (the state).
        let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
        let ticks = clock_tick as f64;
        let since_boot: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        let started_after_boot = field(22)? as f64 / ticks;
        let uptime_seconds = (since_boot - started_after_boot).max(0.0);
        let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        Some(Stat {
            uptime_seconds,
            start_time_seconds: now - uptime_seconds,
            cpu_user_seconds: field(14)? as f64 / ticks,
            cpu_system_seconds: field(15)? as f64 / ticks,
            threads: field(20)?,
            virtual_bytes: field(23)?,
            resident_bytes: field(24)?.saturating_mul(page_size),
        })
    }

    /// `AT_CLKTCK` and `AT_PAGESZ` from the auxiliary vector the kernel gave the process.
    fn clock_tick_and_page_size() -> Option<(u64, u64)> {
        const AT_PAGESZ: u64 = 6;
        const AT_CLKTCK: u64 = 17;
        let auxv = fs::read("/proc/self/auxv").ok()?;
        let word = std::mem::size_of::<usize>();
        let mut words = auxv.chunks_exact(word).map(|bytes| {
            let mut buf = [0u8; 8];
            buf[..word].copy_from_slice(bytes);
            u64::from_ne_bytes(buf)
        });
        let (mut tick, mut page) = (None, None);
        while let (Some(key), Some(value)) = (words.next(), words.next()) {
            match key {
                AT_CLKTCK => tick = Some(value),
                AT_PAGESZ => page = Some(value),
                _ => {}
            }
        }
        Some((tick.filter(|&t| t > 0)?, page.filter(|&p| p > 0)?))
    }

    /// Open file descriptors: the entries of `/proc/self/fd`, less the one listing them.
    pub(super) fn open_fds() -> Option<u64> {
        let entries = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Some(entries.saturating_sub(1))
    }

    /// The soft limit on open files; `None` when unlimited or unreadable.
    pub(super) fn max_fds() -> Option<u64> {
        parse_max_fds(&fs::read_to_string("/proc/self/limits").ok()?)
    }

    pub(super) fn parse_max_fds(limits: &str) -> Option<u64> {
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::linux::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        // Fields 3.. of a real line, behind a name with spaces and parentheses.
        let stat = "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 1520 0 0 0 \
                    250 130 0 0 20 0 7 0 5000 123456789 2048 18446744073709551615 1 1 0 0 0 0 \
                    0 0 0 0 0 0 17 1 0 0 0 0 0";
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = parse_stat(stat, "150.50 300.00\n", 100, 4096, now).unwrap();
        assert_eq!(s.cpu_user_seconds, 2.5);
        assert_eq!(s.cpu_system_seconds, 1.3);
        assert_eq!(s.threads, 7);
        assert_eq!(s.virtual_bytes, 123_456_789);
        assert_eq!(s.resident_bytes, 2048 * 4096);
        assert!(
            (s.uptime_seconds - 100.5).abs() < 1e-9,
            "{}",
            s.uptime_seconds
        );
        assert!((s.start_time_seconds - (1_800_000_000.0 - 100.5)).abs() < 1e-6);
        assert!(parse_stat("garbage", "1.0", 100, 4096, now).is_none());
        assert!(parse_stat("1 (x) S 1 2", "1.0", 100, 4096, now).is_none());
    }

    #[test]
    fn parses_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max cpu time              unlimited            unlimited            seconds\n\
                      Max open files            1024                 1048576              files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        let unlimited = limits.replace("1024  ", "unlimited");
        assert_eq!(parse_max_fds(&unlimited), None);
    }
}
