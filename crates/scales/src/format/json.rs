//! JSON in the original's shapes: nested objects by path, stats as numbers, strings or
//! objects (`{"count": .., "min": .., "median": ..}` for a distribution).
//!
//! Byte-compatible with the original's output where the data agrees: compact JSON uses
//! Python's `", "` and `": "` separators, pretty JSON indents by two spaces, non-ASCII is
//! escaped as `\uXXXX`, and a newline ends the document. Unlike the original, the output is
//! always valid JSON: NaN and infinities become `null`.
//!
//! ```
//! let reg = scales::Registry::new();
//! let here = reg.scope("/here")?;
//! here.int_stat("count")?.inc();
//! # let _keep = &here;
//! let text = scales::format::json::to_string(&reg.snapshot(), scales::format::json::Style::Compact);
//! assert_eq!(text, "{\"here\": {\"count\": 1}}\n");
//! # Ok::<(), scales::Error>(())
//! ```

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::Value as Json;

use crate::snapshot::{Node, Snapshot, StatSnapshot};
use crate::value::Value;

/// Layout of the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// One line, Python's separators (`?format=json`).
    #[default]
    Compact,
    /// Indented by two spaces (`?format=prettyjson`).
    Pretty,
}

/// Renders a snapshot as JSON text ending in a newline.
pub fn to_string(snapshot: &Snapshot, style: Style) -> String {
    render(&to_value(snapshot.root()), style)
}

/// Renders any JSON value in the given style (with the trailing newline).
pub fn render(value: &Json, style: Style) -> String {
    let mut out = Vec::with_capacity(4096);
    let result = match style {
        Style::Compact => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            AsciiFormatter(PythonCompact),
        )),
        Style::Pretty => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            AsciiFormatter(PrettyFormatter::with_indent(b"  ")),
        )),
    };
    // Writing to a Vec cannot fail, and every value serialises.
    result.expect("serialising a JSON value into memory");
    out.push(b'\n');
    String::from_utf8(out).expect("the formatter writes ASCII only")
}

/// The JSON value of a snapshot node. Collapsed groups below `node` are left out.
pub fn to_value(node: &Node) -> Json {
    match node {
        Node::Stat(stat) => stat_value(stat),
        Node::Group(group) => Json::Object(
            group
                .entries
                .iter()
                .filter(|(_, child)| !matches!(child, Node::Group(g) if g.collapsed))
                .map(|(name, child)| (name.clone(), to_value(child)))
                .collect(),
        ),
    }
}

/// The JSON value of one stat (see [`StatSnapshot::to_value`] for the shapes).
pub fn stat_value(stat: &StatSnapshot) -> Json {
    value(&stat.to_value())
}

/// A float as JSON; NaN and infinities become `null`.
fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
}

/// A [`Value`] as JSON.
pub fn value(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => float(*f),
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(value).collect()),
        Value::Map(entries) => {
            Json::Object(entries.iter().map(|(k, v)| (k.clone(), value(v))).collect())
        }
    }
}

/// Python's compact separators: `", "` between items and `": "` after keys.
struct PythonCompact;

impl Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Wraps a formatter to escape every non-ASCII character as `\uXXXX` (Python's `ensure_ascii`).
struct AsciiFormatter<F>(F);

impl<F: Formatter> Formatter for AsciiFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..index])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = index + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_non_ascii_like_python() {
        let text = render(&Json::String("萬知堂 😀".into()), Style::Compact);
        assert_eq!(text, "\"\\u842c\\u77e5\\u5802 \\ud83d\\ude00\"\n");
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, "萬知堂 😀");
    }

    #[test]
    fn binary_garbage_round_trips() {
        let garbage = "\u{c2}\u{c2} ROAR!! \0\0";
        let text = render(&Json::String(garbage.into()), Style::Compact);
        assert_eq!(serde_json::from_str::<String>(&text).unwrap(), garbage);
    }

    #[test]
    fn non_finite_floats_become_null() {
        assert_eq!(float(f64::NAN), Json::Null);
        assert_eq!(float(f64::INFINITY), Json::Null);
    }

    #[test]
    fn pretty_matches_python_layout() {
        let value: Json = serde_json::from_str(r#"{"a": {"b": 1, "c": [1, 2]}, "d": {}}"#).unwrap();
        assert_eq!(
            render(&value, Style::Pretty),
            "{\n  \"a\": {\n    \"b\": 1,\n    \"c\": [\n      1,\n      2\n    ]\n  },\n  \"d\": {}\n}\n"
        );
        assert_eq!(
            render(&value, Style::Compact),
            "{\"a\": {\"b\": 1, \"c\": [1, 2]}, \"d\": {}}\n"
        );
    }
}
