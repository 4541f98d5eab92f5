//! The HTML page: the core's page (the original's layout, everything escaped) with a
//! document head, breadcrumbs, links to the other formats, and the inline stylesheet and
//! script that add live refresh, readable numbers and trend lines. Also the
//! Content-Security-Policy that allows exactly those inline blocks, by hash.
//!
//! Depends on no other module of the crate.

use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use scales::format::html::{self, escape_into};
use scales::{Entry, Group, Node, StatKind, StatPath, StatSnapshot, StatValue};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../assets/status.css");
const JS: &str = include_str!("../assets/status.js");

/// Path segments are encoded like the core's links: all but `A-Z a-z 0-9 - . _ ~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The Content-Security-Policy sent with every response.
pub(crate) static CSP: LazyLock<String> = LazyLock::new(content_security_policy);

/// What the page shows: a node found at `path`, maybe filtered by `query`.
pub(crate) struct PageRequest<'a> {
    /// A group, or a stat (for keys inside a stat, the stat holding only those keys).
    pub(crate) node: &'a Node,
    /// The path asked for, keys inside a stat included.
    pub(crate) path: &'a [String],
    pub(crate) server_name: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) link_prefix: &'a str,
    /// Where the stat is in `path` when the path names one (`path[stat_at]` is its name,
    /// any segments after it are keys inside it).
    pub(crate) stat_at: Option<usize>,
}

/// The request's segments as a tree path, for the core's markup. They come from a URL path
/// split at `/`, so only a control character (percent-encoded) can make one invalid: such a
/// page shows the root's path in its title and links, and the same tree.
fn tree_path(segments: &[String]) -> StatPath {
    StatPath::from_names(segments).unwrap_or_default()
}

/// Renders the whole page.
pub(crate) fn render(req: &PageRequest<'_>) -> String {
    let mut options = html::Options::for_server(req.server_name);
    options.query = req.query.map(str::to_owned);
    options.link_prefix = req.link_prefix.to_owned();
    options.extra_style = Some(CSS.to_owned());
    let mut out = String::with_capacity(CSS.len() + JS.len() + 4096);
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <link rel=\"icon\" href=\"data:,\">\n",
    );
    html::write_header(&tree_path(req.path), &options, &mut out);

    // The group shown (the one holding the stat, for a stat) and the node's own path (the
    // stat's, for keys inside it).
    // A filter that left nothing of a stat leaves an empty group, shown as one.
    let stat_at = req.stat_at.filter(|_| matches!(req.node, Node::Stat(_)));
    let (base, node_path): (&[String], &[String]) = match stat_at {
        Some(at) => (&req.path[..at], &req.path[..=at]),
        None => (req.path, req.path),
    };
    breadcrumbs(req, &mut out);
    out.push_str("<div id=\"scales-tree\" data-link-base=\"");
    escape_into(&mut out, &link(req.link_prefix, base, true));
    out.push('"');
    if let Some(at) = stat_at {
        out.push_str(" data-stat=\"");
        escape_into(&mut out, &req.path[at]);
        out.push('"');
        let keys = &req.path[at + 1..];
        if !keys.is_empty() {
            // The script wraps the JSON of the keys back into the stat's shape.
            out.push_str(" data-keys=\"");
            escape_into(
                &mut out,
                &serde_json::Value::from(keys.to_vec()).to_string(),
            );
            out.push('"');
        }
    }
    out.push('>');
    html::write_tree(req.node, &tree_path(node_path), &options, &mut out);
    out.push_str("</div>");
    formats(req, &mut out);
    out.push_str("<script>");
    out.push_str(JS);
    out.push_str("</script></body></html>\n");
    out
}

/// `prefix` + the URL-encoded segments (+ `/` when `trailing` and there are segments).
fn link(prefix: &str, segments: &[String], trailing: bool) -> String {
    let mut out = prefix.to_owned();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// `/ › web › latency`, each level a link but the last.
fn breadcrumbs(req: &PageRequest<'_>, out: &mut String) {
    out.push_str("<nav class=\"crumbs\" aria-label=\"path\">");
    if req.path.is_empty() {
        out.push_str("<strong>/</strong>");
    } else {
        out.push_str("<a href=\"");
        escape_into(out, req.link_prefix);
        out.push_str("\">/</a>");
    }
    for depth in 1..=req.path.len() {
        out.push_str(" › ");
        let name = &req.path[depth - 1];
        if depth == req.path.len() {
            out.push_str("<strong>");
            escape_into(out, name);
            out.push_str("</strong>");
        } else {
            out.push_str("<a href=\"");
            escape_into(out, &link(req.link_prefix, &req.path[..depth], true));
            out.push_str("\">");
            escape_into(out, name);
            out.push_str("</a>");
        }
    }
    out.push_str("</nav>");
}

/// Links to this node in the other formats.
fn formats(req: &PageRequest<'_>, out: &mut String) {
    let here = link(req.link_prefix, req.path, true);
    // Keys inside a stat have no Prometheus metric of their own.
    let keys = req.stat_at.is_some_and(|at| at + 1 < req.path.len());
    out.push_str("<p class=\"formats\">This node as ");
    for (i, (format, label)) in [
        ("json", "JSON"),
        ("prettyjson", "pretty JSON"),
        ("prometheus", "Prometheus text"),
        ("history", "recent history (JSON)"),
    ]
    .into_iter()
    .filter(|(format, _)| !(keys && *format == "prometheus"))
    .enumerate()
    {
        if i > 0 {
            out.push_str(" · ");
        }
        out.push_str("<a href=\"");
        let mut target = format!("{here}?format={format}");
        if let Some(query) = req.query.filter(|_| format != "history") {
            target.push_str("&query=");
            target.extend(utf8_percent_encode(query, SEGMENT));
        }
        escape_into(out, &target);
        out.push_str("\">");
        out.push_str(label);
        out.push_str("</a>");
    }
    out.push_str(". Values are read when the page is served; distributions are all-time.</p>");
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Allows the page's own inline style and script blocks and the core's inline `style`
/// attributes, each by hash, requests to the same origin, and nothing else.
fn content_security_policy() -> String {
    // Render a sample page with the core (an error stat included) to find the exact inline
    // styles it writes, so the policy follows the core if its markup changes.
    let error = Node::Group(Group {
        entries: vec![Entry::new(
            "e",
            Node::Stat(StatSnapshot {
                kind: StatKind::Stat,
                value: StatValue::Error("x".to_owned()),
            }),
        )],
        collapsed: false,
    });
    let mut sample = String::new();
    let sample_options = html::Options::for_server("x");
    sample.push_str(&html::to_string(
        &scales::Snapshot::new(StatPath::root(), error, std::time::SystemTime::UNIX_EPOCH),
        &sample_options,
    ));
    let mut styles = vec![hash(CSS)];
    let mut rest = sample.as_str();
    while let Some(start) = rest.find("<style>") {
        let body = &rest[start + "<style>".len()..];
        let Some(end) = body.find("</style>") else {
            break;
        };
        styles.push(hash(&body[..end]));
        rest = &body[end..];
    }
    let mut attributes = Vec::new();
    let mut rest = sample.as_str();
    while let Some(start) = rest.find(" style=\"") {
        let body = &rest[start + " style=\"".len()..];
        let Some(end) = body.find('"') else {
            break;
        };
        let value = hash(&body[..end]);
        if !attributes.contains(&value) {
            attributes.push(value);
        }
        rest = &body[end..];
    }
    let mut csp = format!(
        "default-src 'none'; script-src {}; connect-src 'self'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'; style-src {}",
        hash(JS),
        styles.join(" ")
    );
    if !attributes.is_empty() {
        let _ = write!(csp, " 'unsafe-hashes' {}", attributes.join(" "));
    }
    csp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hashes_the_inline_blocks() {
        let csp = &*CSP;
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains(&hash(JS)));
        assert!(csp.contains(&hash(CSS)));
        assert!(csp.contains("'unsafe-hashes'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn links_encode_segments() {
        let segments = vec!["a b".to_owned(), "<x>".to_owned()];
        assert_eq!(link("/status/", &segments, true), "/status/a%20b/%3Cx%3E/");
        assert_eq!(link("/status/", &[], true), "/status/");
    }

    #[test]
    fn breadcrumbs_escape_names() {
        let node = Node::Group(Group::default());
        let path = vec!["<b>".to_owned()];
        let page = render(&PageRequest {
            node: &node,
            path: &path,
            server_name: "<i>",
            query: Some("\"><script>"),
            link_prefix: "/status/",
            stat_at: None,
        });
        assert!(!page.contains("<b>"));
        assert!(!page.contains("<i>"));
        assert!(page.contains("<strong>&lt;b&gt;</strong>"));
        assert_eq!(page.matches("<script>").count(), 1, "only our own script");
    }
}
