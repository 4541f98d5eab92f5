//! The numeric leaves of a snapshot in the order the Graphite renderer visits them, whatever
//! the rules say, and the *shape* the lines depend on besides their numbers; and what a
//! full render did with each leaf. The renderer counts the leaves of what the rules prune
//! here, and the [`Encoder`](super::Encoder) compares shapes and replays leaves with it.

use crate::format::shape::{put_count, put_group, put_keyed, put_text, ShapeOut};
use crate::sketch::SketchSnapshot;
use crate::snapshot::{MeterSnapshot, Node, Snapshot, StatValue};
use crate::value::Value;

/// A number to send.
#[derive(Debug, Clone, Copy)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub(super) fn is_finite(self) -> bool {
        match self {
            Number::Int(_) => true,
            Number::Float(f) => f.is_finite(),
        }
    }
}

/// The numeric leaves of a meter: `count`, `m1`, `m5`, `m15`, `mean`.
pub(super) const METER_LEAVES: usize = 5;

/// What a full render did with one numeric leaf.
#[derive(Debug, Clone, Copy)]
pub(super) enum Leaf {
    /// Sent: its line's name (with tags and the space) ends this far into the names.
    Sent(u32),
    /// Skipped, being NaN or infinite.
    NonFinite,
    /// Left out by the rules.
    Unsent,
}

/// What a full render tells the encoder, leaf by leaf.
#[derive(Debug)]
pub(super) struct Recording {
    pub(super) names: String,
    pub(super) leaves: Vec<Leaf>,
}

impl Recording {
    pub(super) fn sent(&mut self, name: &str, tags: &str) {
        self.names.push_str(name);
        self.names.push_str(tags);
        self.names.push(' ');
        // Names past `u32::MAX` bytes are never kept (see `Encoder::render_and_keep`).
        self.leaves.push(Leaf::Sent(self.names.len() as u32));
    }

    pub(super) fn non_finite(&mut self) {
        self.leaves.push(Leaf::NonFinite);
    }

    pub(super) fn unsent(&mut self, leaves: usize) {
        self.leaves
            .extend(std::iter::repeat_n(Leaf::Unsent, leaves));
    }
}

/// Puts the shape of `snapshot` (what its lines depend on, other than the numbers and
/// their finiteness) into `out`, and gives its numeric leaves to `numbers`, in the order the
/// renderer visits them (every leaf, whatever the rules say).
pub(super) fn walk(snapshot: &Snapshot, out: &mut impl ShapeOut, numbers: &mut impl FnMut(Number)) {
    put_count(out, snapshot.path().len());
    for segment in snapshot.path() {
        put_text(out, segment);
    }
    node_walk(snapshot.root(), out, numbers);
}

/// A shape that is not kept: for counting leaves.
struct Discard;

impl ShapeOut for Discard {
    fn put(&mut self, _: &[u8]) {}
}

/// The numeric leaves at and below `node`, whatever the rules say.
pub(super) fn leaves_of_node(node: &Node) -> usize {
    let mut leaves = 0;
    node_walk(node, &mut Discard, &mut |_| leaves += 1);
    leaves
}

/// The numeric leaves of a distribution.
pub(super) fn leaves_of_distribution(d: &SketchSnapshot) -> usize {
    let mut leaves = 0;
    distribution_walk(d, &mut Discard, &mut |_| leaves += 1);
    leaves
}

/// The numeric leaves of a plain value (a map's, at any depth).
pub(super) fn leaves_of_value(value: &Value) -> usize {
    let mut leaves = 0;
    value_walk(value, &mut Discard, &mut |_| leaves += 1);
    leaves
}

fn node_walk(node: &Node, out: &mut impl ShapeOut, numbers: &mut impl FnMut(Number)) {
    match node {
        Node::Group(group) => put_group(out, group, |out, node| node_walk(node, out, numbers)),
        Node::Stat(stat) => stat_walk(&stat.value, out, numbers),
    }
}

/// As the renderer's `stat` visits a stat's leaves.
fn stat_walk(value: &StatValue, out: &mut impl ShapeOut, numbers: &mut impl FnMut(Number)) {
    match value {
        StatValue::Int(i) => {
            out.put(b"i");
            numbers(Number::Int(*i));
        }
        StatValue::Float(f) => {
            out.put(b"f");
            numbers(Number::Float(*f));
        }
        StatValue::Value(value) => {
            out.put(b"v");
            value_walk(value, out, numbers);
        }
        StatValue::Counts(counts) => {
            out.put(b"c");
            put_keyed(out, counts, |_, &n| numbers(Number::Int(n)));
        }
        StatValue::Durations(durations) => {
            out.put(b"d");
            put_keyed(out, durations, |_, &s| numbers(Number::Float(s)));
        }
        StatValue::Distribution(d) => {
            out.put(b"p");
            distribution_walk(d, out, numbers);
        }
        StatValue::Distributions(ds) => {
            out.put(b"P");
            put_keyed(out, ds, |out, d| distribution_walk(d, out, numbers));
        }
        StatValue::Meter(m) => {
            out.put(b"m");
            meter_walk(m, numbers);
        }
        StatValue::Meters(ms) => {
            out.put(b"M");
            put_keyed(out, ms, |_, m| meter_walk(m, numbers));
        }
        StatValue::Strings(_) => out.put(b"s"),
        StatValue::Error(_) => out.put(b"e"),
    }
}

/// As the renderer's `distribution` visits its leaves: the
/// count; then, when there are percentiles, min, max, mean and stddev where known, and
/// the percentiles.
fn distribution_walk(
    d: &SketchSnapshot,
    out: &mut impl ShapeOut,
    numbers: &mut impl FnMut(Number),
) {
    numbers(Number::Int(i64::try_from(d.count()).unwrap_or(i64::MAX)));
    let Some(percentiles) = d.percentile_values() else {
        out.put(&[0]);
        return;
    };
    let fields = [d.min(), d.max(), d.mean(), d.stddev()];
    let present = fields.iter().enumerate().fold(1, |bits, (i, field)| {
        bits | u8::from(field.is_some()) << (i + 1)
    });
    out.put(&[present]);
    fields
        .into_iter()
        .flatten()
        .for_each(|f| numbers(Number::Float(f)));
    percentiles
        .into_iter()
        .for_each(|p| numbers(Number::Float(p)));
}

/// As the renderer's `meter` visits its leaves.
fn meter_walk(m: &MeterSnapshot, numbers: &mut impl FnMut(Number)) {
    numbers(Number::Int(i64::try_from(m.count).unwrap_or(i64::MAX)));
    for rate in [m.m1, m.m5, m.m15, m.mean] {
        numbers(Number::Float(rate));
    }
}

/// As the renderer's `plain` visits a plain value's leaves.
fn value_walk(value: &Value, out: &mut impl ShapeOut, numbers: &mut impl FnMut(Number)) {
    match value {
        Value::Int(i) => {
            out.put(b"i");
            numbers(Number::Int(*i));
        }
        Value::Float(f) => {
            out.put(b"f");
            numbers(Number::Float(*f));
        }
        Value::Map(entries) => {
            out.put(b"m");
            put_count(out, entries.len());
            for (key, value) in entries {
                if !out.same() {
                    return;
                }
                put_text(out, key);
                value_walk(value, out, numbers);
            }
        }
        _ => out.put(b"o"),
    }
}
