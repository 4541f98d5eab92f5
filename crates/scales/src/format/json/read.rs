//! The JSON reader: text of the shapes the writer (and the original) writes, back into a
//! [`Snapshot`], streamed through serde's visitors (no intermediate JSON value).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};

use crate::sketch::{SketchParts, SketchSnapshot, MAX_INDEX, MIN_INDEX, SUB_BITS};
use crate::snapshot::{Entry, Group, Node, Snapshot, StatKind, StatSnapshot, StatValue};
use crate::value::Value;
use crate::Name;

use super::SKETCH_VERSION;

/// How deeply objects and arrays may nest in [`parse`]'s input. Deeper input is an error
/// (not a stack overflow). Trees of stats are a few levels deep.
pub const MAX_DEPTH: usize = 100;

/// Groups with more entries than this find duplicate keys through a map, not a scan.
const SCAN_LIMIT: usize = 8;

/// Why [`parse`] refused its input: what is wrong, where in the document (a JSON Pointer,
/// `/web/latency/sketch/positive/3`) and at which line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
    path: String,
    line: usize,
    column: usize,
}

impl ParseError {
    /// What is wrong (`unknown sketch version 2: this reader knows version 1`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where: a JSON Pointer (RFC 6901) to the value at fault, `""` for the whole document.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The line (from 1) of the input where the error was found; 0 when not known.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column (from 1) of the input where the error was found; 0 when not known.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.path.is_empty() {
            f.write_str(" at the top level")?;
        } else {
            write!(f, " at {}", self.path)?;
        }
        if self.line > 0 {
            write!(f, " (line {}, column {})", self.line, self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// Reads JSON text into a snapshot of the whole tree.
///
/// * An object is a [`Group`] of its members, in their order (of a key given twice, the
///   last value wins, in the first one's place).
/// * An object with a `"sketch"` member in the sketch form ([`Options::sketches`]) is one
///   distribution, [`StatValue::Distribution`], rebuilt exactly from the sketch (its other
///   members, the summary, are computed again from it). An object without one — the
///   original's distributions — stays a group of numbers.
/// * Integers are [`StatValue::Int`] (beyond `i64`, [`StatValue::Float`]), other numbers
///   `Float`; strings, booleans and `null` are [`StatValue::Value`], and so is an array (a
///   [`Value::List`], whose objects are [`Value::Map`]s).
/// * A top-level `last-updated` number (a dump's time, Unix seconds) becomes the snapshot's
///   [`taken_at`](Snapshot::taken_at) and is not a stat; without one, `taken_at` is now.
///
/// The input's size is the caller's to bound; memory used is proportional to it. Nesting is
/// bounded by [`MAX_DEPTH`].
///
/// ```
/// use scales::format::json;
///
/// let reg = scales::Registry::new();
/// let web = reg.scope("/web")?;
/// web.pmf_stat("latency")?.record(0.25);
/// web.int_stat("hits")?.add(3);
/// let text = json::to_string(&reg.snapshot(), json::Options::default().with_sketches());
///
/// let back = json::parse(text.as_bytes())?;
/// assert_eq!(back.stat("/web/hits").unwrap().value, scales::StatValue::Int(3));
/// assert_eq!(back.stat("/web/latency"), reg.snapshot().stat("/web/latency"));
///
/// let error = json::parse(br#"{"web": {"hits": [1, tru]}}"#).unwrap_err();
/// assert_eq!(error.path(), "/web/hits/1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Options::sketches`]: super::Options::sketches
///
/// # Errors
/// A [`ParseError`] for text that is not JSON, nests deeper than [`MAX_DEPTH`], holds a
/// number out of `f64`'s range, or a sketch that is malformed or impossible (an unknown
/// version, bucket counts that do not add up to its count, an index out of range, `min`
/// above `max`, a negative count, ...).
pub fn parse(input: &[u8]) -> Result<Snapshot, ParseError> {
    let mut state = State::default();
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    let result = TreeSeed {
        state: &mut state,
        top: true,
        sketch_candidate: false,
    }
    .deserialize(&mut deserializer)
    .and_then(|root| deserializer.end().map(|()| root));
    match result {
        Ok(root) => {
            let taken_at = match state.last_updated {
                Some(at) => at,
                None => SystemTime::now(),
            };
            Ok(Snapshot::new(Default::default(), root, taken_at))
        }
        Err(error) => Err(state.error(&error)),
    }
}

/// One step of the path to the value being read.
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Default)]
struct State {
    /// Where the reader is; on an error, where the error is (nothing is popped past it).
    path: Vec<Segment>,
    depth: usize,
    last_updated: Option<SystemTime>,
}

impl State {
    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(E::custom(format_args!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn pop_key(&mut self) -> String {
        match self.path.pop() {
            Some(Segment::Key(key)) => key,
            _ => String::new(),
        }
    }

    fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            out.push('/');
            match segment {
                Segment::Key(key) => {
                    for ch in key.chars() {
                        match ch {
                            '~' => out.push_str("~0"),
                            '/' => out.push_str("~1"),
                            ch => out.push(ch),
                        }
                    }
                }
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    fn error(&self, error: &serde_json::Error) -> ParseError {
        let (line, column) = (error.line(), error.column());
        let mut message = error.to_string();
        let position = format!(" at line {line} column {column}");
        if message.ends_with(&position) {
            message.truncate(message.len() - position.len());
        }
        ParseError {
            message,
            path: self.pointer(),
            line,
            column,
        }
    }
}

/// A value in the tree: a group, a stat, or (for `sketch_candidate`, the value of a
/// `"sketch"` key) a sketch.
struct TreeSeed<'s> {
    state: &'s mut State,
    top: bool,
    sketch_candidate: bool,
}

enum Tree {
    Node(Node),
    Sketch(SketchSnapshot),
}

impl Tree {
    fn into_node(self) -> Node {
        match self {
            Tree::Node(node) => node,
            Tree::Sketch(sketch) => distribution(sketch),
        }
    }
}

fn distribution(sketch: SketchSnapshot) -> Node {
    Node::Stat(StatSnapshot {
        kind: StatKind::Pmf,
        value: StatValue::Distribution(Box::new(sketch)),
    })
}

fn stat(kind: StatKind, value: StatValue) -> Tree {
    Tree::Node(Node::Stat(StatSnapshot { kind, value }))
}

impl<'de> DeserializeSeed<'de> for TreeSeed<'_> {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self).map(Tree::into_node)
    }
}

/// The same visitor, keeping a sketch apart from a node.
struct CandidateSeed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for CandidateSeed<'_> {
    type Value = Tree;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Tree, D::Error> {
        deserializer.deserialize_any(TreeSeed {
            state: self.0,
            top: false,
            sketch_candidate: true,
        })
    }
}

impl<'de> de::Visitor<'de> for TreeSeed<'_> {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(stat(StatKind::Stat, StatValue::Value(Value::Bool(v))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(stat(StatKind::IntStat, StatValue::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => stat(StatKind::IntStat, StatValue::Int(i)),
            Err(_) => stat(StatKind::DoubleStat, StatValue::Float(v as f64)),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(stat(StatKind::DoubleStat, StatValue::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(stat(
            StatKind::Stat,
            StatValue::Value(Value::Str(v.to_owned())),
        ))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(stat(StatKind::Stat, StatValue::Value(Value::Str(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(stat(StatKind::Stat, StatValue::Value(Value::Null)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tree, A::Error> {
        let list = ValueSeed(self.state).visit_seq(seq)?;
        Ok(stat(StatKind::Stat, StatValue::Value(list)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let state = self.state;
        state.enter()?;
        let Some(first) = map.next_key::<String>()? else {
            state.leave();
            return Ok(Tree::Node(Node::Group(Group::default())));
        };
        if self.sketch_candidate && first == "v" {
            let sketch = read_sketch(state, &mut map)?;
            state.leave();
            return Ok(Tree::Sketch(sketch));
        }
        let mut group = GroupBuilder::default();
        let mut sketch = None;
        let mut key = Some(first);
        while let Some(name) = key {
            state.path.push(Segment::Key(name));
            let is = |s: &str| matches!(state.path.last(), Some(Segment::Key(k)) if k == s);
            if is("sketch") {
                match map.next_value_seed(CandidateSeed(state))? {
                    Tree::Sketch(s) => {
                        sketch = Some(s);
                        state.path.pop();
                    }
                    Tree::Node(node) => group.insert(state.pop_key(), node),
                }
            } else if self.top && is("last-updated") {
                let node = map.next_value_seed(TreeSeed {
                    state,
                    top: false,
                    sketch_candidate: false,
                })?;
                state.last_updated = Some(time_of(&node)?);
                state.path.pop();
            } else {
                let node = map.next_value_seed(TreeSeed {
                    state,
                    top: false,
                    sketch_candidate: false,
                })?;
                group.insert(state.pop_key(), node);
            }
            key = map.next_key::<String>()?;
        }
        state.leave();
        Ok(Tree::Node(match sketch {
            Some(sketch) => distribution(sketch),
            None => Node::Group(group.finish()),
        }))
    }
}

/// A dump's `last-updated`: Unix seconds.
fn time_of<E: de::Error>(node: &Node) -> Result<SystemTime, E> {
    let seconds = match node {
        Node::Stat(StatSnapshot {
            value: StatValue::Int(i),
            ..
        }) => *i as f64,
        Node::Stat(StatSnapshot {
            value: StatValue::Float(f),
            ..
        }) => *f,
        _ => {
            return Err(E::custom(
                "last-updated is not a number (Unix seconds were expected)",
            ))
        }
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|since| UNIX_EPOCH.checked_add(since))
        .ok_or_else(|| E::custom(format_args!("last-updated {seconds} is not a time")))
}

/// A group's entries as they are read; a repeated key replaces the earlier value in place.
#[derive(Default)]
struct GroupBuilder {
    entries: Vec<Entry>,
    index: Option<HashMap<Name, usize>>,
}

impl GroupBuilder {
    fn insert(&mut self, name: String, node: Node) {
        let name = Name::from(name);
        let existing = match &mut self.index {
            Some(index) => index.get(name.as_str()).copied(),
            None => self.entries.iter().position(|e| e.name == name),
        };
        if let Some(at) = existing {
            self.entries[at].node = node;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(name.clone(), self.entries.len());
        } else if self.entries.len() >= SCAN_LIMIT {
            let mut index: HashMap<Name, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect();
            index.insert(name.clone(), self.entries.len());
            self.index = Some(index);
        }
        self.entries.push(Entry { name, node });
    }

    fn finish(self) -> Group {
        Group {
            entries: self.entries,
            collapsed: false,
        }
    }
}

/// A value inside an array: a [`Value`] (objects are maps, no sketches).
struct ValueSeed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let state = self.0;
        state.enter()?;
        let mut items = Vec::new();
        loop {
            state.path.push(Segment::Index(items.len()));
            match seq.next_element_seed(ValueSeed(state))? {
                Some(item) => items.push(item),
                None => break,
            }
            state.path.pop();
        }
        state.path.pop();
        state.leave();
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let state = self.0;
        state.enter()?;
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            state.path.push(Segment::Key(key));
            let value = map.next_value_seed(ValueSeed(state))?;
            entries.push((state.pop_key(), value));
        }
        state.leave();
        Ok(Value::Map(entries))
    }
}

/// An error at `field` of the sketch being read (pushed on the path, so it is reported).
fn at_field<E: de::Error>(state: &mut State, field: &str, message: impl fmt::Display) -> E {
    state.path.push(Segment::Key(field.to_owned()));
    E::custom(message)
}

/// The rest of a sketch object whose first key, `v`, has just been read.
fn read_sketch<'de, A: MapAccess<'de>>(
    state: &mut State,
    map: &mut A,
) -> Result<SketchSnapshot, A::Error> {
    state.path.push(Segment::Key("v".to_owned()));
    let version: u64 = map.next_value()?;
    if version != SKETCH_VERSION {
        return Err(de::Error::custom(format_args!(
            "unknown sketch version {version}: this reader knows version {SKETCH_VERSION}"
        )));
    }
    state.path.pop();
    let mut parts = SketchParts::default();
    let (mut count, mut sub_bits) = (None, None);
    let mut seen: Vec<String> = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        if seen.contains(&key) {
            return Err(at_field(state, &key, "key given twice"));
        }
        state.path.push(Segment::Key(key));
        let key = match state.path.last() {
            Some(Segment::Key(key)) => key.as_str(),
            _ => "",
        };
        match key {
            "sub_bits" => {
                let bits: u64 = map.next_value()?;
                if bits != u64::from(SUB_BITS) {
                    return Err(de::Error::custom(format_args!(
                        "sub_bits {bits} is not supported: this reader knows {SUB_BITS}"
                    )));
                }
                sub_bits = Some(bits);
            }
            "count" => count = Some(map.next_value::<u64>()?),
            "sum" => parts.sum = map.next_value::<Option<f64>>()?.unwrap_or(f64::NAN),
            "sum_squares" => {
                parts.sum_squares = map.next_value::<Option<f64>>()?.unwrap_or(f64::NAN)
            }
            "min" => parts.min = map.next_value()?,
            "max" => parts.max = map.next_value()?,
            "zeros" => parts.zeros = map.next_value()?,
            "dropped" => parts.dropped = map.next_value()?,
            "positive" => parts.positive = map.next_value_seed(RunsSeed(state))?,
            "negative" => parts.negative = map.next_value_seed(RunsSeed(state))?,
            // Keys of later minor additions: ignoring them is safe (docs/sketch-json.md).
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        seen.push(state.pop_key());
    }
    if sub_bits.is_none() {
        return Err(de::Error::custom("the sketch has no sub_bits"));
    }
    parts.count = count.ok_or_else(|| de::Error::custom("the sketch has no count"))?;
    SketchSnapshot::from_parts(parts).map_err(|error| at_field(state, error.field(), error))
}

/// A bucket list: runs `[[start, c0, c1, ...], ...]` into sparse `(index, count)` pairs,
/// checking index range and order as it reads.
struct RunsSeed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for RunsSeed<'_> {
    type Value = Vec<(u32, u64)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> de::Visitor<'de> for RunsSeed<'_> {
    type Value = Vec<(u32, u64)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of bucket runs [[start, count, ...], ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let state = self.0;
        state.enter()?;
        let mut buckets = Vec::new();
        // The last index the previous run covered.
        let mut covered: Option<u32> = None;
        let mut run = 0;
        loop {
            state.path.push(Segment::Index(run));
            let more = seq.next_element_seed(RunSeed {
                state,
                covered: &mut covered,
                out: &mut buckets,
            })?;
            state.path.pop();
            if more.is_none() {
                break;
            }
            run += 1;
        }
        state.leave();
        Ok(buckets)
    }
}

struct RunSeed<'s> {
    state: &'s mut State,
    covered: &'s mut Option<u32>,
    out: &'s mut Vec<(u32, u64)>,
}

impl<'de> DeserializeSeed<'de> for RunSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> de::Visitor<'de> for RunSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a bucket run [start index, count, count, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        state.enter()?;
        state.path.push(Segment::Index(0));
        let Some(start) = seq.next_element::<u64>()? else {
            state.path.pop();
            return Err(de::Error::custom("a bucket run needs a start index"));
        };
        if start < u64::from(MIN_INDEX) || start > u64::from(MAX_INDEX) {
            return Err(de::Error::custom(format_args!(
                "bucket index {start} is outside {MIN_INDEX}..={MAX_INDEX}"
            )));
        }
        let start = start as u32;
        if let Some(covered) = *self.covered {
            if start <= covered {
                return Err(de::Error::custom(format_args!(
                    "run start {start} is not above the previous run's last index {covered}"
                )));
            }
        }
        state.path.pop();
        let mut index = start;
        let mut k = 1;
        loop {
            state.path.push(Segment::Index(k));
            let Some(count) = seq.next_element::<u64>()? else {
                state.path.pop();
                break;
            };
            if k > 1 {
                if index == MAX_INDEX {
                    return Err(de::Error::custom(format_args!(
                        "the run goes past the largest bucket index {MAX_INDEX}"
                    )));
                }
                index += 1;
            }
            if count > 0 {
                self.out.push((index, count));
            }
            state.path.pop();
            k += 1;
        }
        if k == 1 {
            return Err(de::Error::custom("a bucket run needs at least one count"));
        }
        *self.covered = Some(index);
        state.leave();
        Ok(())
    }
}
