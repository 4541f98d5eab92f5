//! End to end against a real carbon-cache (`SCALES_E2E=1`, see `scripts/test.sh`): known
//! values are pushed and read back from carbon's whisper files with the expected names,
//! values and timestamps, odd names included.

use std::time::Duration;

use scales::format::graphite::{sanitize, MAX_SEGMENT_BYTES};
use scales::{Registry, Value};
use scales_graphite::GraphitePusher;

use crate::support::{carbon_addr, e2e, fetch, now, run_id, wait_for, whisper_path, Access};

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn known_values_arrive_with_their_names_values_and_timestamp() {
    let Some(_carbon) = e2e(
        "known_values_arrive_with_their_names_values_and_timestamp",
        Access::Shared,
    ) else {
        return;
    };
    let prefix = format!("e2e.{}", run_id());
    let registry = Registry::new();
    let web = registry.scope("/web").unwrap();
    web.int_stat("requests").unwrap().add(42);
    web.double_stat("ratio").unwrap().set(0.000_123_456_789);
    let latency = web.pmf_stat("latency").unwrap();
    for v in [0.001, 0.002, 0.004] {
        latency.record(v);
    }
    web.int_dict_stat("byPath").unwrap().add("/index", 7);
    web.gauge("state", || "serving").unwrap();
    web.gauge("broken", || f64::NAN).unwrap();
    web.gauge("map", || Value::Map(vec![("a".into(), Value::Int(-3))]))
        .unwrap();

    let mut pusher = GraphitePusher::builder(carbon_addr())
        .prefix(&prefix)
        .health_path(None)
        .build(&registry)
        .unwrap();
    let ts = now() - 5;
    let points = pusher.push_at(ts).unwrap();
    assert_eq!(points, 1 + 1 + 11 + 1 + 1);

    let expect = |name: &str, value: f64| {
        let full = format!("{prefix}.{name}");
        let stored = wait_for(&full, WAIT, |p| !p.is_empty());
        assert_eq!(stored, [(ts, value)], "{full}");
    };
    expect("web.requests", 42.0);
    // Full precision: the original would have stored 0.00.
    expect("web.ratio", 0.000_123_456_789);
    expect("web.latency.count", 3.0);
    expect("web.latency.min", 0.001);
    expect("web.latency.max", 0.004);
    expect("web.latency.mean", (0.001 + 0.002 + 0.004) / 3.0);
    expect("web.byPath._index", 7.0);
    expect("web.map.a", -3.0);
    let median = wait_for(&format!("{prefix}.web.latency.median"), WAIT, |p| {
        !p.is_empty()
    });
    assert!((median[0].1 - 0.002).abs() <= 0.002 * 0.0078, "{median:?}");
    // Strings and NaN are not sent: no file.
    assert!(!whisper_path(&format!("{prefix}.web.state")).exists());
    assert!(!whisper_path(&format!("{prefix}.web.broken")).exists());
}

#[test]
fn odd_names_arrive_as_documented() {
    let Some(_carbon) = e2e("odd_names_arrive_as_documented", Access::Shared) else {
        return;
    };
    let prefix = format!("e2e.{}", run_id());
    let registry = Registry::new();
    let odd = registry.scope("/odd").unwrap();
    let long = "long".repeat(100); // 400 bytes: carbon would drop it ("File name too long")
    odd.int_stat("with space").unwrap().set(1);
    odd.int_stat("dot.ted").unwrap().set(2);
    odd.int_stat("température").unwrap().set(3);
    odd.int_stat(&long).unwrap().set(4);
    let keys = odd.int_dict_stat("keys").unwrap();
    keys.add("sl/ash", 5);
    keys.add("tab\there", 6);
    keys.add("semi;colon", 7);
    keys.add("  ", 8);
    keys.add("數據", 9);

    let mut pusher = GraphitePusher::builder(carbon_addr())
        .prefix(&prefix)
        .health_path(None)
        .build(&registry)
        .unwrap();
    let ts = now() - 5;
    assert_eq!(pusher.push_at(ts).unwrap(), 9);

    let long_name = sanitize(&long);
    assert!(long_name.len() <= MAX_SEGMENT_BYTES);
    for (name, value) in [
        ("odd.with-space".to_owned(), 1.0),
        ("odd.dot-ted".to_owned(), 2.0),
        ("odd.température".to_owned(), 3.0),
        (format!("odd.{long_name}"), 4.0),
        ("odd.keys.sl_ash".to_owned(), 5.0),
        ("odd.keys.tab-here".to_owned(), 6.0),
        ("odd.keys.semi_colon".to_owned(), 7.0),
        ("odd.keys._".to_owned(), 8.0),
        ("odd.keys.數據".to_owned(), 9.0),
    ] {
        let full = format!("{prefix}.{name}");
        let stored = wait_for(&full, WAIT, |p| !p.is_empty());
        assert_eq!(stored, [(ts, value)], "{full}");
    }
    assert!(fetch(&format!("{prefix}.odd.dot.ted")).is_empty());
}

#[test]
fn tagged_lines_are_stored_as_tagged_series() {
    let Some(_carbon) = e2e("tagged_lines_are_stored_as_tagged_series", Access::Shared) else {
        return;
    };
    let prefix = format!("e2e.{}", run_id());
    let registry = Registry::new();
    let value = (now() % 100_000) as f64 + 0.25; // unique enough to find among tagged files
    let scope = registry.scope("/tagged").unwrap();
    scope.double_stat("gauge").unwrap().set(value);
    let mut pusher = GraphitePusher::builder(carbon_addr())
        .prefix(&prefix)
        .tag("host", "web 1")
        .health_path(None)
        .build(&registry)
        .unwrap();
    let ts = now() - 5;
    assert_eq!(pusher.push_at(ts).unwrap(), 1);
    // Carbon stores `name;host=web-1` under `_tagged/<sha256 of the name>`, not under the
    // dotted path.
    let tagged_dir = whisper_path("_tagged.x").parent().unwrap().to_path_buf();
    let script = "import os, sys, time, whisper\n\
        for root, _, files in os.walk(sys.argv[1]):\n\
        \x20   for f in files:\n\
        \x20       (start, end, step), values = whisper.fetch(os.path.join(root, f), int(time.time()) - 600)\n\
        \x20       for i, v in enumerate(values):\n\
        \x20           if v is not None and start + i * step == int(sys.argv[2]) and v == float(sys.argv[3]):\n\
        \x20               print(f)\n";
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let output = std::process::Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&tagged_dir)
            .arg(ts.to_string())
            .arg(value.to_string())
            .output()
            .unwrap();
        if !output.stdout.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no tagged series with {value} at {ts}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!whisper_path(&format!("{prefix}.tagged.gauge")).exists());
}
