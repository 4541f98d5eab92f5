//! [`Encoder`]: the text of one tree, scrape after scrape, with only its values written anew.
//!
//! Between two scrapes of a server the tree rarely changes: the metric names, `# HELP` and
//! `# TYPE` lines, labels and collision comments are the same, and only the numbers differ.
//! Most of the writer's work is that unchanging text (over 9 bytes in 10). The encoder keeps the
//! text of its last full render with the place and source of every number in it, and the
//! tree's *shape*: everything the writer's text depends on other than the numbers (names,
//! stat kinds and value types, keys, string values, whether a summary has quantiles, error
//! messages). A snapshot of the same shape is then written as the kept text between its own
//! numbers, which is the text a full render would give, byte for byte.

use std::io;

use super::{push_number, rate_of, Field, Number, Options, Source, Writer, Written};
use crate::append;
use crate::format::chunked::{Chunked, InMemory, TextOut};
use crate::format::shape::{put_count, put_group, put_keyed, put_text, Compare, Reuse, ShapeOut};
use crate::sketch::SketchSnapshot;
use crate::snapshot::{MeterSnapshot, Node, Snapshot, StatSnapshot, StatValue};
use crate::value::Value;

/// Renders snapshots in the text format like [`to_string`](super::to_string) and
/// [`write`](super::write), faster when the tree has not changed shape since the last one.
///
/// Keep one for an endpoint that Prometheus scrapes again and again. While stats, keys and
/// names stay as they were, a render writes only the numbers and copies the rest from the
/// last render (about half the time of a full one on the benchmark tree). Any other change
/// (a stat or key added or removed, a string value changed, a summary that became empty)
/// is found before anything is written, and the text is rendered in full and kept for the
/// next time. The output is always the one of [`to_string`](super::to_string).
///
/// The cost is memory: the last render's text without its numbers (about 9 bytes in 10 of
/// the text), 16 bytes per sample and the tree's names once more; a text longer than
/// [`keep_at_most`](Self::keep_at_most) (64 MiB unless set) is not kept. Keeping costs a
/// full render about a quarter more, so a tree that changes shape at every render is soon
/// rendered without keeping: after `n` such renders in a row, the next `2ⁿ⁻¹ - 1` (at most
/// 15) are plain, then one is kept again.
///
/// ```
/// use scales::format::prometheus::{to_string, Encoder, Options};
///
/// let reg = scales::Registry::new();
/// let web = reg.scope("/web")?;
/// let errors = web.int_stat("errors")?;
/// let mut encoder = Encoder::new(Options::default());
/// for n in 1..=3 {
///     errors.add(1);
///     let snapshot = reg.snapshot();
///     let text = encoder.to_string(&snapshot);
///     assert!(text.ends_with(&format!("web_errors {n}\n")));
///     assert_eq!(text, to_string(&snapshot, &Options::default()));
/// }
/// assert_eq!((encoder.renders(), encoder.reused()), (3, 2));
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder {
    options: Options,
    kept: Option<Kept>,
    reuse: Reuse,
}

/// The last full render, for the next snapshot of the same shape.
#[derive(Debug)]
struct Kept {
    /// The text between the numbers, one piece after the other.
    text: String,
    /// Each number of the text, in order.
    numbers: Vec<Slot>,
    /// The shape of the tree the text is of (see [`shape`]).
    shape: Vec<u8>,
    /// How many stats it has.
    stats: usize,
}

/// A number of the kept text: the length of the text before it (since the number before),
/// and where in the snapshot its value is.
#[derive(Debug, Clone, Copy)]
struct Slot {
    before: u32,
    stat: u32,
    source: Source,
}

/// How the encoder renders a snapshot.
enum Plan<'k, 's> {
    /// The kept text with the numbers of these stats (the snapshot's, in tree order).
    Replay(&'k Kept, Vec<&'s StatSnapshot>),
    /// In full, keeping the text.
    Keep,
    /// In full, as `to_string` and `write` do.
    Plain,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

impl Encoder {
    /// An encoder rendering with `options`.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            kept: None,
            reuse: Reuse::default(),
        }
    }

    /// Keeps a render's text only when it is at most `bytes` long (default 64 MiB, about
    /// 300 000 stats of the benchmark tree); longer texts are always rendered in full.
    #[must_use]
    pub fn keep_at_most(mut self, bytes: usize) -> Self {
        self.reuse.keep_at_most = bytes;
        self
    }

    /// The options it renders with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// How many snapshots it has rendered.
    pub fn renders(&self) -> u64 {
        self.reuse.renders
    }

    /// How many of those it wrote from the kept text (the others were rendered in full).
    pub fn reused(&self) -> u64 {
        self.reuse.reused
    }

    /// Renders every stat of the snapshot, as [`to_string`](super::to_string) does.
    pub fn to_string(&mut self, snapshot: &Snapshot) -> String {
        match self.plan(snapshot) {
            Plan::Replay(kept, stats) => {
                let mut text = String::with_capacity(kept.text.len() + kept.numbers.len() * 24);
                replay(kept, &stats, &mut InMemory(&mut text));
                text
            }
            Plan::Keep => self.render_and_keep(snapshot),
            Plan::Plain => super::to_string(snapshot, &self.options),
        }
    }

    /// Streams every stat of the snapshot into `out`, as [`write`](super::write) does. A
    /// snapshot of a new shape whose text is kept is rendered whole in memory first.
    ///
    /// # Errors
    /// Only those of `out`; writing stops at the first.
    pub fn write<W: io::Write>(&mut self, snapshot: &Snapshot, out: &mut W) -> io::Result<()> {
        match self.plan(snapshot) {
            Plan::Replay(kept, stats) => {
                let mut out = Chunked::new(out);
                replay(kept, &stats, &mut out);
                out.finish()
            }
            Plan::Keep => {
                let text = self.render_and_keep(snapshot);
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Plan::Plain => super::write(snapshot, &self.options, out),
        }
    }

    /// Counts the render and decides how to do it.
    fn plan<'k, 's>(&'k mut self, snapshot: &'s Snapshot) -> Plan<'k, 's> {
        if let Some(kept) = self.kept.take() {
            if let Some(stats) = stats_if_same_shape(&kept, snapshot) {
                self.reuse.hit();
                return Plan::Replay(self.kept.insert(kept), stats);
            }
            self.reuse.miss();
        }
        if self.reuse.keeps() {
            Plan::Keep
        } else {
            Plan::Plain
        }
    }

    /// Renders the snapshot in full, and keeps the text for the next one.
    fn render_and_keep(&mut self, snapshot: &Snapshot) -> String {
        let stats = snapshot.root().count_stats();
        let mut text = String::with_capacity(stats.max(512) * 128);
        let mut writer = Writer::new(InMemory(&mut text));
        writer.values = Some(Vec::with_capacity(stats * 2));
        writer.snapshot(snapshot, &self.options, stats);
        let written = writer.values.take().unwrap_or_default();
        drop(writer);
        self.kept = keep(&text, &written, snapshot, self.reuse.keep_at_most);
        if self.kept.is_none() {
            // Too long to keep: the next renders are plain, and one is tried again later.
            self.reuse.too_long();
        }
        text
    }
}

/// The snapshot's stats in tree order, if the snapshot has the kept render's shape.
fn stats_if_same_shape<'s>(kept: &Kept, snapshot: &'s Snapshot) -> Option<Vec<&'s StatSnapshot>> {
    let mut stats = Vec::with_capacity(kept.stats);
    let mut compare = Compare::new(&kept.shape);
    shape(snapshot, &mut compare, &mut stats);
    compare.is_whole().then_some(stats)
}

/// What to keep of a full render: its text without the numbers, and where they were.
/// `None` for a text longer than `at_most` bytes (or than the `u32` lengths hold, 4 GiB).
fn keep(text: &str, written: &[Written], snapshot: &Snapshot, at_most: usize) -> Option<Kept> {
    if text.len() > at_most {
        return None;
    }
    u32::try_from(text.len()).ok()?;
    let mut kept = Kept {
        text: String::with_capacity(
            text.len() - written.iter().map(|w| w.end - w.start).sum::<usize>(),
        ),
        numbers: Vec::with_capacity(written.len()),
        shape: Vec::new(),
        stats: 0,
    };
    let mut at = 0;
    for w in written {
        kept.text.push_str(&text[at..w.start]);
        kept.numbers.push(Slot {
            before: (w.start - at) as u32,
            stat: w.stat,
            source: w.source,
        });
        at = w.end;
    }
    kept.text.push_str(&text[at..]);
    let mut stats = Vec::new();
    shape(snapshot, &mut kept.shape, &mut stats);
    kept.stats = stats.len();
    kept.shape.shrink_to_fit();
    Some(kept)
}

/// Writes the kept text with the numbers of `stats` (a snapshot of the kept shape).
fn replay(kept: &Kept, stats: &[&StatSnapshot], out: &mut impl TextOut) {
    let mut at = 0;
    let mut quantiles = Quantiles::default();
    for number in &kept.numbers {
        if out.failed() {
            return;
        }
        let end = at + number.before as usize;
        append::push(out, &kept.text[at..end]);
        at = end;
        let stat = stats[number.stat as usize];
        let value = value_of(stat, number.stat, number.source, &mut quantiles);
        // The shape guarantees the value; NaN rather than a panic if that were wrong.
        debug_assert!(value.is_some(), "no value for {number:?}");
        push_number(out, value.unwrap_or(Number::Float(f64::NAN)));
        out.item_done();
    }
    out.push_str(&kept.text[at..]);
    out.item_done();
}

/// The quantiles of the summary last asked for, as a summary's six come one after the other.
#[derive(Default)]
struct Quantiles {
    of: Option<(u32, u32)>,
    values: [f64; 6],
}

/// The number `source` of `stat` (the `index`-th stat).
#[inline(always)]
fn value_of(
    stat: &StatSnapshot,
    index: u32,
    source: Source,
    quantiles: &mut Quantiles,
) -> Option<Number> {
    let item = source.item as usize;
    match (source.field, &stat.value) {
        (Field::One, _) => Some(Number::Int(1)),
        (Field::Value, StatValue::Int(i)) => Some(Number::Int(*i)),
        (Field::Value, StatValue::Float(x)) => Some(Number::Float(*x)),
        (Field::Value, StatValue::Value(Value::Map(entries))) => Number::of(&entries.get(item)?.1),
        (Field::Value, StatValue::Value(value)) => Number::of(value),
        (Field::Value, StatValue::Counts(counts)) => Some(Number::Int(counts.get(item)?.value)),
        (Field::Value, StatValue::Durations(ds)) => Some(Number::Float(ds.get(item)?.value)),
        (Field::Quantile(q), value) => {
            if quantiles.of != Some((index, source.item)) {
                quantiles.values = sketch(value, item)?.percentile_values()?;
                quantiles.of = Some((index, source.item));
            }
            quantiles
                .values
                .get(usize::from(q))
                .map(|&v| Number::Float(v))
        }
        (Field::Sum, value) => Some(Number::Float(sketch(value, item)?.sum())),
        (Field::Count, value) => Some(Number::count(sketch(value, item)?.count())),
        (Field::MeterCount, value) => Some(Number::count(meter(value, item)?.count)),
        (Field::Rate(w), value) if w < 4 => {
            Some(Number::Float(rate_of(meter(value, item)?, usize::from(w))))
        }
        _ => None,
    }
}

fn sketch(value: &StatValue, item: usize) -> Option<&SketchSnapshot> {
    match value {
        StatValue::Distribution(d) => Some(d),
        StatValue::Distributions(ds) => Some(&ds.get(item)?.value),
        _ => None,
    }
}

fn meter(value: &StatValue, item: usize) -> Option<&MeterSnapshot> {
    match value {
        StatValue::Meter(m) => Some(m),
        StatValue::Meters(ms) => Some(&ms.get(item)?.value),
        _ => None,
    }
}

/// Puts the shape of `snapshot` (what its text depends on, other than numbers) into `out`,
/// and its stats in tree order into `stats`. Two snapshots of one shape give one text but
/// for the numbers, with the same renderer options.
fn shape<'s>(snapshot: &'s Snapshot, out: &mut impl ShapeOut, stats: &mut Vec<&'s StatSnapshot>) {
    put_count(out, snapshot.path().len());
    for segment in snapshot.path() {
        put_text(out, segment);
    }
    node_shape(snapshot.root(), out, stats);
}

fn node_shape<'s>(node: &'s Node, out: &mut impl ShapeOut, stats: &mut Vec<&'s StatSnapshot>) {
    match node {
        Node::Group(group) => put_group(out, group, |out, node| node_shape(node, out, stats)),
        Node::Stat(stat) => {
            stats.push(stat);
            stat_shape(stat, out);
        }
    }
}

fn stat_shape(stat: &StatSnapshot, out: &mut impl ShapeOut) {
    let variant = match &stat.value {
        StatValue::Int(_) => 0,
        StatValue::Float(_) => 1,
        StatValue::Value(_) => 2,
        StatValue::Counts(_) => 3,
        StatValue::Strings(_) => 4,
        StatValue::Distribution(_) => 5,
        StatValue::Distributions(_) => 6,
        StatValue::Meter(_) => 7,
        StatValue::Meters(_) => 8,
        StatValue::Durations(_) => 9,
        StatValue::Error(_) => 10,
    };
    out.put(&[b'S', stat.kind as u8, variant]);
    // A summary has quantiles when it has values (`SketchSnapshot::percentile_values`).
    let has_quantiles = |d: &SketchSnapshot| [u8::from(d.count() != 0)];
    match &stat.value {
        StatValue::Int(_) | StatValue::Float(_) | StatValue::Meter(_) => {}
        StatValue::Value(value) => value_shape(value, out),
        StatValue::Counts(counts) => put_keyed(out, counts, |_, _| {}),
        StatValue::Meters(meters) => put_keyed(out, meters, |_, _| {}),
        StatValue::Durations(durations) => put_keyed(out, durations, |_, _| {}),
        StatValue::Strings(strings) => put_keyed(out, strings, |out, s| put_text(out, s)),
        StatValue::Distribution(d) => out.put(&has_quantiles(d)),
        StatValue::Distributions(ds) => {
            put_keyed(out, ds, |out, d| out.put(&has_quantiles(d)));
        }
        StatValue::Error(message) => put_text(out, message),
    }
}

fn value_shape(value: &Value, out: &mut impl ShapeOut) {
    match value {
        Value::Str(s) => {
            out.put(b"s");
            put_text(out, s);
        }
        Value::Map(entries) => {
            out.put(b"m");
            put_count(out, entries.len());
            for (key, value) in entries {
                put_text(out, key);
                out.put(&[u8::from(Number::of(value).is_some())]);
            }
        }
        other => out.put(&[b'v', u8::from(Number::of(other).is_some())]),
    }
}
