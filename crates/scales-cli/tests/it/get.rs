//! `scales get` against a real `scales-demo`: its status page in every format, a sub-tree,
//! and a dump it wrote.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use crate::support::{json, run, success, temp_dir, Demo};

/// Every leaf path of a JSON tree (`/web/latency/count`), for comparing shapes.
fn leaves(json: &Json) -> BTreeSet<String> {
    fn walk(json: &Json, path: &mut String, out: &mut BTreeSet<String>) {
        match json {
            Json::Object(map) => {
                for (key, value) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(key);
                    walk(value, path, out);
                    path.truncate(len);
                }
            }
            _ => {
                out.insert(path.clone());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(json, &mut String::new(), &mut out);
    out
}

/// That `later` (read after `earlier` from the same demo) has every leaf `earlier` has: the
/// demo only adds stats, keys and a distribution's summary as it runs (except its count of
/// workers per state, which drops states no worker is in).
fn assert_grew(earlier: &BTreeSet<String>, later: &BTreeSet<String>) {
    let missing: Vec<&String> = earlier
        .difference(later)
        .filter(|path| {
            !path.starts_with("/processor/state/") && !path.starts_with("/processor/state[")
        })
        .collect();
    assert!(missing.is_empty(), "missing later: {missing:?}");
    assert!(
        later.len() * 10 >= earlier.len() * 9,
        "{earlier:?}\n{later:?}"
    );
}

/// Rows of a table: the path of each line.
fn table_paths(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn get_reads_a_live_demo_in_every_format() {
    let demo = Demo::start(&[]);
    let url = demo.url.as_str();

    // Piped, the default is JSON: the same tree as the page's own JSON.
    let before = demo.live_json();
    let piped = json(&run(&["get", url]));
    let direct = demo.live_json();
    assert!(piped["web"]["success"].as_i64().unwrap() > 0, "{piped}");
    assert!(
        piped["processor"]["thread-0"]["finished"]
            .as_i64()
            .is_some(),
        "{piped}"
    );
    assert_grew(&leaves(&before), &leaves(&piped));
    assert_grew(&leaves(&piped), &leaves(&direct));
    assert!(
        piped["web"]["latency"]["count"].as_u64().is_some(),
        "{piped}"
    );
    let compact = success(&run(&["get", url, "--format", "json"]));
    assert_eq!(compact.lines().count(), 1);
    assert!(
        !compact.contains("\"sketch\""),
        "sketches are for reading, not for output"
    );

    let pretty = success(&run(&["get", url, "--format", "prettyjson"]));
    assert!(pretty.starts_with("{\n  \""), "{pretty}");
    let pretty: Json = serde_json::from_str(&pretty).unwrap();
    assert_grew(&leaves(&direct), &leaves(&pretty));

    let prometheus = success(&run(&["get", url, "--format", "prometheus"]));
    assert!(prometheus.contains("# TYPE web_success "), "{prometheus}");
    let success_line = prometheus
        .lines()
        .find(|line| line.starts_with("web_success "))
        .unwrap_or_else(|| panic!("{prometheus}"));
    assert!(success_line["web_success ".len()..].parse::<f64>().unwrap() > 0.0);
    assert!(
        prometheus.contains("web_latency{quantile=\"0.5\"}"),
        "{prometheus}"
    );

    let graphite = success(&run(&["get", url, "--format", "graphite"]));
    let line = graphite
        .lines()
        .find(|line| line.starts_with("web.success "))
        .unwrap_or_else(|| panic!("{graphite}"));
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert!(fields[1].parse::<f64>().unwrap() > 0.0, "{line}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts: u64 = fields[2].parse().unwrap();
    assert!(ts.abs_diff(now) < 120, "{line}");

    let table = success(&run(&["get", url, "--format", "table"]));
    let success_row = table
        .lines()
        .find(|line| line.starts_with("/web/success "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        success_row
            .trim_end()
            .ends_with(|c: char| c.is_ascii_digit()),
        "{success_row}"
    );
    let latency = table
        .lines()
        .find(|line| line.starts_with("/web/latency "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        latency.contains(" count ") && latency.contains(" p99 "),
        "{latency}"
    );
    assert!(
        latency.contains(" ms") || latency.contains(" µs"),
        "{latency}"
    );
    let hits = table
        .lines()
        .find(|line| line.starts_with("/web/hits "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(hits.contains("/s  mean "), "{hits}");
    // One column: every value starts after the longest path.
    let width = table_paths(&table)
        .iter()
        .map(|p| p.chars().count())
        .max()
        .unwrap();
    for line in table.lines() {
        let after: String = line.chars().skip(width).take(2).collect();
        assert_eq!(after, "  ", "{line:?} in\n{table}");
    }
}

#[test]
fn a_path_or_a_status_sub_url_is_a_sub_tree_with_full_paths() {
    let demo = Demo::start(&[]);
    let web = json(&run(&["get", &demo.url, "/web", "--format", "json"]));
    assert!(web["success"].as_i64().unwrap() > 0, "{web}");
    assert!(
        web.get("processor").is_none() && web.get("web").is_none(),
        "{web}"
    );

    let table = success(&run(&["get", &demo.url, "/web", "--format", "table"]));
    assert!(
        table.lines().all(|line| line.starts_with("/web/")),
        "{table}"
    );
    let sub_url = format!("{}web", demo.url);
    let from_url = success(&run(&["get", &sub_url, "--format", "table"]));
    // The demo's traffic keeps running, so a route first hit between the two reads
    // adds a keyed path: the later read holds every earlier path and nothing outside /web.
    let (earlier, later) = (table_paths(&table), table_paths(&from_url));
    assert!(
        earlier.is_subset(&later),
        "{earlier:?} not within {later:?}"
    );
    assert!(later.iter().all(|p| p.starts_with("/web/")), "{later:?}");

    let graphite = success(&run(&["get", &sub_url, "--format", "graphite"]));
    assert!(
        graphite.lines().all(|line| line.starts_with("web.")),
        "{graphite}"
    );
    let stat = success(&run(&[
        "get",
        &demo.url,
        "/web/latency",
        "--format",
        "table",
    ]));
    assert!(stat.starts_with("/web/latency  count "), "{stat}");
}

#[test]
fn a_dump_the_demo_wrote_reads_like_the_live_page() {
    let dir = temp_dir("get-dump");
    let dump = dir.join("stats.json");
    let dump_arg = dump.to_str().unwrap();
    let demo = Demo::start(&["--dump", dump_arg, "--dump-every", "1"]);
    let live = json(&run(&["get", &demo.url, "--format", "json"]));
    let live_table = success(&run(&["get", &demo.url, "--format", "table"]));
    demo.stop();

    let text = std::fs::read_to_string(&dump).unwrap();
    let raw: Json = serde_json::from_str(&text).unwrap();
    let from_file = json(&run(&["get", dump_arg, "--format", "json"]));
    // The tree of the live page, read before the final dump (whose last-updated is the
    // snapshot's time, not a stat).
    assert!(raw.get("last-updated").is_some());
    assert!(from_file.get("last-updated").is_none(), "{from_file}");
    assert_grew(&leaves(&live), &leaves(&from_file));
    assert!(from_file["web"]["success"].as_i64() >= live["web"]["success"].as_i64());
    let file_table = success(&run(&["get", dump_arg, "--format", "table"]));
    assert_grew(&table_paths(&live_table), &table_paths(&file_table));
    // And what the dump holds, the table shows: the same paths as the JSON's, with a
    // distribution or a meter on one row.
    assert!(file_table.contains("\n/web/latency  "), "{file_table}");

    // Graphite lines carry the dump's time.
    let last_updated = raw["last-updated"].as_f64().unwrap() as u64;
    let graphite = success(&run(&["get", dump_arg, "--format", "graphite"]));
    assert!(
        graphite
            .lines()
            .all(|line| line.ends_with(&format!(" {last_updated}"))),
        "{graphite}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_documents_formats_and_exit_status() {
    let help = success(&run(&["get", "--help"]));
    for text in [
        "table",
        "prettyjson",
        "prometheus",
        "graphite",
        "Exit status:",
        "2  usage",
    ] {
        assert!(help.contains(text), "{text}: {help}");
    }
    let top = success(&run(&["--help"]));
    for command in ["get", "watch", "aggregate", "push-graphite"] {
        assert!(top.contains(command), "{command}: {top}");
    }
}
