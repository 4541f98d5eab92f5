//! Snapshot builders shared by the format tests: small constructors and the trees of the
//! original's `gen_golden.py` (`readme` and `all`), from which the golden files were made.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::time::UNIX_EPOCH;

use scales::{
    Group, Keyed, MeterSnapshot, Node, SketchSnapshot, Snapshot, StatKind, StatSnapshot, StatValue,
    Value,
};

// ---------------------------------------------------------------------------------------------
// Builders

pub(crate) fn stat(kind: StatKind, value: StatValue) -> Node {
    Node::Stat(StatSnapshot { kind, value })
}

pub(crate) fn int(i: i64) -> Node {
    stat(StatKind::IntStat, StatValue::Int(i))
}

pub(crate) fn gauge(v: impl Into<Value>) -> Node {
    stat(StatKind::Stat, StatValue::Value(v.into()))
}

pub(crate) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

pub(crate) fn counts(kind: StatKind, entries: &[(&str, i64)]) -> Node {
    stat(
        kind,
        StatValue::Counts(entries.iter().map(|&(k, v)| Keyed::new(k, v)).collect()),
    )
}

pub(crate) fn group(entries: Vec<(&str, Node)>) -> Node {
    Node::Group(Group {
        entries: entries
            .into_iter()
            .map(|(k, v)| scales::Entry::new(k, v))
            .collect(),
        collapsed: false,
    })
}

pub(crate) fn collapsed(entries: Vec<(&str, Node)>) -> Node {
    match group(entries) {
        Node::Group(g) => Node::Group(Group {
            collapsed: true,
            ..g
        }),
        Node::Stat(_) => unreachable!(),
    }
}

pub(crate) fn snapshot(root: Node) -> Snapshot {
    Snapshot::new(scales::StatPath::root(), root, UNIX_EPOCH)
}

/// A distribution summary as the original's dict, with the golden numbers.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pmf_dict(
    count: i64,
    min: f64,
    max: f64,
    mean: f64,
    stddev: f64,
    median: f64,
    p75: f64,
    p95_up: f64,
) -> Value {
    map(&[
        ("count", Value::Int(count)),
        ("min", min.into()),
        ("max", max.into()),
        ("mean", mean.into()),
        ("stddev", stddev.into()),
        ("median", median.into()),
        ("75percentile", p75.into()),
        ("95percentile", p95_up.into()),
        ("98percentile", p95_up.into()),
        ("99percentile", p95_up.into()),
        ("999percentile", p95_up.into()),
    ])
}

pub(crate) fn meter_dict(count: i64, rate: Option<f64>) -> Value {
    let mut entries = vec![
        ("unit", Value::from("per second")),
        ("count", Value::Int(count)),
    ];
    if let Some(r) = rate {
        entries.extend([("m1", r.into()), ("m5", r.into()), ("m15", r.into())]);
    }
    map(&entries)
}

pub(crate) const HANDLER_LATENCY: f64 = 0.004999995231628418;
pub(crate) const WEB_LATENCIES_MS: [f64; 11] = [
    12.0, 15.0, 11.0, 30.0, 14.0, 13.0, 250.0, 16.0, 12.0, 18.0, 17.0,
];

/// The README tree of `gen_golden.py`. With `real`, distributions and meters are real
/// [`StatValue::Distribution`]/[`StatValue::Meter`] values; without, they are dict gauges
/// holding the original's exact numbers, so the rendering can be compared byte for byte.
pub(crate) fn readme_tree(real: bool) -> Vec<(&'static str, Node)> {
    let web_latency = if real {
        stat(
            StatKind::Pmf,
            StatValue::Distribution(Box::new(SketchSnapshot::from_values(
                WEB_LATENCIES_MS.iter().map(|ms| ms / 1000.0),
            ))),
        )
    } else {
        stat(
            StatKind::Pmf,
            StatValue::Value(pmf_dict(
                11,
                0.011,
                0.25,
                0.03709090544960716,
                0.07080601012651822,
                0.016,
                0.03,
                0.25,
            )),
        )
    };
    let handler_latency = if real {
        stat(
            StatKind::Pmf,
            StatValue::Distribution(Box::new(SketchSnapshot::from_values([HANDLER_LATENCY; 3]))),
        )
    } else {
        let h = HANDLER_LATENCY;
        stat(
            StatKind::Pmf,
            StatValue::Value(pmf_dict(3, h, h, h, 0.0, h, h, h)),
        )
    };
    let hits = if real {
        stat(
            StatKind::Meter,
            StatValue::Meter(Box::new(MeterSnapshot {
                count: 10,
                m1: 2.0,
                m5: 2.0,
                m15: 2.0,
                mean: 0.5,
            })),
        )
    } else {
        stat(StatKind::Meter, StatValue::Value(meter_dict(10, Some(2.0))))
    };
    let thread = |state: &str, finished: i64| {
        group(vec![("state", gauge(state)), ("finished", int(finished))])
    };
    vec![
        (
            "web",
            group(vec![
                ("success", int(1)),
                ("latency", web_latency),
                ("hits", hits),
            ]),
        ),
        (
            "handler",
            group(vec![
                ("latency", handler_latency),
                ("requests", int(3)),
                (
                    "byPath",
                    counts(StatKind::IntDict, &[("/index", 2), ("/about", 1)]),
                ),
            ]),
        ),
        ("gauges", group(vec![("currentTime", gauge(1234567890.5))])),
        (
            "processor",
            group(vec![
                ("thread-0", thread("waitingForTask", 3)),
                ("thread-1", thread("performingTask", 2)),
                ("thread-2", thread("waitingForTask", 1)),
                (
                    "state",
                    counts(
                        StatKind::HistogramAggregation,
                        &[("waitingForTask", 2), ("performingTask", 1)],
                    ),
                ),
                (
                    "finished",
                    stat(StatKind::SumAggregation, StatValue::Int(6)),
                ),
            ]),
        ),
    ]
}

/// The README tree plus `gen_golden.py`'s extended set.
pub(crate) fn all_tree(real: bool) -> Node {
    let named_pmf = if real {
        stat(
            StatKind::NamedPmfDict,
            StatValue::Distributions(vec![
                Keyed::from(("a", SketchSnapshot::from_values([1.0, 2.0, 3.0]))),
                Keyed::from(("b", SketchSnapshot::from_values([7.0]))),
            ]),
        )
    } else {
        stat(
            StatKind::NamedPmfDict,
            StatValue::Value(map(&[
                (
                    "a",
                    pmf_dict(
                        3,
                        1.0,
                        2.0,
                        1.5,
                        std::f64::consts::FRAC_1_SQRT_2,
                        1.5,
                        2.0,
                        2.0,
                    ),
                ),
                ("b", map(&[("count", Value::Int(1))])),
            ])),
        )
    };
    let meter_dict_stat = if real {
        stat(
            StatKind::MeterDict,
            StatValue::Meters(vec![
                Keyed::from((
                    "GET",
                    MeterSnapshot {
                        count: 10,
                        m1: 2.0,
                        m5: 2.0,
                        m15: 2.0,
                        mean: 1.0,
                    },
                )),
                Keyed::from((
                    "POST",
                    MeterSnapshot {
                        count: 1,
                        ..MeterSnapshot::default()
                    },
                )),
            ]),
        )
    } else {
        stat(
            StatKind::MeterDict,
            StatValue::Value(map(&[
                ("GET", meter_dict(10, Some(2.0))),
                ("POST", meter_dict(1, None)),
            ])),
        )
    };
    let kid = |errors: &[(&str, i64)], total: i64| {
        group(vec![
            ("errors", counts(StatKind::IntDict, errors)),
            ("total", int(total)),
        ])
    };
    let extended = group(vec![
        ("double", stat(StatKind::DoubleStat, StatValue::Float(2.5))),
        (
            "strings",
            stat(
                StatKind::StringDict,
                StatValue::Strings(vec![
                    Keyed::from(("color", "blue".into())),
                    Keyed::from(("html", "<b>&\"quoted\"</b>\nsecond line".into())),
                ]),
            ),
        ),
        ("namedPmf", named_pmf),
        (
            "stateTime",
            stat(
                StatKind::StateTime,
                StatValue::Durations(vec![Keyed::from(("idle", 3.0)), Keyed::from(("busy", 3.0))]),
            ),
        ),
        ("meterDict", meter_dict_stat),
        ("plain", gauge(Value::Null)),
        ("zero", int(0)),
        ("autoDeleted", counts(StatKind::IntDict, &[("x", 1)])),
        (
            "aggregate",
            group(vec![
                ("k1", kid(&[("404", 2)], 10)),
                ("k2", kid(&[("404", 3), ("500", 1)], 5)),
                (
                    "errors",
                    counts(StatKind::IntDictSumAggregation, &[("404", 5), ("500", 1)]),
                ),
                ("total", stat(StatKind::SumAggregation, StatValue::Int(15))),
            ]),
        ),
        ("hidden", collapsed(vec![("count", int(7))])),
        (
            "gauges",
            group(vec![
                (
                    "dictGauge",
                    gauge(map(&[("a", Value::Int(1)), ("b", "two".into())])),
                ),
                ("floatGauge", gauge(0.1 + 0.2)),
            ]),
        ),
    ]);
    let mut entries = readme_tree(real);
    entries.push(("extended", extended));
    group(entries)
}
