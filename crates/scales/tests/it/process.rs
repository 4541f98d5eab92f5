//! `scales::process`: the stats follow what the process does. The checks run in a child
//! process of their own (this test binary, one test, one thread), so that no other test
//! opens files or starts threads between two readings.

use std::process::Command;

const CHILD: &str = "SCALES_PROCESS_STATS_CHILD";

#[test]
fn process_stats_follow_the_process() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "process::in_child",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{stderr}"
    );
}

/// Runs only as the child of [`process_stats_follow_the_process`].
#[test]
fn in_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let reg = scales::Registry::new();
    scales::process::register(&reg).unwrap();
    let read = |name: &str| -> f64 {
        // Past the 100 ms for which a reading of /proc/self/stat is reused.
        std::thread::sleep(std::time::Duration::from_millis(120));
        let snapshot = reg.snapshot();
        let stat = snapshot.stat(&format!("/process/{name}")).unwrap();
        stat.value
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {:?}", stat.value))
    };

    // Files: exactly as many more as we hold open.
    let fds = read("open_fds");
    let files: Vec<_> = (0..64)
        .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
        .collect();
    assert_eq!(read("open_fds"), fds + 64.0);
    drop(files);
    assert_eq!(read("open_fds"), fds);

    // Threads: exactly as many more as are parked.
    let threads = read("threads");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let parked: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || barrier.wait())
        })
        .collect();
    assert_eq!(read("threads"), threads + 3.0);
    barrier.wait();
    for thread in parked {
        thread.join().unwrap();
    }

    // Memory: 256 MiB touched shows in the resident set.
    let resident = read("resident_memory_bytes");
    // black_box: an optimised build may otherwise leave out an allocation nothing reads.
    let memory = std::hint::black_box(vec![1u8; 256 << 20]);
    let grown = read("resident_memory_bytes") - resident;
    assert!(
        grown >= 200.0 * 1024.0 * 1024.0,
        "resident grew by {grown} B"
    );
    assert!(read("virtual_memory_bytes") >= read("resident_memory_bytes"));
    drop(memory);

    // CPU: work done is counted (a clock tick is 10 ms; this is far more work).
    let cpu = read("cpu_seconds");
    let mut x = 0u64;
    let mut rounds = 0;
    while read_cpu(&reg) <= cpu {
        rounds += 1;
        assert!(
            rounds <= 100,
            "cpu_seconds stayed at {cpu} through {rounds} rounds of work"
        );
        for i in 0..50_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    assert!(read("cpu_user_seconds") + read("cpu_system_seconds") > cpu);

    // The limit is the shell's `ulimit -n`, the start time is before now.
    let limit = Command::new("sh")
        .args(["-c", "ulimit -n"])
        .output()
        .unwrap();
    let limit = String::from_utf8(limit.stdout).unwrap();
    match limit.trim() {
        "unlimited" => assert!(
            reg.snapshot().stat("/process/max_fds").unwrap().value
                == scales::StatValue::Value(scales::Value::Null)
        ),
        n => assert_eq!(read("max_fds"), n.parse::<f64>().unwrap()),
    }
    let uptime = read("uptime_seconds");
    let start = read("start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(uptime > 0.0 && uptime < 3600.0, "uptime {uptime}");
    assert!(
        (now - uptime - start).abs() < 5.0,
        "start {start}, now {now}, uptime {uptime}"
    );
}

fn read_cpu(reg: &scales::Registry) -> f64 {
    std::thread::sleep(std::time::Duration::from_millis(120));
    reg.snapshot()
        .stat("/process/cpu_seconds")
        .unwrap()
        .value
        .as_f64()
        .unwrap()
}
