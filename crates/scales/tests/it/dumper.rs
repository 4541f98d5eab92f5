//! `scales::Dumper`: periodic dumps to a file or a directory that keeps the last ones,
//! rotation that touches only the dumper's own files, faults counted and recovered from,
//! the final dump, and the panic hook (in child processes: the hook is process-wide).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use scales::dumper::{DumpError, StartError};
use scales::{Dumper, ManualClock, Registry, StatValue, Value};
use serde_json::{json, Value as Json};

/// A fresh directory for one test under Cargo's per-target temporary directory.
fn temp_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("it-dumper-{test}"));
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_file(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("torn or invalid dump ({e}): {text:?}"))
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The dumps (regular files named `stats-*Z.json`) in `dir`, sorted by name.
fn dumps(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with("stats-") && n.ends_with("Z.json"))
        .filter(|n| fs::symlink_metadata(dir.join(n)).is_ok_and(|m| m.is_file()))
        .collect()
}

/// Polls `done` every few milliseconds until it holds; fails after `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A registry whose clock stands still at 2026-12-02T05:15:00.123Z.
fn frozen_registry() -> (Registry, ManualClock) {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_millis(1_796_188_500_123));
    (Registry::with_clock(clock.clock()), clock)
}

fn int_at(snapshot: &scales::Snapshot, path: &str) -> i64 {
    match snapshot.stat(path).map(|s| &s.value) {
        Some(StatValue::Int(n)) => *n,
        other => panic!("{path}: {other:?}"),
    }
}

fn text_at(snapshot: &scales::Snapshot, path: &str) -> String {
    match snapshot.stat(path).map(|s| &s.value) {
        Some(StatValue::Value(Value::Str(s))) => s.clone(),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn a_directory_keeps_exactly_the_newest_dumps_and_touches_nothing_else() {
    let (reg, _clock) = frozen_registry();
    let n = reg.collection("/app").unwrap().int_stat("n").unwrap();
    let dir = temp_dir("rotation");
    // Files that are not the dumper's own, some named almost like its dumps, and an old
    // dump name that is a directory or a symlink.
    let others = [
        "notes.txt",
        "stats.json",
        "other-20200101T000000.000Z.json",
        "stats-20200101T000000.000Z.json.bak",
        "stats-2020-01-01.json",
        "Stats-20200101T000000.000Z.json",
    ];
    for name in others {
        fs::write(dir.join(name), name).unwrap();
    }
    fs::create_dir(dir.join("stats-20200101T000000.000Z.json")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("notes.txt", dir.join("stats-20200101T000000.001Z.json")).unwrap();

    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .keep(3)
        .start()
        .unwrap();
    assert!(dumper.is_directory());
    let mut written = Vec::new();
    for _ in 0..7 {
        n.inc();
        written.push(dumper.dump_now().unwrap());
    }
    let health = dumper.health();
    assert_eq!((health.written, health.failed, health.removed), (8, 0, 5));
    assert_eq!(health.last_dump.as_ref(), written.last());

    // Exactly the three newest, in the order written, named after the (frozen) time: one
    // millisecond apart, as the clock did not move.
    let kept: Vec<String> = written[4..]
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kept,
        [
            "stats-20261202T051500.128Z.json",
            "stats-20261202T051500.129Z.json",
            "stats-20261202T051500.130Z.json"
        ]
    );
    assert_eq!(dumps(&dir), kept);
    let values: Vec<i64> = written[4..]
        .iter()
        .map(|p| read_json(p)["app"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(values, [5, 6, 7]);
    // Everything else is as it was.
    for name in others {
        assert_eq!(fs::read_to_string(dir.join(name)).unwrap(), name);
    }
    assert!(dir.join("stats-20200101T000000.000Z.json").is_dir());
    #[cfg(unix)]
    assert!(
        fs::symlink_metadata(dir.join("stats-20200101T000000.001Z.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let last = dumper.shutdown().unwrap();
    assert_eq!(last.file_name().unwrap(), "stats-20261202T051500.131Z.json");
    assert_eq!(dumps(&dir).len(), 3);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn names_sort_by_time_and_continue_after_the_names_already_there() {
    let (reg, clock) = frozen_registry();
    let dir = temp_dir("names");
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .keep(100)
        .start()
        .unwrap();
    clock.advance(Duration::from_millis(1_877)); // 05:15:02.000
    let later = dumper.dump_now().unwrap();
    clock.advance(Duration::from_secs(3600)); // 06:15:02.000
    let hour_later = dumper.dump_now().unwrap();
    assert_eq!(
        dumps(&dir),
        [
            "stats-20261202T051500.123Z.json",
            "stats-20261202T051502.000Z.json",
            "stats-20261202T061502.000Z.json"
        ]
    );
    assert_eq!(
        [later, hour_later].map(|p| read_json(&p)["last-updated"].as_f64().unwrap()),
        [1_796_188_502.0, 1_796_192_102.0]
    );
    drop(dumper);

    // A dump from the future (a clock that was ahead) is already there: a new dumper names
    // its dumps after it, so that the newest written is still the newest name (and is what
    // rotation keeps).
    fs::write(dir.join("stats-20300101T000000.000Z.json"), "{}").unwrap();
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .keep(2)
        .start()
        .unwrap();
    let newest = dumper.dump_now().unwrap();
    assert_eq!(
        dumps(&dir),
        [
            "stats-20300101T000000.001Z.json",
            "stats-20300101T000000.002Z.json"
        ]
    );
    assert_eq!(newest, dir.join("stats-20300101T000000.002Z.json"));
    drop(dumper);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_byte_budget_deletes_the_oldest_and_always_keeps_the_newest() {
    let (reg, _clock) = frozen_registry();
    let scope = reg.collection("/app").unwrap();
    let big = scope.string_dict_stat("big").unwrap();
    for i in 0..20 {
        big.set(&format!("key-{i}"), "x".repeat(40));
    }
    let dir = temp_dir("bytes");
    let probe = dir.join("probe.json");
    reg.dump_to(&probe).unwrap();
    let size = fs::metadata(&probe).unwrap().len();
    fs::remove_file(&probe).unwrap();

    // Room for two and a half dumps (the health stats change a few bytes between dumps).
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .max_bytes(size * 5 / 2 + 200)
        .health_path(None)
        .start()
        .unwrap();
    for _ in 0..5 {
        dumper.dump_now().unwrap();
    }
    assert_eq!(dumps(&dir).len(), 2, "{:?}", names(&dir));
    assert_eq!(dumper.health().removed, 4);

    // One dump larger than the whole budget: it alone is kept.
    for i in 0..200 {
        big.set(&format!("more-{i}"), "y".repeat(40));
    }
    let newest = dumper.dump_now().unwrap();
    assert_eq!(dumps(&dir), [newest.file_name().unwrap().to_str().unwrap()]);
    assert!(fs::metadata(&newest).unwrap().len() > size * 5 / 2 + 200);
    drop(dumper);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn dumps_read_while_they_are_written_are_always_complete() {
    let reg = Registry::new();
    let scope = reg.collection("/load").unwrap();
    let counter = scope.int_stat("n").unwrap();
    // Enough content that a torn write would show.
    let big = scope.string_dict_stat("big").unwrap();
    for i in 0..300 {
        big.set(&format!("key-{i}"), "x".repeat(50));
    }
    let dir = temp_dir("reading");
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::from_millis(2))
        .keep(4)
        .start()
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 40 {
        assert!(Instant::now() < deadline, "only {} dumps read", seen.len());
        counter.inc();
        for name in dumps(&dir) {
            // Rotation may delete a dump between the listing and the read.
            let Ok(text) = fs::read_to_string(dir.join(&name)) else {
                continue;
            };
            let dumped: Json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("torn or invalid dump {name} ({e}): {text:?}"));
            assert_eq!(dumped["load"]["big"].as_object().unwrap().len(), 300);
            assert!(dumped["last-updated"].as_f64().unwrap() > 1.0e9);
            seen.insert(name);
        }
        // The oldest is deleted just after the newest is written.
        assert!(dumps(&dir).len() <= 5, "{:?}", names(&dir));
    }
    dumper.shutdown().unwrap();
    // No temporary file is left behind, and exactly `keep` dumps remain.
    assert_eq!(names(&dir).len(), 4, "{:?}", names(&dir));
    let _ = fs::remove_dir_all(&dir);
}

/// Waits until a dump has failed with an error containing `containing`, and checks that the
/// failure is in the tree.
fn wait_for_failure(reg: &Registry, dumper: &Dumper, containing: &str) {
    wait_for(containing, Duration::from_secs(20), || {
        let health = dumper.health();
        health.failed > 0 && health.last_error.contains(containing)
    });
    let snapshot = reg.snapshot();
    assert!(int_at(&snapshot, "/scales/dumps/failed") > 0);
    let error = text_at(&snapshot, "/scales/dumps/lastError");
    assert!(error.starts_with("cannot write the dump "), "{error}");
    assert!(error.ends_with('Z'), "{error}"); // ... at 2026-12-02T05:15:00Z
}

/// Removes `dir` while the dumper may be creating files in it.
fn remove_dir_racing(dir: &Path) {
    let mut attempts = 0;
    while let Err(e) = fs::remove_dir_all(dir) {
        attempts += 1;
        assert!(attempts < 1000, "cannot remove {}: {e}", dir.display());
    }
}

/// Waits until a dump is written after the fault is gone, and checks the error is cleared.
fn wait_for_recovery(reg: &Registry, dumper: &Dumper) {
    let written = dumper.health().written;
    wait_for("a dump after the fault", Duration::from_secs(20), || {
        dumper.health().written > written + 1
    });
    let snapshot = reg.snapshot();
    assert_eq!(text_at(&snapshot, "/scales/dumps/lastError"), "");
}

#[test]
fn a_removed_directory_is_counted_and_dumps_resume_when_it_is_back() {
    let reg = Registry::new();
    reg.collection("/app").unwrap().int_stat("n").unwrap().inc();
    let dir = temp_dir("removed");
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::from_millis(10))
        .keep(3)
        .start()
        .unwrap();
    remove_dir_racing(&dir);
    wait_for_failure(&reg, &dumper, "No such file or directory");
    // The dumper does not create the directory again by itself.
    assert!(!dir.exists());
    fs::create_dir(&dir).unwrap();
    wait_for_recovery(&reg, &dumper);
    let failed = dumper.health().failed;
    assert!(failed >= 1);
    // The dumps after recovery count their own failures in the tree.
    let newest = dir.join(dumps(&dir).last().unwrap());
    assert!(
        read_json(&newest)["scales"]["dumps"]["failed"]
            .as_i64()
            .unwrap()
            >= 1
    );
    dumper.shutdown().unwrap();
    assert_eq!(dumps(&dir).len(), 3);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_replaced_by_a_file_is_a_fault_and_the_file_is_left_alone() {
    let reg = Registry::new();
    let dir = temp_dir("replaced");
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::from_millis(10))
        .start()
        .unwrap();
    remove_dir_racing(&dir);
    fs::write(&dir, "precious").unwrap();
    wait_for_failure(&reg, &dumper, "Not a directory");
    let failed = dumper.health().failed;
    wait_for("more failures", Duration::from_secs(20), || {
        dumper.health().failed > failed + 2
    });
    assert_eq!(fs::read_to_string(&dir).unwrap(), "precious");
    fs::remove_file(&dir).unwrap();
    fs::create_dir(&dir).unwrap();
    wait_for_recovery(&reg, &dumper);
    dumper.shutdown().unwrap();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_dump_file_whose_directory_is_removed_recovers_when_it_is_back() {
    let reg = Registry::new();
    let dir = temp_dir("file-fault");
    let path = dir.join("stats.json");
    let dumper = Dumper::builder(&path)
        .registry(&reg)
        .every(Duration::from_millis(10))
        .start()
        .unwrap();
    assert!(!dumper.is_directory());
    assert!(path.is_file());
    remove_dir_racing(&dir);
    wait_for_failure(&reg, &dumper, &path.display().to_string());
    fs::create_dir(&dir).unwrap();
    wait_for_recovery(&reg, &dumper);
    assert!(
        read_json(&path)["scales"]["dumps"]["written"]
            .as_i64()
            .unwrap()
            >= 1
    );
    assert_eq!(dumper.shutdown().unwrap(), path);
    // One file, replaced each time; no temporary file left.
    assert_eq!(names(&dir), ["stats.json"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_and_drop_write_a_final_dump_with_the_latest_values() {
    let reg = Registry::new();
    let n = reg.collection("/app").unwrap().int_stat("n").unwrap();
    let dir = temp_dir("final");
    let path = dir.join("stats.json");
    let dumper = Dumper::builder(&path)
        .registry(&reg)
        .every(Duration::from_secs(3600))
        .start()
        .unwrap();
    assert_eq!(read_json(&path)["app"]["n"], json!(0));
    n.add(5);
    assert_eq!(dumper.shutdown().unwrap(), path);
    assert_eq!(read_json(&path)["app"]["n"], json!(5));

    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::from_secs(3600))
        .start()
        .unwrap();
    n.add(2);
    drop(dumper);
    let newest = dir.join(dumps(&dir).last().unwrap());
    assert_eq!(read_json(&newest)["app"]["n"], json!(7));
    // The health stats leave the tree with the dumper.
    assert!(reg.snapshot().stat("/scales/dumps/written").is_none());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_final_dump_stuck_in_a_gauge_is_given_up_within_the_timeout() {
    let reg = Registry::new();
    reg.set_gauge_timeout(Duration::from_secs(600));
    let stuck = Arc::new(AtomicBool::new(false));
    let release = Arc::new(Mutex::new(()));
    let held = release.lock().unwrap();
    {
        let (stuck, release) = (stuck.clone(), release.clone());
        reg.collection("/app")
            .unwrap()
            .gauge("slow", move || {
                if stuck.load(Ordering::SeqCst) {
                    drop(release.lock().unwrap_or_else(|e| e.into_inner()));
                }
                1
            })
            .unwrap();
    }
    let dir = temp_dir("stuck");
    let dumper = Dumper::builder(dir.join("stats.json"))
        .registry(&reg)
        .every(Duration::MAX)
        .final_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    stuck.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let error = dumper.shutdown().unwrap_err();
    assert!(
        matches!(error, DumpError::TimedOut { after } if after == Duration::from_millis(200)),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "the final dump did not finish within 200 ms"
    );
    // Bounded by the timeout, not by the gauge (which would take 600 s).
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(held);
    let _ = fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn invalid_settings_are_clear_errors_and_start_nothing() {
    let reg = Registry::new();
    let dir = temp_dir("invalid");
    let builder = || Dumper::builder(&dir).registry(&reg);
    let error = builder().every(Duration::ZERO).start().unwrap_err();
    assert!(matches!(error, StartError::ZeroInterval), "{error}");
    assert!(error.to_string().contains("interval is zero"), "{error}");
    let error = builder().keep(0).start().unwrap_err();
    assert_eq!(
        error.to_string(),
        "keep(0) would delete every dump; keep at least 1"
    );
    assert!(matches!(
        builder().max_bytes(0).start().unwrap_err(),
        StartError::ZeroMaxBytes
    ));
    for prefix in ["", "a/b", ".hidden", "with space"] {
        let error = builder().prefix(prefix).start().unwrap_err();
        assert!(
            matches!(&error, StartError::InvalidPrefix { prefix: p } if p == prefix),
            "{error}"
        );
    }

    let file = dir.join("stats.json");
    let error = Dumper::builder(&file)
        .registry(&reg)
        .keep(5)
        .start()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "keep applies to a directory of dumps, and {} is a file (each dump replaces it); \
             give a directory (an existing one, or a path ending in `/`)",
            file.display()
        )
    );

    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils)")
        .success());
    let error = Dumper::builder(&fifo).registry(&reg).start().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "refusing to dump stats to {}: it is a FIFO, not a regular file or a directory",
            fifo.display()
        )
    );
    let error = Dumper::builder("/dev/null")
        .registry(&reg)
        .start()
        .unwrap_err();
    assert!(
        matches!(
            error,
            StartError::NotAFileOrDirectory {
                found: "a device",
                ..
            }
        ),
        "{error}"
    );

    // A missing parent directory: the first dump fails, with the path and the cause.
    let missing = dir.join("no-such-dir").join("stats.json");
    let error = Dumper::builder(&missing)
        .registry(&reg)
        .start()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot write the dump {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    reg.collection("/taken").unwrap().int_stat("stat").unwrap();
    let error = builder()
        .health_path(Some("/taken/stat"))
        .start()
        .unwrap_err();
    assert!(matches!(error, StartError::Health(_)), "{error}");

    // Nothing was written, nothing is left in the tree.
    assert_eq!(names(&dir), ["fifo"]);
    assert!(reg.snapshot().stat("/scales/dumps/written").is_none());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_path_ending_in_a_slash_is_a_directory_created_if_missing() {
    let reg = Registry::new();
    let base = temp_dir("slash");
    let dir = base.join("a").join("b");
    let dumper = Dumper::builder(format!("{}/", dir.display()))
        .registry(&reg)
        .every(Duration::MAX)
        .start()
        .unwrap();
    assert!(dumper.is_directory());
    assert_eq!(dumps(&dir).len(), 1);
    drop(dumper);
    assert_eq!(dumps(&dir).len(), 2);
    let _ = fs::remove_dir_all(&base);
}

// The panic hook, in child processes: this test binary runs one `child_*` test, chosen by
// the environment variable, with the dump directory in another.

const CHILD: &str = "SCALES_DUMPER_CHILD";
const CHILD_DIR: &str = "SCALES_DUMPER_CHILD_DIR";

/// Runs the child test `name` with `dir`; it must end within 60 s.
fn run_child(name: &str, dir: &Path) -> Output {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("dumper::{name}"),
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, name)
        .env(CHILD_DIR, dir)
        .env_remove("RUST_BACKTRACE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child {name} did not end within 60 s (a deadlock?)");
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The dump directory when running as the child `name`, else `None`.
fn child_dir(name: &str) -> Option<PathBuf> {
    if std::env::var(CHILD).ok()? != name {
        return None;
    }
    // Log lines of the child go to stderr, for the parent to count.
    struct StderrLogger;
    impl log::Log for StderrLogger {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            if record.level() <= log::Level::Info {
                eprintln!(
                    "LOG {} {} {}",
                    record.level(),
                    record.target(),
                    record.args()
                );
            }
        }
        fn flush(&self) {}
    }
    log::set_logger(&StderrLogger).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    // The program's own hook, installed before the dumper: it must still run, after the
    // dump is written.
    let dir = PathBuf::from(std::env::var_os(CHILD_DIR).unwrap());
    let hook_dir = dir.clone();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or("?");
        eprintln!(
            "PREVIOUS HOOK: {message}; dumps on disk: {}",
            dumps(&hook_dir).len()
        );
    }));
    Some(dir)
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_panic_writes_a_dump_before_the_previous_hook_runs() {
    let dir = temp_dir("panic");
    let output = run_child("child_panics", &dir);
    let stderr = stderr_of(&output);
    // The child's test panicked (so the harness failed it), and the previous hook ran once,
    // after the panic dump was on disk (the first dump, and the panic's).
    assert!(!output.status.success(), "{stderr}");
    let hook_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("PREVIOUS HOOK"))
        .collect();
    assert_eq!(
        hook_lines,
        ["PREVIOUS HOOK: exploded on purpose; dumps on disk: 2"],
        "{stderr}"
    );
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("LOG") && l.contains(" scales::dumper "))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    assert!(
        logged[0].starts_with("LOG WARN scales::dumper panic at ")
            && logged[0].contains("dumper.rs:"),
        "{stderr}"
    );
    let all = dumps(&dir);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(logged[0].ends_with(&format!(
        "the stats were dumped to {}",
        dir.join(&all[1]).display()
    )));
    // The panic dump has what was recorded just before the panic.
    assert_eq!(read_json(&dir.join(&all[0]))["app"]["n"], json!(0));
    let panic_dump = read_json(&dir.join(&all[1]));
    assert_eq!(panic_dump["app"]["n"], json!(42));
    assert_eq!(panic_dump["scales"]["dumps"]["written"], json!(1));
    let _ = fs::remove_dir_all(&dir);
}

/// Runs only as the child of [`a_panic_writes_a_dump_before_the_previous_hook_runs`].
#[test]
fn child_panics() {
    let Some(dir) = child_dir("child_panics") else {
        return;
    };
    let reg = Registry::new();
    let n = reg.collection("/app").unwrap().int_stat("n").unwrap();
    Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .dump_on_panic(true)
        .start()
        .unwrap()
        .detach(); // no final dump: what is on disk after the first is the panic's
                   // Installing twice is harmless: one hook, one dump per panic.
    Dumper::builder(dir.join("second.json"))
        .registry(&Registry::new())
        .health_path(None)
        .dump_on_panic(true)
        .start()
        .unwrap()
        .shutdown()
        .unwrap();
    fs::remove_file(dir.join("second.json")).unwrap();
    // Gauge panics are the stat's to report: no dump for them.
    reg.collection("/app")
        .unwrap()
        .gauge("bad", || -> i64 { panic!("gauge panic") })
        .unwrap();
    for _ in 0..3 {
        assert!(reg.snapshot().stat("/app/bad").is_some());
    }
    assert_eq!(dumps(&dir).len(), 1);
    n.add(42);
    panic!("exploded on purpose");
}

#[test]
fn a_panic_holding_a_lock_the_snapshot_needs_does_not_hang() {
    let dir = temp_dir("panic-lock");
    let output = run_child("child_panics_holding_a_lock", &dir);
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    // The wait for the dump was given up on, the panic went on to the previous hook, and
    // the dump was finished once unwinding released the lock.
    assert!(
        stderr.contains(
            "LOG ERROR scales::dumper panic: the stats dump did not finish within 300 ms"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("PREVIOUS HOOK: dropped on purpose; dumps on disk: 1"),
        "{stderr}"
    );
    assert!(stderr.contains("CHILD: late panic dump"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

/// Panics when dropped.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("dropped on purpose");
    }
}

/// Runs only as the child of [`a_panic_holding_a_lock_the_snapshot_needs_does_not_hang`].
#[test]
fn child_panics_holding_a_lock() {
    let Some(dir) = child_dir("child_panics_holding_a_lock") else {
        return;
    };
    let reg = Registry::new();
    let scope = reg.collection("/app").unwrap();
    let gauge = scope.stat("gauge").unwrap();
    let bomb = PanicOnDrop;
    gauge.set_fn(move || {
        std::hint::black_box(&bomb);
        7
    });
    let dumper = Dumper::builder(&dir)
        .registry(&reg)
        .every(Duration::MAX)
        .final_timeout(Duration::from_millis(300))
        .dump_on_panic(true)
        .start()
        .unwrap();
    // Replacing the gauge drops its closure while the stat's lock is held, and the drop
    // panics: the panicking thread holds a lock every snapshot of the tree takes.
    let panicked = thread::spawn(move || gauge.set(1)).join();
    assert!(panicked.is_err());
    // Unwinding released the lock: the panic dump is written, late.
    wait_for("the late panic dump", Duration::from_secs(20), || {
        dumps(&dir).len() == 2
    });
    let late = read_json(&dir.join(dumps(&dir).last().unwrap()));
    assert_eq!(late["app"]["gauge"], json!(1));
    eprintln!("CHILD: late panic dump");
    dumper.shutdown().unwrap();
}
