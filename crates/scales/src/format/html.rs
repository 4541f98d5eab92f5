//! The original's HTML status page: a header (title, style, filter form) and a tree of nested
//! `<div class="level">` blocks, one line, no whitespace between tags.
//!
//! The layout is byte-compatible with greplin.scales 1.0.9's `htmlHeader` + `htmlFormat` where
//! the data agrees: keys sorted as strings, groups nested, collapsed groups deferred to the end
//! of their level as links, leaves as
//! `<div><span class="key">K</span> <span class="TYPE">V</span></div>` with the Python type
//! name as class (`int`, `float`, `str`, `NoneType`, `bool`, `list`), floats as Python's
//! `str(float)`, and newlines in strings as `<br/>`. Stats that are objects in JSON
//! (distributions, meters, dicts, state times) render as nested levels with their keys sorted,
//! as the original renders dict values.
//!
//! Differences from the original, on purpose:
//!
//! * Everything that comes from the server, the URL or the stats (server name, path, query,
//!   keys, values) is escaped, quotes included (`"` → `&quot;`, `'` → `&#x27;`); the original
//!   escaped only values, and only `&`, `<`, `>`, which allowed reflected XSS through
//!   `?query=`.
//! * Links to collapsed groups URL-encode each path segment and take their prefix as a
//!   parameter ([`DEFAULT_LINK_PREFIX`] is the original's hard-coded `/status/`).
//! * A stat that could not be read ([`StatValue::Error`]) shows as
//!   `<span class="error" ...>error: message</span>` instead of failing the page.
//! * A single stat renders as a one-entry level instead of an HTTP 500.
//!
//! Values differ from the original's where our stats compute them differently (not a
//! rendering choice): distributions show the exact mean and sample standard deviation and
//! NumPy-style percentile estimates (the original's median is off by one and its summaries
//! can be up to 20 s stale); meters always show `m1`, `m5`, `m15` (the original leaves them
//! out until the first tick) plus a `mean` rate; a distribution with one value shows its whole
//! summary (the original showed only `count` until its refresh throttle let it compute one).
//! The key layout, sorting, classes and number formatting are the same.
//!
//! ```
//! let reg = scales::Registry::new();
//! let web = reg.scope("/web")?;
//! web.int_stat("hits")?.add(2);
//! # let _keep = &web;
//! let mut out = String::new();
//! let options = scales::format::html::Options::default();
//! let snapshot = reg.snapshot();
//! scales::format::html::write_tree(snapshot.root(), snapshot.path(), &options, &mut out);
//! assert_eq!(
//!     out,
//!     r#"<div class="level"><div class="key">web</div><div class="level"><div><span class="key">hits</span> <span class="int">2</span></div></div></div>"#
//! );
//! # Ok::<(), scales::Error>(())
//! ```

use std::io;

use crate::format::chunked::{Chunked, InMemory, TextOut};
use crate::number::python_float;
use crate::path::StatPath;
use crate::snapshot::{Entry, Group, Node, Snapshot, StatSnapshot, StatValue};
use crate::value::Value;

/// The original's link prefix for collapsed groups.
pub const DEFAULT_LINK_PREFIX: &str = "/status/";

const STYLE: &str = "<style>\n\
body,td { font-family: monospace }\n\
.level div {\n  padding-bottom: 4px;\n}\n\
.level .level {\n  margin-left: 2em;\n  padding: 1px 0;\n}\n\
span { color: #090; vertical-align: top }\n\
.key { color: black; font-weight: bold }\n\
.int, .float { color: #00c }\n\
</style>\n";

/// What a page shows besides the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// In the title and heading.
    pub server_name: String,
    /// The filter's text, shown in the form.
    pub query: Option<String>,
    /// Where links to collapsed groups point: the status handler's mount point
    /// ([`DEFAULT_LINK_PREFIX`] by default; a `/` is added if it does not end in one).
    pub link_prefix: String,
    /// A stylesheet written right after the page's own, so that it wins where both set
    /// something (how the status server adds its look without editing this markup).
    pub extra_style: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            server_name: String::new(),
            query: None,
            link_prefix: DEFAULT_LINK_PREFIX.to_owned(),
            extra_style: None,
        }
    }
}

impl Options {
    /// Options for a server of this name, everything else by default.
    pub fn for_server(server_name: impl Into<String>) -> Self {
        Self {
            server_name: server_name.into(),
            ..Self::default()
        }
    }
}

/// Writes the whole page for a snapshot — [`write_header`] then [`write_tree`] — into `out`,
/// in pieces of about 64 KiB: the text in memory stays small whatever the tree's size.
///
/// # Errors
/// The first error of `out`; nothing more is written after it.
pub fn write<W: io::Write>(snapshot: &Snapshot, options: &Options, out: &mut W) -> io::Result<()> {
    let mut text = Chunked::new(out);
    header(snapshot.path(), options, &mut text);
    tree(snapshot.root(), snapshot.path(), options, &mut text);
    text.finish()
}

/// The whole page for a snapshot as a string (see [`write()`]).
pub fn to_string(snapshot: &Snapshot, options: &Options) -> String {
    let mut out = String::new();
    write_header(snapshot.path(), options, &mut out);
    write_tree(snapshot.root(), snapshot.path(), options, &mut out);
    out
}

/// Writes the page header for the node at `path`: title, style, heading and the filter form.
///
/// The title is `{server} - Status` at the root and `{server} - Status: /a/b` below it.
pub fn write_header(path: &StatPath, options: &Options, out: &mut String) {
    header(path, options, &mut InMemory(out));
}

fn header(path: &StatPath, options: &Options, out: &mut impl TextOut) {
    out.push_str("<title>");
    escape_into(out, &options.server_name);
    out.push_str(" - Status");
    if !path.is_empty() {
        out.push_str(": ");
        for name in path.iter() {
            out.push('/');
            escape_into(out, name);
        }
    }
    out.push_str("</title>\n");
    out.push_str(STYLE);
    if let Some(style) = &options.extra_style {
        out.push_str("<style>");
        out.push_str(style);
        out.push_str("</style>");
    }
    out.push_str("  <h1 style=\"margin: 0\">Stats</h1><h3 style=\"margin: 3px 0 18px\">");
    escape_into(out, &options.server_name);
    out.push_str(
        "</h3><p><form action=\"#\" method=\"GET\">Filter: \
         <input type=\"text\" name=\"query\" size=\"20\" value=\"",
    );
    escape_into(out, options.query.as_deref().unwrap_or(""));
    out.push_str("\"></form></p>");
}

/// Writes the nested `<div class="level">` tree of `node`, which sits at `path` (for the
/// links to collapsed groups, under [`Options::link_prefix`]).
///
/// `node` itself is rendered even if it is collapsed; collapsed groups below it become links.
pub fn write_tree(node: &Node, path: &StatPath, options: &Options, out: &mut String) {
    tree(node, path, options, &mut InMemory(out));
}

fn tree(node: &Node, path: &StatPath, options: &Options, out: &mut impl TextOut) {
    let mut prefix = options.link_prefix.clone();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    let mut path: Vec<&str> = path.iter().map(|name| name.as_str()).collect();
    match node {
        Node::Group(group) => render_group(group, &mut path, &prefix, out),
        Node::Stat(stat) => {
            out.push_str("<div class=\"level\">");
            render_stat(path.last().copied().unwrap_or(""), stat, out);
            out.push_str("</div>");
        }
    }
}

fn render_group<'a>(
    group: &'a Group,
    path: &mut Vec<&'a str>,
    prefix: &str,
    out: &mut impl TextOut,
) {
    out.push_str("<div class=\"level\">");
    let mut entries: Vec<&Entry> = group.entries.iter().collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut collapsed = Vec::new();
    for Entry { name, node } in entries {
        match node {
            Node::Group(g) if g.collapsed => collapsed.push(&**name),
            Node::Group(g) => {
                key_div(name, out);
                path.push(name);
                render_group(g, path, prefix, out);
                path.pop();
            }
            Node::Stat(stat) => render_stat(name, stat, out),
        }
        out.item_done();
        if out.failed() {
            return;
        }
    }
    for name in collapsed {
        out.push_str("<div class=\"key\"><a href=\"");
        escape_into(out, prefix);
        for (i, segment) in path.iter().chain(std::iter::once(&name)).enumerate() {
            if i > 0 {
                out.push('/');
            }
            // Percent-encoded text needs no HTML escaping: it is all ASCII alphanumerics,
            // `-._~` and `%XX`.
            percent_encode_into(out, segment);
        }
        out.push_str("\">");
        escape_into(out, name);
        out.push_str("</a></div>");
    }
    out.push_str("</div>");
}

fn key_div(key: &str, out: &mut String) {
    out.push_str("<div class=\"key\">");
    escape_into(out, key);
    out.push_str("</div>");
}

fn render_stat(key: &str, stat: &StatSnapshot, out: &mut String) {
    match &stat.value {
        StatValue::Int(i) => render_entry(key, &Value::Int(*i), out),
        StatValue::Float(f) => render_entry(key, &Value::Float(*f), out),
        StatValue::Value(v) => render_entry(key, v, out),
        StatValue::Error(message) => {
            out.push_str("<div><span class=\"key\">");
            escape_into(out, key);
            out.push_str("</span> <span class=\"error\" style=\"color: #c00\">error: ");
            text_into(out, message);
            out.push_str("</span></div>");
        }
        _ => render_entry(key, &stat.to_value(), out),
    }
}

/// One key and its value: a nested level for maps, a typed span otherwise.
fn render_entry(key: &str, value: &Value, out: &mut String) {
    if let Value::Map(entries) = value {
        key_div(key, out);
        out.push_str("<div class=\"level\">");
        let mut entries: Vec<&(String, Value)> = entries.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in entries {
            render_entry(k, v, out);
        }
        out.push_str("</div>");
        return;
    }
    out.push_str("<div><span class=\"key\">");
    escape_into(out, key);
    out.push_str("</span> <span class=\"");
    out.push_str(type_name(value));
    out.push_str("\">");
    match value {
        Value::Str(s) => text_into(out, s),
        other => text_into(out, &python_str(other)),
    }
    out.push_str("</span></div>");
}

/// The Python type name the original used as the span class.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::List(_) => "list",
        Value::Map(_) => "dict",
    }
}

/// Python's `str(value)`.
fn python_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr(value)`, near enough for display (strings in single quotes).
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => python_float(*f),
        Value::Str(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('\'');
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let items: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        python_repr(&Value::Str(k.clone())),
                        python_repr(v)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Appends `text` escaped for HTML text and attribute values: `&`, `<`, `>`, `"`, `'`.
///
/// ```
/// let mut out = String::new();
/// scales::format::html::escape_into(&mut out, "<a href=\"x\">'&'</a>");
/// assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
/// ```
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// Escaped like [`escape_into`], with each newline shown as `<br/>` (the original's values).
fn text_into(out: &mut String, text: &str) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br/>");
        }
        escape_into(out, line);
    }
}

/// Appends one URL path segment, percent-encoding every byte but `A-Z a-z 0-9 - . _ ~`.
fn percent_encode_into(out: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_and_tags() {
        let mut out = String::new();
        escape_into(&mut out, r#"<a href="x" title='y'>&</a>"#);
        assert_eq!(
            out,
            "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn percent_encodes_segments() {
        let mut out = String::new();
        percent_encode_into(&mut out, "a b/c?d#é\"<");
        assert_eq!(out, "a%20b%2Fc%3Fd%23%C3%A9%22%3C");
    }

    #[test]
    fn python_repr_of_lists() {
        let v = Value::List(vec![
            Value::Int(1),
            Value::from("it's"),
            Value::Null,
            Value::Bool(true),
            Value::Float(2.0),
            Value::Map(vec![("a".into(), Value::Int(1))]),
        ]);
        assert_eq!(python_str(&v), r"[1, 'it\'s', None, True, 2.0, {'a': 1}]");
    }
}
