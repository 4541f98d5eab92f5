//! Graphite's plaintext protocol: one `name value timestamp\n` line per numeric leaf.
//!
//! This is the pure half of the Graphite pusher (the `scales-graphite` crate does the
//! network): [`write()`] (or [`to_string`]) turns a [`Snapshot`] into lines, given [`Options`]
//! and a timestamp. An [`Encoder`] gives the same lines push after push, and writes only the
//! numbers and the timestamp anew while the tree keeps its shape (the pushers keep one).
//!
//! # Names
//!
//! A line's name is the prefix followed by the stat's path segments joined with dots, as the
//! original, so existing dashboards keep working: `/web/latency` with prefix
//! `my.server.` gives `my.server.web.latency.<key>`. Each segment (and each key inside a
//! stat: dict keys, distribution and meter fields) is sanitised as the original did —
//! trimmed, `' '` → `-`, `.` → `-`, `/` → `_` — and further made safe for carbon's line
//! protocol, which the original did not do:
//!
//! * any other whitespace (tab, newline, Unicode spaces) becomes `-`, any other control
//!   character `_` (a line must split into exactly three fields);
//! * `;`, `{` and `}` become `_` (carbon 1.1+ would read them as tags);
//! * an empty segment (`""` or all spaces) becomes `_` (carbon would silently merge `a..b`
//!   into `a.b`);
//! * a segment longer than [`MAX_SEGMENT_BYTES`] is cut at a character boundary and ends in
//!   `~` plus 16 hex digits of a hash of the full segment, so distinct long names stay
//!   distinct and every file name carbon creates fits the usual 255-byte limit (carbon logs
//!   `File name too long` and drops the metric otherwise; the original skipped leaf names of
//!   500+ characters instead).
//!
//! Non-ASCII text (`température`) passes through as UTF-8, which carbon stores as is.
//! The prefix keeps its dots (they are hierarchy levels, as in the original) and is made
//! safe the same way; a `.` is appended if it does not end with one.
//!
//! # Values
//!
//! Only numbers are sent: integers as integers, floats in Rust's shortest round-trip form
//! (`0.000123`, `1e-7`, `2.0`) at full precision — the original rounded to 2 decimals, so
//! every latency under 5 ms read `0.00`. NaN and infinities are skipped (carbon rejects or
//! mis-stores them). Strings, booleans, nulls, lists and unreadable stats are skipped.
//!
//! | stat value | lines |
//! |---|---|
//! | `IntStat`, `DoubleStat`, sums, numeric `Stat` | `<name>` |
//! | `IntDictStat`, histogram and dict-sum aggregations | `<name>.<key>` |
//! | `PmfStat`, `PmfAggregationStat` | `<name>.count`, and when not empty `.min .max .mean .stddev .median .75percentile .95percentile .98percentile .99percentile .999percentile` |
//! | `NamedPmfDictStat` | `<name>.<key>.count` … |
//! | `MeterStat` | `<name>.count .m1 .m5 .m15 .mean` |
//! | `MeterDictStat` | `<name>.<key>.count` … |
//! | `StateTimeStat` | `<name>.<state>` (seconds, including the current state) |
//! | map-valued `Stat` (a gauge returning a map) | one level per key, recursively |
//!
//! Collapsed groups are sent like any other (as the original did).
//!
//! # Rules
//!
//! [`Rules`] decide which stats are sent. Paths are the slash paths without the leading `/`
//! and with the keys inside a stat as further segments, unsanitised: `web/latency/99percentile`,
//! `handler/byPath//index` (the key `/index`; the original's rules saw just `/index` there, an
//! `os.path.join` quirk). Globs use `fnmatch` semantics: `*` matches any
//! run of characters **including `/`**, `?` one character, `[abc]`, `[a-z]` and `[!abc]` a
//! set; matching is case-sensitive. The order:
//!
//! 1. **Prune** ([`Rules::prune`], [`Rules::do_not_log`], [`Rules::prune_fn`]): checked on
//!    every node, groups and stats and keys alike; a match drops the node and everything under
//!    it. `do_not_log("web/latency")` is literal: it drops `web/latency` and everything below,
//!    and not `web/latencyX`.
//! 2. **Allow / forbid** ([`Rules::allow`], [`Rules::forbid`] and their `_fn` forms), checked
//!    on each leaf, **newest rule first**; the first match decides.
//! 3. **Default: send.** When no allow/forbid rule matches, the leaf is sent (the original
//!    sent nothing unless `allow("*")` had been called). [`Rules::deny_by_default`] restores
//!    the original's behaviour.
//!
//! # Example
//!
//! ```
//! use scales::format::graphite::{to_string, Options, Rules};
//!
//! let reg = scales::Registry::new();
//! let web = reg.scope("/web")?;
//! web.int_stat("errors")?.add(3);
//! web.int_stat("success")?.add(1000);
//! web.double_stat("load avg")?.set(0.0004);
//! # let _keep = &web;
//! let options = Options::with_prefix("my.server").rules(Rules::new().forbid("*/success"));
//! assert_eq!(
//!     to_string(&reg.snapshot(), &options, 1_400_000_000),
//!     "my.server.web.errors 3 1400000000\nmy.server.web.load-avg 0.0004 1400000000\n"
//! );
//! # Ok::<(), scales::Error>(())
//! ```

use std::fmt::{self, Write as _};
use std::io;
use std::sync::Arc;

mod encoder;
mod leaves;
pub use encoder::Encoder;

use crate::append;
use crate::format::chunked::{Chunked, InMemory, TextOut};
use crate::number::{push_debug_float, push_int};
use crate::sketch::{SketchSnapshot, PERCENTILE_KEYS};
use crate::snapshot::{Keyed, MeterSnapshot, Node, Snapshot, StatValue};
use crate::value::Value;
use leaves::{Number, METER_LEAVES};

/// Longest name segment sent, in bytes; longer ones are cut and end in a hash (see the
/// [module docs](self)). Leaves room for carbon's `.wsp` suffix under the 255-byte file
/// name limit of common file systems.
pub const MAX_SEGMENT_BYTES: usize = 200;

/// How to render: name prefix, rules and tags.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Prepended to every name; a `.` is added if missing. Empty by default (the original
    /// used the host name).
    pub prefix: String,
    /// Which stats to send; everything by default.
    pub rules: Rules,
    /// Graphite tags (`;key=value`, carbon 1.1+) added to every line; none by default.
    /// Carbon stores a tagged series under `_tagged/`, not under the dotted path, so a
    /// dashboard built for untagged names will not see them.
    pub tags: Vec<(String, String)>,
}

impl Options {
    /// Options with this name prefix, no rules and no tags.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// These options with `rules`.
    #[must_use]
    pub fn rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// These options with one more tag.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }
}

/// A predicate on a slash path, for the `_fn` rules.
pub type PathPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
enum Matcher {
    Glob(Glob),
    Prefix(String),
    Fn(PathPredicate),
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Glob(glob) => glob.matches(path),
            Matcher::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
            Matcher::Fn(f) => f(path),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Glob(g) => write!(f, "glob {:?}", g.source),
            Matcher::Prefix(p) => write!(f, "prefix {p:?}"),
            Matcher::Fn(_) => f.write_str("fn"),
        }
    }
}

/// Which stats are sent: prune rules, then allow/forbid rules newest first, then the default
/// (send). See the [module docs](self#rules) for the path syntax.
///
/// ```
/// use scales::format::graphite::Rules;
///
/// let rules = Rules::new()
///     .do_not_log("/internal")       // drop a whole branch
///     .forbid("*percentile")          // no percentiles...
///     .allow("web/latency/99percentile"); // ...except this one (newer rules win)
/// assert!(rules.sends("web/latency/99percentile"));
/// assert!(!rules.sends("web/latency/95percentile"));
/// assert!(!rules.sends("internal/queue/depth"));
/// assert!(rules.sends("web/errors"));
/// ```
#[derive(Clone, Default)]
pub struct Rules {
    prune: Vec<Matcher>,
    /// `(allow, matcher)`, oldest first.
    filters: Vec<(bool, Matcher)>,
    deny_by_default: bool,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("prune", &self.prune)
            .field("filters", &self.filters)
            .field("deny_by_default", &self.deny_by_default)
            .finish()
    }
}

fn relative(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

impl Rules {
    /// No rules: every numeric leaf is sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends leaves whose path matches the glob (unless a newer rule forbids them).
    #[must_use]
    pub fn allow(mut self, glob: impl AsRef<str>) -> Self {
        self.filters
            .push((true, Matcher::Glob(Glob::new(&relative(glob.as_ref())))));
        self
    }

    /// Skips leaves whose path matches the glob (unless a newer rule allows them).
    #[must_use]
    pub fn forbid(mut self, glob: impl AsRef<str>) -> Self {
        self.filters
            .push((false, Matcher::Glob(Glob::new(&relative(glob.as_ref())))));
        self
    }

    /// Skips every node (group, stat or key) whose path matches the glob, and everything
    /// below it.
    #[must_use]
    pub fn prune(mut self, glob: impl AsRef<str>) -> Self {
        self.prune
            .push(Matcher::Glob(Glob::new(&relative(glob.as_ref()))));
        self
    }

    /// Skips the stat or branch at `path` (`"/web/latency"` or `"web/latency"`) and
    /// everything below it: a literal prefix of whole segments, not a glob.
    #[must_use]
    pub fn do_not_log(mut self, path: impl AsRef<str>) -> Self {
        let path = relative(path.as_ref());
        self.prune
            .push(Matcher::Prefix(path.trim_end_matches('/').to_owned()));
        self
    }

    /// Like [`allow`](Self::allow) with a predicate on the path.
    #[must_use]
    pub fn allow_fn(mut self, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filters.push((true, Matcher::Fn(Arc::new(f))));
        self
    }

    /// Like [`forbid`](Self::forbid) with a predicate on the path.
    #[must_use]
    pub fn forbid_fn(mut self, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.filters.push((false, Matcher::Fn(Arc::new(f))));
        self
    }

    /// Like [`prune`](Self::prune) with a predicate on the path.
    #[must_use]
    pub fn prune_fn(mut self, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.prune.push(Matcher::Fn(Arc::new(f)));
        self
    }

    /// Sends nothing that no allow rule matches, as the original (which needed
    /// `allow("*")` to send anything).
    #[must_use]
    pub fn deny_by_default(mut self) -> Self {
        self.deny_by_default = true;
        self
    }

    /// Whether a node at this path is pruned (with everything under it).
    pub fn is_pruned(&self, path: &str) -> bool {
        self.prune.iter().any(|m| m.matches(path))
    }

    /// Whether a leaf at this path passes the allow/forbid rules and the default.
    pub fn is_allowed(&self, path: &str) -> bool {
        self.filters
            .iter()
            .rev()
            .find(|(_, m)| m.matches(path))
            .map_or(!self.deny_by_default, |(allow, _)| *allow)
    }

    /// Whether a leaf at this path is sent: not pruned (nor any of its ancestors) and
    /// allowed.
    pub fn sends(&self, path: &str) -> bool {
        let pruned = path
            .match_indices('/')
            .map(|(i, _)| &path[..i])
            .chain([path])
            .any(|p| self.is_pruned(p));
        !pruned && self.is_allowed(path)
    }

    fn is_empty(&self) -> bool {
        self.prune.is_empty() && self.filters.is_empty() && !self.deny_by_default
    }

    /// Whether every rule is a glob or a prefix, so that the same path always gets the same
    /// answer (a `_fn` rule may answer differently from one call to the next).
    fn is_pure(&self) -> bool {
        let pure = |m: &Matcher| !matches!(m, Matcher::Fn(_));
        self.prune.iter().all(pure) && self.filters.iter().all(|(_, m)| pure(m))
    }
}

/// A compiled rule glob, with Python `fnmatch` semantics on top of the `glob` crate: `*`
/// matches any run of characters, `/` included (runs of `*` are one `*`, so `**` is too); `?`
/// one character; `[set]` and `[!set]` a set; no escapes. A pattern the `glob` crate cannot
/// compile because a `[` is never closed matches that `[` literally, as `fnmatch` does.
#[derive(Clone)]
struct Glob {
    source: String,
    pattern: glob::Pattern,
}

impl Glob {
    const OPTIONS: glob::MatchOptions = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };

    fn new(source: &str) -> Self {
        let mut collapsed = String::with_capacity(source.len());
        for c in source.chars() {
            if !(c == '*' && collapsed.ends_with('*')) {
                collapsed.push(c);
            }
        }
        let pattern = glob::Pattern::new(&collapsed)
            .or_else(|_| glob::Pattern::new(&collapsed.replace('[', "[[]")))
            .unwrap_or_else(|_| {
                glob::Pattern::new(&glob::Pattern::escape(source)).expect("an escaped pattern")
            });
        Self {
            source: source.to_owned(),
            pattern,
        }
    }

    fn matches(&self, path: &str) -> bool {
        self.pattern.matches_with(path, Self::OPTIONS)
    }
}

/// What one [`write()`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Lines written.
    pub points: usize,
    /// Numeric leaves skipped because they were NaN or infinite.
    pub non_finite: usize,
}

/// Writes one line per numeric leaf of `snapshot` to `out`, every line with `timestamp`
/// (seconds since the Unix epoch), in pieces of about 64 KiB.
///
/// # Errors
/// The first error of `out`; nothing more is written after it.
pub fn write<W: io::Write>(
    snapshot: &Snapshot,
    options: &Options,
    timestamp: u64,
    out: &mut W,
) -> io::Result<Rendered> {
    let mut text = Chunked::new(out);
    let rendered = render(snapshot, options, timestamp, &mut text);
    text.finish()?;
    Ok(rendered)
}

/// The lines for `snapshot` as a string (see [`write()`]).
pub fn to_string(snapshot: &Snapshot, options: &Options, timestamp: u64) -> String {
    render_to_string(snapshot, options, timestamp, None).0
}

/// The lines for `snapshot` and what was rendered, telling `record` (when given) what
/// became of every numeric leaf.
fn render_to_string(
    snapshot: &Snapshot,
    options: &Options,
    timestamp: u64,
    record: Option<&mut leaves::Recording>,
) -> (String, Rendered) {
    // Room for a line of each stat up front, rather than growing by copies (the memory is
    // only touched as the text is written).
    let mut out = String::with_capacity(snapshot.root().count_stats().max(512) * 64);
    let rendered = render_recording(
        snapshot,
        options,
        timestamp,
        &mut InMemory(&mut out),
        record,
    );
    (out, rendered)
}

fn render(
    snapshot: &Snapshot,
    options: &Options,
    timestamp: u64,
    out: &mut impl TextOut,
) -> Rendered {
    render_recording(snapshot, options, timestamp, out, None)
}

/// [`render`], telling `record` (when given) what became of every numeric leaf.
fn render_recording(
    snapshot: &Snapshot,
    options: &Options,
    timestamp: u64,
    out: &mut impl TextOut,
    record: Option<&mut leaves::Recording>,
) -> Rendered {
    let mut name = prefix(&options.prefix);
    let mut path = String::new();
    for segment in snapshot.path() {
        push_segment(&mut name, &mut path, segment);
    }
    let mut renderer = Renderer {
        rules: &options.rules,
        check_rules: !options.rules.is_empty(),
        suffix: suffix(&options.tags, timestamp),
        out,
        rendered: Rendered::default(),
        record,
    };
    renderer.node(snapshot.root(), &mut name, &mut path);
    renderer.rendered
}

/// The safe prefix, ending in `.` unless empty.
fn prefix(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 64);
    for c in raw.trim().chars() {
        out.push(safe_char(c));
    }
    if !out.is_empty() && !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// ` ;tag=value... timestamp\n`'s tail: tags then the timestamp.
fn suffix(tags: &[(String, String)], timestamp: u64) -> (String, String) {
    let mut tag_text = String::new();
    for (key, value) in tags {
        let key: String = key
            .trim()
            .chars()
            .map(|c| match c {
                ';' | '!' | '^' | '=' | '~' => '_',
                c => safe_char(c),
            })
            .collect();
        let value: String = value
            .trim()
            .chars()
            .map(|c| match c {
                ';' | '~' => '_',
                c => safe_char(c),
            })
            .collect();
        if !key.is_empty() && !value.is_empty() {
            let _ = write!(tag_text, ";{key}={value}");
        }
    }
    (tag_text, format!(" {timestamp}\n"))
}

/// A character that cannot break a line or a name: whitespace → `-`, control → `_`,
/// tag syntax → `_`.
fn safe_char(c: char) -> char {
    match c {
        c if c.is_whitespace() => '-',
        c if c.is_control() => '_',
        ';' | '{' | '}' => '_',
        c => c,
    }
}

/// Appends `.segment` (sanitised) to `name` and `/segment` (raw) to `path`.
fn push_segment(name: &mut String, path: &mut String, segment: &str) {
    push_path_segment(path, segment);
    if name_has_segment(name) {
        name.push('.');
    }
    sanitize_into(name, segment);
}

/// Appends `/segment` to a rules path (no `/` first at the top).
fn push_path_segment(path: &mut String, segment: &str) {
    if !path.is_empty() {
        path.push('/');
    }
    append::push(path, segment);
}

fn name_has_segment(name: &str) -> bool {
    !name.is_empty() && !name.ends_with('.')
}

/// The original's `sanitize` (trim; `' '`→`-`, `.`→`-`, `/`→`_`) plus carbon safety (see
/// the module docs).
pub fn sanitize(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    sanitize_into(&mut out, segment);
    out
}

fn sanitize_into(out: &mut String, segment: &str) {
    let start = out.len();
    // Most names need no change: copied whole, not char by char.
    if segment.bytes().all(|b| PLAIN[usize::from(b)]) {
        append::push(out, segment);
    } else {
        for c in segment.trim().chars() {
            out.push(match c {
                '.' => '-',
                '/' => '_',
                c => safe_char(c),
            });
        }
    }
    let len = out.len() - start;
    if len == 0 {
        out.push('_');
    } else if len > MAX_SEGMENT_BYTES {
        let hash = fnv1a(segment.as_bytes());
        let mut cut = start + MAX_SEGMENT_BYTES - 17;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        let _ = write!(out, "~{hash:016x}");
    }
}

/// The bytes that a segment keeps as they are, whatever surrounds them: ASCII letters,
/// digits, `_` and `-`. A table, as one look-up per byte costs less than the comparisons.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        plain[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    plain
};

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Renderer<'a, O> {
    rules: &'a Rules,
    check_rules: bool,
    /// (tags, " timestamp\n")
    suffix: (String, String),
    out: &'a mut O,
    rendered: Rendered,
    /// Where an encoder learns the fate of each leaf, when it keeps this render.
    record: Option<&'a mut leaves::Recording>,
}

/// The numeric leaves of a single number.
fn one() -> usize {
    1
}

impl<O: TextOut> Renderer<'_, O> {
    /// Descends into `segment` below (`name`, `path`), runs `f` there, and restores them.
    /// Skips the child if it is pruned (then `leaves` counts the numeric leaves it skips).
    fn child(
        &mut self,
        name: &mut String,
        path: &mut String,
        segment: &str,
        leaves: impl FnOnce() -> usize,
        f: impl FnOnce(&mut Self, &mut String, &mut String),
    ) {
        self.descend(name, path, segment, false, leaves, f);
    }

    /// [`child`](Self::child), for a segment that is known to need no sanitising (`safe`)
    /// or not. The path is only kept when there are rules to match it against.
    fn descend(
        &mut self,
        name: &mut String,
        path: &mut String,
        segment: &str,
        safe: bool,
        leaves: impl FnOnce() -> usize,
        f: impl FnOnce(&mut Self, &mut String, &mut String),
    ) {
        let (name_len, path_len) = (name.len(), path.len());
        if self.check_rules {
            push_path_segment(path, segment);
        }
        if name_has_segment(name) {
            name.push('.');
        }
        if safe {
            debug_assert_eq!(sanitize(segment), segment);
            append::push(name, segment);
        } else {
            sanitize_into(name, segment);
        }
        if !(self.check_rules && self.rules.is_pruned(path)) {
            f(self, name, path);
        } else if let Some(record) = self.record.as_deref_mut() {
            record.unsent(leaves());
        }
        name.truncate(name_len);
        path.truncate(path_len);
    }

    fn leaf(&mut self, name: &str, path: &str, value: Number) {
        if self.check_rules && !self.rules.is_allowed(path) {
            if let Some(record) = self.record.as_deref_mut() {
                record.unsent(1);
            }
            return;
        }
        if !value.is_finite() {
            self.rendered.non_finite += 1;
            if let Some(record) = self.record.as_deref_mut() {
                record.non_finite();
            }
            return;
        }
        if let Some(record) = self.record.as_deref_mut() {
            record.sent(name, &self.suffix.0);
        }
        let out = &mut *self.out;
        append::push(out, name);
        // Usually there are no tags; `push_str` would call `memcpy` even for nothing.
        if !self.suffix.0.is_empty() {
            append::push(out, &self.suffix.0);
        }
        out.push(' ');
        match value {
            Number::Int(i) => push_int(out, i),
            Number::Float(f) => push_debug_float(out, f),
        }
        append::push(out, &self.suffix.1);
        out.item_done();
        self.rendered.points += 1;
    }

    fn node(&mut self, node: &Node, name: &mut String, path: &mut String) {
        match node {
            Node::Group(group) => {
                for entry in &group.entries {
                    let leaves = || leaves::leaves_of_node(&entry.node);
                    self.child(name, path, &entry.name, leaves, |r, name, path| {
                        r.node(&entry.node, name, path)
                    });
                    if self.out.failed() {
                        return;
                    }
                }
            }
            Node::Stat(stat) => self.stat(&stat.value, name, path),
        }
    }

    /// A stat's numeric leaves, in the keys and order of its JSON shape
    /// (`{"count": .., "median": ..}` for a distribution, ...), without building that shape.
    fn stat(&mut self, value: &StatValue, name: &mut String, path: &mut String) {
        match value {
            StatValue::Int(i) => self.leaf(name, path, Number::Int(*i)),
            StatValue::Float(f) => self.leaf(name, path, Number::Float(*f)),
            StatValue::Value(v) => self.plain(v, name, path),
            StatValue::Counts(counts) => {
                for Keyed { key, value } in counts {
                    self.child(name, path, key, one, |r, name, path| {
                        r.leaf(name, path, Number::Int(*value))
                    });
                }
            }
            StatValue::Durations(durations) => {
                for Keyed { key, value } in durations {
                    self.child(name, path, key, one, |r, name, path| {
                        r.leaf(name, path, Number::Float(*value))
                    });
                }
            }
            StatValue::Distribution(d) => self.distribution(d, name, path),
            StatValue::Distributions(ds) => {
                for Keyed { key, value } in ds {
                    let leaves = || leaves::leaves_of_distribution(value);
                    self.child(name, path, key, leaves, |r, name, path| {
                        r.distribution(value, name, path)
                    });
                }
            }
            StatValue::Meter(m) => self.meter(m, name, path),
            StatValue::Meters(ms) => {
                for Keyed { key, value } in ms {
                    let leaves = || METER_LEAVES;
                    self.child(name, path, key, leaves, |r, name, path| {
                        r.meter(value, name, path)
                    });
                }
            }
            // Strings and errors are not numbers to graph.
            StatValue::Strings(_) | StatValue::Error(_) => {}
        }
    }

    /// A leaf of a distribution or a meter: its keys (`count`, `99percentile`, ...) need
    /// no sanitising.
    fn field(&mut self, name: &mut String, path: &mut String, key: &str, value: Number) {
        self.descend(name, path, key, true, one, |r, name, path| {
            r.leaf(name, path, value)
        });
    }

    fn distribution(&mut self, d: &SketchSnapshot, name: &mut String, path: &mut String) {
        let count = i64::try_from(d.count()).unwrap_or(i64::MAX);
        self.field(name, path, "count", Number::Int(count));
        let Some(percentiles) = d.percentile_values() else {
            return;
        };
        for (key, value) in [
            ("min", d.min()),
            ("max", d.max()),
            ("mean", d.mean()),
            ("stddev", d.stddev()),
        ] {
            if let Some(value) = value {
                self.field(name, path, key, Number::Float(value));
            }
        }
        for ((key, _), value) in PERCENTILE_KEYS.iter().zip(percentiles) {
            self.field(name, path, key, Number::Float(value));
        }
    }

    fn meter(&mut self, m: &MeterSnapshot, name: &mut String, path: &mut String) {
        let count = i64::try_from(m.count).unwrap_or(i64::MAX);
        self.field(name, path, "count", Number::Int(count));
        for (key, value) in [("m1", m.m1), ("m5", m.m5), ("m15", m.m15), ("mean", m.mean)] {
            self.field(name, path, key, Number::Float(value));
        }
    }

    fn plain(&mut self, value: &Value, name: &mut String, path: &mut String) {
        match value {
            Value::Int(i) => self.leaf(name, path, Number::Int(*i)),
            Value::Float(f) => self.leaf(name, path, Number::Float(*f)),
            Value::Map(entries) => {
                for (key, v) in entries {
                    let leaves = || leaves::leaves_of_value(v);
                    self.child(name, path, key, leaves, |r, name, path| {
                        r.plain(v, name, path)
                    });
                }
            }
            // As the original: booleans, strings, nulls and lists are not numbers to graph.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch() {
        for (pattern, text, want) in [
            ("*", "web/latency/count", true),
            ("*errors", "web/sub/errors", true),
            ("web/*", "web/a/b", true),
            ("web.*", "web/a", false),
            ("web/?atency", "web/latency", true),
            ("web/[lm]atency", "web/latency", true),
            ("web/[!l]atency", "web/latency", false),
            ("web/[a-z]atency", "web/latency", true),
            ("web/[", "web/[", true),
            ("*a*b*c", "xaybzc", true),
            ("*a*b*c", "xaybz", false),
            ("", "", true),
            ("", "a", false),
            ("a**", "a", true),
            ("température/*", "température/x", true),
            ("[]]", "]", true),
            ("a**b", "a/x/b", true),
            ("x[y*", "x[yz", true),
            ("*.log", "a/b.log", true),
        ] {
            assert_eq!(
                Glob::new(pattern).matches(text),
                want,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn sanitize_known_cases() {
        for (raw, want) in [
            ("plain", "plain"),
            ("  two words ", "two-words"),
            ("a.b", "a-b"),
            ("/index", "_index"),
            ("tab\there", "tab-here"),
            ("new\nline", "new-line"),
            ("bell\u{7}", "bell_"),
            ("a;b=c", "a_b=c"),
            ("", "_"),
            ("   ", "_"),
            ("température", "température"),
            ("nbsp\u{a0}x", "nbsp-x"),
        ] {
            assert_eq!(sanitize(raw), want, "input: {raw:?}");
        }
    }

    #[test]
    fn long_segments_are_cut_with_a_hash() {
        let a = sanitize(&"é".repeat(300));
        let b = sanitize(&format!("{}x", "é".repeat(300)));
        assert!(a.len() <= MAX_SEGMENT_BYTES, "{}", a.len());
        assert_ne!(a, b);
        assert!(a.starts_with("éé"));
        let exactly = "x".repeat(MAX_SEGMENT_BYTES);
        assert_eq!(sanitize(&exactly), exactly);
    }

    #[test]
    fn prefix_gets_a_dot_and_loses_whitespace() {
        assert_eq!(prefix("my.server"), "my.server.");
        assert_eq!(prefix("my.server."), "my.server.");
        assert_eq!(prefix(""), "");
        assert_eq!(prefix(" a b "), "a-b.");
    }

    #[test]
    fn rules_order() {
        let rules = Rules::new().forbid("web/*").allow("web/ok");
        assert!(rules.sends("web/ok"));
        assert!(!rules.sends("web/no"));
        assert!(rules.sends("other"));
        let rules = Rules::new().allow("web/ok").forbid("web/*");
        assert!(!rules.sends("web/ok"));
        let rules = Rules::new().allow("web/*").deny_by_default();
        assert!(rules.sends("web/x"));
        assert!(!rules.sends("db/x"));
        let rules = Rules::new().do_not_log("/web/latency/").allow("*");
        assert!(!rules.sends("web/latency"));
        assert!(!rules.sends("web/latency/count"));
        assert!(rules.sends("web/latencyX"));
        let rules = Rules::new().prune_fn(|p| p.ends_with("secret"));
        assert!(!rules.sends("a/secret/b"));
    }
}
