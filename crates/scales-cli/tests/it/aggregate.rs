//! `scales aggregate` against real servers (three `known_values` instances serving their
//! status pages), their dumps, the Python original's dumps, and bad sources.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use scales::format::json;
use scales::sketch::RELATIVE_ERROR;
use scales::{SketchSnapshot, StatValue};
use serde_json::Value as Json;

/// The known_values example's formula (examples/known_values.rs).
const COUNT: u64 = 2000;

fn value(instance: u64, k: u64) -> f64 {
    let spread = ((k * 7919 + instance * 104_729) % 10_007) as f64 / 10_007.0;
    1e-4 * (1.0 + instance as f64) * 10f64.powf(3.0 * spread)
}

fn scales() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scales"))
}

/// The example binary: built by `cargo test -p scales-cli` beside the test binaries, or
/// here (`cargo test --test it` builds no examples).
fn example() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap();
            let name = format!("known_values{}", std::env::consts::EXE_SUFFIX);
            let path = dir.join("examples").join(name);
            if !path.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
                let status = Command::new(cargo)
                    .args(["build", "-p", "scales-cli", "--example", "known_values"])
                    .status()
                    .unwrap();
                assert!(status.success(), "building the known_values example");
            }
            assert!(path.exists(), "{} is missing", path.display());
            path
        })
        .clone()
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scales-aggregate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A known_values instance serving its status page; stopped (stdin closed, then killed)
/// when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(instance: u64) -> Server {
        let mut child = Command::new(example())
            .args(["--instance", &instance.to_string(), "--serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
        Server {
            child,
            url: line.trim().to_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str]) -> Output {
    scales().arg("aggregate").args(args).output().unwrap()
}

fn stdout_json(output: &Output) -> Json {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?}, stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn all_values() -> Vec<f64> {
    let mut all: Vec<f64> = (0..3)
        .flat_map(|i| (0..COUNT).map(move |k| value(i, k)))
        .collect();
    all.sort_by(f64::total_cmp);
    all
}

/// Asserts `estimate` is within the sketch's bound of the exact `q`-quantile of `sorted`
/// (NumPy's linear definition: between the two values of ranks ⌊h⌋ and ⌈h⌉).
fn assert_within_bound(sorted: &[f64], q: f64, estimate: f64) {
    let h = q * (sorted.len() - 1) as f64;
    let (low, high) = (sorted[h.floor() as usize], sorted[h.ceil() as usize]);
    assert!(
        estimate >= low * (1.0 - RELATIVE_ERROR) && estimate <= high * (1.0 + RELATIVE_ERROR),
        "q={q}: {estimate} is not within {RELATIVE_ERROR} of [{low}, {high}]"
    );
}

fn check_fleet(tree: &Json) {
    let latency = &tree["web"]["latency"];
    assert_eq!(latency["count"], 3 * COUNT, "{latency}");
    assert_eq!(tree["web"]["requests"], 3 * COUNT + 3);
    assert_eq!(tree["web"]["errors"], 3);
    let all = all_values();
    assert_eq!(latency["min"].as_f64().unwrap(), all[0]);
    assert_eq!(latency["max"].as_f64().unwrap(), *all.last().unwrap());
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    assert!((latency["mean"].as_f64().unwrap() - mean).abs() <= mean * 1e-12);
    for (key, q) in [
        ("median", 0.5),
        ("75percentile", 0.75),
        ("95percentile", 0.95),
        ("98percentile", 0.98),
        ("99percentile", 0.99),
        ("999percentile", 0.999),
    ] {
        assert_within_bound(&all, q, latency[key].as_f64().unwrap());
    }
    // Merged as sketches: nothing approximate.
    assert_eq!(tree["approximate"], serde_json::json!([]), "{tree}");
    // Strings that differ: {value: [sources]}.
    let version = tree["web"]["version"].as_object().unwrap();
    assert_eq!(version["1.2"].as_array().unwrap().len(), 2);
    assert_eq!(version["1.3"].as_array().unwrap().len(), 1);
}

#[test]
fn three_servers_merge_exactly() {
    let servers: Vec<Server> = (0..3).map(Server::start).collect();
    let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
    let output = run(&urls);
    assert!(output.status.success(), "{}", stderr(&output));
    check_fleet(&stdout_json(&output));

    // With --sketches the fleet's sketch is exactly the sketch of all values.
    let mut args = urls.clone();
    args.push("--sketches");
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let snapshot = json::parse(&output.stdout).unwrap();
    let StatValue::Distribution(merged) = &snapshot.stat("/web/latency").unwrap().value else {
        panic!("no sketch: {:?}", snapshot.stat("/web/latency"));
    };
    let mut expected = SketchSnapshot::default();
    for i in 0..3 {
        expected.merge(&SketchSnapshot::from_values(
            (0..COUNT).map(|k| value(i, k)),
        ));
    }
    assert_eq!(merged.to_parts().positive, expected.to_parts().positive);
    assert_eq!(merged.count(), expected.count());
    // Keyed distributions merge per key.
    let tree: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tree["web"]["byPath"]["/index"]["count"], 300);

    // The merged output aggregates again (hierarchical aggregation), exactly.
    let dir = temp_dir("again");
    let file = dir.join("fleet.json");
    std::fs::write(&file, &output.stdout).unwrap();
    let again = run(&[file.to_str().unwrap(), "--sketches"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let again = json::parse(&again.stdout).unwrap();
    assert_eq!(again.stat("/web/latency"), snapshot.stat("/web/latency"));
}

#[test]
fn dumps_in_a_directory_merge_like_the_servers() {
    let dir = temp_dir("dumps");
    for i in 0..3 {
        let status = Command::new(example())
            .args(["--instance", &i.to_string(), "--dump"])
            .arg(dir.join(format!("web{i}.json")))
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::write(dir.join("notes.txt"), "not a dump").unwrap();
    let output = run(&[dir.to_str().unwrap(), "--progress"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tree = stdout_json(&output);
    check_fleet(&tree);
    assert_eq!(
        tree["web"]["version"]["1.2"],
        serde_json::json!(["web0", "web2"])
    );
    // Progress went to stderr, one line per source.
    assert_eq!(
        stderr(&output).matches("scales aggregate: ").count(),
        3,
        "{}",
        stderr(&output)
    );
    // The dumps' last-updated is not a stat.
    assert!(tree.get("last-updated").is_none());
}

#[test]
fn the_originals_dumps_aggregate_with_the_spec() {
    let (all, readme) = (data("all.json"), data("readme.json"));
    let output = run(&[&all, &readme, "--format", "prettyjson"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tree = stdout_json(&output);
    assert_eq!(tree["web"]["success"], 2);
    assert_eq!(tree["processor"]["finished"], 12);
    assert_eq!(tree["handler"]["byPath"]["/index"], 4);
    assert_eq!(tree["web"]["latency"]["count"], 22);
    assert_eq!(tree["web"]["latency"]["min"], 0.011);
    // Percentiles are averages (weighted by count), and listed as approximate.
    assert_eq!(tree["web"]["latency"]["99percentile"], 0.25);
    let approximate: Vec<&str> = tree["approximate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        approximate.contains(&"/web/latency/99percentile"),
        "{approximate:?}"
    );
    assert!(approximate.contains(&"/web/latency/median"));
    assert!(!approximate.contains(&"/web/latency/count"));
    assert!(!approximate.contains(&"/web/latency/mean"));
    // Only in all.json: the extended tree is there as it was.
    assert_eq!(tree["extended"]["double"], 2.5);
    assert_eq!(
        tree["processor"]["thread-1"]["state"],
        serde_json::json!("performingTask")
    );
}

#[test]
fn a_spec_file_chooses_the_aggregators() {
    let dir = temp_dir("spec");
    // The original's probe: three servers, their versions and uptimes.
    let servers = [
        (
            "web1",
            r#"{"web": {"success": 10, "errors": 1}, "version": "1.2", "uptime": 1000}"#,
        ),
        (
            "web2",
            r#"{"web": {"success": 30}, "version": "1.3", "uptime": 50}"#,
        ),
        (
            "web10",
            r#"{"web": {"success": 5, "errors": 4}, "version": "1.2", "uptime": 7000}"#,
        ),
    ];
    for (name, text) in servers {
        std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
    }
    let spec = dir.join("fleet.spec");
    std::fs::write(
        &spec,
        "# the probe's spec\n/version inverse\nuptime highest lowest\nweb/success sum average sorted\n",
    )
    .unwrap();
    let output = run(&[dir.to_str().unwrap(), "--spec", spec.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tree = stdout_json(&output);
    assert_eq!(
        tree["version"],
        serde_json::json!({"1.2": ["web1", "web10"], "1.3": ["web2"]})
    );
    assert_eq!(
        tree["uptime"],
        serde_json::json!({"highest": {"source": "web10", "value": 7000},
                           "lowest": {"source": "web2", "value": 50}})
    );
    assert_eq!(tree["web"]["success"]["sum"], 45);
    assert_eq!(tree["web"]["success"]["average"], 15.0);
    assert_eq!(
        tree["web"]["success"]["sorted"],
        serde_json::json!([["web10", 5], ["web1", 10], ["web2", 30]])
    );
    assert_eq!(tree["web"]["errors"], 5);

    std::fs::write(&spec, "uptime avg\n").unwrap();
    let output = run(&[dir.to_str().unwrap(), "--spec", spec.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("line 1: unknown aggregator \"avg\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_sources_are_named_and_the_rest_aggregated() {
    let dir = temp_dir("bad");
    let write = |name: &str, text: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let good = write("good.json", br#"{"web": {"requests": 5}}"#);
    let sketch = |fields: &str| {
        format!(
            r#"{{"web": {{"latency": {{"count": 1, "sketch": {{"v":1,"sub_bits":6,{fields}}}}}}}}}"#
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            write("page.json", b"<!doctype html><html>502</html>"),
            "got HTML, not JSON",
        ),
        (
            write("cut.json", br#"{"web": {"requests": 5, "lat"#),
            "EOF while parsing",
        ),
        (
            write("deep.json", "[".repeat(100_000).as_bytes()),
            "nested deeper than 100 levels",
        ),
        (
            write("huge.json", br#"{"web": {"requests": 1e999}}"#),
            "number out of range at /web/requests",
        ),
        (
            write("types.json", sketch(r#""count":"one""#).as_bytes()),
            "invalid type: string \"one\", expected u64 at /web/latency/sketch/count",
        ),
        (
            write(
                "impossible.json",
                sketch(r#""count":2,"positive":[[69568,1]]"#).as_bytes(),
            ),
            "count is 2, but zeros and bucket counts add up to 1 at /web/latency/sketch/count",
        ),
        (
            write(
                "future.json",
                sketch(r#""count":1"#)
                    .replace("\"v\":1", "\"v\":9")
                    .as_bytes(),
            ),
            "unknown sketch version 9",
        ),
    ];
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("http://127.0.0.1:{port}/status/");
    let mut args: Vec<&str> = vec![&good];
    args.extend(cases.iter().map(|(path, _)| path.as_str()));
    args.push(&unreachable);
    args.push(&good);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let tree = stdout_json(&output);
    assert_eq!(tree["web"]["requests"], 10, "the good source twice");
    let errors = stderr(&output);
    for (path, words) in &cases {
        let line = errors
            .lines()
            .find(|line| line.contains(path.as_str()))
            .unwrap_or_else(|| panic!("{path} is not named: {errors}"));
        assert!(line.contains(words), "{line}");
    }
    assert!(
        errors
            .lines()
            .any(|l| l.contains(&unreachable) && l.contains("connection refused")),
        "{errors}"
    );

    // Nothing readable: exit status 2, nothing on stdout.
    let output = run(&[&cases[0].0, &unreachable]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("no source could be read"));
}

#[test]
fn help_documents_the_spec_and_the_exit_status() {
    let output = scales().args(["aggregate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for words in [
        "**/*percentile     average approximate",
        "inverse",
        "Exit status",
        "--spec",
    ] {
        assert!(help.contains(words), "{words}: {help}");
    }
}

#[test]
fn the_table_marks_approximate_values() {
    let output = run(&[&data("all.json"), &data("readme.json"), "--format", "table"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    let latency = table
        .lines()
        .find(|l| l.starts_with("/web/latency"))
        .unwrap();
    assert!(latency.starts_with("/web/latency ~"), "{table}");
    assert!(latency.contains("count 22"), "{latency}");
    assert!(table.contains("~ approximate:"), "{table}");
    assert!(
        !table.lines().any(|l| l.starts_with("/web/success ~")),
        "{table}"
    );
}
