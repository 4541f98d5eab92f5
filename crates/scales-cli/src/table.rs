//! The stats of a snapshot as an aligned table for people: one row per value, its full path
//! on the left, the value on the right in readable units.
//!
//! ```text
//! /web/errors           3
//! /web/success     12,345
//! /web/hits        count 12,345  m1 41.2/s  m5 40.8/s  m15 40.1/s  mean 39.9/s
//! /web/latency     count 12,345  mean 1.21 ms  p50 1.10 ms  p99 3.40 ms  max 8.02 ms
//! /worker/state[idle]   12.5 s
//! ```
//!
//! Everything here is a pure function of a [`Snapshot`]: [`rows`] lists what to show,
//! [`format_rows`] lays rows out, [`render`] does both. `scales get`'s table is
//! [`render`]; `scales watch` lays out [`rows`] itself, with their rates; `scales aggregate`
//! may print its merged snapshot with [`render`].
//!
//! Stats keep their shapes through JSON only in part: a snapshot read back from JSON has
//! groups of numbers where the server had meters, and distributions only when the JSON
//! carried their sketches. So groups of the meter and distribution shapes (the keys the
//! JSON writer writes for them) are shown as one row each too, the same way.
//!
//! Units: meters are events per second (`/s`), state times are seconds, and distributions
//! are shown as durations when their name says they hold times (see [`is_time_name`]);
//! otherwise as plain numbers.

use std::fmt::Write as _;

use scales::{Node, Snapshot, StatSnapshot, StatValue, Value};

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// The full path: `/web/latency`, a key of a keyed stat in brackets:
    /// `/web/byPath[/index]`.
    pub(crate) path: String,
    /// What to show.
    pub(crate) cell: Cell,
}

/// The value of a [`Row`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A duration in seconds (the time of a state).
    Seconds(f64),
    /// Text, as it is (strings, booleans, `null`, lists and maps as JSON).
    Text(String),
    /// A distribution's summary.
    Distribution(Distribution),
    /// A meter's rates.
    Meter(Meter),
    /// A stat that could not be read.
    Error(String),
}

/// What a table row shows of a distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Distribution {
    /// Values recorded.
    pub(crate) count: u64,
    /// Their mean, median, 99th percentile and maximum, when known.
    pub(crate) mean: Option<f64>,
    /// The median.
    pub(crate) p50: Option<f64>,
    /// The 99th percentile.
    pub(crate) p99: Option<f64>,
    /// The largest value.
    pub(crate) max: Option<f64>,
    /// Whether the values are seconds (shown as durations).
    pub(crate) seconds: bool,
}

/// What a table row shows of a meter: its count and rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Meter {
    /// Events marked.
    pub(crate) count: u64,
    /// One-, five- and fifteen-minute rates, and the mean rate.
    pub(crate) m1: f64,
    /// Five-minute rate.
    pub(crate) m5: f64,
    /// Fifteen-minute rate.
    pub(crate) m15: f64,
    /// Mean rate since the meter was created.
    pub(crate) mean: f64,
}

impl Cell {
    /// The number whose change over time is a rate: a scalar's value, the count of a
    /// distribution or meter. `None` for text and errors.
    pub(crate) fn count(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) | Cell::Seconds(f) => Some(*f),
            Cell::Distribution(d) => Some(d.count as f64),
            Cell::Meter(m) => Some(m.count as f64),
            Cell::Text(_) | Cell::Error(_) => None,
        }
    }

    /// Whether the cell is one number (right-aligned in the table).
    fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_) | Cell::Seconds(_))
    }

    /// The cell as text.
    pub(crate) fn text(&self) -> String {
        match self {
            Cell::Int(i) => int(*i),
            Cell::Float(f) => float(*f),
            Cell::Seconds(s) => seconds(*s),
            Cell::Text(text) => text.clone(),
            Cell::Error(message) => format!("error: {message}"),
            Cell::Meter(m) => format!(
                "count {}  m1 {}  m5 {}  m15 {}  mean {}",
                int(saturating_i64(m.count)),
                rate(m.m1),
                rate(m.m5),
                rate(m.m15),
                rate(m.mean)
            ),
            Cell::Distribution(d) => {
                let mut out = format!("count {}", int(saturating_i64(d.count)));
                let show = |v: f64| if d.seconds { seconds(v) } else { float(v) };
                for (label, value) in [
                    ("mean", d.mean),
                    ("p50", d.p50),
                    ("p99", d.p99),
                    ("max", d.max),
                ] {
                    if let Some(value) = value {
                        let _ = write!(out, "  {label} {}", show(value));
                    }
                }
                out
            }
        }
    }
}

/// The rows of every stat of `snapshot`, depth first in tree order. Collapsed groups are
/// included (a table has nothing to fold).
pub(crate) fn rows(snapshot: &Snapshot) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut path = String::new();
    for name in snapshot.path().names() {
        path.push('/');
        path.push_str(name);
    }
    node_rows(snapshot.root(), &mut path, &mut rows);
    rows
}

/// Lays `rows` out: paths padded to the longest, numbers right-aligned in one column and
/// other values starting where numbers start. One line per row, each ending in `\n`.
pub(crate) fn format_rows(rows: &[Row]) -> String {
    let texts: Vec<String> = rows.iter().map(|row| row.cell.text()).collect();
    let path_width = rows.iter().map(|row| width(&row.path)).max().unwrap_or(0);
    let number_width = rows
        .iter()
        .zip(&texts)
        .filter(|(row, _)| row.cell.is_number())
        .map(|(_, text)| width(text))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (row, text) in rows.iter().zip(&texts) {
        out.push_str(&row.path);
        pad(&mut out, path_width - width(&row.path) + 2);
        if row.cell.is_number() {
            pad(&mut out, number_width - width(text));
        }
        out.push_str(text);
        out.push('\n');
    }
    out
}

/// The table of `snapshot`: [`format_rows`] of its [`rows`]. `"(no stats)\n"` when it has
/// none.
pub(crate) fn render(snapshot: &Snapshot) -> String {
    let rows = rows(snapshot);
    if rows.is_empty() {
        return "(no stats)\n".to_owned();
    }
    format_rows(&rows)
}

/// Whether a distribution named `name` holds times in seconds, by its name: `latency`,
/// `taskTime`, `round_trip`, `requestDuration`, `elapsed`, `delay`, `wait`, `rtt`, `seconds`
/// ... (any case, any word separator). The core's timers (`PmfStat::time`) record seconds.
pub(crate) fn is_time_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "latency",
        "time",
        "duration",
        "elapsed",
        "delay",
        "wait",
        "seconds",
        "round_trip",
        "roundtrip",
        "rtt",
    ]
    .iter()
    .any(|word| lower.contains(word))
        || lower.ends_with("_s")
        || name.ends_with("Secs")
}

fn node_rows(node: &Node, path: &mut String, rows: &mut Vec<Row>) {
    match node {
        Node::Stat(stat) => stat_rows(stat, path, rows),
        Node::Group(group) => {
            if let Some(cell) = group_shape(group, holds_times(path)) {
                rows.push(Row {
                    path: path.clone(),
                    cell,
                });
                return;
            }
            for entry in &group.entries {
                let len = path.len();
                push_name(path, &entry.name);
                node_rows(&entry.node, path, rows);
                path.truncate(len);
            }
        }
    }
}

/// Appends a child's name to a row path: `/name`, or `[key]` for what cannot be a name in
/// the tree (a key of a keyed stat read back from JSON, such as `/search`).
fn push_name(path: &mut String, name: &str) {
    if scales::validate_name(name).is_ok() {
        path.push('/');
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(name);
        path.push(']');
    }
}

/// Whether a distribution at this row path holds seconds: its name, or the name of the
/// keyed stat it is a key of, is a time name (see [`is_time_name`]).
fn holds_times(path: &str) -> bool {
    let mut names = path
        .split(['/', '[', ']'])
        .filter(|name| !name.is_empty())
        .rev();
    names.next().is_some_and(is_time_name)
        || (path.ends_with(']') && names.next().is_some_and(is_time_name))
}

fn stat_rows(stat: &StatSnapshot, path: &str, rows: &mut Vec<Row>) {
    let seconds = holds_times(path);
    let row = |cell| Row {
        path: path.to_owned(),
        cell,
    };
    let keyed = |key: &str, cell| Row {
        path: format!("{path}[{key}]"),
        cell,
    };
    match &stat.value {
        StatValue::Int(i) => rows.push(row(Cell::Int(*i))),
        StatValue::Float(f) => rows.push(row(Cell::Float(*f))),
        StatValue::Value(value) => rows.push(row(value_cell(value))),
        StatValue::Counts(counts) => {
            rows.extend(counts.iter().map(|c| keyed(&c.key, Cell::Int(c.value))));
        }
        StatValue::Strings(strings) => rows.extend(
            strings
                .iter()
                .map(|s| keyed(&s.key, Cell::Text(s.value.clone()))),
        ),
        StatValue::Distribution(d) => rows.push(row(Cell::Distribution(sketch(d, seconds)))),
        StatValue::Distributions(ds) => rows.extend(
            ds.iter()
                .map(|d| keyed(&d.key, Cell::Distribution(sketch(&d.value, seconds)))),
        ),
        StatValue::Meter(m) => rows.push(row(Cell::Meter(meter(m)))),
        StatValue::Meters(ms) => {
            rows.extend(
                ms.iter()
                    .map(|m| keyed(&m.key, Cell::Meter(meter(&m.value)))),
            );
        }
        StatValue::Durations(ds) => {
            rows.extend(ds.iter().map(|d| keyed(&d.key, Cell::Seconds(d.value))));
        }
        StatValue::Error(message) => rows.push(row(Cell::Error(message.clone()))),
        // A kind of value newer than this table: its JSON form.
        _ => rows.push(row(value_cell(&stat.to_value()))),
    }
}

fn sketch(d: &scales::SketchSnapshot, seconds: bool) -> Distribution {
    Distribution {
        count: d.count(),
        mean: d.mean(),
        p50: d.quantile(0.5),
        p99: d.quantile(0.99),
        max: d.max(),
        seconds,
    }
}

fn meter(m: &scales::MeterSnapshot) -> Meter {
    Meter {
        count: m.count,
        m1: m.m1,
        m5: m.m5,
        m15: m.m15,
        mean: m.mean,
    }
}

fn value_cell(value: &Value) -> Cell {
    match value {
        Value::Int(i) => Cell::Int(*i),
        Value::Float(f) => Cell::Float(*f),
        Value::Str(s) => Cell::Text(s.clone()),
        Value::Bool(b) => Cell::Text(b.to_string()),
        Value::Null => Cell::Text("null".to_owned()),
        other => {
            let mut out = Vec::new();
            let _ = scales::format::json::write_value(
                other,
                scales::format::json::Style::Compact,
                &mut out,
            );
            Cell::Text(String::from_utf8_lossy(&out).trim_end().to_owned())
        }
    }
}

/// The keys the JSON writer gives a distribution's summary.
const DISTRIBUTION_KEYS: [&str; 11] = [
    "count",
    "min",
    "max",
    "mean",
    "stddev",
    "median",
    "75percentile",
    "95percentile",
    "98percentile",
    "99percentile",
    "999percentile",
];

/// A group read back from JSON in the shape of a meter (`{"unit": "per second", "count",
/// "m1", "m5", "m15", "mean"}`), of a distribution's summary (`{"count", "min", ...,
/// "median", ...}`, nothing else) or of an unreadable stat (`{"error": "..."}`) as one cell.
fn group_shape(group: &scales::Group, seconds: bool) -> Option<Cell> {
    let number = |key: &str| match group.get(key)? {
        Node::Stat(stat) => stat.value.as_f64(),
        Node::Group(_) => None,
    };
    let text = |key: &str| match group.get(key)? {
        Node::Stat(StatSnapshot {
            value: StatValue::Value(Value::Str(s)),
            ..
        }) => Some(s.as_str()),
        _ => None,
    };
    let keys = || group.entries.iter().map(|entry| entry.name.as_str());
    if group.entries.len() == 1 {
        if let Some(message) = text("error") {
            return Some(Cell::Error(message.to_owned()));
        }
    }
    if text("unit") == Some("per second") && keys().count() == 6 {
        return Some(Cell::Meter(Meter {
            count: to_count(number("count")?)?,
            m1: number("m1")?,
            m5: number("m5")?,
            m15: number("m15")?,
            mean: number("mean")?,
        }));
    }
    let count = group.get("count").and(number("count"))?;
    let all_numbers = keys().all(|key| DISTRIBUTION_KEYS.contains(&key) && number(key).is_some());
    let summary = keys().any(|key| key == "median" || key == "mean");
    let empty = group.entries.len() == 1;
    if all_numbers && (summary || empty) {
        return Some(Cell::Distribution(Distribution {
            count: to_count(count)?,
            mean: number("mean"),
            p50: number("median"),
            p99: number("99percentile"),
            max: number("max"),
            seconds,
        }));
    }
    None
}

/// A count read back as a number (integral, not negative).
fn to_count(n: f64) -> Option<u64> {
    (n >= 0.0 && n.fract() == 0.0 && n < u64::MAX as f64).then_some(n as u64)
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Characters, for alignment (paths and keys may be any Unicode).
fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// An integer with thousands separators: `-1,234,567`.
pub(crate) fn int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A float for people: whole numbers with separators, four significant digits below
/// 1,000 (`12.35`, `0.001235`), one decimal above (`12,345.7`), `NaN`/`inf` as such.
pub(crate) fn float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".to_owned()
        } else if x > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    let abs = x.abs();
    if x.fract() == 0.0 && abs < 1e15 {
        return int(x as i64);
    }
    if abs >= 1e15 {
        return format!("{x:.3e}");
    }
    if abs >= 1000.0 {
        let tenths = (x * 10.0).round() as i64;
        let whole = int(tenths / 10);
        let whole = if tenths < 0 && tenths / 10 == 0 {
            format!("-{whole}")
        } else {
            whole
        };
        return format!("{whole}.{}", (tenths % 10).unsigned_abs());
    }
    if abs < 1e-4 {
        return format!("{x:.3e}");
    }
    // Four significant digits, trailing zeros dropped.
    let decimals = (3 - abs.log10().floor() as i32).clamp(0, 7) as usize;
    trim_zeros(format!("{x:.decimals$}"))
}

/// Seconds as a duration: `850 ns`, `12.3 µs`, `1.21 ms`, `4.56 s`, `3m 05s`, `2h 07m`.
pub(crate) fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return float(s);
    }
    let abs = s.abs();
    let sign = if s < 0.0 { "-" } else { "" };
    if abs == 0.0 {
        return "0 s".to_owned();
    }
    if abs >= 60.0 {
        let total = abs.round() as u64;
        return if total >= 3600 {
            format!(
                "{sign}{}h {:02}m",
                int(saturating_i64(total / 3600)),
                total % 3600 / 60
            )
        } else {
            format!("{sign}{}m {:02}s", total / 60, total % 60)
        };
    }
    let (value, unit) = if abs >= 1.0 {
        (abs, "s")
    } else if abs >= 1e-3 {
        (abs * 1e3, "ms")
    } else if abs >= 1e-6 {
        (abs * 1e6, "µs")
    } else {
        (abs * 1e9, "ns")
    };
    format!("{sign}{} {unit}", three_significant(value))
}

/// Events per second: `12.3/s`.
pub(crate) fn rate(per_second: f64) -> String {
    format!("{}/s", float_short(per_second))
}

/// A rate or other float with at most three significant digits below 1,000.
pub(crate) fn float_short(x: f64) -> String {
    if x.is_finite() && x.abs() < 1000.0 && x != 0.0 {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{sign}{}", three_significant(x.abs()))
    } else if x.is_finite() && x.abs() >= 1000.0 {
        int(x.round() as i64)
    } else {
        float(x)
    }
}

/// `value` (positive, below 1,000 after rounding) with three significant digits.
fn three_significant(value: f64) -> String {
    let decimals = if value >= 99.95 {
        0
    } else if value >= 9.995 {
        1
    } else {
        2
    };
    trim_zeros(format!("{value:.decimals$}"))
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use scales::{Entry, Group, Registry, StatKind, StatPath};

    use super::*;

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(-1_234_567), "-1,234,567");
        assert_eq!(int(i64::MIN), "-9,223,372,036,854,775,808");
        assert_eq!(float(3.0), "3");
        assert_eq!(float(12.3456), "12.35");
        assert_eq!(float(0.00123456), "0.001235");
        assert_eq!(float(12_345.67), "12,345.7");
        assert_eq!(float(-1234.56), "-1,234.6");
        assert_eq!(float(0.5), "0.5");
        assert_eq!(float(1.5e-7), "1.500e-7");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::NEG_INFINITY), "-inf");
        assert_eq!(seconds(0.000_000_85), "850 ns");
        assert_eq!(seconds(0.000_012_34), "12.3 µs");
        assert_eq!(seconds(0.001_214), "1.21 ms");
        assert_eq!(seconds(0.2), "200 ms");
        assert_eq!(seconds(4.5678), "4.57 s");
        assert_eq!(seconds(185.0), "3m 05s");
        assert_eq!(seconds(7620.0), "2h 07m");
        assert_eq!(seconds(0.0), "0 s");
        assert_eq!(rate(41.234), "41.2/s");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(rate(12_345.6), "12,346/s");
    }

    #[test]
    fn time_names_are_told_by_their_words() {
        for name in [
            "latency",
            "taskTime",
            "round_trip",
            "requestDuration",
            "rtt",
            "wait_s",
        ] {
            assert!(is_time_name(name), "{name}");
        }
        for name in ["size", "bytes", "queueLength", "items"] {
            assert!(!is_time_name(name), "{name}");
        }
    }

    /// A registry with one stat of most kinds, and its table.
    #[test]
    fn every_kind_of_stat_is_one_aligned_row_per_value() {
        // A manual clock: the state timer's seconds are known, whatever the machine's speed.
        let time = scales::ManualClock::new(std::time::UNIX_EPOCH);
        let registry = Registry::with_clock(time.clock());
        let web = registry.scope("/web").unwrap();
        web.int_stat("errors").unwrap().add(3);
        web.int_stat("success").unwrap().add(12_345);
        web.double_stat("ratio").unwrap().set(0.25);
        web.gauge("state", || "serving").unwrap();
        web.int_dict_stat("byPath").unwrap().add("/index", 7);
        let latency = web.pmf_stat("latency").unwrap();
        for ms in 1..=100 {
            latency.record(f64::from(ms) / 1000.0);
        }
        web.pmf_stat("size").unwrap().record(512.0);
        let sizes = web.named_pmf_dict_stat("sizes").unwrap();
        sizes.record("small", 2.0);
        web.meter_stat("hits").unwrap().mark();
        let state = registry
            .scope("/worker")
            .unwrap()
            .state_time_stat("state")
            .unwrap();
        state.set_state("idle");
        time.advance(std::time::Duration::from_millis(2_500));

        let table = render(&registry.snapshot());
        let lines: Vec<&str> = table.lines().collect();
        let find = |path: &str| {
            *lines
                .iter()
                .find(|line| line.starts_with(&format!("{path} ")))
                .unwrap_or_else(|| panic!("no row {path} in\n{table}"))
        };
        // Paths are padded to the longest one: values start in one column, numbers end
        // in one column.
        let column = "/worker/state[idle]  ".len();
        assert!(lines.iter().all(|line| line.len() > column), "{table}");
        let numbers = find("/web/success").len();
        assert!(find("/web/success").ends_with(" 12,345"), "{table}");
        for (path, value) in [("/web/errors", "3"), ("/web/ratio", "0.25")] {
            let line = find(path);
            assert_eq!(line.len(), numbers, "{table}");
            assert!(line.ends_with(&format!(" {value}")), "{table}");
            assert_eq!(
                line[path.len()..line.len() - value.len()].trim(),
                "",
                "{table}"
            );
        }
        assert!(find("/web/state").ends_with(" serving"), "{table}");
        assert!(find("/web/byPath[/index]").ends_with(" 7"), "{table}");
        let latency = &find("/web/latency")[column..];
        assert!(
            latency.starts_with("count 100  mean 50.5 ms  p50 "),
            "{latency}"
        );
        assert!(
            latency.contains(" ms  p99 ") && latency.ends_with("  max 100 ms"),
            "{latency}"
        );
        assert_eq!(
            &find("/web/size")[column..],
            "count 1  mean 512  p50 512  p99 512  max 512"
        );
        assert!(find("/web/sizes[small]").ends_with("count 1  mean 2  p50 2  p99 2  max 2"));
        let hits = &find("/web/hits")[column..];
        assert!(
            hits.starts_with("count 1  m1 ") && hits.contains("/s  mean "),
            "{hits}"
        );
        let idle = &find("/worker/state[idle]")[column..];
        assert_eq!(idle.trim_start(), "2.5 s", "{table}");
    }

    #[test]
    fn a_sub_tree_keeps_full_paths() {
        let registry = Registry::new();
        let processor = registry.scope("/processor").unwrap();
        processor.int_stat("finished").unwrap().add(2);
        let snapshot = registry.snapshot_at("/processor").unwrap();
        assert_eq!(render(&snapshot), "/processor/finished  2\n");
        let empty = Snapshot::new(StatPath::root(), Node::Group(Group::default()), UNIX_EPOCH);
        assert_eq!(render(&empty), "(no stats)\n");
    }

    fn stat(value: StatValue) -> Node {
        Node::Stat(StatSnapshot {
            kind: StatKind::Stat,
            value,
        })
    }

    fn group(entries: Vec<(&str, Node)>) -> Node {
        Node::Group(Group {
            entries: entries
                .into_iter()
                .map(|(name, node)| Entry::new(name, node))
                .collect(),
            collapsed: false,
        })
    }

    /// What a snapshot read back from the original's JSON holds: groups of numbers.
    #[test]
    fn meter_and_distribution_shapes_read_back_from_json_are_one_row() {
        let int = |i| stat(StatValue::Int(i));
        let float = |f| stat(StatValue::Float(f));
        let text = |s: &str| stat(StatValue::Value(Value::Str(s.to_owned())));
        let root = group(vec![(
            "web",
            group(vec![
                (
                    "hits",
                    group(vec![
                        ("unit", text("per second")),
                        ("count", int(1234)),
                        ("m1", float(2.5)),
                        ("m5", float(2.0)),
                        ("m15", float(1.0)),
                        ("mean", float(0.5)),
                    ]),
                ),
                (
                    "latency",
                    group(vec![
                        ("count", int(3)),
                        ("min", float(0.001)),
                        ("max", float(0.004)),
                        ("mean", float(0.002)),
                        ("median", float(0.002)),
                        ("99percentile", float(0.004)),
                    ]),
                ),
                ("idle", group(vec![("count", int(0))])),
                ("broken", group(vec![("error", text("gauge panicked"))])),
                // Not a distribution: a key of its own.
                ("mixed", group(vec![("count", int(1)), ("other", int(2))])),
                // A keyed stat: its keys are no names of the tree.
                (
                    "latencyByPath",
                    group(vec![(
                        "/search",
                        group(vec![("count", int(1)), ("mean", float(0.25))]),
                    )]),
                ),
                ("byPath", group(vec![("/", int(4)), ("", int(5))])),
            ]),
        )]);
        let snapshot = Snapshot::new(StatPath::root(), root, UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(
            render(&snapshot),
            "\
/web/hits                    count 1,234  m1 2.5/s  m5 2/s  m15 1/s  mean 0.5/s
/web/latency                 count 3  mean 2 ms  p50 2 ms  p99 4 ms  max 4 ms
/web/idle                    count 0
/web/broken                  error: gauge panicked
/web/mixed/count             1
/web/mixed/other             2
/web/latencyByPath[/search]  count 1  mean 250 ms
/web/byPath[/]               4
/web/byPath[]                5
"
        );
    }

    #[test]
    fn numbers_are_right_aligned_and_counts_found() {
        let rows = [
            Row {
                path: "/a".into(),
                cell: Cell::Int(5),
            },
            Row {
                path: "/bb".into(),
                cell: Cell::Int(-12_000),
            },
            Row {
                path: "/c".into(),
                cell: Cell::Text("up".into()),
            },
        ];
        assert_eq!(format_rows(&rows), "/a         5\n/bb  -12,000\n/c   up\n");
        assert_eq!(rows[1].cell.count(), Some(-12_000.0));
        assert_eq!(rows[2].cell.count(), None);
    }
}
