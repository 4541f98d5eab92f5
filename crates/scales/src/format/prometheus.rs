//! The Prometheus text exposition format, version 0.0.4 (`Content-Type: text/plain;
//! version=0.0.4`).
//!
//! # Names
//!
//! A stat's absolute path becomes its metric name: the segments (after an optional
//! [`Options::prefix`]) are joined with `_`, every character outside `[a-zA-Z0-9_]` becomes
//! `_`, and a name starting with a digit gets a leading `_` (see [`metric_name`]). So
//! `/web/latency` is `web_latency` and `/handler/thread-0/state` is
//! `handler_thread_0_state`. Colons are replaced too, although the format allows them: they
//! are reserved for recording rules and exporters should not emit them. camelCase becomes
//! snake_case, as Prometheus names are written (and `promtool check metrics` demands):
//! `/handler/byPath` is `handler_by_path`, `/api/HTTPErrors` is `api_http_errors`.
//!
//! **Names that look like units or suffixes.** `promtool check metrics` rejects names with an
//! abbreviated or non-base unit as a word (`latency_ms`, `uptime_hours`) and gauges ending
//! in a suffix Prometheus reserves for other types (`_total`, `_count`, `_sum`, `_bucket`).
//! The values are not rescaled (scales does not know the unit of a number), so such names are
//! changed just enough to pass: a unit word is joined to the word before it (`latencyMs` is
//! `latencyms`, `uptime_hours` is `uptimehours`), and a name ending in a reserved suffix gets
//! `_value` (`queryCount` is `query_count_value`, `requestsTotal` is `requests_total_value`).
//! The `# HELP` line always carries the stat's real path.
//!
//! **Collisions.** Different paths can map to one name (`/a-b` and `/a_b`, or `/a/b_c` and
//! `/a_b/c`), and a suffixed family can meet a plain one (a meter `/x` and a gauge
//! `/x_total`). The first family in tree order (declaration order) keeps the name; a later
//! family that needs a name already used (its own, or for a summary also `_sum`/`_count`) is
//! left out and a `# scales: ...` comment line says so. Merging was rejected: colliding
//! stats usually have the same label sets, so a merge would emit duplicate series, which
//! makes Prometheus reject the whole scrape; skipping keeps every other metric flowing and
//! the output deterministic.
//!
//! # Types
//!
//! | stat value | families |
//! |---|---|
//! | `IntStat`, `DoubleStat`, sums, numeric `Stat` | `gauge`: they can be set and decremented, so they are not counters |
//! | boolean `Stat` | `gauge`, 1 or 0 |
//! | string `Stat` | `gauge` `<name>_info{value="..."} 1` (the info-metric convention) |
//! | null or list `Stat` | nothing |
//! | map `Stat` (a gauge returning a map) | `gauge` with a `key` label for its numeric and boolean entries |
//! | `IntDictStat`, histogram and dict-sum aggregations | `gauge` with a `key` label (dicts can be decremented) |
//! | `StringDictStat` | `gauge` `<name>_info{key="...",value="..."} 1` |
//! | `PmfStat`, `PmfAggregationStat` | `summary`: `quantile` 0.5, 0.75, 0.95, 0.98, 0.99, 0.999 (left out when empty), `_sum`, `_count` |
//! | `NamedPmfDictStat` | `summary` with a `key` label |
//! | `MeterStat` | `counter` `<name>_total`, and `gauge` `<name>_rate{window="1m"\|"5m"\|"15m"\|"mean"}` in events per second |
//! | `MeterDictStat` | the same two families with a `key` label |
//! | `StateTimeStat` | `gauge` `<name>_seconds{state="..."}` |
//! | an unreadable stat (`Error`) | nothing, and a `# scales: ...` comment with the message |
//!
//! Every family has `# HELP` (the stat's path and type) and `# TYPE` lines and its samples
//! are contiguous; families come in tree order. NaN and infinities are written as the format
//! spells them (`NaN`, `+Inf`, `-Inf`): a gauge that is NaN says so rather than vanishing.
//! Families with no samples (an empty dict) are left out; a key repeated within one stat (a
//! gauge closure can return a map with a repeated key) keeps its first series only, since
//! duplicate series make Prometheus reject the scrape. No timestamps are written: the
//! scrape time is the sample time. Collapsed groups are exported like any other: collapsing
//! is a display hint for people.
//!
//! ```
//! use scales::format::prometheus::{to_string, Options};
//!
//! let reg = scales::Registry::new();
//! let web = reg.scope("/web")?;
//! web.int_stat("errors")?.add(3);
//! # let _keep = &web;
//! assert_eq!(
//!     to_string(&reg.snapshot(), &Options::with_prefix("app")),
//!     concat!(
//!         "# HELP app_web_errors /web/errors (IntStat)\n",
//!         "# TYPE app_web_errors gauge\n",
//!         "app_web_errors 3\n",
//!     )
//! );
//! # Ok::<(), scales::Error>(())
//! ```

use std::collections::HashSet;

/// Sets of names and series: short strings, hashed fast (no untrusted-input DoS concern for
/// names taken from one's own stats).
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;
use std::fmt::Write as _;

use crate::sketch::{SketchSnapshot, PERCENTILE_KEYS};
use crate::snapshot::{Keyed, MeterSnapshot, Snapshot, StatSnapshot, StatValue};
use crate::value::Value;

use crate::number::{push_prometheus_float, python_float};

/// The content type of this format, for an HTTP response.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Prepended to every metric name with a `_` (`"myapp"` gives `myapp_web_errors`); empty
    /// by default. Sanitised like the rest of the name.
    pub prefix: String,
}

impl Options {
    /// Options with this name prefix.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
}

/// Renders every stat of the snapshot (named by its absolute path) in the text format.
pub fn to_string(snapshot: &Snapshot, options: &Options) -> String {
    let mut writer = Writer {
        out: String::with_capacity(1 << 16),
        taken: FastSet::default(),
    };
    for (segments, stat) in snapshot.stats() {
        let path = format!("/{}", segments.join("/"));
        let name = metric_name(&options.prefix, &segments);
        if name.is_empty() {
            writer.comment(&path, "not exported: it has no name (give a prefix)");
            continue;
        }
        if let StatValue::Error(message) = &stat.value {
            writer.comment(&path, &format!("not exported: {message}"));
            continue;
        }
        for family in families(&name, &path, stat) {
            writer.family(&family);
        }
    }
    writer.out
}

/// The metric name for a path: `prefix` and the segments joined by `_`, sanitised to
/// `[a-zA-Z_][a-zA-Z0-9_]*` (other characters become `_`; a leading digit gets a `_` in
/// front). Empty only when there is neither a prefix nor a segment.
///
/// Unit words and reserved suffixes are changed so that `promtool check metrics` accepts the
/// name (see the module documentation).
///
/// ```
/// use scales::format::prometheus::metric_name;
/// assert_eq!(metric_name("", &["web", "latency"]), "web_latency");
/// assert_eq!(metric_name("my.app", &["thread-0", "état"]), "my_app_thread_0__tat");
/// assert_eq!(metric_name("", &["404"]), "_404");
/// assert_eq!(metric_name("", &["web", "latencyMs"]), "web_latencyms");
/// assert_eq!(metric_name("", &["db", "queryCount"]), "db_query_count_value");
/// ```
pub fn metric_name<S: AsRef<str>>(prefix: &str, segments: &[S]) -> String {
    let mut raw = String::from(prefix);
    for segment in segments {
        if !raw.is_empty() && !raw.ends_with('_') {
            raw.push('_');
        }
        push_snake_case(&mut raw, segment.as_ref());
    }
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    lint_safe(&name)
}

/// Words `promtool check metrics` reads as abbreviated units.
const UNIT_ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];
/// Units it wants in base form (seconds, bytes, celsius) and prefixes of base units.
const NON_BASE_UNITS: &[&str] = &["minutes", "hours", "days", "weeks", "fahrenheit", "bits"];
const BASE_UNITS: &[&str] = &[
    "seconds", "bytes", "bits", "meters", "grams", "volts", "amperes",
];
const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "mega", "giga",
    "tera", "peta", "exa", "kibi", "mebi", "gibi", "tebi", "pebi", "exbi",
];
/// Suffixes Prometheus gives to counters, summaries and histograms.
const RESERVED_SUFFIXES: &[&str] = &["_total", "_count", "_sum", "_bucket"];

fn is_unit_word(word: &str) -> bool {
    UNIT_ABBREVIATIONS.contains(&word)
        || NON_BASE_UNITS.contains(&word)
        || BASE_UNITS.iter().any(|unit| {
            word.strip_suffix(unit)
                .is_some_and(|prefix| UNIT_PREFIXES.contains(&prefix))
        })
}

/// Joins unit words to the word before them (or after, when first) and puts `_value` after a
/// reserved suffix.
fn lint_safe(name: &str) -> String {
    let words: Vec<&str> = name.split('_').collect();
    let mut out = String::with_capacity(name.len() + 6);
    let mut glue_next = false;
    for (i, word) in words.iter().enumerate() {
        let unit = is_unit_word(word);
        if i > 0 && !(unit && !out.is_empty() && !out.ends_with('_')) && !glue_next {
            out.push('_');
        }
        glue_next = unit && (out.is_empty() || out.ends_with('_'));
        out.push_str(word);
    }
    if RESERVED_SUFFIXES.iter().any(|suffix| out.ends_with(suffix)) {
        out.push_str("_value");
    }
    out
}

/// Appends `segment` with camelCase word boundaries turned into `_` and letters lowercased
/// (`byPath` → `by_path`, `HTTPErrors` → `http_errors`, `p99Latency` → `p99_latency`).
fn push_snake_case(out: &mut String, segment: &str) {
    if !segment.bytes().any(|b| b.is_ascii_uppercase()) {
        return out.push_str(segment);
    }
    let chars: Vec<char> = segment.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower);
            if boundary {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Gauge,
    Counter,
    Summary,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
            Type::Summary => "summary",
        }
    }
}

struct Family<'a> {
    name: String,
    path: &'a str,
    ty: Type,
    help: String,
    samples: Vec<Sample>,
}

struct Sample {
    /// Appended to the family name (`_sum`, `_count`), usually empty.
    suffix: &'static str,
    labels: Vec<(&'static str, String)>,
    value: String,
}

impl<'a> Family<'a> {
    fn new(name: String, path: &'a str, ty: Type, help: String) -> Self {
        Self {
            name,
            path,
            ty,
            help,
            samples: Vec::new(),
        }
    }

    fn sample(&mut self, labels: Vec<(&'static str, String)>, value: String) {
        self.samples.push(Sample {
            suffix: "",
            labels,
            value,
        });
    }
}

struct Writer {
    out: String,
    taken: FastSet<String>,
}

impl Writer {
    fn comment(&mut self, path: &str, text: &str) {
        let line = format!("# scales: {path} {text}");
        // A comment is one line: no newline may end it early.
        let line: String = line
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        self.out.push_str(&line);
        self.out.push('\n');
    }

    fn family(&mut self, family: &Family<'_>) {
        if family.samples.is_empty() {
            return;
        }
        let mut names = vec![family.name.clone()];
        if family.ty == Type::Summary {
            names.push(format!("{}_sum", family.name));
            names.push(format!("{}_count", family.name));
        }
        if let Some(used) = names.iter().find(|n| self.taken.contains(*n)) {
            let text = format!(
                "not exported as {}: the name {used} is already used",
                family.name
            );
            self.comment(family.path, &text);
            return;
        }
        self.taken.extend(names);
        let out = &mut self.out;
        let name = &family.name;
        let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {name} {}", family.ty.as_str());
        // A map gauge or a hand-built snapshot can repeat a key: keep the first series.
        let mut seen = FastSet::default();
        for sample in &family.samples {
            // Only a family of several samples can repeat one.
            if family.samples.len() > 1 && !seen.insert((sample.suffix, &sample.labels)) {
                continue;
            }
            out.push_str(name);
            out.push_str(sample.suffix);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (label, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(label);
                    out.push_str("=\"");
                    escape_label_into(out, value);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&sample.value);
            out.push('\n');
        }
    }
}

/// The families one stat becomes (see the module docs' table).
fn families<'a>(name: &str, path: &'a str, stat: &StatSnapshot) -> Vec<Family<'a>> {
    let help = format!("{path} ({})", stat.kind.name());
    let gauge = |suffix: &str, help: String| {
        Family::new(format!("{name}{suffix}"), path, Type::Gauge, help)
    };
    match &stat.value {
        StatValue::Int(i) => {
            let mut f = gauge("", help);
            f.sample(vec![], i.to_string());
            vec![f]
        }
        StatValue::Float(x) => {
            let mut f = gauge("", help);
            f.sample(vec![], float(*x));
            vec![f]
        }
        StatValue::Value(Value::Str(s)) => {
            let mut f = gauge("_info", format!("{help}: the value as a label"));
            f.sample(vec![("value", s.clone())], "1".to_owned());
            vec![f]
        }
        StatValue::Value(Value::Map(entries)) => {
            let mut f = gauge("", format!("{help}: by key"));
            for (key, value) in entries {
                if let Some(text) = scalar(value) {
                    f.sample(vec![("key", key.clone())], text);
                }
            }
            vec![f]
        }
        StatValue::Value(v) => match scalar(v) {
            Some(text) => {
                let mut f = gauge("", help);
                f.sample(vec![], text);
                vec![f]
            }
            None => Vec::new(),
        },
        StatValue::Counts(counts) => {
            let mut f = gauge("", format!("{help}: by key"));
            for Keyed { key, value } in counts {
                f.sample(vec![("key", key.to_string())], value.to_string());
            }
            vec![f]
        }
        StatValue::Strings(strings) => {
            let mut f = gauge("_info", format!("{help}: the values as labels"));
            for Keyed { key, value } in strings {
                f.sample(
                    vec![("key", key.to_string()), ("value", value.clone())],
                    "1".to_owned(),
                );
            }
            vec![f]
        }
        StatValue::Distribution(d) => {
            let mut f = Family::new(name.to_owned(), path, Type::Summary, help);
            summary(&mut f, None, d);
            vec![f]
        }
        StatValue::Distributions(ds) => {
            let mut f = Family::new(
                name.to_owned(),
                path,
                Type::Summary,
                format!("{help}: by key"),
            );
            for Keyed { key, value } in ds {
                summary(&mut f, Some(key), value);
            }
            vec![f]
        }
        StatValue::Meter(m) => meters(name, path, &help, std::iter::once((None, m))),
        StatValue::Meters(ms) => meters(
            name,
            path,
            &format!("{help}: by key"),
            ms.iter().map(|m| (Some(&*m.key), &m.value)),
        ),
        StatValue::Durations(ds) => {
            let mut f = gauge("_seconds", format!("{help}: seconds spent in each state"));
            for Keyed { key, value } in ds {
                f.sample(vec![("state", key.to_string())], float(*value));
            }
            vec![f]
        }
        // Written as a comment by the caller; nothing here.
        StatValue::Error(_) => Vec::new(),
    }
}

/// A number, boolean (1/0) or nothing.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(float(*f)),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        Value::Null | Value::Str(_) | Value::List(_) | Value::Map(_) => None,
    }
}

fn summary(family: &mut Family<'_>, key: Option<&str>, d: &SketchSnapshot) {
    let labels = |extra: Option<(&'static str, String)>| {
        key.map(|k| ("key", k.to_owned()))
            .into_iter()
            .chain(extra)
            .collect::<Vec<_>>()
    };
    if let Some(values) = d.percentile_values() {
        for ((_, q), v) in PERCENTILE_KEYS.iter().zip(values) {
            family.sample(labels(Some(("quantile", python_float(*q)))), float(v));
        }
    }
    family.samples.push(Sample {
        suffix: "_sum",
        labels: labels(None),
        value: float(d.sum()),
    });
    family.samples.push(Sample {
        suffix: "_count",
        labels: labels(None),
        value: d.count().to_string(),
    });
}

fn meters<'a, 'm>(
    name: &str,
    path: &'a str,
    help: &str,
    meters: impl Iterator<Item = (Option<&'m str>, &'m MeterSnapshot)> + Clone,
) -> Vec<Family<'a>> {
    let mut total = Family::new(
        format!("{name}_total"),
        path,
        Type::Counter,
        format!("{help}: events marked"),
    );
    let mut rate = Family::new(
        format!("{name}_rate"),
        path,
        Type::Gauge,
        format!("{help}: events per second over 1, 5, 15 minutes and since creation"),
    );
    for (key, m) in meters {
        let key_label = key.map(|k| ("key", k.to_owned()));
        total.sample(key_label.clone().into_iter().collect(), m.count.to_string());
        for (window, value) in [("1m", m.m1), ("5m", m.m5), ("15m", m.m15), ("mean", m.mean)] {
            let labels = key_label
                .clone()
                .into_iter()
                .chain([("window", window.to_owned())])
                .collect();
            rate.sample(labels, float(value));
        }
    }
    vec![total, rate]
}

/// A sample value: Python-style shortest float text, or `NaN`, `+Inf`, `-Inf`.
fn float(f: f64) -> String {
    let mut out = String::new();
    push_prometheus_float(&mut out, f);
    out
}

/// HELP text escaping: `\` and newline.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label value escaping: `\`, `"` and newline.
fn escape_label_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pass_the_linter_rules() {
        let name = |segments: &[&str]| metric_name("", segments);
        assert_eq!(name(&["web", "latencyMs"]), "web_latencyms");
        assert_eq!(name(&["web", "latency_ms"]), "web_latencyms");
        assert_eq!(name(&["up", "uptimeHours"]), "up_uptimehours");
        assert_eq!(name(&["io", "readKilobytes"]), "io_readkilobytes");
        assert_eq!(name(&["ms", "x"]), "msx");
        assert_eq!(name(&["ms"]), "ms");
        assert_eq!(name(&["items", "seconds"]), "items_seconds");
        assert_eq!(name(&["db", "queryCount"]), "db_query_count_value");
        assert_eq!(name(&["web", "requestsTotal"]), "web_requests_total_value");
        assert_eq!(name(&["x_sum"]), "x_sum_value");
        assert_eq!(name(&["x", "buckets"]), "x_buckets");
        assert_eq!(name(&["_404"]), "_404");
    }

    #[test]
    fn escapes_labels_and_help() {
        let mut out = String::new();
        escape_label_into(&mut out, "a\\b\"c\nd");
        assert_eq!(out, r#"a\\b\"c\nd"#);
        assert_eq!(escape_help("a\\b\"c\nd"), r#"a\\b"c\nd"#);
    }

    #[test]
    fn floats_as_the_format_spells_them() {
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(2.0), "2.0");
        assert_eq!(float(1e-5), "1e-05");
    }
}
