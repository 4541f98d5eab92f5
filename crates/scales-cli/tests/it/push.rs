//! `scales push-graphite`: one push of a dump to a loopback listener (always), and to the
//! real carbon-cache of scripts/test.sh read back from its whisper files (`SCALES_E2E=1`
//! with the `CARBON_*` variables of `scripts/services/carbon.sh env`).

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

use crate::support::{e2e, refused_port, run, source_failure, stderr, success, temp_dir, Demo};

/// A dump written by a real demo, and its JSON.
fn demo_dump(name: &str) -> (PathBuf, Json) {
    let dir = temp_dir(name);
    let dump = dir.join("stats.json");
    Demo::start(&["--dump", dump.to_str().unwrap()]).stop();
    let json = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    (dump, json)
}

#[test]
fn a_dump_is_pushed_once_with_its_timestamp() {
    let (dump, json) = demo_dump("push-sink");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sink = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    });
    let output = run(&[
        "push-graphite",
        dump.to_str().unwrap(),
        &addr,
        "--prefix",
        "cron",
    ]);
    let out = success(&output);
    let received = sink.join().unwrap();
    let lines: Vec<&str> = received.lines().collect();
    let last_updated = json["last-updated"].as_f64().unwrap() as u64;
    assert_eq!(
        out,
        format!(
            "sent {} metrics from {} to {addr} at timestamp {last_updated}\n",
            lines.len(),
            dump.display()
        )
    );
    let success_line = format!("cron.web.success {} {last_updated}", json["web"]["success"]);
    assert!(
        lines.contains(&success_line.as_str()),
        "{success_line} in {received}"
    );
    assert!(lines
        .iter()
        .all(|l| l.starts_with("cron.") && l.ends_with(&format!(" {last_updated}"))));
    assert_eq!(stderr(&output), "");
}

#[test]
fn an_unreachable_carbon_fails_with_status_1() {
    let (dump, _) = demo_dump("push-refused");
    let carbon = format!("127.0.0.1:{}", refused_port());
    let output = run(&["push-graphite", dump.to_str().unwrap(), &carbon, "--quiet"]);
    assert_eq!(
        source_failure(&output, &format!("carbon at {carbon}")),
        "connection refused (is carbon running on that port?)"
    );
}

/// Carbon's whisper file of an untagged metric.
fn whisper_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("CARBON_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e/carbon"),
        PathBuf::from,
    );
    let mut path = dir.join("storage/whisper");
    let parts: Vec<&str> = name.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        path.push(part);
    }
    path.push(format!("{}.wsp", parts[parts.len() - 1]));
    path
}

/// Every stored `(timestamp, value)` of a metric over the last 10 minutes, read with
/// Debian's Python and its whisper module; empty while the file does not exist.
fn fetch(name: &str) -> Vec<(u64, f64)> {
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
        .expect("Debian's /usr/bin/python3 with the whisper module (python3-whisper)");
    assert!(
        output.status.success(),
        "{}",
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

#[test]
fn a_dump_reaches_a_real_carbon() {
    if !e2e() {
        eprintln!("skipping a_dump_reaches_a_real_carbon: set SCALES_E2E=1 and start scripts/services/carbon.sh");
        return;
    }
    let carbon = std::env::var("CARBON_ADDR")
        .expect("SCALES_E2E=1 but CARBON_ADDR is not set: export what scripts/services/carbon.sh env prints");
    let (dump, json) = demo_dump("push-carbon");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("e2e.cli{}x{nanos}", std::process::id());
    let out = success(&run(&[
        "push-graphite",
        dump.to_str().unwrap(),
        &carbon,
        "--prefix",
        &prefix,
    ]));
    assert!(out.starts_with("sent "), "{out}");

    let last_updated = json["last-updated"].as_f64().unwrap() as u64;
    for (name, expected) in [
        ("web.success", &json["web"]["success"]),
        ("handler.requests", &json["handler"]["requests"]),
        ("web.latency.count", &json["web"]["latency"]["count"]),
    ] {
        let metric = format!("{prefix}.{name}");
        let deadline = Instant::now() + Duration::from_secs(15);
        let stored = loop {
            let points = fetch(&metric);
            if !points.is_empty() {
                break points;
            }
            assert!(
                Instant::now() < deadline,
                "carbon stored no {metric} within 15 s"
            );
            thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            stored,
            [(last_updated, expected.as_f64().unwrap())],
            "{metric}"
        );
    }
}
