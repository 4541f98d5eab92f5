//! The JSON reader (`format::json::parse`) and the JSON form with sketches: exact round
//! trips, merges of round trips, the original's JSON, and every kind of bad input refused
//! with a message naming what and where.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use scales::format::json::{self, Options, Style};
use scales::sketch::{MAX_INDEX, MIN_INDEX, RELATIVE_ERROR};
use scales::{Node, Registry, SketchSnapshot, Snapshot, StatValue, Value};

use crate::support::{distribution, Rng};

fn with_sketches(snapshot: &Snapshot) -> String {
    json::to_string(snapshot, Options::default().with_sketches())
}

fn sketch_of(snapshot: &Snapshot, path: &str) -> SketchSnapshot {
    distribution(
        &snapshot
            .stat(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .value,
    )
}

/// A snapshot of a registry with a distribution of `values` at /web/latency and a few other
/// stats.
fn snapshot_with(values: &[f64]) -> Snapshot {
    let reg = Registry::new();
    let web = reg.scope("/web").unwrap();
    let latency = web.pmf_stat("latency").unwrap();
    for &v in values {
        latency.record(v);
    }
    web.int_stat("hits").unwrap().add(values.len() as i64);
    web.double_stat("load").unwrap().set(0.5);
    let named = web.named_pmf_dict_stat("byPath").unwrap();
    named.record("/a", 1.0);
    named.record("/a", 3.0);
    named.record("/b", -2.0);
    reg.snapshot()
}

fn random_values(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match i % 11 {
            0 => 0.0,
            1 => -rng.gauss(0.0, 3.0).exp(),
            2 => rng.gauss(0.0, 40.0).exp(),
            _ => rng.gauss(-4.0, 1.5).exp(),
        })
        .collect()
}

#[test]
fn distributions_round_trip_exactly() {
    let mut rng = Rng::new(12);
    for n in [0, 1, 2, 7, 100, 5000] {
        let snapshot = snapshot_with(&random_values(&mut rng, n));
        for style in [Style::Compact, Style::Pretty] {
            let text = json::to_string(&snapshot, Options::from(style).with_sketches());
            let back = json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
            let (ours, theirs) = (back.stat("/web/latency"), snapshot.stat("/web/latency"));
            assert_eq!(ours.map(|s| s.kind), theirs.map(|s| s.kind));
            assert_eq!(
                sketch_of(&back, "/web/latency").to_parts(),
                sketch_of(&snapshot, "/web/latency").to_parts(),
                "n={n}"
            );
            assert_eq!(back.stat("/web/hits"), snapshot.stat("/web/hits"));
            // Keyed distributions become a group of distributions, each exact.
            for key in ["/a", "/b"] {
                let (Some(Node::Group(group)), StatValue::Distributions(ds)) = (
                    back.get("/web/byPath"),
                    &snapshot.stat("/web/byPath").unwrap().value,
                ) else {
                    panic!("byPath: {:?}", back.get("/web/byPath"));
                };
                let Some(Node::Stat(stat)) = group.get(key) else {
                    panic!("{key}")
                };
                let original = ds.iter().find(|d| &*d.key == key).unwrap();
                assert_eq!(distribution(&stat.value), original.value);
            }
            // Written again, the text is the same.
            assert_eq!(with_sketches(&back).len(), with_sketches(&snapshot).len());
        }
    }
}

#[test]
fn merge_of_round_trips_equals_the_merge() {
    let mut rng = Rng::new(99);
    let servers: Vec<Vec<f64>> = (0..5)
        .map(|i| random_values(&mut rng, 300 * i + 1))
        .collect();
    let mut merged = SketchSnapshot::default();
    let mut merged_back = SketchSnapshot::default();
    let mut all = Vec::new();
    for values in &servers {
        let snapshot = snapshot_with(values);
        merged.merge(&sketch_of(&snapshot, "/web/latency"));
        let back = json::parse(with_sketches(&snapshot).as_bytes()).unwrap();
        merged_back.merge(&sketch_of(&back, "/web/latency"));
        all.extend_from_slice(values);
    }
    assert_eq!(merged_back, merged);
    // And the fleet's quantiles are within the sketch's bound of the exact ones.
    all.sort_by(f64::total_cmp);
    for q in [0.5, 0.75, 0.95, 0.99, 0.999] {
        let (low, high, _) = crate::support::exact_quantile(&all, q);
        let estimate = merged_back.quantile(q).unwrap();
        let slack = low.abs().max(high.abs()) * RELATIVE_ERROR * (1.0 + 1e-9);
        assert!(
            estimate >= low.min(high) - slack && estimate <= high.max(low) + slack,
            "q={q}: {estimate} not in [{low}, {high}]"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_sketch_round_trips(values in proptest::collection::vec(
        prop_oneof![any::<f64>(), -1e6f64..1e6, Just(0.0), 1e-310f64..1e-300], 0..200)
    ) {
        let s = SketchSnapshot::from_values(values.iter().copied());
        let root = Node::Stat(scales::StatSnapshot {
            kind: scales::StatKind::Pmf,
            value: StatValue::Distribution(Box::new(s.clone())),
        });
        let snapshot = Snapshot::new(Default::default(), root, UNIX_EPOCH);
        let text = with_sketches(&snapshot);
        let back = json::parse(text.as_bytes()).unwrap();
        let Node::Stat(stat) = back.root() else { panic!("{text}") };
        let back = distribution(&stat.value);
        // Equal, except that a NaN sum (an overflow) does not equal itself, nor do the NaN
        // min and max of an empty sketch.
        prop_assert_eq!(back.to_parts().positive, s.to_parts().positive);
        prop_assert_eq!(back.to_parts().negative, s.to_parts().negative);
        prop_assert_eq!((back.count(), back.zeros(), back.dropped()), (s.count(), s.zeros(), s.dropped()));
        prop_assert_eq!((back.min(), back.max()), (s.min(), s.max()));
        if s.count() > 0 && s.sum().is_finite() && s.sum_squares().is_finite() {
            prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = json::parse(&bytes);
    }
}

#[test]
fn without_the_option_nothing_changes() {
    let snapshot = snapshot_with(&[1.0, 2.0]);
    let plain = json::to_string(&snapshot, Style::Compact);
    assert!(!plain.contains("sketch"));
    assert_eq!(json::to_string(&snapshot, Options::default()), plain);
    let text = with_sketches(&snapshot);
    assert!(
        text.contains("\"sketch\": {\"v\":1,\"sub_bits\":6,"),
        "{text}"
    );
}

#[test]
fn the_wire_form_is_compact_runs() {
    let s = SketchSnapshot::from_values([1.0, 1.0, 1.02, 1.05, 1.5, 0.0, -1.0]);
    let root = Node::Stat(scales::StatSnapshot {
        kind: scales::StatKind::Pmf,
        value: StatValue::Distribution(Box::new(s)),
    });
    let text = with_sketches(&Snapshot::new(Default::default(), root, UNIX_EPOCH));
    let sketch = &text[text.find("\"sketch\"").unwrap()..];
    assert_eq!(
        sketch,
        "\"sketch\": {\"v\":1,\"sub_bits\":6,\"count\":7,\"sum\":4.57,\"sum_squares\":7.3929,\
         \"min\":-1.0,\"max\":1.5,\"zeros\":1,\"positive\":[[69568,2,1,0,1],[69600,1]],\
         \"negative\":[[69568,1]]}}\n"
    );
}

#[test]
fn the_originals_json_reads_as_groups_of_numbers() {
    let text = include_str!("../golden/all.json");
    let snapshot = json::parse(text.as_bytes()).unwrap();
    assert_eq!(
        snapshot.stat("/web/latency/count").unwrap().value,
        StatValue::Int(11)
    );
    assert_eq!(
        snapshot.stat("/web/latency/median").unwrap().value,
        StatValue::Float(0.016)
    );
    assert_eq!(
        snapshot.stat("/web/hits/unit").unwrap().value,
        StatValue::Value(Value::Str("per second".into()))
    );
    assert_eq!(
        snapshot.stat("/processor/thread-0/state").unwrap().value,
        StatValue::Value(Value::Str("waitingForTask".into()))
    );
    // Written again without sketches, it is the same text.
    assert_eq!(json::to_string(&snapshot, Style::Compact), text);
}

#[test]
fn last_updated_is_the_time_taken() {
    let snapshot = json::parse(br#"{"g": {"n": 1}, "last-updated": 1795655631.25}"#).unwrap();
    assert_eq!(
        snapshot.taken_at(),
        UNIX_EPOCH + Duration::from_secs_f64(1795655631.25)
    );
    assert!(snapshot.get("/last-updated").is_none());
    assert_eq!(snapshot.stat("/g/n").unwrap().value, StatValue::Int(1));
    // Written back as a dump, the same text.
    let again = json::to_string(&snapshot, Options::default().with_last_updated());
    assert_eq!(
        again,
        "{\"g\": {\"n\": 1}, \"last-updated\": 1795655631.25}\n"
    );
    // Deeper, it is an ordinary stat.
    let snapshot = json::parse(br#"{"g": {"last-updated": "x"}}"#).unwrap();
    assert!(snapshot.stat("/g/last-updated").is_some());
}

#[test]
fn numbers_and_scalars() {
    let snapshot = json::parse(
        br#"{"i": -3, "big": 18446744073709551615, "huger": 123456789012345678901234567890,
             "f": 2.5, "e": 1e300, "s": "\u00e9", "t": true, "n": null, "l": [1, {"a": [null]}],
             "empty": {}}"#,
    )
    .unwrap();
    let value = |path: &str| snapshot.stat(path).unwrap().value.clone();
    assert_eq!(value("/i"), StatValue::Int(-3));
    assert_eq!(value("/big"), StatValue::Float(18446744073709551615.0));
    assert_eq!(value("/huger"), StatValue::Float(1.2345678901234568e29));
    assert_eq!(value("/e"), StatValue::Float(1e300));
    assert_eq!(value("/s"), StatValue::Value(Value::Str("é".into())));
    assert_eq!(value("/t"), StatValue::Value(Value::Bool(true)));
    assert_eq!(value("/n"), StatValue::Value(Value::Null));
    assert_eq!(
        value("/l"),
        StatValue::Value(Value::List(vec![
            Value::Int(1),
            Value::Map(vec![("a".into(), Value::List(vec![Value::Null]))])
        ]))
    );
    assert!(matches!(snapshot.get("/empty"), Some(Node::Group(g)) if g.entries.is_empty()));
    // A bare number is a one-stat snapshot.
    let one = json::parse(b"5\n").unwrap();
    assert!(matches!(one.root(), Node::Stat(s) if s.value == StatValue::Int(5)));
}

#[test]
fn repeated_keys_keep_the_last_value_in_the_first_place() {
    let mut text = String::from("{");
    for i in 0..20 {
        text.push_str(&format!("\"k{i}\": {i}, "));
    }
    text.push_str("\"k3\": 300, \"k19\": 1900}");
    let snapshot = json::parse(text.as_bytes()).unwrap();
    let Node::Group(group) = snapshot.root() else {
        panic!()
    };
    assert_eq!(group.entries.len(), 20);
    assert_eq!(&*group.entries[3].name, "k3");
    assert_eq!(snapshot.stat("/k3").unwrap().value, StatValue::Int(300));
    assert_eq!(snapshot.stat("/k19").unwrap().value, StatValue::Int(1900));
    let small = json::parse(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
    assert_eq!(small.stat("/a").unwrap().value, StatValue::Int(3));
}

#[test]
fn a_sketch_key_that_is_no_sketch_is_an_ordinary_member() {
    let snapshot =
        json::parse(br#"{"x": {"sketch": 3}, "y": {"sketch": {"name": "pencil", "v": 2}}}"#)
            .unwrap();
    assert_eq!(snapshot.stat("/x/sketch").unwrap().value, StatValue::Int(3));
    assert_eq!(
        snapshot.stat("/y/sketch/v").unwrap().value,
        StatValue::Int(2)
    );
}

/// The error of parsing `text`, as `(path, message)`.
fn error_of(text: &[u8]) -> (String, String) {
    let error = json::parse(text).expect_err(&String::from_utf8_lossy(text));
    (error.path().to_owned(), error.to_string())
}

fn assert_error(text: &str, path: &str, words: &str) {
    let (at, message) = error_of(text.as_bytes());
    assert_eq!(at, path, "{text}: {message}");
    assert!(message.contains(words), "{text}: {message}");
}

const SKETCH: &str = r#"{"v":1,"sub_bits":6,"count":3,"sum":3.0,"sum_squares":3.0,"min":1.0,"max":1.0,"positive":[[69568,3]]}"#;

fn latency(sketch: &str) -> String {
    format!(r#"{{"web": {{"latency": {{"count": 3, "sketch": {sketch}}}}}}}"#)
}

#[test]
fn the_test_sketch_is_valid() {
    let snapshot = json::parse(latency(SKETCH).as_bytes()).unwrap();
    let s = sketch_of(&snapshot, "/web/latency");
    assert_eq!(s, SketchSnapshot::from_values([1.0; 3]));
}

#[test]
fn impossible_sketches_are_refused_with_their_place() {
    let at = "/web/latency/sketch";
    let cases: &[(&str, &str, &str)] = &[
        (r#""v":1"#, r#""v":2"#, "unknown sketch version 2"),
        (
            r#""sub_bits":6"#,
            r#""sub_bits":5"#,
            "sub_bits 5 is not supported",
        ),
        (
            r#""count":3"#,
            r#""count":4"#,
            "count is 4, but zeros and bucket counts add up to 3",
        ),
        (r#""min":1.0"#, r#""min":2.0"#, "min 2 is above max 1"),
        (
            r#"[[69568,3]]"#,
            r#"[[69568,-3]]"#,
            "invalid value: integer `-3`",
        ),
        (
            r#"[[69568,3]]"#,
            r#"[[69568,1.5]]"#,
            "invalid type: floating point `1.5`",
        ),
        (
            r#"[[69568,3]]"#,
            r#"[[999999,3]]"#,
            "bucket index 999999 is outside",
        ),
        (r#"[[69568,3]]"#, r#"[[5,3]]"#, "bucket index 5 is outside"),
        (
            r#"[[69568,3]]"#,
            r#"[[69568,1],[69568,2]]"#,
            "not above the previous run",
        ),
        (r#"[[69568,3]]"#, r#"[[69568]]"#, "needs at least one count"),
        (r#"[[69568,3]]"#, r#"[[]]"#, "needs a start index"),
        (r#"[[69568,3]]"#, r#"{"69568":3}"#, "invalid type: map"),
        (
            r#"[[69568,3]]"#,
            r#"[[69568,18446744073709551615],[70000,18446744073709551615]]"#,
            "add up past",
        ),
        (r#","sub_bits":6"#, "", "the sketch has no sub_bits"),
        (r#","count":3"#, "", "the sketch has no count"),
        (r#""sum":3.0"#, r#""sum":"3""#, "invalid type: string"),
        (r#""max":1.0"#, r#""max":1.0,"max":1.0"#, "key given twice"),
        (
            r#""sum_squares":3.0"#,
            r#""sum_squares":-3.0"#,
            "sum_squares -3 is negative",
        ),
    ];
    let paths = [
        "/v",
        "/sub_bits",
        "/count",
        "/min",
        "/positive/0/1",
        "/positive/0/1",
        "/positive/0/0",
        "/positive/0/0",
        "/positive/1/0",
        "/positive/0",
        "/positive/0",
        "/positive",
        "/count",
        "",
        "",
        "/sum",
        "/max",
        "/sum_squares",
    ];
    for ((from, to, words), path) in cases.iter().zip(paths) {
        assert!(SKETCH.contains(from), "{from}");
        let text = latency(&SKETCH.replacen(from, to, 1));
        assert_error(&text, &format!("{at}{path}"), words);
    }
    // A long run past the last index.
    let run: String = std::iter::once(format!("[[{}", MAX_INDEX - 1))
        .chain(std::iter::repeat_n(",1".to_owned(), 3))
        .chain(std::iter::once("]]".to_owned()))
        .collect();
    let text = latency(&SKETCH.replace("[[69568,3]]", &run));
    assert_error(
        &text,
        &format!("{at}/positive/0/3"),
        "past the largest bucket index",
    );
    // An empty sketch with a min.
    let text = latency(r#"{"v":1,"sub_bits":6,"count":0,"min":1.0}"#);
    assert_error(&text, &format!("{at}/min"), "the sketch is empty");
    let text = latency(&SKETCH.replace("69568", "5"));
    assert_error(
        &text,
        &format!("{at}/positive/0/0"),
        &format!("outside {MIN_INDEX}..={MAX_INDEX}"),
    );
}

#[test]
fn bad_json_is_refused_with_its_place() {
    // 100 000 brackets: an error, not a stack overflow.
    let deep = "[".repeat(100_000);
    let (_, message) = error_of(deep.as_bytes());
    assert!(
        message.contains("nested deeper than 100 levels"),
        "{message}"
    );
    let deep = "{\"a\":".repeat(100_000);
    let (path, message) = error_of(deep.as_bytes());
    assert!(
        message.contains("nested deeper than 100 levels"),
        "{message}"
    );
    assert_eq!(path.len(), 2 * 100, "{path}");
    // Nesting up to the limit is fine.
    let ok = format!("{}1{}", "{\"a\": ".repeat(99), "}".repeat(99));
    assert!(json::parse(ok.as_bytes()).is_ok());

    assert_error(r#"{"a": {"b": 1e400}}"#, "/a/b", "number out of range");
    assert_error(
        r#"{"a": {"b": [1, 2, -1e999]}}"#,
        "/a/b/2",
        "number out of range",
    );
    assert_error(r#"{"a": {"b": 1"#, "/a", "EOF while parsing an object");
    assert_error(r#"{"a": 1} x"#, "", "trailing characters");
    assert_error("<html><body>502</body></html>", "", "expected value");
    assert_error("", "", "EOF while parsing a value");
    assert_error(r#"{"a/b~c": {"d": tru}}"#, "/a~1b~0c/d", "expected ident");
    assert_error(
        r#"{"last-updated": "noon"}"#,
        "/last-updated",
        "not a number",
    );
    assert_error(r#"{"last-updated": -5}"#, "/last-updated", "is not a time");
    assert_error(r#"{"a": "\ud800"}"#, "/a", "hex escape");
    let error = json::parse(b"{\n  \"a\": [1,\n  }").unwrap_err();
    assert_eq!((error.line(), error.path()), (3, "/a/1"));
    assert!(error.to_string().contains("line 3"), "{error}");
}
