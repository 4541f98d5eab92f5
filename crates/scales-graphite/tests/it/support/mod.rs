//! Shared helpers of the tests.
//!
//! * The end-to-end tests (`SCALES_E2E=1`) run against a real carbon-cache started by
//!   `scripts/services/carbon.sh` (as `scripts/test.sh` does) on ports it picks, which
//!   `scripts/test.sh` exports (`CARBON_ADDR`, `CARBON_PORT`, ...), and read it back from its
//!   whisper files with Debian's Python and its `whisper` module. They share one carbon, and
//!   some stop, freeze or kill it: each takes it through [`e2e`], shared or exclusive.
//! * Loopback peers for the tests without carbon: [`sink::Sink`] (reads like carbon),
//!   [`refused_addr`] (refuses), [`proxy::Proxy`] (plays faults in front of carbon).
//! * [`logs`]: the binary's one logger, capturing per test.

// A test binary has no outside users: `pub` here means "for the test modules".
#![allow(unreachable_pub)]

pub mod fault_run;
pub mod logs;
pub mod proxy;
pub mod sink;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scales_graphite::{Health, PeriodicPusher};

/// Carbon's plaintext address (`127.0.0.1:PORT`), from `CARBON_ADDR` as
/// `scripts/services/carbon.sh` writes it; panics saying how to get it when it is missing.
pub fn carbon_addr() -> String {
    match std::env::var("CARBON_ADDR") {
        Ok(addr) if !addr.is_empty() => addr,
        _ => panic!(
            "SCALES_E2E=1 but CARBON_ADDR is not set: run scripts/test.sh, or start carbon \
             with `scripts/services/carbon.sh start` and export what \
             `scripts/services/carbon.sh env` prints"
        ),
    }
}

/// How an end-to-end test uses the one carbon of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Pushes to it and reads its files: runs alongside the other shared ones.
    Shared,
    /// Stops, freezes, kills or restarts it: runs alone among the end-to-end tests.
    Exclusive,
}

/// The end-to-end tests' hold on carbon (see [`Access`]); carbon is theirs while it lives.
/// An exclusive one dropped by a failing test leaves carbon running, thawed, for the next.
#[must_use = "carbon is the test's only while the guard lives"]
pub enum CarbonGuard {
    Shared {
        _guard: RwLockReadGuard<'static, ()>,
    },
    Exclusive {
        _guard: RwLockWriteGuard<'static, ()>,
    },
}

impl Drop for CarbonGuard {
    fn drop(&mut self) {
        if matches!(self, Self::Exclusive { .. }) && thread::panicking() {
            // The test may have failed with carbon frozen or stopped.
            if let Ok(text) =
                std::fs::read_to_string(carbon_dir().join("run/carbon-cache.pid.shell"))
            {
                let _ = Command::new("kill").args(["-CONT", text.trim()]).status();
            }
            let _ = Command::new(repo_root().join("scripts/services/carbon.sh"))
                .arg("start")
                .status();
        }
    }
}

/// Held shared by the end-to-end tests that use carbon, exclusively by those that stop it.
static CARBON: RwLock<()> = RwLock::new(());

/// Whether the end-to-end test `test` runs (`SCALES_E2E=1`), and then its hold on carbon,
/// taken as `access` says; prints why not otherwise. When they run, carbon must be
/// reachable: the test fails if it is not.
pub fn e2e(test: &str, access: Access) -> Option<CarbonGuard> {
    if std::env::var("SCALES_E2E").as_deref() != Ok("1") {
        eprintln!("skipping {test}: set SCALES_E2E=1 and run scripts/services/carbon.sh start");
        return None;
    }
    let guard = match access {
        Access::Shared => CarbonGuard::Shared {
            _guard: CARBON.read().unwrap_or_else(PoisonError::into_inner),
        },
        Access::Exclusive => CarbonGuard::Exclusive {
            _guard: CARBON.write().unwrap_or_else(PoisonError::into_inner),
        },
    };
    let carbon = carbon_addr();
    let addr = carbon
        .parse()
        .unwrap_or_else(|e| panic!("CARBON_ADDR={carbon}: {e}"));
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        panic!("SCALES_E2E=1 but carbon is not reachable at {carbon}: {e} (scripts/services/carbon.sh start)");
    }
    Some(guard)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `scripts/services/carbon.sh <command>` and checks it succeeded. With the ports in
/// the environment (as `scripts/test.sh` exports them), a restart takes the same ports.
pub fn carbon(command: &str) {
    let status = Command::new(repo_root().join("scripts/services/carbon.sh"))
        .arg(command)
        .status()
        .expect("running scripts/services/carbon.sh");
    assert!(status.success(), "carbon.sh {command} failed: {status}");
}

/// Carbon's state directory (`CARBON_DIR`, as `scripts/services/carbon.sh` uses it).
pub fn carbon_dir() -> PathBuf {
    std::env::var_os("CARBON_DIR")
        .map_or_else(|| repo_root().join("target/e2e/carbon"), PathBuf::from)
}

/// The pid of the running carbon-cache (the file `carbon.sh start` writes).
pub fn carbon_pid() -> u32 {
    let file = carbon_dir().join("run/carbon-cache.pid.shell");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", file.display()))
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// Kills carbon-cache with SIGKILL (a crash: no shutdown of its own, its memory cache
/// lost) and waits until it is dead. Its pid files stay behind as after a real crash; they
/// are removed here because in a container whose init does not reap orphans the killed
/// process stays a zombie, which both `carbon.sh` and carbon itself take for running.
pub fn crash_carbon() {
    let pid = carbon_pid();
    signal(pid, "KILL");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        // The state is the field after the parenthesised command name.
        let dead = state
            .as_deref()
            .and_then(|s| s.rsplit_once(") "))
            .is_none_or(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X'));
        if dead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "carbon (pid {pid}) survived SIGKILL"
        );
        thread::sleep(Duration::from_millis(20));
    }
    for file in ["run/carbon-cache.pid.shell", "run/carbon-cache.pid"] {
        let _ = std::fs::remove_file(carbon_dir().join(file));
    }
}

/// The whisper file of an untagged metric.
pub fn whisper_path(name: &str) -> PathBuf {
    let mut path = carbon_dir().join("storage/whisper");
    let parts: Vec<&str> = name.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        path.push(part);
    }
    path.push(format!("{}.wsp", parts[parts.len() - 1]));
    path
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A name part unique to this run.
pub fn run_id() -> String {
    format!("r{}x{}", now(), std::process::id())
}

/// Every stored `(timestamp, value)` of a metric over the last 10 minutes (the 1 s
/// archive), or an empty list when the file does not exist yet.
pub fn fetch(name: &str) -> Vec<(u64, f64)> {
    let path = whisper_path(name);
    if !path.exists() {
        return Vec::new();
    }
    let script = "import sys, time, whisper\n\
        (start, end, step), values = whisper.fetch(sys.argv[1], int(time.time()) - 600)\n\
        for i, v in enumerate(values):\n\
        \x20   if v is not None: print(start + i * step, repr(v))\n";
    let output = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect(
            "Debian's /usr/bin/python3 with the whisper module (apt-get install python3-whisper)",
        );
    assert!(
        output.status.success(),
        "reading {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (ts, v) = line.split_once(' ').unwrap();
            (ts.parse().unwrap(), v.parse().unwrap())
        })
        .collect()
}

/// Waits at most 15 s until the pushes series `name` holds push `last_push` (its values
/// count the pushes before each), and returns its points.
pub fn wait_for_push(name: &str, last_push: f64) -> Vec<(u64, f64)> {
    wait_for(name, Duration::from_secs(15), |p| {
        p.last().is_some_and(|&(_, v)| v >= last_push)
    })
}

/// The timestamps from the first to the last point of `stored` that have no point.
pub fn missing(stored: &[(u64, f64)]) -> Vec<u64> {
    let (first_ts, _) = stored[0];
    let (last_ts, _) = *stored.last().unwrap();
    (first_ts..=last_ts)
        .filter(|ts| !stored.iter().any(|(t, _)| t == ts))
        .collect()
}

/// Waits at most `timeout` until `done` holds for the metric's points (carbon writes within
/// about a second), and returns them.
pub fn wait_for(
    name: &str,
    timeout: Duration,
    done: impl Fn(&[(u64, f64)]) -> bool,
) -> Vec<(u64, f64)> {
    let deadline = Instant::now() + timeout;
    loop {
        let points = fetch(name);
        if done(&points) {
            return points;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {name}: {points:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// A registry with `n` counters under `/app` (`stat0` = 0, `stat1` = 1, ...), and the scope
/// that keeps them in the tree.
pub fn registry_with(n: usize) -> (scales::Registry, scales::Scope) {
    let registry = scales::Registry::new();
    let scope = registry.scope("/app").unwrap();
    for i in 0..n {
        scope.int_stat(&format!("stat{i}")).unwrap().add(i as i64);
    }
    (registry, scope)
}

/// An address nothing listens on (a port just freed).
pub fn refused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Polls the pusher's health until `done` holds (at most `timeout`).
pub fn wait_health(
    pusher: &PeriodicPusher,
    timeout: Duration,
    done: impl Fn(&Health) -> bool,
) -> Health {
    let deadline = Instant::now() + timeout;
    loop {
        let health = pusher.health();
        if done(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "timed out: {health:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most `timeout`) until the pusher has nothing buffered and has pushed twice
/// more, then stops it; the final health.
pub fn drain_and_stop(pusher: PeriodicPusher, timeout: Duration) -> Health {
    let then = pusher.health().pushes;
    wait_health(&pusher, timeout, |h| {
        h.points_buffered == 0 && h.pushes >= then + 2
    });
    pusher.stop()
}

/// What carbon stored of `{prefix}.scales.graphite.pushes` once it holds the last push of
/// a pusher stopped with `health`. Its values count the pushes rendered before each one:
/// 0, 1, 2, ... one per timestamp, so a missing, shifted or doubled period shows.
pub fn stored_pushes(prefix: &str, health: &Health) -> Vec<(u64, f64)> {
    let last_push = (health.pushes - 1) as f64;
    wait_for_push(&format!("{prefix}.scales.graphite.pushes"), last_push)
}

/// Checks that `stored` (see [`stored_pushes`]) has a point for every second from its first
/// to its last, each the next push; returns the first timestamp, its value and the last
/// timestamp.
pub fn assert_every_period(stored: &[(u64, f64)]) -> (u64, f64, u64) {
    let (first_ts, first_value) = stored[0];
    let (last_ts, _) = *stored.last().unwrap();
    assert_eq!(
        missing(stored),
        Vec::<u64>::new(),
        "periods missing from whisper"
    );
    let expected: Vec<(u64, f64)> = (first_ts..=last_ts)
        .map(|ts| (ts, first_value + (ts - first_ts) as f64))
        .collect();
    assert_eq!(
        stored, expected,
        "a period is shifted, doubled or carries another push"
    );
    (first_ts, first_value, last_ts)
}
