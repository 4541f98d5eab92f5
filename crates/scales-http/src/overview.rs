//! The facts at the top of the page: the server's name and version, host, pid, uptime and
//! the process figures (CPU, memory, threads, file descriptors).
//!
//! The process figures come from [`scales::process`] declared in a registry of the status
//! server's own, so the application's tree is left as it was. CPU is shown as a share of
//! one core over the time since the previous page (the average since start on the first).
//!
//! Depends on: `units`.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use scales::Registry;

use crate::units;

pub(crate) struct Overview {
    process: Registry,
    version: Option<String>,
    host: String,
    /// The CPU seconds read at the previous page, and when.
    last_cpu: Mutex<Option<(Instant, f64)>>,
}

/// The facts, formatted, in the order shown: `(label, text, title)`.
pub(crate) type Facts = Vec<(&'static str, String, String)>;

impl Overview {
    pub(crate) fn new(version: Option<String>) -> Self {
        let process = Registry::new();
        // Declaring into a fresh registry only fails for a name taken by another kind.
        let _ = scales::process::register(&process);
        Self {
            process,
            version,
            host: host_name(),
            last_cpu: Mutex::new(None),
        }
    }

    pub(crate) fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Reads the process figures now.
    pub(crate) fn facts(&self) -> Facts {
        let snapshot = self.process.snapshot();
        let read = |name: &str| {
            snapshot
                .stat(&format!("/process/{name}"))
                .and_then(|s| s.value.as_f64())
        };
        let mut facts: Facts = vec![
            ("host", self.host.clone(), String::new()),
            ("pid", std::process::id().to_string(), String::new()),
        ];
        let uptime = read("uptime_seconds");
        if let Some(up) = uptime {
            facts.push(("uptime", units::duration(up), format!("{up:.0} s")));
        }
        if let Some(cpu) = read("cpu_seconds") {
            let now = Instant::now();
            let mut last = self.last_cpu.lock().unwrap_or_else(PoisonError::into_inner);
            let share = match *last {
                Some((at, before)) if now.duration_since(at).as_secs_f64() > 0.2 => {
                    Some((cpu - before) / now.duration_since(at).as_secs_f64())
                }
                _ => uptime.filter(|u| *u > 0.0).map(|u| cpu / u),
            };
            if last.is_none_or(|(at, _)| now.duration_since(at).as_secs_f64() > 0.2) {
                *last = Some((now, cpu));
            }
            if let Some(share) = share {
                facts.push((
                    "CPU",
                    format!("{:.1} %", share.max(0.0) * 100.0),
                    format!("{} of CPU time in all", units::duration(cpu)),
                ));
            }
        }
        if let Some(rss) = read("resident_memory_bytes") {
            let title = read("virtual_memory_bytes")
                .map(|v| format!("{} virtual", units::bytes(v)))
                .unwrap_or_default();
            facts.push(("memory", units::bytes(rss), title));
        }
        if let Some(threads) = read("threads") {
            facts.push(("threads", units::plain(threads), String::new()));
        }
        if let Some(fds) = read("open_fds") {
            let text = match read("max_fds") {
                Some(max) => format!("{} / {}", units::plain(fds), units::plain(max)),
                None => units::plain(fds),
            };
            facts.push(("fds", text, "open file descriptors / limit".to_owned()));
        }
        facts
    }
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            let name = std::fs::read_to_string(path).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".to_owned())
}
