//! The status page, drawn by the server from the snapshot so that it is complete without
//! JavaScript: an overview of the process, the filter, and the tree as dense rows (a
//! distribution is one row of count, rate, mean, p50, p99, p99.9 and max that opens to its
//! histogram; counters show their rate; every number with its unit), groups as
//! `<details>` that open and close without script, trend lines as inline SVG. The inline
//! script adds live refresh, remembered groups, filtering as you type and sorting by what
//! moved. Also the original's page (`?format=html`, the core's markup) and the
//! Content-Security-Policy that allows exactly the inline blocks of both, by hash.
//!
//! Groups the script reported closed (`closed=`, see `routes::parse_closed`) are left unread
//! by the snapshot and drawn as their closed line with their count of stats, marked
//! `data-pruned` and, like groups past the row budget, `data-lazy` with the page the script
//! fills them from when they are opened.
//!
//! Depends on: `history` (rates, trend lines, what moved), `overview`, `units` and
//! `histogram`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use scales::format::html::{self, escape_into};
use scales::{
    Entry, Group, Node, SketchSnapshot, StatKind, StatPath, StatSnapshot, StatValue, Value,
};
use sha2::{Digest, Sha256};

use crate::history::{History, Recent, SEP};
use crate::overview::Overview;
use crate::units::Unit;

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
    /// The recent samples, for rates, trend lines and "what moved".
    pub(crate) history: &'a History,
    pub(crate) overview: &'a Overview,
    /// Groups the snapshot left unread (`closed=`), by their segments from the tree's root,
    /// with the stats they hold at every depth: each is drawn as a closed group whose
    /// content is fetched when it is opened.
    pub(crate) pruned: &'a HashMap<Vec<String>, usize>,
}

/// The stats one page draws at most; deeper groups past it are drawn closed and filled
/// when opened (each is a page of its own), and a level with more stats than that ends in
/// a note.
pub(crate) const ROW_BUDGET: usize = 2_000;
/// The groups one page draws at most (open, or closed and filled when opened).
pub(crate) const GROUP_BUDGET: usize = 2_000;
/// A group with more stats than this starts closed.
const OPEN_MAX: usize = 60;

/// The request's segments as a tree path, for the core's markup. They come from a URL path
/// split at `/`, so only a control character (percent-encoded) can make one invalid: such a
/// page shows the root's path in its title and links, and the same tree.
fn tree_path(segments: &[String]) -> StatPath {
    StatPath::from_names(segments).unwrap_or_default()
}

/// The original's page (`?format=html`): the core's markup, byte for byte, with a doctype.
pub(crate) fn render_original(req: &PageRequest<'_>) -> String {
    let mut options = html::Options::for_server(req.server_name);
    options.query = req.query.map(str::to_owned);
    options.link_prefix = req.link_prefix.to_owned();
    let stat_at = req.stat_at.filter(|_| matches!(req.node, Node::Stat(_)));
    let node_path = stat_at.map_or(req.path, |at| &req.path[..=at]);
    let mut out = String::from("<!doctype html>\n");
    html::write_header(&tree_path(req.path), &options, &mut out);
    html::write_tree(req.node, &tree_path(node_path), &options, &mut out);
    out
}

/// Renders the whole page.
pub(crate) fn render(req: &PageRequest<'_>) -> String {
    let mut out = String::with_capacity(CSS.len() + JS.len() + 16 * 1024);
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <link rel=\"icon\" href=\"data:,\"><title>",
    );
    escape_into(&mut out, req.server_name);
    out.push_str(" - Status");
    if !req.path.is_empty() {
        out.push_str(": /");
        escape_into(&mut out, &req.path.join("/"));
    }
    out.push_str("</title><style>");
    out.push_str(CSS);
    out.push_str("</style></head><body>");
    overview(req, &mut out);
    toolbar(req, &mut out);
    if !req.path.is_empty() {
        breadcrumbs(req, &mut out);
    }

    let stat_at = req.stat_at.filter(|_| matches!(req.node, Node::Stat(_)));
    let base: &[String] = match stat_at {
        Some(at) => &req.path[..at],
        None => req.path,
    };
    out.push_str("<main id=\"scales-tree\" data-link-base=\"");
    escape_into(&mut out, &link(req.link_prefix, base, true));
    // The group shown, as the rows' `data-path` begin: what `closed=` paths are relative to.
    out.push_str("\" data-base=\"");
    escape_into(&mut out, &base.join("/"));
    out.push_str("\">");
    req.history.read(|recent| {
        let mut tree = Tree {
            out: &mut out,
            recent,
            link_prefix: req.link_prefix,
            budget: ROW_BUDGET,
            groups: GROUP_BUDGET,
            times: recent.times().iter().copied().collect(),
            pruned: req.pruned,
        };
        match (req.node, stat_at) {
            (Node::Stat(stat), Some(at)) => {
                // A stat's page: its row, a distribution open with its histogram.
                let mut path = req.path[..=at].to_vec();
                let keys = &req.path[at + 1..];
                tree.out.push_str("<div class=\"lv\">");
                tree.stat_page(stat, &mut path, keys);
                tree.out.push_str("</div>");
            }
            (Node::Group(group), _) => {
                let mut path = base.to_vec();
                tree.level(group, &mut path);
                if group.entries.is_empty() {
                    tree.out.push_str(if req.query.is_some() {
                        "<p class=\"note\">No stats match the query.</p>"
                    } else {
                        "<p class=\"note\">No stats here.</p>"
                    });
                }
            }
            (Node::Stat(stat), None) => {
                let mut path = base.to_vec();
                tree.out.push_str("<div class=\"lv\">");
                tree.stat(stat, &mut path, true);
                tree.out.push_str("</div>");
            }
        }
    });
    out.push_str("</main>");
    formats(req, &mut out);
    out.push_str("<script>");
    out.push_str(JS);
    out.push_str("</script></body></html>\n");
    out
}

/// Server name and version, then host, pid, uptime and the process figures.
fn overview(req: &PageRequest<'_>, out: &mut String) {
    out.push_str("<header id=\"scales-overview\"><h1>");
    escape_into(out, req.server_name);
    out.push_str("</h1>");
    if let Some(version) = req.overview.version() {
        out.push_str("<span class=\"version\">");
        escape_into(out, version);
        out.push_str("</span>");
    }
    out.push_str("<dl>");
    for (label, text, title) in req.overview.facts() {
        out.push_str("<div><dt>");
        out.push_str(label);
        out.push_str("</dt><dd");
        if !title.is_empty() {
            out.push_str(" title=\"");
            escape_into(out, &title);
            out.push('"');
        }
        out.push('>');
        escape_into(out, &text);
        out.push_str("</dd></div>");
    }
    out.push_str("</dl>");
    formats_nav(req, out);
    out.push_str("</header>");
}

/// The filter: a form that asks the server (`?query=`), which the script turns into a
/// filter as you type (Enter still asks the server).
fn toolbar(req: &PageRequest<'_>, out: &mut String) {
    out.push_str(
        "<form id=\"scales-bar\" method=\"GET\" action=\"\" role=\"search\">\
         <input type=\"search\" id=\"scales-filter\" name=\"query\" autocomplete=\"off\" \
         spellcheck=\"false\" aria-label=\"filter\" \
         placeholder=\"filter ( / )   Enter: ?query=\" value=\"",
    );
    escape_into(out, req.query.unwrap_or(""));
    out.push_str("\">");
    if req.query.is_some() {
        out.push_str("<a href=\"");
        escape_into(out, &link(req.link_prefix, req.path, true));
        out.push_str("\">clear the query</a>");
    }
    out.push_str("</form>");
}

/// Draws a tree of stats into `out`.
struct Tree<'a, 'r> {
    out: &'a mut String,
    recent: &'a Recent<'r>,
    link_prefix: &'a str,
    /// Rows still to draw on this page.
    budget: usize,
    /// Groups still to draw on this page.
    groups: usize,
    times: Vec<f64>,
    /// See [`PageRequest::pruned`].
    pruned: &'a HashMap<Vec<String>, usize>,
}

/// Stats in a group, at any depth (a keyed stat counts once).
fn group_stats(group: &Group) -> usize {
    group
        .entries
        .iter()
        .map(|e| match &e.node {
            Node::Stat(_) => 1,
            Node::Group(inner) => group_stats(inner),
        })
        .sum()
}

/// Segments joined for a history key.
fn history_key(path: &[String]) -> String {
    path.join(&SEP.to_string())
}

/// `s:web/latency`: a row's `id`, each segment URL-encoded (so `/` in a key is `%2F`).
fn row_id(kind: &str, path: &[String]) -> String {
    let mut id = kind.to_owned();
    id.push(':');
    id.push_str(&link("", path, false));
    id
}

/// What a row shows of its recent samples.
#[derive(Default)]
struct Trend {
    /// Per second over the last sample interval, for counts.
    rate: Option<f64>,
    /// How much the value moved lately, relative to its size (0 = not at all).
    moved: f64,
    /// The points of the trend line.
    points: Vec<f64>,
}

impl Tree<'_, '_> {
    /// Stats in the group at `path`, at any depth, those of groups left unread included.
    fn stats_in(&self, group: &Group, path: &mut Vec<String>) -> usize {
        if let Some(&count) = self.pruned.get(path.as_slice()) {
            return count;
        }
        if self.pruned.is_empty() {
            return group_stats(group);
        }
        let mut count = 0;
        for entry in &group.entries {
            count += match &entry.node {
                Node::Stat(_) => 1,
                Node::Group(inner) => {
                    path.push(entry.name.as_str().to_owned());
                    let n = self.stats_in(inner, path);
                    path.pop();
                    n
                }
            };
        }
        count
    }

    /// The entries of a group: its stats, then its groups, each by name.
    fn level(&mut self, group: &Group, path: &mut Vec<String>) {
        let mut entries: Vec<&Entry> = group.entries.iter().collect();
        entries.sort_by(|a, b| {
            let group_a = matches!(a.node, Node::Group(_));
            let group_b = matches!(b.node, Node::Group(_));
            group_a
                .cmp(&group_b)
                .then_with(|| natural(a.name.as_str(), b.name.as_str()))
        });
        self.out.push_str("<div class=\"lv\">");
        // Past the row budget, stats are left out (counted in a note) and groups drawn
        // closed and empty, up to `GROUP_BUDGET` of them.
        let mut left_out = 0;
        for entry in entries {
            let drawable = match &entry.node {
                Node::Stat(_) => self.budget > 0,
                Node::Group(_) => self.groups > 0,
            };
            if !drawable {
                left_out += match &entry.node {
                    Node::Stat(_) => 1,
                    Node::Group(inner) => {
                        path.push(entry.name.as_str().to_owned());
                        let n = self.stats_in(inner, path);
                        path.pop();
                        n
                    }
                };
                continue;
            }
            path.push(entry.name.as_str().to_owned());
            match &entry.node {
                Node::Stat(stat) => self.stat(stat, path, false),
                Node::Group(inner) => self.group(inner, path),
            }
            path.pop();
        }
        if left_out > 0 {
            let _ = write!(
                self.out,
                "<p class=\"note more\">… and {} more stats here: narrow them with ?query= \
                 (Enter in the filter) or open a group's own page.</p>",
                crate::units::grouped(left_out as i128)
            );
        }
        self.out.push_str("</div>");
    }

    /// A group: open with its level, or closed, or (past the row budget, or left unread by
    /// the snapshot: `data-pruned`) closed and empty, with `data-lazy` naming the page the
    /// script fills it from when it is opened.
    fn group(&mut self, group: &Group, path: &mut Vec<String>) {
        self.groups = self.groups.saturating_sub(1);
        let pruned = self.pruned.contains_key(path.as_slice());
        let count = self.stats_in(group, path);
        let lazy = pruned || count > self.budget;
        let open = !lazy && !group.collapsed && count <= OPEN_MAX;
        let href = link(self.link_prefix, path, true);
        self.out.push_str("<details class=\"g\" id=\"");
        escape_into(self.out, &row_id("g", path));
        self.out.push_str("\" data-path=\"");
        escape_into(self.out, &path.join("/"));
        self.out.push('"');
        if lazy {
            self.out.push_str(" data-lazy=\"");
            escape_into(self.out, &href);
            self.out.push('"');
        }
        if pruned {
            self.out.push_str(" data-pruned=\"\"");
        }
        if open {
            self.out.push_str(" open");
        }
        let moved_at = self.out.len();
        self.out.push_str("><summary><span class=\"n\">");
        escape_into(self.out, path.last().map_or("", String::as_str));
        let _ = write!(
            self.out,
            "</span><span class=\"meta\">{} stat{}</span><a class=\"go\" href=\"",
            crate::units::grouped(count as i128),
            if count == 1 { "" } else { "s" }
        );
        escape_into(self.out, &href);
        self.out
            .push_str("\" title=\"this group's own page\">↗</a></summary>");
        let before = self.out.len();
        if lazy {
            self.out.push_str("<p class=\"note lazy\"><a href=\"");
            escape_into(self.out, &href);
            let _ = write!(
                self.out,
                "\">{} stats: open this group's page</a></p>",
                crate::units::grouped(count as i128)
            );
        } else {
            self.level(group, path);
        }
        self.out.push_str("</details>");
        // A group moved as much as the most moved row inside it.
        let moved = max_moved(&self.out[before..]);
        if moved > 0.0 {
            self.out
                .insert_str(moved_at, &format!(" data-moved=\"{moved:.4}\""));
        }
    }

    /// The trend of a leaf: its history under `key`; `counting` leaves show their rate.
    fn trend(&self, key: &str, counting: bool) -> Trend {
        let Some(values) = self.recent.series(key) else {
            return Trend::default();
        };
        let points: Vec<(f64, f64)> = self
            .times
            .iter()
            .zip(values.iter())
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| (*t, *v))
            .collect();
        let mut trend = Trend::default();
        if points.len() < 2 {
            return trend;
        }
        let window = &points[points.len().saturating_sub(13)..];
        let (first, last) = (window[0].1, window[window.len() - 1].1);
        let scale = first.abs().max(last.abs());
        if scale > 0.0 {
            trend.moved = (last - first).abs() / scale;
        }
        if counting {
            let rates: Vec<f64> = points
                .windows(2)
                .map(|w| {
                    let dt = w[1].0 - w[0].0;
                    if dt > 0.0 {
                        (w[1].1 - w[0].1) / dt
                    } else {
                        0.0
                    }
                })
                .collect();
            trend.rate = rates.last().copied();
            trend.points = rates;
        } else {
            trend.points = points.iter().map(|p| p.1).collect();
        }
        trend
    }

    /// Opens a row: `<div class="s …" id=… data-path=… data-moved=…>` and its name.
    fn row_start(&mut self, tag: &str, class: &str, path: &[String], trend: &Trend) {
        let id = row_id("s", path);
        let _ = write!(self.out, "<{tag} class=\"s {class}\" id=\"");
        escape_into(self.out, &id);
        self.out.push_str("\" data-path=\"");
        escape_into(self.out, &path.join("/"));
        self.out.push('"');
        if trend.moved > 0.0 {
            let _ = write!(self.out, " data-moved=\"{:.4}\"", trend.moved);
        }
        self.out.push('>');
        if tag == "details" {
            self.out.push_str("<summary>");
        }
        self.out.push_str("<a class=\"n\" href=\"#");
        escape_into(self.out, &id);
        self.out.push_str("\" title=\"");
        escape_into(self.out, &path.join(" › "));
        self.out.push_str("\">");
        escape_into(self.out, path.last().map_or("", String::as_str));
        self.out.push_str("</a><span class=\"v\">");
    }

    /// Closes the cells, draws the trend line.
    fn row_cells_end(&mut self, trend: &Trend, unit: Unit, counting: bool) {
        self.out.push_str("</span>");
        spark(self.out, &trend.points, unit, counting);
    }

    fn cell(&mut self, label: &str, text: &str, title: Option<String>) {
        // A rate of nothing is shown, and greyed: what is still is not what matters.
        let zero = text == "0/s" || text == "–";
        self.out.push_str(if zero {
            "<span class=\"c zero\""
        } else {
            "<span class=\"c\""
        });
        if let Some(title) = title {
            self.out.push_str(" title=\"");
            escape_into(self.out, &title);
            self.out.push('"');
        }
        self.out.push('>');
        if !label.is_empty() {
            self.out.push_str("<i>");
            self.out.push_str(label);
            self.out.push_str("</i>");
        }
        escape_into(self.out, text);
        self.out.push_str("</span>");
    }

    /// A stat at `path`; `histogram`: draw a distribution's histogram open.
    fn stat(&mut self, stat: &StatSnapshot, path: &mut Vec<String>, histogram: bool) {
        self.budget = self.budget.saturating_sub(1);
        let name = path.last().cloned().unwrap_or_default();
        let unit = Unit::of(&name);
        match &stat.value {
            StatValue::Distribution(d) => self.distribution(d, path, unit, histogram),
            StatValue::Meter(m) => self.meter(m, path),
            StatValue::Error(message) => {
                let trend = Trend::default();
                self.row_start("div", "err", path, &trend);
                self.out.push_str("<span class=\"c error\">error: ");
                escape_into(self.out, message);
                self.out.push_str("</span>");
                self.row_cells_end(&trend, unit, false);
                self.out.push_str("</div>");
            }
            StatValue::Distributions(_)
            | StatValue::Meters(_)
            | StatValue::Counts(_)
            | StatValue::Strings(_)
            | StatValue::Durations(_) => self.keyed(stat, path, unit),
            StatValue::Value(Value::Map(_)) => self.keyed(stat, path, unit),
            _ => {
                let value = stat.to_value();
                let counting = matches!(stat.kind, StatKind::Counter | StatKind::IntStat)
                    || (matches!(stat.kind, StatKind::SumAggregation) && value.as_f64().is_some());
                self.scalar(&value, path, unit, counting);
            }
        }
    }

    /// The page of one stat, or of keys inside it.
    fn stat_page(&mut self, stat: &StatSnapshot, path: &mut Vec<String>, keys: &[String]) {
        if keys.is_empty() {
            return self.stat(stat, path, true);
        }
        // Keys inside a stat: a distribution of a NamedPmfDict keeps its sketch.
        if let (StatValue::Distributions(ds), [key]) = (&stat.value, keys) {
            if let Some(entry) = ds.iter().find(|e| &*e.key == key.as_str()) {
                path.push(key.clone());
                let unit = Unit::of(&path[path.len() - 2]);
                self.distribution(&entry.value, path, unit, true);
                path.pop();
                return;
            }
        }
        let mut value = stat.to_value();
        for key in keys {
            path.push(key.clone());
            value = match value {
                Value::Map(entries) => entries
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .map_or(Value::Null, |(_, v)| v),
                _ => Value::Null,
            };
        }
        let unit = Unit::of(&path[path.len() - keys.len() - 1]);
        self.value_tree(&value, path, unit, false);
    }

    /// A stat of many keys: a group of rows, one per key.
    fn keyed(&mut self, stat: &StatSnapshot, path: &mut Vec<String>, unit: Unit) {
        let entries: Vec<String> = match stat.to_value() {
            Value::Map(entries) => entries.into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        };
        let count = entries.len();
        self.out.push_str("<details class=\"g sd\" id=\"");
        escape_into(self.out, &row_id("s", path));
        self.out.push_str("\" data-path=\"");
        escape_into(self.out, &path.join("/"));
        self.out.push('"');
        if count <= 8 {
            self.out.push_str(" open");
        }
        let moved_at = self.out.len();
        self.out.push_str("><summary><span class=\"n\">");
        escape_into(self.out, path.last().map_or("", String::as_str));
        let _ = write!(
            self.out,
            "</span><span class=\"meta\">{} ({} key{})</span><a class=\"go\" href=\"",
            stat.kind.name(),
            crate::units::grouped(count as i128),
            if count == 1 { "" } else { "s" }
        );
        escape_into(self.out, &link(self.link_prefix, path, false));
        self.out
            .push_str("\" title=\"this stat's own page\">↗</a></summary>");
        let before = self.out.len();
        self.out.push_str("<div class=\"lv\">");
        let counting = matches!(
            stat.kind,
            // (a HistogramAggregationStat counts what is in each state now: no rate)
            StatKind::IntDict | StatKind::IntDictSumAggregation
        );
        fn sorted<T>(entries: &[scales::Keyed<T>]) -> Vec<&scales::Keyed<T>> {
            let mut entries: Vec<_> = entries.iter().collect();
            entries.sort_by(|a, b| natural(&a.key, &b.key));
            entries
        }
        match &stat.value {
            StatValue::Distributions(ds) => {
                for entry in sorted(ds) {
                    path.push(entry.key.to_string());
                    self.distribution(&entry.value, path, unit, false);
                    path.pop();
                }
            }
            StatValue::Meters(ms) => {
                for entry in sorted(ms) {
                    path.push(entry.key.to_string());
                    self.meter(&entry.value, path);
                    path.pop();
                }
            }
            StatValue::Durations(ds) => {
                for entry in sorted(ds) {
                    path.push(entry.key.to_string());
                    // The rate of seconds in a state is the share of time spent in it.
                    self.scalar(&Value::Float(entry.value), path, Unit::Seconds, true);
                    path.pop();
                }
            }
            _ => {
                if let Value::Map(mut entries) = stat.to_value() {
                    if !matches!(stat.value, StatValue::Value(_)) {
                        entries.sort_by(|a, b| natural(&a.0, &b.0));
                    }
                    for (key, value) in entries {
                        path.push(key);
                        self.value_tree(&value, path, unit, counting);
                        path.pop();
                    }
                }
            }
        }
        self.out.push_str("</div></details>");
        let moved = max_moved(&self.out[before..]);
        if moved > 0.0 {
            self.out
                .insert_str(moved_at, &format!(" data-moved=\"{moved:.4}\""));
        }
    }

    /// A value inside a stat: a row, or a group of rows for a map.
    fn value_tree(&mut self, value: &Value, path: &mut Vec<String>, unit: Unit, counting: bool) {
        match value {
            Value::Map(entries) => {
                self.out.push_str("<details class=\"g sd\" open id=\"");
                escape_into(self.out, &row_id("s", path));
                self.out.push_str("\" data-path=\"");
                escape_into(self.out, &path.join("/"));
                self.out.push_str("\"><summary><span class=\"n\">");
                escape_into(self.out, path.last().map_or("", String::as_str));
                self.out.push_str("</span></summary><div class=\"lv\">");
                for (key, inner) in entries {
                    path.push(key.clone());
                    self.value_tree(inner, path, unit, counting);
                    path.pop();
                }
                self.out.push_str("</div></details>");
            }
            _ => self.scalar(value, path, unit, counting),
        }
    }

    /// One value: a number with its unit (and rate, for counts), a string, a bool, null.
    fn scalar(&mut self, value: &Value, path: &[String], unit: Unit, counting: bool) {
        // A distribution's or meter's `count` inside a stat named `latency` is no duration.
        let unit = if path.last().is_some_and(|k| k == "count") {
            Unit::Plain
        } else {
            unit
        };
        let number = value.as_f64();
        let counting = counting && number.is_some();
        let trend = if number.is_some() {
            self.trend(&history_key(path), counting)
        } else {
            Trend::default()
        };
        let class = if counting { "counter" } else { "gauge" };
        self.row_start("div", class, path, &trend);
        match value {
            Value::Int(_) | Value::Float(_) => {
                let v = number.unwrap_or(f64::NAN);
                self.cell("", &unit.show(v), Some(raw(value)));
                if counting {
                    let rate = trend.rate.map_or("–".to_owned(), |r| unit.rate(r));
                    self.cell("rate", &rate, None);
                }
            }
            Value::Str(text) => {
                self.out.push_str("<span class=\"c str\">");
                escape_into(self.out, text);
                self.out.push_str("</span>");
            }
            Value::Bool(b) => self.cell("", if *b { "True" } else { "False" }, None),
            Value::Null => self.cell("", "None", None),
            other => {
                let mut text = Vec::new();
                let _ = scales::format::json::write_value(
                    other,
                    scales::format::json::Style::Compact,
                    &mut text,
                );
                self.out.push_str("<span class=\"c str\">");
                escape_into(self.out, &String::from_utf8_lossy(&text));
                self.out.push_str("</span>");
            }
        }
        self.row_cells_end(&trend, unit, counting);
        self.out.push_str("</div>");
    }

    fn meter(&mut self, m: &scales::MeterSnapshot, path: &[String]) {
        let mut key = history_key(path);
        key.push(SEP);
        key.push_str("m1");
        let trend = self.trend(&key, false);
        self.row_start("div", "meter", path, &trend);
        let count = crate::units::grouped(i128::from(m.count));
        self.cell("1m", &crate::units::rate(m.m1), Some(m.m1.to_string()));
        self.cell("5m", &crate::units::rate(m.m5), Some(m.m5.to_string()));
        self.cell("15m", &crate::units::rate(m.m15), Some(m.m15.to_string()));
        self.cell(
            "mean",
            &crate::units::rate(m.mean),
            Some(m.mean.to_string()),
        );
        self.cell("count", &count, None);
        self.row_cells_end(&trend, Unit::Plain, false);
        self.out.push_str("</div>");
    }

    /// One row: count, rate, mean, p50, p99, p99.9, max; opens to its histogram.
    fn distribution(&mut self, d: &SketchSnapshot, path: &[String], unit: Unit, open: bool) {
        let mut key = history_key(path);
        key.push(SEP);
        key.push_str("count");
        let trend = self.trend(&key, true);
        let id_path = path.to_vec();
        self.row_start("details", "dist", &id_path, &trend);
        // Attributes of the element, which `row_start` left open-ended: its histogram's
        // page (the script loads and refreshes it from there), and `open` on a stat's page.
        let at = self.out.rfind("<details").unwrap_or(0) + "<details".len();
        let mut attributes = String::from(" data-src=\"");
        escape_into(&mut attributes, &link(self.link_prefix, path, false));
        attributes.push('"');
        if open {
            attributes.push_str(" open");
        }
        self.out.insert_str(at, &attributes);
        self.cell(
            "n",
            &crate::units::grouped(i128::from(d.count())),
            Some("count".to_owned()),
        );
        let rate = trend.rate.map_or("–".to_owned(), crate::units::rate);
        self.cell("rate", &rate, Some("values per second".to_owned()));
        let percentiles: Vec<(&str, f64)> = d.percentiles().collect();
        let p = |key: &str| percentiles.iter().find(|(k, _)| *k == key).map(|p| p.1);
        for (label, v) in [
            ("mean", d.mean()),
            ("p50", p("median")),
            ("p99", p("99percentile")),
            ("p99.9", p("999percentile")),
            ("max", d.max()),
        ] {
            match v {
                Some(v) => self.cell(label, &unit.show(v), Some(v.to_string())),
                None => self.cell(label, "–", None),
            }
        }
        self.row_cells_end(&trend, Unit::Plain, true);
        self.out.push_str("</summary><div class=\"hist\">");
        if open {
            crate::histogram::write(d, unit, self.out);
            let p = |key: &str| percentiles.iter().find(|(k, _)| *k == key).map(|p| p.1);
            self.out.push_str("<p class=\"note\">");
            for (i, (label, v)) in [
                ("min", d.min()),
                ("p75", p("75percentile")),
                ("p95", p("95percentile")),
                ("p98", p("98percentile")),
                ("stddev", d.stddev()),
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    self.out.push_str(" · ");
                }
                let text = v.map_or("–".to_owned(), |v| unit.show(v));
                escape_into(self.out, &format!("{label} {text}"));
            }
            self.out.push_str("</p>");
        } else {
            self.out.push_str("<a class=\"load\" href=\"");
            escape_into(self.out, &link(self.link_prefix, path, false));
            self.out.push_str("\">histogram on the stat's page</a>");
        }
        self.out.push_str("</div></details>");
    }
}

/// The largest `data-moved` in a piece of the page (0 when none).
fn max_moved(text: &str) -> f64 {
    text.match_indices(" data-moved=\"")
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest[..rest.find('"')?].parse::<f64>().ok()
        })
        .fold(0.0, f64::max)
}

/// A value's raw text, for a tooltip.
fn raw(value: &Value) -> String {
    match value {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

/// Names in natural order: `p9` before `p10`, case folded first.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.to_lowercase().cmp(&y.1.to_lowercase()),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// A trend line of `points` (rates for counts), or nothing when it is flat or too short.
fn spark(out: &mut String, points: &[f64], unit: Unit, rate: bool) {
    const W: f64 = 90.0;
    const H: f64 = 16.0;
    let finite: Vec<(usize, f64)> = points
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .collect();
    let lo = finite.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = finite.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if finite.len() < 2 || hi <= lo {
        out.push_str("<span class=\"spark\"></span>");
        return;
    }
    let n = (points.len() - 1).max(1) as f64;
    out.push_str("<svg class=\"spark\" width=\"90\" height=\"16\" viewBox=\"0 0 90 16\" role=\"img\"><title>");
    let show = |v: f64| if rate { unit.rate(v) } else { unit.show(v) };
    escape_into(out, &format!("recent: {} … {}", show(lo), show(hi)));
    out.push_str("</title><polyline points=\"");
    let mut last = (0.0, 0.0);
    for (i, &(at, v)) in finite.iter().enumerate() {
        let x = 1.0 + (W - 4.0) * at as f64 / n;
        let y = 2.0 + (H - 4.0) * (1.0 - (v - lo) / (hi - lo));
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x:.1},{y:.1}");
        last = (x, y);
    }
    let _ = write!(
        out,
        "\"/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.8\"/></svg>",
        last.0, last.1
    );
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

/// Links to this node in every format.
fn formats_nav(req: &PageRequest<'_>, out: &mut String) {
    let here = link(req.link_prefix, req.path, true);
    // Keys inside a stat have no Prometheus metric of their own.
    let keys = req.stat_at.is_some_and(|at| at + 1 < req.path.len());
    out.push_str("<nav class=\"formats\" aria-label=\"formats\">");
    for (i, (format, label)) in [
        ("json", "JSON"),
        ("prettyjson", "pretty JSON"),
        ("json&sketches=1", "JSON with sketches"),
        ("prometheus", "Prometheus"),
        ("html", "original page"),
        ("history", "history"),
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
    out.push_str("</nav>");
}

/// The page's foot: what the numbers are.
fn formats(req: &PageRequest<'_>, out: &mut String) {
    let _ = req;
    let _ = write!(
        out,
        "<p class=\"foot\">Values are read when the page is served; distributions are \
         all-time, their rate and the counters' rates are per second over the last history \
         sample. A page draws at most {} stats: larger groups open on demand.</p>",
        crate::units::grouped(ROW_BUDGET as i128)
    );
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

    fn page(node: &Node, path: &[String], query: Option<&str>, stat_at: Option<usize>) -> String {
        let history = History::new(crate::config::HistoryOptions {
            interval: std::time::Duration::from_secs(5),
            samples: 4,
            max_series: 100,
        });
        let overview = Overview::new(Some("1.2.3".to_owned()));
        render(&PageRequest {
            node,
            path,
            server_name: "<i>",
            query,
            link_prefix: "/status/",
            stat_at,
            history: &history,
            overview: &overview,
            pruned: &HashMap::new(),
        })
    }

    #[test]
    fn breadcrumbs_escape_names() {
        let node = Node::Group(Group::default());
        let path = vec!["<b>".to_owned()];
        let page = page(&node, &path, Some("\"><script>"), None);
        assert!(!page.contains("<b>"));
        assert!(!page.contains("<i>"));
        assert!(page.contains("<strong>&lt;b&gt;</strong>"));
        assert_eq!(page.matches("<script>").count(), 1, "only our own script");
    }

    #[test]
    fn a_distribution_is_one_row_with_units() {
        let reg = scales::Registry::new();
        let web = reg.scope("/web").unwrap();
        let latency = web.pmf_stat("latency").unwrap();
        for v in [0.001, 0.002, 0.003, 0.5] {
            latency.record(v);
        }
        web.int_stat("hits").unwrap().set(1_234_567);
        let snapshot = reg.snapshot();
        let page = page(snapshot.root(), &[], None, None);
        let row = &page[page.find("id=\"s:web/latency\"").unwrap()..];
        let row = &row[..row.find("</summary>").unwrap()];
        let labels: Vec<&str> = row
            .match_indices("<i>")
            .map(|(at, _)| &row[at + 3..at + 3 + row[at + 3..].find('<').unwrap()])
            .collect();
        assert_eq!(
            labels,
            ["n", "rate", "mean", "p50", "p99", "p99.9", "max"],
            "{row}"
        );
        assert!(row.contains("ms</span>"), "{row}");
        assert!(page.contains(">1,234,567</span>"));
        assert!(page.contains("<h1>&lt;i&gt;</h1><span class=\"version\">1.2.3</span>"));
        assert!(page.contains("<dt>pid</dt>"));
    }

    #[test]
    fn past_the_budget_groups_are_drawn_closed_and_empty() {
        let reg = scales::Registry::new();
        let scopes: Vec<_> = (0..30)
            .map(|g| {
                let scope = reg.scope(&format!("/g{g:02}")).unwrap();
                for s in 0..100 {
                    scope.int_stat(&format!("s{s:03}")).unwrap();
                }
                scope
            })
            .collect();
        let flat = reg.scope("/z").unwrap();
        for s in 0..2_100 {
            flat.int_stat(&format!("s{s}")).unwrap();
        }
        let snapshot = reg.snapshot();
        let page = page(snapshot.root(), &[], None, None);
        assert_eq!(page.matches("<div class=\"s ").count(), ROW_BUDGET);
        // g00..g19 fill the page; g20..g29 and z are drawn closed, with a link to their page.
        assert_eq!(page.matches(" data-lazy=\"").count(), 11);
        assert!(page.contains(
            r#"<details class="g" id="g:g29" data-path="g29" data-lazy="/status/g29/">"#
        ));
        assert!(page.contains("100 stats: open this group's page"));
        drop(scopes);
        // A level of more stats than the budget: the first ones, and a note.
        let z = reg.snapshot_at("/z").unwrap();
        let level = super::tests::page(z.root(), &["z".to_owned()], None, None);
        assert_eq!(level.matches("<div class=\"s ").count(), ROW_BUDGET);
        assert!(level.contains("… and 100 more stats here"), "note");
    }

    #[test]
    fn a_group_left_unread_is_drawn_closed_with_its_count() {
        let reg = scales::Registry::new();
        let shut = reg.scope("/shut/inner").unwrap();
        shut.int_stat("a").unwrap();
        shut.int_stat("b").unwrap();
        let big = reg.scope("/big").unwrap();
        for s in 0..ROW_BUDGET {
            big.int_stat(&format!("s{s}")).unwrap();
        }
        let at = StatPath::parse("/shut").unwrap();
        let options = scales::SnapshotOptions::default().with_prune(move |p| *p == at);
        let snapshot = reg.snapshot_with(&options);
        let shut_path = vec!["shut".to_owned()];
        let count = snapshot.pruned(&StatPath::parse("/shut").unwrap()).unwrap();
        let pruned = HashMap::from([(shut_path, count)]);
        let history = History::new(crate::config::HistoryOptions {
            interval: std::time::Duration::from_secs(5),
            samples: 4,
            max_series: 100,
        });
        let overview = Overview::new(None);
        let page = render(&PageRequest {
            node: snapshot.root(),
            path: &[],
            server_name: "x",
            query: None,
            link_prefix: "/status/",
            stat_at: None,
            history: &history,
            overview: &overview,
            pruned: &pruned,
        });
        assert!(page.contains(
            r#"<details class="g" id="g:shut" data-path="shut" data-lazy="/status/shut/" data-pruned=""><summary><span class="n">shut</span><span class="meta">2 stats</span>"#
        ), "{page}");
        assert!(page.contains("2 stats: open this group's page"));
        assert!(!page.contains("id=\"g:shut/inner\""));
        // /big fills the page's rows; /shut, after it, takes none of them.
        assert_eq!(page.matches("<div class=\"s ").count(), ROW_BUDGET);
        drop((shut, big));
    }

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["p10", "P9", "a", "p9", "999percentile", "99percentile"];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            ["99percentile", "999percentile", "a", "P9", "p9", "p10"]
        );
    }
}
