//! Folding the snapshots of many sources into one tree.
//!
//! Groups merge by name (the union of their entries, in the order first seen).
//! Distributions that carry their sketches merge as sketches: the result is the sketch of
//! every value of the fleet, so its percentiles keep the sketch's error bound. Every other
//! value is combined by the aggregators of its [`Spec`] rule. Memory is one tree plus, per
//! value, what its aggregators keep (one number for sums, a value per source for
//! `inverse` and `sorted`).

use std::cmp::Ordering;
use std::collections::HashMap;

use scales::{
    Entry, Group, Name, Node, SketchSnapshot, Snapshot, StatKind, StatSnapshot, StatValue, Value,
};

use super::spec::{Aggregator, Spec};

/// The fleet's tree being built, one source at a time.
pub(crate) struct Aggregation<'s> {
    spec: &'s Spec,
    root: Acc,
    sources: Vec<String>,
    /// Values skipped because their shape differs from the earlier sources' at that path.
    conflicts: Vec<String>,
}

/// What is known of one path.
enum Acc {
    Group(GroupAcc),
    Sketch(Box<SketchSnapshot>),
    Leaf(Box<LeafAcc>),
}

#[derive(Default)]
struct GroupAcc {
    entries: Vec<(Name, Acc)>,
    index: HashMap<Name, usize>,
}

impl GroupAcc {
    fn child(&mut self, name: &Name, make: impl FnOnce() -> Acc) -> &mut Acc {
        let at = match self.index.get(name.as_str()) {
            Some(&at) => at,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name.clone(), make()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }
}

/// A number as it came: integers stay integers while they can.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
        }
    }
}

/// One aggregator's state.
enum State {
    Sum { int: i64, float: f64, floats: bool },
    Average { total: f64, weight: f64 },
    Min(Option<Num>),
    Max(Option<Num>),
    Highest(Option<(Num, usize)>),
    Lowest(Option<(Num, usize)>),
    Inverse(Inverse),
    Sorted(Vec<(usize, Value)>),
    First(Option<Value>),
    Skip,
}

/// Distinct values with their sources, in the order first seen.
#[derive(Default)]
struct Inverse(Vec<(Value, Vec<usize>)>);

impl Inverse {
    fn add(&mut self, value: &Value, source: usize) {
        match self.0.iter_mut().find(|(v, _)| v == value) {
            Some((_, sources)) => sources.push(source),
            None => self.0.push((value.clone(), vec![source])),
        }
    }

    /// One value when every source agrees, else `{value: [sources...]}`.
    fn result(&self, names: &[String]) -> Value {
        match self.0.as_slice() {
            [(value, _)] => value.clone(),
            _ => self.map(names),
        }
    }

    /// `{value: [sources...]}`, sources in human order (`web2` before `web10`).
    fn map(&self, names: &[String]) -> Value {
        Value::Map(
            self.0
                .iter()
                .map(|(value, sources)| {
                    let mut sources: Vec<&str> =
                        sources.iter().map(|&s| names[s].as_str()).collect();
                    sources.sort_by(|a, b| human_order(a, b));
                    (
                        key_of(value),
                        Value::List(sources.into_iter().map(Value::from).collect()),
                    )
                })
                .collect(),
        )
    }
}

/// A value as an object key: strings as they are, everything else as its JSON text.
fn key_of(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => {
            let mut out = Vec::new();
            let _ = scales::format::json::write_value(
                other,
                scales::format::json::Style::Compact,
                &mut out,
            );
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// Compares names as people do: runs of digits by their number (`web2 < web10`).
pub(crate) fn human_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (run(a), run(b));
                let (da, db) = (&a[..na], &b[..nb]);
                let (sa, sb) = (strip_zeros(da), strip_zeros(db));
                let order = sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn strip_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

/// The values of one path combined by its rule's aggregators.
struct LeafAcc {
    rule: Option<usize>,
    states: Vec<State>,
    /// Values that are not numbers, when every aggregator wants numbers.
    others: Inverse,
    numbers: usize,
}

impl LeafAcc {
    fn new(spec: &Spec, rule: Option<usize>) -> LeafAcc {
        let aggregators = rule.map_or(&[Aggregator::Sum][..], |r| &spec.rule(r).aggregators);
        let states = aggregators
            .iter()
            .map(|a| match a {
                Aggregator::Sum => State::Sum {
                    int: 0,
                    float: 0.0,
                    floats: false,
                },
                Aggregator::Average => State::Average {
                    total: 0.0,
                    weight: 0.0,
                },
                Aggregator::Min => State::Min(None),
                Aggregator::Max => State::Max(None),
                Aggregator::Highest => State::Highest(None),
                Aggregator::Lowest => State::Lowest(None),
                Aggregator::Inverse => State::Inverse(Inverse::default()),
                Aggregator::Sorted => State::Sorted(Vec::new()),
                Aggregator::First => State::First(None),
                Aggregator::Skip => State::Skip,
            })
            .collect();
        LeafAcc {
            rule,
            states,
            others: Inverse::default(),
            numbers: 0,
        }
    }

    fn add(&mut self, value: &Value, weight: Option<f64>, source: usize) {
        let number = match *value {
            Value::Int(i) => Some(Num::Int(i)),
            Value::Float(f) => Some(Num::Float(f)),
            _ => None,
        };
        let mut to_others = false;
        for state in &mut self.states {
            match (state, number) {
                (State::Sum { int, float, floats }, Some(n)) => match n {
                    Num::Int(i) if !*floats => match int.checked_add(i) {
                        Some(total) => *int = total,
                        None => {
                            *floats = true;
                            *float = *int as f64 + i as f64;
                            *int = 0;
                        }
                    },
                    n => {
                        if !*floats {
                            *floats = true;
                            *float = *int as f64;
                            *int = 0;
                        }
                        *float += n.f64();
                    }
                },
                (State::Average { total, weight: w }, Some(n)) => {
                    let weight = weight.unwrap_or(1.0);
                    *total += n.f64() * weight;
                    *w += weight;
                }
                (State::Min(best), Some(n)) => {
                    if best.is_none_or(|b| n.f64() < b.f64()) {
                        *best = Some(n);
                    }
                }
                (State::Max(best), Some(n)) => {
                    if best.is_none_or(|b| n.f64() > b.f64()) {
                        *best = Some(n);
                    }
                }
                (State::Highest(best), Some(n)) => {
                    if best.is_none_or(|(b, _)| n.f64() > b.f64()) {
                        *best = Some((n, source));
                    }
                }
                (State::Lowest(best), Some(n)) => {
                    if best.is_none_or(|(b, _)| n.f64() < b.f64()) {
                        *best = Some((n, source));
                    }
                }
                (State::Inverse(inverse), _) => inverse.add(value, source),
                (State::Sorted(list), _) => list.push((source, value.clone())),
                (State::First(first), _) => {
                    if first.is_none() {
                        *first = Some(value.clone());
                    }
                }
                (State::Skip, _) => {}
                (_, None) => to_others = true,
            }
        }
        if to_others {
            self.others.add(value, source);
        }
        if number.is_some() {
            self.numbers += 1;
        }
    }

    /// The result, and whether it goes in the output at all.
    fn result(&self, spec: &Spec, names: &[String]) -> Option<Node> {
        if matches!(self.states.as_slice(), [State::Skip]) {
            return None;
        }
        let numeric = self
            .rule
            .is_none_or(|r| spec.rule(r).aggregators.iter().all(|a| a.numeric()));
        if numeric && self.numbers == 0 {
            return Some(value_node(self.others.result(names)));
        }
        let results: Vec<(&'static str, Value)> = self
            .states
            .iter()
            .zip(self.aggregators(spec))
            .map(|(state, aggregator)| (aggregator.name(), state_result(state, names)))
            .collect();
        Some(match results.as_slice() {
            [(_, value)] => value_node(value.clone()),
            _ => Node::Group(Group {
                entries: results
                    .into_iter()
                    .map(|(name, value)| Entry::new(name, value_node(value)))
                    .collect(),
                collapsed: false,
            }),
        })
    }

    fn aggregators<'a>(&self, spec: &'a Spec) -> &'a [Aggregator] {
        self.rule
            .map_or(&[Aggregator::Sum][..], |r| &spec.rule(r).aggregators)
    }
}

fn state_result(state: &State, names: &[String]) -> Value {
    let with_source = |best: &Option<(Num, usize)>| match best {
        Some((n, source)) => Value::Map(vec![
            ("source".to_owned(), Value::from(names[*source].as_str())),
            ("value".to_owned(), n.value()),
        ]),
        None => Value::Null,
    };
    match state {
        State::Sum { int, float, floats } => {
            if *floats {
                Value::Float(*float)
            } else {
                Value::Int(*int)
            }
        }
        State::Average { total, weight } => {
            if *weight > 0.0 {
                Value::Float(total / weight)
            } else {
                Value::Null
            }
        }
        State::Min(n) | State::Max(n) => n.map_or(Value::Null, Num::value),
        State::Highest(best) | State::Lowest(best) => with_source(best),
        State::Inverse(inverse) => inverse.map(names),
        State::Sorted(list) => {
            let mut list: Vec<&(usize, Value)> = list.iter().collect();
            list.sort_by(|(sa, a), (sb, b)| {
                compare_values(a, b).then_with(|| human_order(&names[*sa], &names[*sb]))
            });
            Value::List(
                list.into_iter()
                    .map(|(s, v)| Value::List(vec![Value::from(names[*s].as_str()), v.clone()]))
                    .collect(),
            )
        }
        State::First(first) => first.clone().unwrap_or(Value::Null),
        State::Skip => Value::Null,
    }
}

/// Numbers first by value, then everything else by its JSON text.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => key_of(a).cmp(&key_of(b)),
    }
}

fn value_node(value: Value) -> Node {
    let (kind, value) = match value {
        Value::Int(i) => (StatKind::IntStat, StatValue::Int(i)),
        Value::Float(f) => (StatKind::DoubleStat, StatValue::Float(f)),
        other => (StatKind::Stat, StatValue::Value(other)),
    };
    Node::Stat(StatSnapshot { kind, value })
}

/// A stat's shape reduced to what JSON carries: a group, a sketch, or a value.
enum Shape<'a> {
    Group(Vec<(Name, Shape<'a>)>),
    Borrowed(&'a Node),
    Sketch(&'a SketchSnapshot),
    Value(Value),
}

/// An in-process stat of a kind JSON turns into a group (meters, dicts, ...), as that
/// group; `None` for the shapes the reader gives (numbers, values, distributions).
fn reshape(stat: &StatSnapshot) -> Option<Shape<'_>> {
    match &stat.value {
        StatValue::Int(_) | StatValue::Float(_) | StatValue::Value(_) => None,
        StatValue::Distribution(_) => None,
        StatValue::Distributions(ds) => Some(Shape::Group(
            ds.iter()
                .map(|d| (Name::from(&*d.key), Shape::Sketch(&d.value)))
                .collect(),
        )),
        _ => Some(value_shape(stat.to_value())),
    }
}

fn value_shape(value: Value) -> Shape<'static> {
    match value {
        Value::Map(entries) => Shape::Group(
            entries
                .into_iter()
                .map(|(k, v)| (Name::from(k), value_shape(v)))
                .collect(),
        ),
        other => Shape::Value(other),
    }
}

/// A distribution's summary fields as a group of numbers (for a path where other sources
/// have no sketch).
fn summary_shape(sketch: &SketchSnapshot) -> Shape<'static> {
    value_shape(
        StatSnapshot {
            kind: StatKind::Pmf,
            value: StatValue::Distribution(Box::new(sketch.clone())),
        }
        .to_value(),
    )
}

impl<'s> Aggregation<'s> {
    pub(crate) fn new(spec: &'s Spec) -> Self {
        Aggregation {
            spec,
            root: Acc::Group(GroupAcc::default()),
            sources: Vec::new(),
            conflicts: Vec::new(),
        }
    }

    /// Folds one source's snapshot in; `name` is how results name the source.
    pub(crate) fn add(&mut self, name: &str, snapshot: &Snapshot) {
        let source = self.sources.len();
        self.sources.push(name.to_owned());
        let mut path = String::new();
        for segment in snapshot.path().iter() {
            path.push('/');
            path.push_str(segment);
        }
        let mut folder = Folder {
            spec: self.spec,
            source,
            name,
            path,
            conflicts: &mut self.conflicts,
        };
        let root = Shape::Borrowed(snapshot.root());
        // A snapshot of one stat (a status URL down to a stat) folds in at the root.
        folder.fold(&mut self.root, &root, None);
    }

    /// How many sources were folded in.
    pub(crate) fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Values that were skipped because their shape disagreed with earlier sources.
    pub(crate) fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    /// The fleet's tree, and the paths of its approximate values (sorted as they come).
    pub(crate) fn finish(&self) -> (Snapshot, Vec<String>) {
        let mut approximate = Vec::new();
        let mut path = String::new();
        let root = self
            .node(&self.root, &mut path, &mut approximate)
            .unwrap_or_else(|| Node::Group(Group::default()));
        (
            Snapshot::new(Default::default(), root, std::time::SystemTime::now()),
            approximate,
        )
    }

    fn node(&self, acc: &Acc, path: &mut String, approximate: &mut Vec<String>) -> Option<Node> {
        match acc {
            Acc::Group(group) => {
                let mut entries = Vec::with_capacity(group.entries.len());
                for (name, child) in &group.entries {
                    let len = path.len();
                    path.push('/');
                    path.push_str(name);
                    if let Some(node) = self.node(child, path, approximate) {
                        entries.push(Entry::new(name.clone(), node));
                    }
                    path.truncate(len);
                }
                Some(Node::Group(Group {
                    entries,
                    collapsed: false,
                }))
            }
            Acc::Sketch(sketch) => Some(Node::Stat(StatSnapshot {
                kind: StatKind::Pmf,
                value: StatValue::Distribution(sketch.clone()),
            })),
            Acc::Leaf(leaf) => {
                let node = leaf.result(self.spec, &self.sources)?;
                let marked = leaf.rule.is_some_and(|r| self.spec.rule(r).approximate);
                if marked && leaf.numbers > 0 {
                    approximate.push(if path.is_empty() {
                        "/".to_owned()
                    } else {
                        path.clone()
                    });
                }
                Some(node)
            }
        }
    }
}

/// One source being folded in.
struct Folder<'f> {
    spec: &'f Spec,
    source: usize,
    name: &'f str,
    /// The path of the value being folded (`/web/latency`).
    path: String,
    conflicts: &'f mut Vec<String>,
}

impl Folder<'_> {
    fn conflict(&mut self, was: &str, is: &str) {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        self.conflicts.push(format!(
            "{path}: {is} in {}, {was} in the sources before: skipped",
            self.name
        ));
    }

    fn fold(&mut self, acc: &mut Acc, shape: &Shape<'_>, weight: Option<f64>) {
        match shape {
            Shape::Borrowed(Node::Group(group)) => {
                let children: Vec<(Name, Shape<'_>)> = group
                    .entries
                    .iter()
                    .map(|e| (e.name.clone(), Shape::Borrowed(&e.node)))
                    .collect();
                self.fold_group(acc, &children);
            }
            Shape::Borrowed(Node::Stat(stat)) => match (&stat.value, reshape(stat)) {
                (_, Some(shape)) => self.fold(acc, &shape, weight),
                (StatValue::Distribution(sketch), None) => self.fold_sketch(acc, sketch),
                (StatValue::Int(i), None) => self.fold_value(acc, &Value::Int(*i), weight),
                (StatValue::Float(f), None) => self.fold_value(acc, &Value::Float(*f), weight),
                (StatValue::Value(v), None) => self.fold_value(acc, v, weight),
                (_, None) => {}
            },
            Shape::Group(children) => self.fold_group(acc, children),
            Shape::Sketch(sketch) => self.fold_sketch(acc, sketch),
            Shape::Value(value) => self.fold_value(acc, value, weight),
        }
    }

    fn fold_group(&mut self, acc: &mut Acc, children: &[(Name, Shape<'_>)]) {
        if let Acc::Sketch(sketch) = acc {
            // Earlier sources had sketches, this one a summary: go on with summaries.
            let merged = std::mem::take(&mut **sketch);
            *acc = Acc::Group(GroupAcc::default());
            if let Shape::Group(summary) = summary_shape(&merged) {
                self.fold_group(acc, &summary);
            }
        }
        let Acc::Group(group) = acc else {
            return self.conflict("a value", "a group");
        };
        // The `count` beside a distribution's fields weighs their averages.
        let weight = children.iter().find_map(|(name, shape)| {
            (name.as_str() == "count")
                .then(|| count_of(shape))
                .flatten()
        });
        for (name, shape) in children {
            let len = self.path.len();
            self.path.push('/');
            self.path.push_str(name);
            let rule_path = self.path.clone();
            let spec = self.spec;
            let child = group.child(name, || new_acc(spec, &rule_path, shape));
            self.fold(child, shape, weight);
            self.path.truncate(len);
        }
    }

    fn fold_sketch(&mut self, acc: &mut Acc, sketch: &SketchSnapshot) {
        match acc {
            Acc::Sketch(merged) => merged.merge(sketch),
            Acc::Group(_) => {
                if let Shape::Group(children) = summary_shape(sketch) {
                    self.fold_group(acc, &children);
                }
            }
            Acc::Leaf(_) => self.conflict("a value", "a distribution"),
        }
    }

    fn fold_value(&mut self, acc: &mut Acc, value: &Value, weight: Option<f64>) {
        match acc {
            Acc::Leaf(leaf) => leaf.add(value, weight, self.source),
            Acc::Group(_) => self.conflict("a group", "a value"),
            Acc::Sketch(_) => self.conflict("a distribution", "a value"),
        }
    }
}

/// A fresh accumulator of the shape of the first value seen at `path`.
fn new_acc(spec: &Spec, path: &str, shape: &Shape<'_>) -> Acc {
    let is_sketch = match shape {
        Shape::Sketch(_) => true,
        Shape::Borrowed(Node::Stat(stat)) => {
            matches!(stat.value, StatValue::Distribution(_))
        }
        _ => false,
    };
    let is_group = match shape {
        Shape::Group(_) | Shape::Borrowed(Node::Group(_)) => true,
        Shape::Borrowed(Node::Stat(stat)) => reshape(stat).is_some(),
        _ => false,
    };
    if is_sketch {
        Acc::Sketch(Box::default())
    } else if is_group {
        Acc::Group(GroupAcc::default())
    } else {
        Acc::Leaf(Box::new(LeafAcc::new(
            spec,
            spec.rule_for(path.trim_start_matches('/')),
        )))
    }
}

/// The number of a `count` entry.
fn count_of(shape: &Shape<'_>) -> Option<f64> {
    match shape {
        Shape::Borrowed(Node::Stat(stat)) => match stat.value {
            StatValue::Int(i) => Some(i as f64),
            StatValue::Float(f) => Some(f),
            _ => None,
        },
        Shape::Value(value) => value.as_f64(),
        _ => None,
    }
}
