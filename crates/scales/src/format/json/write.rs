//! The JSON writer: streams a snapshot as text, no intermediate value.

use std::io::{self, Write};
use std::time::UNIX_EPOCH;

use crate::sketch::{SketchSnapshot, PERCENTILE_KEYS};
use crate::snapshot::{Entry, Keyed, MeterSnapshot, Node, Snapshot, StatSnapshot, StatValue};
use crate::value::Value;

use super::{Options, Style};

use serde_json::ser::{CompactFormatter, Formatter as _};

use crate::number::{write_int, write_json_float};

/// Writes a snapshot as JSON text ending in a newline. Collapsed groups are left out.
///
/// # Errors
/// Only those of `out`.
pub fn write<W: Write + ?Sized>(
    snapshot: &Snapshot,
    options: impl Into<Options>,
    out: &mut W,
) -> io::Result<()> {
    let options = options.into();
    let mut json = Writer::new(out, options);
    let last_updated = options.last_updated.then(|| {
        snapshot
            .taken_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    });
    match (snapshot.root(), last_updated) {
        (Node::Group(group), Some(seconds)) => {
            json.begin(b'{')?;
            let mut first = true;
            for entry in &group.entries {
                if &*entry.name != "last-updated" && !is_collapsed(&entry.node) {
                    json.key(&entry.name, first)?;
                    json.node(&entry.node)?;
                    first = false;
                }
            }
            json.key("last-updated", first)?;
            write_json_float(json.out, seconds)?;
            json.end(b'}', true)?;
        }
        (node, _) => json.node(node)?,
    }
    json.out.write_all(b"\n")
}

/// Writes one node of a snapshot (a sub-tree, or what a query kept) as JSON text ending in
/// a newline.
///
/// # Errors
/// Only those of `out`.
pub fn write_node<W: Write + ?Sized>(
    node: &Node,
    options: impl Into<Options>,
    out: &mut W,
) -> io::Result<()> {
    let mut json = Writer::new(out, options.into());
    json.node(node)?;
    json.out.write_all(b"\n")
}

/// Writes one stat's JSON value, without the trailing newline (for embedding).
///
/// # Errors
/// Only those of `out`.
pub fn write_stat<W: Write + ?Sized>(
    stat: &StatSnapshot,
    options: impl Into<Options>,
    out: &mut W,
) -> io::Result<()> {
    Writer::new(out, options.into()).stat(stat)
}

/// Writes one [`Value`] as JSON, without the trailing newline.
///
/// # Errors
/// Only those of `out`.
pub fn write_value<W: Write + ?Sized>(
    value: &Value,
    options: impl Into<Options>,
    out: &mut W,
) -> io::Result<()> {
    Writer::new(out, options.into()).value(value)
}

/// Renders a snapshot as JSON text ending in a newline (see [`write()`]).
pub fn to_string(snapshot: &Snapshot, options: impl Into<Options>) -> String {
    into_string(|out| write(snapshot, options, out))
}

/// Renders one node as JSON text ending in a newline (see [`write_node`]).
pub fn node_to_string(node: &Node, options: impl Into<Options>) -> String {
    into_string(|out| write_node(node, options, out))
}

fn into_string(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::with_capacity(4096);
    write(&mut out).expect("writing into memory cannot fail");
    String::from_utf8(out).expect("the JSON writer writes ASCII only")
}

fn is_collapsed(node: &Node) -> bool {
    matches!(node, Node::Group(group) if group.collapsed)
}

/// A JSON text being written: separators and indentation by style.
struct Writer<'w, W: ?Sized> {
    out: &'w mut W,
    pretty: bool,
    sketches: bool,
    depth: usize,
}

impl<'w, W: Write + ?Sized> Writer<'w, W> {
    fn new(out: &'w mut W, options: Options) -> Self {
        Self {
            out,
            pretty: options.style == Style::Pretty,
            sketches: options.sketches,
            depth: 0,
        }
    }

    fn begin(&mut self, bracket: u8) -> io::Result<()> {
        self.depth += 1;
        self.out.write_all(&[bracket])
    }

    /// Closes an object or array; `any` says whether it had members.
    fn end(&mut self, bracket: u8, any: bool) -> io::Result<()> {
        self.depth -= 1;
        if self.pretty && any {
            self.newline()?;
        }
        self.out.write_all(&[bracket])
    }

    fn newline(&mut self) -> io::Result<()> {
        const SPACES: &[u8; 64] = &[b' '; 64];
        self.out.write_all(b"\n")?;
        let mut indent = 2 * self.depth;
        while indent > 0 {
            let n = indent.min(SPACES.len());
            self.out.write_all(&SPACES[..n])?;
            indent -= n;
        }
        Ok(())
    }

    /// Starts a member of an array.
    fn item(&mut self, first: bool) -> io::Result<()> {
        if self.pretty {
            if !first {
                self.out.write_all(b",")?;
            }
            self.newline()
        } else if first {
            Ok(())
        } else {
            self.out.write_all(b", ")
        }
    }

    /// Starts a member of an object: separator, key and colon.
    fn key(&mut self, key: &str, first: bool) -> io::Result<()> {
        self.item(first)?;
        write_string(self.out, key)?;
        self.out.write_all(b": ")
    }

    /// [`key`](Self::key) for the formats' own keys (`count`, `median`, ...), which need no
    /// escaping.
    fn known_key(&mut self, key: &'static str, first: bool) -> io::Result<()> {
        debug_assert!(!key.bytes().any(|b| ESCAPED[usize::from(b)]));
        self.item(first)?;
        self.out.write_all(b"\"")?;
        self.out.write_all(key.as_bytes())?;
        self.out.write_all(b"\": ")
    }

    fn node(&mut self, node: &Node) -> io::Result<()> {
        match node {
            Node::Stat(stat) => self.stat(stat),
            Node::Group(group) => {
                self.begin(b'{')?;
                let mut first = true;
                for Entry { name, node } in &group.entries {
                    if !is_collapsed(node) {
                        self.key(name, first)?;
                        self.node(node)?;
                        first = false;
                    }
                }
                self.end(b'}', !first)
            }
        }
    }

    fn stat(&mut self, stat: &StatSnapshot) -> io::Result<()> {
        match &stat.value {
            StatValue::Int(i) => write_int(self.out, *i),
            StatValue::Float(f) => write_json_float(self.out, *f),
            StatValue::Value(v) => self.value(v),
            StatValue::Counts(counts) => self.map(counts, |w, &i| write_int(w.out, i)),
            StatValue::Strings(strings) => self.map(strings, |w, s| write_string(w.out, s)),
            StatValue::Distribution(d) => self.distribution(d),
            StatValue::Distributions(ds) => self.map(ds, Self::distribution),
            StatValue::Meter(m) => self.meter(m),
            StatValue::Meters(ms) => self.map(ms, Self::meter),
            StatValue::Durations(ds) => self.map(ds, |w, &f| write_json_float(w.out, f)),
            StatValue::Error(message) => {
                self.begin(b'{')?;
                self.known_key("error", true)?;
                write_string(self.out, message)?;
                self.end(b'}', true)
            }
        }
    }

    fn map<T>(
        &mut self,
        entries: &[Keyed<T>],
        write: impl FnMut(&mut Self, &T) -> io::Result<()>,
    ) -> io::Result<()> {
        self.object(entries.iter().map(|e| (&*e.key, &e.value)), write)
    }

    fn object<'a, T: 'a + ?Sized>(
        &mut self,
        entries: impl Iterator<Item = (&'a str, &'a T)>,
        mut write: impl FnMut(&mut Self, &T) -> io::Result<()>,
    ) -> io::Result<()> {
        self.begin(b'{')?;
        let mut first = true;
        for (key, value) in entries {
            self.key(key, first)?;
            write(self, value)?;
            first = false;
        }
        self.end(b'}', !first)
    }

    fn float_field(&mut self, key: &'static str, value: Option<f64>) -> io::Result<()> {
        self.known_key(key, false)?;
        match value {
            Some(f) => write_json_float(self.out, f),
            None => self.out.write_all(b"null"),
        }
    }

    /// `{"count": n}` when empty, else count, min, max, mean, stddev and the percentiles.
    fn distribution(&mut self, d: &SketchSnapshot) -> io::Result<()> {
        self.begin(b'{')?;
        self.known_key("count", true)?;
        write_int(self.out, i64::try_from(d.count()).unwrap_or(i64::MAX))?;
        if let Some(percentiles) = d.percentile_values() {
            self.float_field("min", d.min())?;
            self.float_field("max", d.max())?;
            self.float_field("mean", d.mean())?;
            self.float_field("stddev", d.stddev())?;
            for ((key, _), value) in PERCENTILE_KEYS.iter().zip(percentiles) {
                self.float_field(key, Some(value))?;
            }
        }
        if self.sketches && d.has_buckets() {
            self.known_key("sketch", false)?;
            write_sketch(self.out, d)?;
        }
        self.end(b'}', true)
    }

    fn meter(&mut self, m: &MeterSnapshot) -> io::Result<()> {
        self.begin(b'{')?;
        self.known_key("unit", true)?;
        self.out.write_all(b"\"per second\"")?;
        self.known_key("count", false)?;
        write_int(self.out, i64::try_from(m.count).unwrap_or(i64::MAX))?;
        self.float_field("m1", Some(m.m1))?;
        self.float_field("m5", Some(m.m5))?;
        self.float_field("m15", Some(m.m15))?;
        self.float_field("mean", Some(m.mean))?;
        self.end(b'}', true)
    }

    fn value(&mut self, value: &Value) -> io::Result<()> {
        match value {
            Value::Null => self.out.write_all(b"null"),
            Value::Bool(b) => self.out.write_all(if *b { b"true" } else { b"false" }),
            Value::Int(i) => write_int(self.out, *i),
            Value::Float(f) => write_json_float(self.out, *f),
            Value::Str(s) => write_string(self.out, s),
            Value::List(items) => {
                self.begin(b'[')?;
                for (index, item) in items.iter().enumerate() {
                    self.item(index == 0)?;
                    self.value(item)?;
                }
                self.end(b']', !items.is_empty())
            }
            Value::Map(entries) => {
                self.object(entries.iter().map(|(k, v)| (k.as_str(), v)), Self::value)
            }
        }
    }
}

/// Empty buckets a run bridges with zeros rather than starting a new run (`0,` is 2 bytes, a
/// new run's `],[69568,` about 10).
const BRIDGED_GAP: u32 = 4;

/// Writes a distribution's sketch in the form of version [`SKETCH_VERSION`] (see the module
/// docs), on one line without spaces.
///
/// [`SKETCH_VERSION`]: super::SKETCH_VERSION
fn write_sketch<W: Write + ?Sized>(out: &mut W, d: &SketchSnapshot) -> io::Result<()> {
    let u64_field = |out: &mut W, key: &str, n: u64| -> io::Result<()> {
        write!(out, ",\"{key}\":")?;
        CompactFormatter.write_u64(out, n)
    };
    write!(
        out,
        "{{\"v\":{},\"sub_bits\":{}",
        super::SKETCH_VERSION,
        crate::sketch::SUB_BITS
    )?;
    u64_field(out, "count", d.count())?;
    if d.count() > 0 {
        for (key, value) in [("sum", d.sum()), ("sum_squares", d.sum_squares())] {
            write!(out, ",\"{key}\":")?;
            write_json_float(out, value)?;
        }
        for (key, value) in [("min", d.min()), ("max", d.max())] {
            if let Some(value) = value {
                write!(out, ",\"{key}\":")?;
                write_json_float(out, value)?;
            }
        }
    }
    for (key, n) in [("zeros", d.zeros()), ("dropped", d.dropped())] {
        if n > 0 {
            u64_field(out, key, n)?;
        }
    }
    for (key, buckets) in [
        ("positive", d.positive_buckets()),
        ("negative", d.negative_buckets()),
    ] {
        if !buckets.is_empty() {
            write!(out, ",\"{key}\":")?;
            write_runs(out, buckets)?;
        }
    }
    out.write_all(b"}")
}

/// Writes sparse `(index, count)` buckets as runs `[[start, c0, c1, ...], ...]`.
fn write_runs<W: Write + ?Sized>(out: &mut W, buckets: &[(u32, u64)]) -> io::Result<()> {
    out.write_all(b"[")?;
    let mut previous: Option<u32> = None;
    for &(index, count) in buckets {
        match previous {
            Some(p) if index > p && index - p <= BRIDGED_GAP + 1 => {
                for _ in p + 1..index {
                    out.write_all(b",0")?;
                }
                out.write_all(b",")?;
            }
            Some(_) => {
                out.write_all(b"],[")?;
                CompactFormatter.write_u32(out, index)?;
                out.write_all(b",")?;
            }
            None => {
                out.write_all(b"[")?;
                CompactFormatter.write_u32(out, index)?;
                out.write_all(b",")?;
            }
        }
        CompactFormatter.write_u64(out, count)?;
        previous = Some(index);
    }
    if previous.is_some() {
        out.write_all(b"]")?;
    }
    out.write_all(b"]")
}

/// Which bytes a JSON string cannot hold as they are: control characters, `"`, `\`, and
/// (for Python's `ensure_ascii`) every byte of a non-ASCII character.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] =
            byte < 0x20 || byte == b'"' as usize || byte == b'\\' as usize || byte >= 0x80;
        byte += 1;
    }
    table
};

/// Writes `text` as a JSON string, escaping every non-ASCII character as `\uXXXX` (Python's
/// `ensure_ascii`), and `"`, `\` and control characters as JSON requires.
fn write_string<W: Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut rest = text;
    loop {
        // Runs of plain bytes go out whole; the common string is one run.
        let plain = rest
            .bytes()
            .position(|b| ESCAPED[usize::from(b)])
            .unwrap_or(rest.len());
        out.write_all(&rest.as_bytes()[..plain])?;
        rest = &rest[plain..];
        let Some(ch) = rest.chars().next() else {
            return out.write_all(b"\"");
        };
        match ch {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            '\n' => out.write_all(b"\\n")?,
            '\r' => out.write_all(b"\\r")?,
            '\t' => out.write_all(b"\\t")?,
            '\u{8}' => out.write_all(b"\\b")?,
            '\u{c}' => out.write_all(b"\\f")?,
            ch => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}")?;
                }
            }
        }
        rest = &rest[ch.len_utf8()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, text).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn value(v: &Value, style: Style) -> String {
        let mut out = Vec::new();
        write_value(v, style, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_non_ascii_like_python() {
        let text = string("萬知堂 😀");
        assert_eq!(text, "\"\\u842c\\u77e5\\u5802 \\ud83d\\ude00\"");
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, "萬知堂 😀");
    }

    #[test]
    fn strings_escape_as_serde_json_then_ascii() {
        let cases = [
            "",
            "plain",
            "q\"uote",
            "back\\slash",
            "\n\r\t\u{8}\u{c}",
            "\0\u{1}\u{1f}\u{7f}",
            "é",
            "a\u{80}b",
            "\u{ffff}",
            "\u{10ffff}",
            "mixed é \"😀\" \\ end",
        ];
        for case in cases {
            let ours = string(case);
            assert!(ours.is_ascii(), "{ours}");
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), case);
            // Where serde_json needs no \u escape, the text is byte for byte serde_json's.
            if case.is_ascii() {
                assert_eq!(ours, serde_json::to_string(case).unwrap());
            }
        }
    }

    #[test]
    fn binary_garbage_round_trips() {
        let garbage = "\u{c2}\u{c2} ROAR!! \0\0";
        assert_eq!(
            serde_json::from_str::<String>(&string(garbage)).unwrap(),
            garbage
        );
    }

    #[test]
    fn non_finite_floats_become_null() {
        let list = Value::List(vec![Value::Float(f64::NAN), Value::Float(f64::INFINITY)]);
        assert_eq!(value(&list, Style::Compact), "[null, null]");
    }

    #[test]
    fn pretty_matches_python_layout() {
        let v = Value::Map(vec![
            (
                "a".into(),
                Value::Map(vec![
                    ("b".into(), Value::Int(1)),
                    ("c".into(), Value::List(vec![Value::Int(1), Value::Int(2)])),
                ]),
            ),
            ("d".into(), Value::Map(vec![])),
            ("e".into(), Value::List(vec![])),
        ]);
        assert_eq!(
            value(&v, Style::Pretty),
            "{\n  \"a\": {\n    \"b\": 1,\n    \"c\": [\n      1,\n      2\n    ]\n  },\n  \"d\": {},\n  \"e\": []\n}"
        );
        assert_eq!(
            value(&v, Style::Compact),
            "{\"a\": {\"b\": 1, \"c\": [1, 2]}, \"d\": {}, \"e\": []}"
        );
    }

    #[test]
    fn deep_values_indent_past_the_spaces_table() {
        let mut v = Value::Int(7);
        for _ in 0..40 {
            v = Value::List(vec![v]);
        }
        let text = value(&v, Style::Pretty);
        assert!(text.contains(&format!("\n{}7\n", " ".repeat(80))));
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }
}
