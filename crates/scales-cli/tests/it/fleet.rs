//! `scales aggregate` over a fleet of real `scales-demo` servers: three run with different
//! numbers of workers, each leaves its final dump, and the aggregate of the dumps is checked against
//! the dumps themselves — integer counts add up exactly, distributions merge as sketches
//! (their counts add, and every percentile is the merged sketch's, computed here with the
//! core's reader), and reading the live servers gives a tree of the same shape.

use std::collections::BTreeMap;

use scales::format::json as scales_json;
use scales::{Node, SketchSnapshot, StatValue};
use serde_json::Value as Json;

use crate::support::{json, run, temp_dir, Demo};

/// Keys whose values do not add across servers (the default spec averages, or takes the
/// minimum or maximum of them).
fn adds_up(key: &str) -> bool {
    !matches!(
        key,
        "min" | "max" | "mean" | "median" | "stddev" | "std_dev" | "last-updated"
    ) && !key.ends_with("percentile")
}

/// A path as its keys (keys may hold `/`, as the demo's `byPath` ones do).
type Path = Vec<String>;

/// Every integer leaf that adds across servers, by path, outside distributions' sketches.
fn integer_leaves(json: &Json, path: &mut Path, out: &mut BTreeMap<Path, i64>) {
    match json {
        Json::Object(map) => {
            for (key, value) in map {
                if key != "sketch" && adds_up(key) {
                    path.push(key.clone());
                    integer_leaves(value, path, out);
                    path.pop();
                }
            }
        }
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.insert(path.clone(), i);
            }
        }
        _ => {}
    }
}

/// Every distribution of a dump, by path, as the core reads it.
fn distributions(text: &str) -> BTreeMap<Path, SketchSnapshot> {
    fn walk(node: &Node, path: &mut Path, out: &mut BTreeMap<Path, SketchSnapshot>) {
        match node {
            Node::Group(group) => {
                for entry in &group.entries {
                    path.push(entry.name.to_string());
                    walk(&entry.node, path, out);
                    path.pop();
                }
            }
            Node::Stat(stat) => {
                if let StatValue::Distribution(d) = &stat.value {
                    out.insert(path.clone(), (**d).clone());
                }
            }
        }
    }
    let snapshot = scales_json::parse(text.as_bytes()).expect("a dump the core reads");
    let mut out = BTreeMap::new();
    walk(snapshot.root(), &mut Vec::new(), &mut out);
    out
}

fn at<'a>(json: &'a Json, path: &Path) -> &'a Json {
    path.iter().fold(json, |node, key| &node[key.as_str()])
}

#[test]
fn three_demos_aggregate_to_exact_sums_and_merged_sketches() {
    let dir = temp_dir("fleet");
    let mut dumps = Vec::new();
    for (i, workers) in ["1", "2", "3"].into_iter().enumerate() {
        let dump = dir.join(format!("demo{i}.json"));
        let demo = Demo::start(&["--dump", dump.to_str().unwrap(), "--workers", workers]);
        // The live page aggregates too (the fleet's shape), before the final dump is taken.
        let live = json(&run(&["aggregate", &demo.url, "--format", "json"]));
        assert!(live["web"]["success"].as_i64().unwrap() > 0, "{live}");
        demo.stop();
        dumps.push(std::fs::read_to_string(&dump).unwrap());
    }
    let paths: Vec<String> = (0..3)
        .map(|i| dir.join(format!("demo{i}.json")).display().to_string())
        .collect();
    let mut args = vec!["aggregate", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let fleet = json(&run(&args));

    // Integer counts: exact sums.
    let mut expected = BTreeMap::new();
    for dump in &dumps {
        let mut leaves = BTreeMap::new();
        integer_leaves(
            &serde_json::from_str(dump).unwrap(),
            &mut Vec::new(),
            &mut leaves,
        );
        for (path, n) in leaves {
            *expected.entry(path).or_insert(0) += n;
        }
    }
    assert!(
        expected.len() > 20,
        "the demo's integer stats: {expected:?}"
    );
    assert!(expected.contains_key(&vec!["web".to_owned(), "success".to_owned()]));
    for (path, sum) in &expected {
        assert_eq!(at(&fleet, path).as_i64(), Some(*sum), "{path:?} in {fleet}");
    }

    // Distributions: the merge of the three servers' sketches.
    let mut merged: BTreeMap<Path, SketchSnapshot> = BTreeMap::new();
    for dump in &dumps {
        for (path, sketch) in distributions(dump) {
            match merged.get_mut(&path) {
                Some(into) => into.merge(&sketch),
                None => {
                    merged.insert(path, sketch);
                }
            }
        }
    }
    assert!(!merged.is_empty(), "the demo has distributions");
    for (path, sketch) in &merged {
        let ours = at(&fleet, path);
        assert_eq!(
            ours["count"].as_u64(),
            Some(sketch.count()),
            "{path:?}: {ours}"
        );
        if sketch.count() == 0 {
            continue;
        }
        for (key, value) in sketch.percentiles() {
            let got = ours[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{path:?}/{key}: {ours}"));
            assert!(
                (got - value).abs() <= value.abs() * 1e-12,
                "{path:?}/{key}: {got} against the merged sketch's {value}"
            );
        }
        assert_eq!(ours["min"].as_f64(), sketch.min(), "{path:?}");
        assert_eq!(ours["max"].as_f64(), sketch.max(), "{path:?}");
    }
    // Nothing merged from sketches is marked approximate.
    let approximate = fleet["approximate"].as_array().cloned().unwrap_or_default();
    assert!(approximate.is_empty(), "{approximate:?}");
}
