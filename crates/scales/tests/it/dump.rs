//! File dumps: valid JSON with a `last-updated` key, written atomically so that a reader
//! never sees a torn file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, UNIX_EPOCH};

use scales::{ManualClock, Registry};
use serde_json::{json, Value as Json};

/// A fresh directory for one test under Cargo's per-target temporary directory.
fn temp_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("it-dump-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &std::path::Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("torn or invalid dump ({e}): {text:?}"))
}

#[test]
fn dump_writes_the_tree_with_last_updated() {
    let time = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_400_000_000));
    let reg = Registry::with_clock(time.clock());
    let web = reg.scope("/web").unwrap();
    web.int_stat("errors").unwrap().add(2);
    web.stat("name").unwrap().set("萬知堂");
    time.advance(Duration::from_millis(750));

    let dir = temp_dir("basic");
    let path = dir.join("stats.json");
    reg.dump_to(&path).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"), "{text:?}");
    assert!(text.is_ascii());
    let dumped: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(
        dumped,
        json!({"web": {"errors": 2, "name": "萬知堂"}, "last-updated": 1_400_000_000.75})
    );
    // The live tree is not changed by the dump (the original added the key to it).
    assert!(reg.snapshot().get("last-updated").is_none());

    // Dumping again replaces the file; no temporary files are left behind.
    web.int_stat("errors").unwrap().inc();
    reg.dump_to(&path).unwrap();
    assert_eq!(read_json(&path)["web"]["errors"], json!(3));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["stats.json"]);

    // A path without a file name is an error, not a panic.
    assert!(reg.dump_to("/").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_global_dump_function_writes_the_global_tree() {
    let stats = scales::collection("/it-dump/global").unwrap();
    stats.int_stat("n").unwrap().add(9);
    let dir = temp_dir("global");
    let path = dir.join("global.json");
    scales::dump_stats_to(&path).unwrap();
    let dumped = read_json(&path);
    assert_eq!(dumped["it-dump"]["global"]["n"], json!(9));
    assert!(dumped["last-updated"].as_f64().unwrap() > 1.0e9);
    let _ = std::fs::remove_dir_all(&dir);
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Dumps `dumps` times from each of `writers` threads while a reader re-reads the file; every
/// read must parse and show a complete tree.
fn dump_while_reading(test: &str, writers: usize, dumps: usize) {
    let reg = Registry::new();
    let scope = reg.scope("/load").unwrap();
    let counter = scope.int_stat("n").unwrap();
    // Enough content that a torn write would be visible.
    let big = scope.string_dict_stat("big").unwrap();
    for i in 0..200 {
        big.set(&format!("key-{i}"), "x".repeat(50));
    }
    let dir = temp_dir(test);
    let path = dir.join("stats.json");
    reg.dump_to(&path).unwrap();

    let done = AtomicBool::new(false);
    let reads = thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0;
            let mut last = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                let dumped = read_json(&path);
                assert_eq!(dumped["load"]["big"].as_object().unwrap().len(), 200);
                let n = dumped["load"]["n"].as_i64().unwrap();
                if writers == 1 {
                    assert!(n >= last, "the file went backwards: {last} -> {n}");
                }
                last = n;
                reads += 1;
                if finished {
                    return reads;
                }
            }
        });
        // Stops the reader even when a writer fails, so a failure cannot hang the test.
        let stop_reader = StopOnDrop(&done);
        let writers: Vec<_> = (0..writers)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..dumps {
                        counter.inc();
                        reg.dump_to(&path).unwrap();
                    }
                })
            })
            .collect();
        let results: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        drop(stop_reader);
        let reads = reader.join().unwrap();
        for result in results {
            result.unwrap();
        }
        reads
    });
    assert!(reads >= 1);
    assert_eq!(counter.get(), (writers * dumps) as i64);
    let last = read_json(&path)["load"]["n"].as_i64().unwrap();
    if writers == 1 {
        assert_eq!(last, dumps as i64);
    } else {
        // The last rename may carry a snapshot taken just before another writer's increment.
        assert!(last > 0 && last <= (writers * dumps) as i64, "{last}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reader_never_sees_a_torn_dump() {
    dump_while_reading("torn", 1, 60);
}

#[test]
fn concurrent_dumps_to_one_file_never_tear() {
    dump_while_reading("concurrent", 3, 30);
}

#[cfg(unix)]
#[test]
fn dump_writes_through_a_symlink_and_keeps_it() {
    let reg = Registry::new();
    reg.collection("/web")
        .unwrap()
        .int_stat("errors")
        .unwrap()
        .add(3);
    let dir = temp_dir("symlink");
    let target = dir.join("real.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("stats.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    reg.dump_to(&link).unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read_json(&target)["web"]["errors"], json!(3));

    // A dangling link creates its target.
    let dangling = dir.join("dangling.json");
    std::os::unix::fs::symlink(dir.join("later.json"), &dangling).unwrap();
    reg.dump_to(&dangling).unwrap();
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        read_json(&dir.join("later.json"))["web"]["errors"],
        json!(3)
    );

    // A loop of links is an error, not a hang.
    std::os::unix::fs::symlink("loop-b", dir.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", dir.join("loop-b")).unwrap();
    let error = reg.dump_to(dir.join("loop-a")).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
}

#[cfg(unix)]
#[test]
fn dump_refuses_what_is_not_a_regular_file() {
    let reg = Registry::new();
    reg.collection("/web")
        .unwrap()
        .int_stat("errors")
        .unwrap()
        .inc();
    let dir = temp_dir("special");
    let fifo = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils)");
    assert!(status.success());
    let error = reg.dump_to(&fifo).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("a FIFO"), "{error}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    let error = reg.dump_to("/dev/null").unwrap_err();
    assert!(error.to_string().contains("a device"), "{error}");

    let error = reg.dump_to(&dir).unwrap_err();
    assert!(error.to_string().contains("a directory"), "{error}");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("fifo")]);
}

#[cfg(unix)]
#[test]
fn dump_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Registry::new();
    let dir = temp_dir("permissions");
    let path = dir.join("stats.json");
    std::fs::write(&path, "{}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    reg.dump_to(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}
