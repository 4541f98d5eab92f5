//! A library instrumented only through the `metrics` facade, as a dependency of a real
//! program would be: it knows nothing of scales. The tests of `scales-metrics` call it with
//! the scales recorder installed.

use std::time::Duration;

/// Describes this library's metrics (`describe_*!`).
pub fn describe() {
    metrics::describe_counter!("fixture.jobs", metrics::Unit::Count, "Jobs done");
    metrics::describe_histogram!(
        "fixture.http.latency",
        metrics::Unit::Seconds,
        "Time to answer a request"
    );
    metrics::describe_gauge!("fixture.connections", "Open connections");
}

/// Counts one finished job (`fixture.jobs`).
pub fn job_done() {
    metrics::counter!("fixture.jobs").increment(1);
}

/// Serves one request: counts it by path and method (labels given in that order), and
/// records its latency by path.
pub fn handle_request(method: &'static str, path: &str, latency: Duration) {
    metrics::counter!("fixture.http.requests", "path" => path.to_owned(), "method" => method)
        .increment(1);
    metrics::histogram!("fixture.http.latency", "path" => path.to_owned()).record(latency);
}

/// Counts a response by status code only (one label).
pub fn respond(status: u16) {
    metrics::counter!("fixture.http.responses", "status" => status.to_string()).increment(1);
}

/// Records a request size into an unlabelled distribution.
pub fn request_size(bytes: u64) {
    metrics::histogram!("fixture.http.request_bytes").record(bytes as f64);
}

/// A connection opened (`fixture.connections` + 1).
pub fn connect() {
    metrics::gauge!("fixture.connections").increment(1.0);
}

/// A connection closed (`fixture.connections` - 1).
pub fn disconnect() {
    metrics::gauge!("fixture.connections").decrement(1.0);
}

/// Sets the depth of the named queue (a gauge keyed by queue).
pub fn queue_depth(queue: &'static str, depth: f64) {
    metrics::gauge!("fixture.queue.depth", "queue" => queue).set(depth);
}

/// Sets the externally tracked total of bytes sent (`Counter::absolute`).
pub fn bytes_sent_total(total: u64) {
    metrics::counter!("fixture.bytes_sent").absolute(total);
}

/// Counts one event under a name chosen at run time.
pub fn count_named(name: String) {
    metrics::counter!(name).increment(1);
}

/// Sets a gauge named at run time.
pub fn gauge_named(name: String, value: f64) {
    metrics::gauge!(name).set(value);
}

/// A handle registered once and kept, as hot loops do.
pub fn jobs_counter() -> metrics::Counter {
    metrics::counter!("fixture.jobs")
}
