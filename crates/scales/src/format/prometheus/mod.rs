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
//! | `CounterStat` | `counter` `<name>_total`: it only goes up, so `rate()` and `increase()` apply |
//! | `IntStat`, `DoubleStat`, sums, numeric `Stat` | `gauge`: they can be set and decremented, so they are not counters (declare a `CounterStat` for a counter) |
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
//!
//! An endpoint scraped again and again can keep an [`Encoder`]: the same text, written from
//! the last scrape's while the tree keeps its shape.

use std::collections::HashSet;
use std::hash::BuildHasher as _;
use std::io;

use hashbrown::HashTable;

use crate::append;
use crate::format::chunked::{Chunked, InMemory, TextOut};
use crate::sketch::{SketchSnapshot, PERCENTILE_KEYS};
use crate::snapshot::{Keyed, MeterSnapshot, Node, Snapshot, StatKind, StatSnapshot, StatValue};
use crate::value::Value;

mod encoder;
pub use encoder::Encoder;

#[cfg(test)]
use crate::number::python_float;
use crate::number::{push_int, push_prometheus_float};

/// Sets of names and keys: short strings from one's own stats, hashed fast.
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

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
    // Room for short names' families up front, rather than growing by copies (the memory
    // is only touched as the text is written).
    let stats = snapshot.root().count_stats();
    let mut text = String::with_capacity(stats.max(512) * 128);
    Writer::new(InMemory(&mut text)).snapshot(snapshot, options, stats);
    text
}

/// Streams every stat of the snapshot in the text format into `out`, in pieces of about
/// 64 KiB (the text of a big tree is never held whole).
///
/// # Errors
/// Only those of `out`; writing stops at the first.
pub fn write<W: io::Write>(snapshot: &Snapshot, options: &Options, out: &mut W) -> io::Result<()> {
    let mut writer = Writer::new(Chunked::new(out));
    writer.snapshot(snapshot, options, snapshot.root().count_stats());
    writer.out.finish()
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
    let mut name = Name::new(prefix);
    for segment in segments {
        let segment = segment.as_ref();
        name.push(segment, classify(segment));
    }
    let mut scratch = String::new();
    name.finish(&mut scratch).to_owned()
}

/// A [`metric_name`] being built one segment at a time, so that the writer, walking the tree,
/// builds a group's part of its stats' names once and not once per stat: each step only looks
/// at the new segment, and [`Name::pop`] goes back to a [`Mark`].
///
/// The name is `prefix` and the segments in snake case, joined by `_` (unless the text
/// already ends with one), sanitised, and made lint safe word by word (words are the runs
/// between `_`, see [`lint_word`]). A word is made lint safe as soon as it is seen whole.
/// Only an empty last word may still grow (a segment after a `_` gets no separator), so a
/// non-empty one is seen whole at once: the next segment, if any, starts after a `_`.
#[derive(Default)]
struct Name {
    /// The sanitised text so far.
    clean: String,
    /// The lint-safe text of the words seen whole.
    safe: String,
    state: NameState,
    /// The segment in snake case, reused.
    snake: String,
}

#[derive(Clone, Copy, Default)]
struct NameState {
    /// Where the words not yet in `safe` start in `clean`.
    word_start: usize,
    /// How many words are in `safe`.
    words: usize,
    /// Whether the next word is glued to the one before (see [`lint_word`]).
    glue_next: bool,
    /// Whether the last word is in `safe` already (it is not empty).
    last_word_done: bool,
    /// Whether the unsanitised text is empty (a leading digit gets a `_`), and whether it
    /// ends in something other than `_` (the next segment gets a `_` before it).
    raw_empty: bool,
    raw_joinable: bool,
}

/// Where a [`Name`] was, to go back to after a group's children.
#[derive(Clone, Copy)]
struct Mark {
    clean: usize,
    safe: usize,
    state: NameState,
}

impl Name {
    fn new(prefix: &str) -> Self {
        let mut name = Self::default();
        name.state.raw_empty = true;
        name.push_raw(prefix, classify(prefix), false);
        name
    }

    fn pop(&mut self, mark: Mark) {
        self.clean.truncate(mark.clean);
        self.safe.truncate(mark.safe);
        self.state = mark.state;
    }

    /// Appends a path segment, whose bytes are of `classes` (see [`classify`]); returns where
    /// the name was before.
    fn push(&mut self, segment: &str, classes: u8) -> Mark {
        let mark = Mark {
            clean: self.clean.len(),
            safe: self.safe.len(),
            state: self.state,
        };
        let separate = self.state.raw_joinable;
        if classes & UPPER == 0 {
            self.push_raw(segment, classes, separate);
        } else {
            let mut snake = std::mem::take(&mut self.snake);
            snake.clear();
            push_snake_case(&mut snake, segment);
            self.push_raw(&snake, classify(&snake), separate);
            self.snake = snake;
        }
        mark
    }

    /// Appends unsanitised text whose bytes are of `classes`, after a `_` if `separate`.
    fn push_raw(&mut self, raw: &str, classes: u8, separate: bool) {
        let state = &mut self.state;
        // A last word in `safe` is not empty, so the text is joinable and this is a segment.
        debug_assert!(separate || !state.last_word_done);
        if separate
            && state.last_word_done
            && !raw.is_empty()
            && classes & (NOT_WORD | UNDERSCORE) == 0
        {
            // The usual segment: one whole word of letters and digits after a whole word.
            // What the general steps below come to for it.
            self.clean.push('_');
            append::push(&mut self.clean, raw);
            lint_word(&mut self.safe, &mut state.glue_next, state.words, raw);
            state.words += 1;
            state.word_start = self.clean.len();
            state.raw_empty = false;
            state.raw_joinable = true;
            return;
        }
        if separate {
            self.clean.push('_');
            if state.last_word_done {
                // The `_` ends a word that is in `safe` already.
                state.word_start = self.clean.len();
                state.last_word_done = false;
            }
        } else if state.raw_empty && raw.starts_with(|c: char| c.is_ascii_digit()) {
            self.clean.push('_');
        }
        if classes & NOT_WORD == 0 {
            append::push(&mut self.clean, raw);
        } else {
            self.clean.extend(raw.chars().map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            }));
        }
        if !raw.is_empty() {
            state.raw_empty = false;
            state.raw_joinable = !raw.ends_with('_');
        } else if separate {
            state.raw_joinable = false;
        }
        // Every word that a `_` ends is whole, and so is a last word that is not empty.
        while state.word_start < self.clean.len() {
            let rest = &self.clean[state.word_start..];
            let end = rest.bytes().position(|b| b == b'_').unwrap_or_else(|| {
                state.last_word_done = true;
                rest.len()
            });
            lint_word(
                &mut self.safe,
                &mut state.glue_next,
                state.words,
                &rest[..end],
            );
            state.words += 1;
            // Past the `_`, or at the end.
            state.word_start = (state.word_start + end + 1).min(self.clean.len());
        }
    }

    /// The name: the words in `safe`, or in `scratch` when an empty last word is to be made
    /// lint safe too, or `_value` goes after a reserved suffix.
    fn finish<'a>(&'a self, scratch: &'a mut String) -> &'a str {
        if self.state.last_word_done && !has_reserved_suffix(&self.safe) {
            return &self.safe;
        }
        scratch.clear();
        append::push(scratch, &self.safe);
        if !self.state.last_word_done {
            let mut glue_next = self.state.glue_next;
            lint_word(scratch, &mut glue_next, self.state.words, "");
        }
        if has_reserved_suffix(scratch) {
            scratch.push_str("_value");
        }
        scratch
    }
}

/// Byte classes, so that one pass over a segment tells what it needs ([`classify`]): an ASCII
/// capital (camelCase to split), a byte that is not an ASCII letter, digit or `_` (to
/// sanitise), `_`, and `\` or a newline (to escape in `# HELP`).
const UPPER: u8 = 1;
const NOT_WORD: u8 = 2;
const HELP_ESCAPE: u8 = 4;
const UNDERSCORE: u8 = 8;
const CLASSES: [u8; 256] = {
    let mut classes = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_uppercase() {
            classes[b] |= UPPER;
        }
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            classes[b] |= NOT_WORD;
        }
        if c == b'\\' || c == b'\n' {
            classes[b] |= HELP_ESCAPE;
        }
        if c == b'_' {
            classes[b] |= UNDERSCORE;
        }
        b += 1;
    }
    classes
};

/// The classes of `text`'s bytes, together.
fn classify(text: &str) -> u8 {
    text.bytes().fold(0, |all, b| all | CLASSES[usize::from(b)])
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

fn has_reserved_suffix(name: &str) -> bool {
    RESERVED_SUFFIXES
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

fn is_unit_word(word: &str) -> bool {
    // Most words are no unit: the lists are only searched for words that could be in them
    // (abbreviations have 1 to 3 letters; every longer unit ends in `s`, but `fahrenheit`).
    match word.as_bytes() {
        [] => false,
        short if short.len() <= 3 => UNIT_ABBREVIATIONS.contains(&word),
        [.., b's'] => {
            NON_BASE_UNITS.contains(&word)
                || BASE_UNITS.iter().any(|unit| {
                    word.strip_suffix(unit)
                        .is_some_and(|prefix| UNIT_PREFIXES.contains(&prefix))
                })
        }
        _ => word == "fahrenheit",
    }
}

/// Appends the `index`th word of a name to the lint-safe text `out` of the words before it: a
/// unit word is joined to the word before it (or, when first, to the word after), words are
/// otherwise separated by `_`.
fn lint_word(out: &mut String, glue_next: &mut bool, index: usize, word: &str) {
    let unit = is_unit_word(word);
    // Whether the text so far is empty or ends in `_`: no word to glue a unit to.
    let open = |out: &String| out.as_bytes().last().is_none_or(|&b| b == b'_');
    if index > 0 && (!unit || open(out)) && !*glue_next {
        out.push('_');
    }
    *glue_next = unit && open(out);
    append::push(out, word);
}

/// Appends `segment` with camelCase word boundaries turned into `_` and letters lowercased
/// (`byPath` → `by_path`, `HTTPErrors` → `http_errors`, `p99Latency` → `p99_latency`).
fn push_snake_case(out: &mut String, segment: &str) {
    if !segment.bytes().any(|b| b.is_ascii_uppercase()) {
        return append::push(out, segment);
    }
    // Neighbours are looked at as bytes: a byte of a non-ASCII character is no ASCII letter
    // or digit, as the character is not.
    let bytes = segment.as_bytes();
    for (i, c) in segment.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = bytes[i - 1];
            let next_is_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
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

/// A sample's value.
#[derive(Debug, Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// A number, boolean (1/0) or nothing.
    fn of(value: &Value) -> Option<Number> {
        match value {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(f) => Some(Number::Float(*f)),
            Value::Bool(b) => Some(Number::Int(i64::from(*b))),
            Value::Null | Value::Str(_) | Value::List(_) | Value::Map(_) => None,
        }
    }

    /// A count (of events or values), the largest `i64` if it is larger.
    fn count(n: u64) -> Number {
        Number::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// The `window` labels of a meter's rates.
const RATE_WINDOWS: [&str; 4] = ["1m", "5m", "15m", "mean"];

/// A meter's rate for window `w` of [`RATE_WINDOWS`].
fn rate_of(m: &MeterSnapshot, w: usize) -> f64 {
    [m.m1, m.m5, m.m15, m.mean][w]
}

/// Writes a sample's value.
fn push_number(out: &mut String, value: Number) {
    match value {
        Number::Int(i) => push_int(out, i),
        Number::Float(f) => push_prometheus_float(out, f),
    }
}

/// The quantile labels of a summary, as [`python_float`](crate::number::python_float) spells
/// [`PERCENTILE_KEYS`]' values.
const QUANTILE_LABELS: [&str; PERCENTILE_KEYS.len()] =
    ["0.5", "0.75", "0.95", "0.98", "0.99", "0.999"];

/// The text being written, straight from the snapshot: one family at a time, its `# HELP` and
/// `# TYPE` lines written with its first sample (a family without samples leaves nothing).
struct Writer<'s, O> {
    /// Where the text goes: a string, or pieces handed to an `io::Write`.
    out: O,
    /// Metric names already used, so a clash can be left out (see the module docs).
    taken: Taken,
    /// Keys of the current family's samples, so a repeated key keeps its first series.
    seen: FastSet<&'s str>,
    /// The index of the current stat in tree order.
    stat: u32,
    /// Where each value was written, when an [`Encoder`] keeps the text for later.
    values: Option<Vec<Written>>,
}

/// Where the writer wrote a value: the text it is at and where it comes from.
#[derive(Debug, Clone, Copy)]
struct Written {
    start: usize,
    end: usize,
    stat: u32,
    source: Source,
}

/// Which number of a stat a sample's value is (the stat being the `n`-th in tree order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    /// The index of the key, map entry or keyed value it belongs to; 0 for a stat without.
    item: u32,
    field: Field,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The number itself: the stat's, or its `item`-th entry's.
    Value,
    /// The constant 1 of an info metric.
    One,
    /// A summary's quantile (an index into `PERCENTILE_KEYS`), sum and count.
    Quantile(u8),
    Sum,
    Count,
    /// A meter's count and rates (1, 5, 15 minutes, mean).
    MeterCount,
    Rate(u8),
}

impl Source {
    const VALUE: Source = Source::of(0, Field::Value);
    const ONE: Source = Source::of(0, Field::One);

    const fn of(item: usize, field: Field) -> Source {
        // Items are entries of one stat's value: a `u32` holds any count that fits memory
        // next to them (`usize` beyond it would be over 4 billion entries in one stat).
        Source {
            item: item as u32,
            field,
        }
    }
}

/// The metric names already used, without a `String` for each (a family claims one to three
/// names, and allocating them cost more than writing the family): the names' text is
/// appended to one string, and a table of the names' hashes leads to their place in it, so
/// that a name is hashed once and looked up with one probe.
#[derive(Default)]
struct Taken {
    /// Every name, one after the other.
    text: String,
    /// Each name's end in `text` (it starts where the one before ends).
    ends: Vec<usize>,
    /// Each name's hash and index in `ends`.
    table: HashTable<(u64, usize)>,
    hasher: foldhash::fast::RandomState,
}

impl Taken {
    /// Room for about `names` names.
    fn reserve(&mut self, names: usize) {
        self.text.reserve(names * 32);
        self.ends.reserve(names);
        self.table.reserve(names, |&(hash, _)| hash);
    }

    /// Takes every name of `names` (each made of parts), unless one is taken already: then
    /// the first such, and none is taken. Each name is hashed once.
    fn claim<'a, const N: usize>(&mut self, names: [[&'a str; 3]; N]) -> Option<[&'a str; 3]> {
        // The names are written after the taken ones, and kept there if none is taken.
        let (text_len, names_len) = (self.text.len(), self.ends.len());
        let mut hashes = [0; N];
        for (parts, hash) in names.iter().zip(&mut hashes) {
            let start = self.text.len();
            for part in parts {
                push_short(&mut self.text, part);
            }
            let wanted = &self.text[start..];
            *hash = self.hasher.hash_one(wanted);
            let (text, ends) = (&self.text, &self.ends);
            let name = |i: usize| &text[i.checked_sub(1).map_or(0, |before| ends[before])..ends[i]];
            if self
                .table
                .find(*hash, |&(h, i)| h == *hash && name(i) == wanted)
                .is_some()
            {
                self.text.truncate(text_len);
                self.ends.truncate(names_len);
                return Some(*parts);
            }
            self.ends.push(self.text.len());
        }
        for (i, hash) in (names_len..).zip(hashes) {
            self.table.insert_unique(hash, (hash, i), |&(h, _)| h);
        }
        None
    }
}

/// Where the walk is: the stat's name so far, and its path as written in comments and as
/// escaped for `# HELP` lines.
#[derive(Default)]
struct Place {
    name: Name,
    path: String,
    help_path: String,
    /// The current stat's metric name, reused.
    metric_name: String,
}

/// Where a [`Place`] was, to go back to.
struct PlaceMark {
    name: Mark,
    path: usize,
    help_path: usize,
}

impl Place {
    fn push(&mut self, segment: &str) -> PlaceMark {
        let classes = classify(segment);
        let mark = PlaceMark {
            name: self.name.push(segment, classes),
            path: self.path.len(),
            help_path: self.help_path.len(),
        };
        self.path.push('/');
        append::push(&mut self.path, segment);
        self.help_path.push('/');
        if classes & HELP_ESCAPE == 0 {
            append::push(&mut self.help_path, segment);
        } else {
            escape_help_into(&mut self.help_path, segment);
        }
        mark
    }

    fn pop(&mut self, mark: PlaceMark) {
        self.name.pop(mark.name);
        self.path.truncate(mark.path);
        self.help_path.truncate(mark.help_path);
    }

    /// For a stat named by one plain word (letters and digits, as most are) after a name
    /// whose words are whole: goes to it, with its metric name in `metric_name`, and returns
    /// where the paths were; `None` (and nothing changed) for other names. What
    /// [`push`](Self::push) and [`Name::finish`] come to for such a name, without the steps
    /// that only other names need.
    fn push_plain_stat(&mut self, segment: &str) -> Option<(usize, usize)> {
        let state = &self.name.state;
        let plain = classify(segment) & (UPPER | NOT_WORD | UNDERSCORE) == 0;
        if !plain || segment.is_empty() || !state.last_word_done {
            return None;
        }
        let name = &mut self.metric_name;
        name.clear();
        append::push(name, &self.name.safe);
        lint_word(name, &mut state.glue_next.clone(), state.words, segment);
        if has_reserved_suffix(name) {
            name.push_str("_value");
        }
        let mark = (self.path.len(), self.help_path.len());
        for path in [&mut self.path, &mut self.help_path] {
            path.push('/');
            append::push(path, segment);
        }
        Some(mark)
    }

    fn pop_plain_stat(&mut self, (path, help_path): (usize, usize)) {
        self.path.truncate(path);
        self.help_path.truncate(help_path);
    }
}

/// The stat a family comes from, for its `# HELP` line and comments.
#[derive(Clone, Copy)]
struct About<'f> {
    path: &'f str,
    /// `path` escaped for `# HELP`.
    help_path: &'f str,
    kind: &'static str,
}

/// One family being written.
struct Family<'f> {
    name: &'f str,
    /// `_total`, `_rate`, ... appended to the stat's name.
    suffix: &'static str,
    ty: Type,
    path: &'f str,
    help_path: &'f str,
    kind: &'static str,
    /// Appended to the `# HELP` text after the path and kind.
    help: &'static str,
    /// `Some(started)` once the first sample decided; `None` before. `Some(false)`: left out.
    state: Option<bool>,
}

impl<'f> Family<'f> {
    fn new(name: &'f str, suffix: &'static str, ty: Type, stat: About<'f>) -> Self {
        Self {
            name,
            suffix,
            ty,
            path: stat.path,
            help_path: stat.help_path,
            kind: stat.kind,
            help: "",
            state: None,
        }
    }

    fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
}

impl<'s, O: TextOut> Writer<'s, O> {
    fn new(out: O) -> Self {
        Self {
            out,
            taken: Taken::default(),
            seen: FastSet::default(),
            stat: 0,
            values: None,
        }
    }

    /// Writes the snapshot, which holds `stats` stats.
    fn snapshot(&mut self, snapshot: &'s Snapshot, options: &Options, stats: usize) {
        let mut at = Place {
            name: Name::new(&options.prefix),
            ..Place::default()
        };
        for segment in snapshot.path() {
            at.push(segment);
        }
        // Most stats are one family of one name; meters and summaries have more.
        self.taken.reserve(stats + stats / 4);
        self.node(snapshot.root(), &mut at);
    }

    /// Writes the stats at and below `node`, which is at `at`.
    fn node(&mut self, node: &'s Node, at: &mut Place) {
        match node {
            Node::Stat(stat) => {
                let name = at.name.finish(&mut at.metric_name);
                self.stat_at(stat, name, &at.path, &at.help_path);
            }
            Node::Group(group) => {
                for entry in &group.entries {
                    if let Node::Stat(stat) = &entry.node {
                        if let Some(mark) = at.push_plain_stat(&entry.name) {
                            self.stat_at(stat, &at.metric_name, &at.path, &at.help_path);
                            at.pop_plain_stat(mark);
                            continue;
                        }
                    }
                    let mark = at.push(&entry.name);
                    self.node(&entry.node, at);
                    at.pop(mark);
                }
            }
        }
    }

    /// Writes the families of `stat`, whose metric name is `name` and path `path` (escaped
    /// for `# HELP`: `help_path`).
    fn stat_at(&mut self, stat: &'s StatSnapshot, name: &str, path: &str, help_path: &str) {
        if self.out.failed() {
            return;
        }
        let about = |kind| About {
            path,
            help_path,
            kind,
        };
        if name.is_empty() {
            self.comment(path, "not exported: it has no name (give a prefix)");
        } else if let StatValue::Error(message) = &stat.value {
            self.comment(path, &format!("not exported: {message}"));
        } else if let (StatKind::Counter, StatValue::Int(n)) = (stat.kind, &stat.value) {
            let family = &mut Family::new(name, "_total", Type::Counter, about("CounterStat"));
            self.sample(family, &[], Number::Int(*n), Source::VALUE);
        } else {
            self.stat(name, about(stat.kind.name()), &stat.value);
        }
        self.stat = self.stat.wrapping_add(1);
        self.out.item_done();
    }

    fn comment(&mut self, path: &str, text: &str) {
        // A comment is one line: no newline may end it early.
        let out = &mut *self.out;
        let start = out.len();
        out.push_str("# scales: ");
        out.push_str(path);
        out.push(' ');
        out.push_str(text);
        let line: String = out[start..]
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        out.truncate(start);
        out.push_str(&line);
        out.push('\n');
    }

    /// The families one stat becomes (see the module docs' table).
    fn stat(&mut self, name: &str, stat: About<'_>, value: &'s StatValue) {
        let gauge = |suffix| Family::new(name, suffix, Type::Gauge, stat);
        let by_key = |item| Source::of(item, Field::Value);
        match value {
            StatValue::Int(i) => self.sample(&mut gauge(""), &[], Number::Int(*i), Source::VALUE),
            StatValue::Float(x) => {
                self.sample(&mut gauge(""), &[], Number::Float(*x), Source::VALUE)
            }
            StatValue::Value(Value::Str(s)) => {
                let family = &mut gauge("_info").help(": the value as a label");
                self.sample(family, &[("value", s)], Number::Int(1), Source::ONE);
            }
            StatValue::Value(Value::Map(entries)) => {
                let family = &mut gauge("").help(": by key");
                self.seen.clear();
                for (item, (key, value)) in entries.iter().enumerate() {
                    if let Some(number) = Number::of(value) {
                        self.keyed_sample(family, key, &[], number, by_key(item));
                    }
                }
            }
            StatValue::Value(v) => {
                if let Some(number) = Number::of(v) {
                    self.sample(&mut gauge(""), &[], number, Source::VALUE);
                }
            }
            StatValue::Counts(counts) => {
                let family = &mut gauge("").help(": by key");
                self.seen.clear();
                for (item, Keyed { key, value }) in counts.iter().enumerate() {
                    self.keyed_sample(family, key, &[], Number::Int(*value), by_key(item));
                }
            }
            StatValue::Strings(strings) => {
                let family = &mut gauge("_info").help(": the values as labels");
                self.seen.clear();
                for Keyed { key, value } in strings {
                    let labels = &[("value", value.as_str())];
                    self.keyed_sample(family, key, labels, Number::Int(1), Source::ONE);
                }
            }
            StatValue::Distribution(d) => {
                let family = &mut Family::new(name, "", Type::Summary, stat);
                self.summary(family, None, d);
            }
            StatValue::Distributions(ds) => {
                let family = &mut Family::new(name, "", Type::Summary, stat).help(": by key");
                self.seen.clear();
                for (item, Keyed { key, value }) in ds.iter().enumerate() {
                    self.summary(family, Some((item, key)), value);
                }
            }
            StatValue::Meter(m) => self.meters(name, stat, "", std::iter::once((None, &**m))),
            StatValue::Meters(ms) => self.meters(
                name,
                stat,
                ": by key",
                ms.iter().map(|m| (Some(&*m.key), &m.value)),
            ),
            StatValue::Durations(ds) => {
                let family = &mut gauge("_seconds").help(": seconds spent in each state");
                self.seen.clear();
                for (item, Keyed { key, value }) in ds.iter().enumerate() {
                    if self.first_of(key) {
                        let (labels, number) = (&[("state", &**key)], Number::Float(*value));
                        self.sample(family, labels, number, by_key(item));
                    }
                }
            }
            // Written as a comment by the caller; nothing here.
            StatValue::Error(_) => {}
        }
    }

    /// Whether `key` is new in the current family (whose writer cleared `seen` before its
    /// first sample): a key repeated within one stat keeps its first series only.
    fn first_of(&mut self, key: &'s str) -> bool {
        self.seen.insert(key)
    }

    /// A sample labelled `key="..."` (first) and `labels`, unless the key came before.
    fn keyed_sample(
        &mut self,
        family: &mut Family<'_>,
        key: &'s str,
        labels: &[(&str, &str)],
        value: Number,
        source: Source,
    ) {
        if !self.first_of(key) {
            return;
        }
        let mut all: [(&str, &str); 3] = [("key", key), ("", ""), ("", "")];
        all[1..=labels.len()].copy_from_slice(labels);
        self.sample(family, &all[..=labels.len()], value, source);
    }

    /// The samples of a summary; `key`: its index among the stat's keyed summaries, and key.
    fn summary(
        &mut self,
        family: &mut Family<'_>,
        key: Option<(usize, &'s str)>,
        d: &SketchSnapshot,
    ) {
        if key.is_some_and(|(_, key)| !self.first_of(key)) {
            return;
        }
        let item = key.map_or(0, |(item, _)| item);
        let with_key = |extra: Option<(&'static str, &'static str)>| {
            let mut labels: [(&str, &str); 2] = [("", ""); 2];
            let mut n = 0;
            for label in key.map(|(_, k)| ("key", k)).into_iter().chain(extra) {
                labels[n] = label;
                n += 1;
            }
            (labels, n)
        };
        if let Some(values) = d.percentile_values() {
            for (q, (label, v)) in QUANTILE_LABELS.iter().zip(values).enumerate() {
                let (labels, n) = with_key(Some(("quantile", label)));
                let source = Source::of(item, Field::Quantile(q as u8));
                self.sample_with_suffix(family, "", &labels[..n], Number::Float(v), source);
            }
        }
        let (labels, n) = with_key(None);
        let (sum, count) = (Source::of(item, Field::Sum), Source::of(item, Field::Count));
        self.sample_with_suffix(family, "_sum", &labels[..n], Number::Float(d.sum()), sum);
        let value = Number::count(d.count());
        self.sample_with_suffix(family, "_count", &labels[..n], value, count);
    }

    fn meters(
        &mut self,
        name: &str,
        stat: About<'_>,
        by_key: &'static str,
        meters: impl Iterator<Item = (Option<&'s str>, &'s MeterSnapshot)> + Clone,
    ) {
        let help = |keyed: &'static str, plain: &'static str| {
            if by_key.is_empty() {
                plain
            } else {
                keyed
            }
        };
        let mut total = Family::new(name, "_total", Type::Counter, stat)
            .help(help(": by key: events marked", ": events marked"));
        self.seen.clear();
        for (item, (key, m)) in meters.clone().enumerate() {
            let count = Number::count(m.count);
            let source = Source::of(item, Field::MeterCount);
            match key {
                Some(key) => self.keyed_sample(&mut total, key, &[], count, source),
                None => self.sample(&mut total, &[], count, source),
            }
        }
        let mut rate = Family::new(name, "_rate", Type::Gauge, stat).help(help(
            ": by key: events per second over 1, 5, 15 minutes and since creation",
            ": events per second over 1, 5, 15 minutes and since creation",
        ));
        self.seen.clear();
        for (item, (key, m)) in meters.enumerate() {
            if key.is_some_and(|key| !self.first_of(key)) {
                continue;
            }
            for (w, window) in RATE_WINDOWS.into_iter().enumerate() {
                let labels = [("key", key.unwrap_or("")), ("window", window)];
                let labels = if key.is_some() {
                    &labels[..]
                } else {
                    &labels[1..]
                };
                let source = Source::of(item, Field::Rate(w as u8));
                self.sample(&mut rate, labels, Number::Float(rate_of(m, w)), source);
            }
        }
    }

    fn sample(
        &mut self,
        family: &mut Family<'_>,
        labels: &[(&str, &str)],
        value: Number,
        source: Source,
    ) {
        self.sample_with_suffix(family, "", labels, value, source);
    }

    /// Writes one sample line of `family` (`suffix` for a summary's `_sum` and `_count`),
    /// preceded by the family's `# HELP` and `# TYPE` lines if it is the first.
    fn sample_with_suffix(
        &mut self,
        family: &mut Family<'_>,
        suffix: &str,
        labels: &[(&str, &str)],
        value: Number,
        source: Source,
    ) {
        let started = match family.state {
            Some(started) => started,
            None => {
                let started = self.start(family_header(family));
                family.state = Some(started);
                started
            }
        };
        if !started {
            return;
        }
        let out = &mut *self.out;
        append::push(out, family.name);
        push_short(out, family.suffix);
        push_short(out, suffix);
        if !labels.is_empty() {
            out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append::push(out, label);
                out.push_str("=\"");
                escape_label_into(out, text);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        let start = out.len();
        push_number(out, value);
        if let Some(values) = &mut self.values {
            let (end, stat) = (out.len(), self.stat);
            values.push(Written {
                start,
                end,
                stat,
                source,
            });
        }
        self.out.push('\n');
    }

    /// Claims the family's names and writes its header; false (and a comment) if a name is
    /// taken already.
    fn start(&mut self, header: Header<'_>) -> bool {
        let [name, suffix] = [header.name, header.suffix];
        let used = if header.ty == Type::Summary {
            self.taken.claim([
                [name, suffix, ""],
                [name, suffix, "_sum"],
                [name, suffix, "_count"],
            ])
        } else {
            self.taken.claim([[name, suffix, ""]])
        };
        if let Some(used) = used {
            let text = format!(
                "not exported as {name}{suffix}: the name {} is already used",
                used.concat()
            );
            self.comment(header.path, &text);
            return false;
        }
        let out = &mut *self.out;
        out.push_str("# HELP ");
        append::push(out, header.name);
        push_short(out, header.suffix);
        out.push(' ');
        append::push(out, header.help_path);
        out.push_str(" (");
        append::push(out, header.kind);
        out.push(')');
        push_short(out, header.help);
        out.push_str("\n# TYPE ");
        append::push(out, header.name);
        push_short(out, header.suffix);
        out.push(' ');
        append::push(out, header.ty.as_str());
        out.push('\n');
        true
    }
}

/// What a family's header needs, copied out of it so the family can stay borrowed.
struct Header<'h> {
    name: &'h str,
    suffix: &'static str,
    ty: Type,
    path: &'h str,
    help_path: &'h str,
    kind: &'static str,
    help: &'static str,
}

fn family_header<'h>(family: &Family<'h>) -> Header<'h> {
    Header {
        name: family.name,
        suffix: family.suffix,
        ty: family.ty,
        path: family.path,
        help_path: family.help_path,
        kind: family.kind,
        help: family.help,
    }
}

/// A sample value: Python-style shortest float text, or `NaN`, `+Inf`, `-Inf`.
#[cfg(test)]
fn float(f: f64) -> String {
    let mut out = String::new();
    push_prometheus_float(&mut out, f);
    out
}

/// Appends a suffix or other short text that is often empty: `push_str` calls `memcpy`
/// even for nothing, which costs more than the test.
#[inline(always)]
fn push_short(out: &mut String, text: &str) {
    if !text.is_empty() {
        append::push(out, text);
    }
}

/// HELP text escaping: `\` and newline.
fn escape_help_into(out: &mut String, text: &str) {
    if !text.bytes().any(|b| matches!(b, b'\\' | b'\n')) {
        return append::push(out, text);
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Label value escaping: `\`, `"` and newline.
fn escape_label_into(out: &mut String, text: &str) {
    if !text.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        return append::push(out, text);
    }
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
    fn names_are_claimed_all_or_none() {
        let mut taken = Taken::default();
        assert_eq!(taken.claim([["x", "_sum", ""]]), None);
        let summary = [["x", "", ""], ["x", "", "_sum"], ["x", "", "_count"]];
        assert_eq!(taken.claim(summary), Some(["x", "", "_sum"]));
        // Nothing of the refused claim was kept, and what follows is found.
        assert_eq!(taken.claim([["x", "", ""]]), None);
        assert_eq!(taken.claim([["y", "", ""]]), None);
        for name in ["x_sum", "x", "y"] {
            assert!(taken.claim([[name, "", ""]]).is_some(), "{name}");
        }
        let names: Vec<String> = (0..10_000).map(|i| format!("n{i}")).collect();
        for name in &names {
            assert_eq!(taken.claim([[name, "", ""]]), None);
        }
        for name in &names {
            assert!(taken.claim([["", name, ""]]).is_some(), "{name}");
        }
    }

    #[test]
    fn escapes_labels_and_help() {
        let mut out = String::new();
        escape_label_into(&mut out, "a\\b\"c\nd");
        assert_eq!(out, r#"a\\b\"c\nd"#);
        let mut help = String::new();
        escape_help_into(&mut help, "a\\b\"c\nd");
        assert_eq!(help, r#"a\\b"c\nd"#);
    }

    #[test]
    fn quantile_labels_are_python_floats() {
        for ((_, q), label) in PERCENTILE_KEYS.iter().zip(QUANTILE_LABELS) {
            assert_eq!(python_float(*q), label);
        }
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
