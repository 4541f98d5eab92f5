//! A real Prometheus scrapes our `/metrics` and its query API returns the recorded values;
//! `promtool check metrics` accepts the exposition.
//!
//! `scripts/services/prometheus.sh` runs Prometheus on a free port (`PROM_URL`), scraping
//! every second the targets listed in a file (`PROM_TARGETS_FILE`, file-based service
//! discovery); this test serves on a free port and writes its address there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{agent, e2e, e2e_var, get};

/// The first value of an instant query, if there is one yet.
fn query(prometheus: &str, q: &str) -> Option<String> {
    let mut response = agent()
        .get(&format!("{prometheus}/api/v1/query"))
        .query("query", q)
        .call()
        .ok()?;
    let body: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_owned)
}

fn wait_for(prometheus: &str, q: &str, want: &str, deadline: Instant) {
    let mut last = None;
    while Instant::now() < deadline {
        last = query(prometheus, q);
        if last.as_deref() == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let targets = agent()
        .get(&format!("{prometheus}/api/v1/targets"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok());
    panic!(
        "Prometheus at {prometheus}: `{q}` is {last:?}, wanted {want}; its targets: {targets:?}"
    );
}

/// The scrape targets file while the test runs: lists our server, and nothing again after.
struct Target(PathBuf);

impl Target {
    fn write(path: &Path, json: &str) {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
        // Renamed into place: Prometheus never reads a half-written file.
        std::fs::rename(&tmp, path)
            .unwrap_or_else(|e| panic!("renaming to {}: {e}", path.display()));
    }

    fn set(path: PathBuf, instance: &str) -> Self {
        Self::write(&path, &format!(r#"[{{"targets": ["{instance}"]}}]"#));
        Self(path)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        Self::write(&self.0, "[]");
    }
}

#[test]
fn prometheus_scrapes_the_recorded_values() {
    let _shared = crate::support::shared();
    if !e2e("prometheus::prometheus_scrapes_the_recorded_values") {
        return;
    }
    let registry = scales::Registry::new();
    let scope = registry.scope("/e2e").unwrap();
    let requests = scope.int_stat("requests").unwrap();
    requests.add(42);
    scope.counter_stat("served").unwrap().add(9);
    let latency = scope.pmf_stat("latency_seconds").unwrap();
    for v in [0.1, 0.2, 0.3] {
        latency.record(v);
    }
    scope.meter_stat("events").unwrap().add(7);
    let responses = scope.int_dict_stat("responses").unwrap();
    responses.add("200", 5);
    responses.inc("500");
    scope.double_stat("temperature_celsius").unwrap().set(21.5);
    scope.stat("version").unwrap().set("1.2.3");
    // The original's camelCase names become snake_case, which promtool's linter wants.
    let by_path = scope.int_dict_stat("byPath").unwrap();
    by_path.add("/index", 3);
    let prometheus = e2e_var("PROM_URL", "prometheus");
    let targets = PathBuf::from(e2e_var("PROM_TARGETS_FILE", "prometheus"));
    let server = scales_http::Config::new("prometheus-e2e")
        .registry(&registry)
        .serve_in_background(([127, 0, 0, 1], 0))
        .unwrap();
    let instance = server.local_addr().to_string();
    // Prometheus applies a changed target list on a 5 s tick, then scrapes every second:
    // the first scrape comes some 5-7 s after the file is written.
    let _target = Target::set(targets, &instance);
    let started = Instant::now();

    // promtool's parser and linter accept the exposition as it is.
    let exposition = get(&format!("http://{}/metrics", server.local_addr())).body;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is missing");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}\n{}{}\n{exposition}",
        checked.status,
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let deadline = started + Duration::from_secs(60);
    let ours = |metric: &str, labels: &str| format!("{metric}{{instance=\"{instance}\"{labels}}}");
    let wait = |q: String, want: &str| wait_for(&prometheus, &q, want, deadline);
    wait(ours("up", ",job=\"scales-e2e\""), "1");
    wait(ours("e2e_requests", ""), "42");
    wait(ours("e2e_events_total", ""), "7");
    wait(ours("e2e_latency_seconds_count", ""), "3");
    wait(ours("e2e_latency_seconds_sum", ""), "0.6000000000000001");
    wait(ours("e2e_responses", ",key=\"500\""), "1");
    wait(ours("e2e_temperature_celsius", ""), "21.5");
    wait(ours("e2e_version_info", ",value=\"1.2.3\""), "1");
    wait(ours("e2e_by_path", ",key=\"/index\""), "3");
    // A CounterStat is a counter to Prometheus (its metadata says so), so rate() applies.
    wait(ours("e2e_served_total", ""), "9");
    wait(format!("rate({}[1m])", ours("e2e_served_total", "")), "0");
    let mut metadata = agent()
        .get(&format!("{prometheus}/api/v1/metadata"))
        .query("metric", "e2e_served_total")
        .call()
        .unwrap();
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(
        metadata["data"]["e2e_served_total"][0]["type"], "counter",
        "{metadata}"
    );
    let median: f64 = query(
        &prometheus,
        &ours("e2e_latency_seconds", ",quantile=\"0.5\""),
    )
    .unwrap()
    .parse()
    .unwrap();
    assert!((median - 0.2).abs() < 0.2 * 0.01, "median {median}");

    // Later scrapes of the same tree (its text kept from the last one, with the numbers
    // written anew) carry the new values, and a stat declared since is scraped too.
    requests.add(1);
    responses.inc("500");
    latency.record(0.4);
    wait(ours("e2e_requests", ""), "43");
    wait(ours("e2e_responses", ",key=\"500\""), "2");
    wait(ours("e2e_latency_seconds_count", ""), "4");
    let late = scope.int_stat("late").unwrap();
    late.add(5);
    wait(ours("e2e_late", ""), "5");
    requests.add(1);
    wait(ours("e2e_requests", ""), "44");
}
