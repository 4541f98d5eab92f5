//! A real Prometheus scrapes our `/metrics` and its query API returns the recorded values;
//! `promtool check metrics` accepts the exposition.
//!
//! `scripts/services/prometheus.sh` runs Prometheus on 127.0.0.1:9090, scraping
//! 127.0.0.1:9187 every second; this test serves there.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{agent, e2e, get};

const PROMETHEUS: &str = "http://127.0.0.1:9090";

/// The first value of an instant query, if there is one yet.
fn query(q: &str) -> Option<String> {
    let mut response = agent()
        .get(&format!("{PROMETHEUS}/api/v1/query"))
        .query("query", q)
        .call()
        .ok()?;
    let body: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .map(str::to_owned)
}

fn wait_for(q: &str, want: &str, deadline: Instant) {
    let mut last = None;
    while Instant::now() < deadline {
        last = query(q);
        if last.as_deref() == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("Prometheus: `{q}` is {last:?}, wanted {want}");
}

#[test]
fn prometheus_scrapes_the_recorded_values() {
    if !e2e("prometheus::prometheus_scrapes_the_recorded_values") {
        return;
    }
    let registry = scales::Registry::new();
    let scope = registry.scope("/e2e").unwrap();
    scope.int_stat("requests").unwrap().add(42);
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
    let server = scales_http::Config::new("prometheus-e2e")
        .registry(&registry)
        .serve_in_background(([127, 0, 0, 1], 9187))
        .expect("port 9187 is free for the Prometheus test");

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

    let deadline = Instant::now() + Duration::from_secs(20);
    wait_for("e2e_requests", "42", deadline);
    wait_for("up{job=\"scales-e2e\"}", "1", deadline);
    wait_for("e2e_events_total", "7", deadline);
    wait_for("e2e_latency_seconds_count", "3", deadline);
    wait_for("e2e_latency_seconds_sum", "0.6000000000000001", deadline);
    wait_for("e2e_responses{key=\"500\"}", "1", deadline);
    wait_for("e2e_temperature_celsius", "21.5", deadline);
    wait_for("e2e_version_info{value=\"1.2.3\"}", "1", deadline);
    wait_for("e2e_by_path{key=\"/index\"}", "3", deadline);
    let median: f64 = query("e2e_latency_seconds{quantile=\"0.5\"}")
        .unwrap()
        .parse()
        .unwrap();
    assert!((median - 0.2).abs() < 0.2 * 0.01, "median {median}");
}
