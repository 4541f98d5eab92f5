//! The status page's `?query=` filter: keep only the entries of a snapshot with a given key,
//! optionally compared with a value.
//!
//! A query is a key alone (`total`), or a key, an operator and a value (`total>10`,
//! `state = idle`, `99percentile >= 0.5`). Operators: `>`, `<`, `>=`, `<=`, `=` (same as
//! `==`) and `!=`; spaces around the operator are ignored.
//!
//! [`filter`] walks the tree and keeps every entry whose key equals the query key, at any
//! depth, with its whole sub-tree. Fixes against the original's `runQuery`:
//!
//! * two-character operators parse (`<=` and `==` crashed the original);
//! * comparisons with zero and other falsy values work (`zero>1` crashed, `zero=0` never
//!   matched);
//! * the filter looks inside stats too: `99percentile` finds the percentile of every
//!   distribution, `count` every meter's and distribution's count, `404` every dict's `404`;
//! * collapsed groups stay out of results, as they stay out of the JSON;
//! * a malformed query is a [`QueryError`] with a message, not an HTTP 500.
//!
//! When nothing matches, [`filter`] returns `None`; the original then showed an empty tree
//! (`{}` in JSON, `<div class="level"></div>` in HTML).
//!
//! ```
//! use scales::query;
//!
//! let reg = scales::Registry::new();
//! let web = reg.scope("/web")?;
//! web.int_stat("errors")?.add(3);
//! web.int_stat("success")?.add(40);
//! # let _keep = &web;
//! let q = query::parse("errors > 0").unwrap();
//! let kept = query::filter(reg.snapshot().root(), &q).unwrap();
//! assert_eq!(
//!     scales::format::json::node_to_string(&kept, scales::format::json::Style::Compact),
//!     "{\"web\": {\"errors\": 3}}\n"
//! );
//! # Ok::<(), scales::Error>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::snapshot::{Entry, Group, Node, StatSnapshot, StatValue};
use crate::value::Value;

/// A comparison operator of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// The operator as written in a query (`=` and `==` both give `"="`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }

    fn holds(self, ordering: Option<Ordering>) -> bool {
        match (self, ordering) {
            // Unordered (NaN) is unequal to everything and neither above nor below it.
            (Op::Ne, None) => true,
            (_, None) => false,
            (Op::Gt, Some(o)) => o == Ordering::Greater,
            (Op::Lt, Some(o)) => o == Ordering::Less,
            (Op::Ge, Some(o)) => o != Ordering::Less,
            (Op::Le, Some(o)) => o != Ordering::Greater,
            (Op::Eq, Some(o)) => o == Ordering::Equal,
            (Op::Ne, Some(o)) => o != Ordering::Equal,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed query: see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    key: String,
    comparison: Option<Comparison>,
}

#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    op: Op,
    text: String,
    number: Option<f64>,
    integer: Option<i64>,
}

impl Query {
    /// The key entries must have.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator and the value (as written, trimmed), if the query compares.
    pub fn comparison(&self) -> Option<(Op, &str)> {
        self.comparison.as_ref().map(|c| (c.op, c.text.as_str()))
    }

    /// Whether a value kept under the query key passes the comparison.
    ///
    /// Without a comparison every value passes. With one, numbers compare numerically when
    /// the query value is a number (zero included); other scalars compare as text, where only
    /// `=` and `!=` can hold (booleans match `true`/`false` in any case, null matches `None`
    /// or `null`). Groups, maps and lists never pass a comparison.
    pub fn matches(&self, value: &Value) -> bool {
        let Some(c) = &self.comparison else {
            return true;
        };
        match value {
            Value::Int(i) => {
                if let Some(rhs) = c.integer {
                    c.op.holds(Some(i.cmp(&rhs)))
                } else if let Some(rhs) = c.number {
                    c.op.holds((*i as f64).partial_cmp(&rhs))
                } else {
                    text_holds(c, &i.to_string(), false)
                }
            }
            Value::Float(f) => match c.number {
                Some(rhs) => c.op.holds(f.partial_cmp(&rhs)),
                None => text_holds(c, &crate::number::python_float(*f), false),
            },
            Value::Str(s) => text_holds(c, s, false),
            Value::Bool(b) => text_holds(c, if *b { "true" } else { "false" }, true),
            Value::Null => text_holds(c, "None", false) || text_holds(c, "null", false),
            Value::List(_) | Value::Map(_) => false,
        }
    }

    fn matches_node(&self, node: &Node) -> bool {
        if self.comparison.is_none() {
            return true;
        }
        match node {
            Node::Group(_) => false,
            Node::Stat(stat) => match &stat.value {
                StatValue::Int(i) => self.matches(&Value::Int(*i)),
                StatValue::Float(f) => self.matches(&Value::Float(*f)),
                StatValue::Value(v) => self.matches(v),
                _ => false,
            },
        }
    }
}

/// String comparison: only `=` and `!=` are defined on text.
fn text_holds(c: &Comparison, text: &str, ignore_case: bool) -> bool {
    let equal = if ignore_case {
        text.eq_ignore_ascii_case(&c.text)
    } else {
        text == c.text
    };
    match c.op {
        Op::Eq => equal,
        Op::Ne => !equal,
        Op::Gt | Op::Lt | Op::Ge | Op::Le => false,
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        if let Some(c) = &self.comparison {
            write!(f, "{}{}", c.op, c.text)?;
        }
        Ok(())
    }
}

/// Why a query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query is empty or only spaces.
    #[error("the query is empty")]
    Empty,
    /// Nothing before the operator (`>5`).
    #[error("the query has no key before `{op}` (write it as key{op}value)")]
    MissingKey {
        /// The operator found.
        op: Op,
    },
    /// Nothing after the operator (`total>`).
    #[error("the query has no value after `{key}{op}`")]
    MissingValue {
        /// The key.
        key: String,
        /// The operator found.
        op: Op,
    },
    /// Operator characters that form no operator (`a!b`, `a<<5`, `a===5`).
    #[error("`{found}` is not an operator; use one of >, <, >=, <=, =, ==, !=")]
    BadOperator {
        /// The run of operator characters found.
        found: String,
    },
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// Parses a query (`key`, or `key OP value`).
///
/// Two-character operators are matched before one-character ones, so `a<=5` is `a`, `<=`,
/// `5`. The value may contain operator characters after its first character (`url=/a?b=c`).
///
/// # Errors
/// A [`QueryError`] saying what is wrong: empty query, missing key or value, or an unknown
/// operator such as `<<` or `!`.
pub fn parse(query: &str) -> Result<Query, QueryError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(QueryError::Empty);
    }
    let Some(at) = query.find(is_op_char) else {
        return Ok(Query {
            key: query.to_owned(),
            comparison: None,
        });
    };
    let key = query[..at].trim();
    let rest = &query[at..];
    let (op, len) = if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with("==") {
        (Op::Eq, 2)
    } else if rest.starts_with("!=") {
        (Op::Ne, 2)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('=') {
        (Op::Eq, 1)
    } else {
        return Err(bad_operator(rest));
    };
    let value = rest[len..].trim();
    if value.starts_with(is_op_char) {
        return Err(bad_operator(rest));
    }
    if key.is_empty() {
        return Err(QueryError::MissingKey { op });
    }
    if value.is_empty() {
        return Err(QueryError::MissingValue {
            key: key.to_owned(),
            op,
        });
    }
    let number = value.parse::<f64>().ok();
    let integer = value.parse::<i64>().ok();
    Ok(Query {
        key: key.to_owned(),
        comparison: Some(Comparison {
            op,
            text: value.to_owned(),
            number,
            integer,
        }),
    })
}

fn bad_operator(rest: &str) -> QueryError {
    QueryError::BadOperator {
        found: rest
            .chars()
            .filter(|c| !c.is_whitespace())
            .take_while(|&c| is_op_char(c))
            .collect(),
    }
}

/// The part of `node` that the query selects, or `None` when nothing matches.
///
/// Entries whose key equals the query key (and whose value passes the comparison, if any) are
/// kept whole; other groups and stats are searched inside. A stat matched inside keeps its
/// kind, and its value becomes a [`StatValue::Value`] map holding only the matching keys
/// (`{"99percentile": 0.25}`), so every format renders it as the original rendered its
/// filtered dicts. Collapsed groups below `node` are left out, even when their name matches;
/// `node` itself is searched even if it is collapsed (it is the page being viewed).
pub fn filter(node: &Node, query: &Query) -> Option<Node> {
    match node {
        Node::Group(group) => filter_group(group, query).map(Node::Group),
        Node::Stat(stat) => filter_stat(stat, query).map(Node::Stat),
    }
}

fn filter_group(group: &Group, query: &Query) -> Option<Group> {
    let mut entries = Vec::new();
    for Entry { name, node } in &group.entries {
        if matches!(node, Node::Group(g) if g.collapsed) {
            continue;
        }
        if **name == *query.key {
            if query.matches_node(node) {
                entries.push(Entry::new(name.clone(), without_collapsed(node)));
            }
        } else if let Some(kept) = filter(node, query) {
            entries.push(Entry::new(name.clone(), kept));
        }
    }
    (!entries.is_empty()).then_some(Group {
        entries,
        collapsed: false,
    })
}

/// A copy of `node` without the collapsed groups below it.
fn without_collapsed(node: &Node) -> Node {
    match node {
        Node::Stat(stat) => Node::Stat(stat.clone()),
        Node::Group(group) => Node::Group(Group {
            entries: group
                .entries
                .iter()
                .filter(|entry| !matches!(&entry.node, Node::Group(g) if g.collapsed))
                .map(|entry| Entry::new(entry.name.clone(), without_collapsed(&entry.node)))
                .collect(),
            collapsed: group.collapsed,
        }),
    }
}

fn filter_stat(stat: &StatSnapshot, query: &Query) -> Option<StatSnapshot> {
    if matches!(stat.value, StatValue::Error(_)) {
        return None;
    }
    let Value::Map(entries) = stat.to_value() else {
        return None;
    };
    let kept = filter_map(entries, query)?;
    Some(StatSnapshot {
        kind: stat.kind,
        value: StatValue::Value(Value::Map(kept)),
    })
}

fn filter_map(entries: Vec<(String, Value)>, query: &Query) -> Option<Vec<(String, Value)>> {
    let mut kept = Vec::new();
    for (key, value) in entries {
        if key == query.key {
            if query.matches(&value) {
                kept.push((key, value));
            }
        } else if let Value::Map(inner) = value {
            if let Some(inner) = filter_map(inner, query) {
                kept.push((key, Value::Map(inner)));
            }
        }
    }
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::StatKind;

    fn int(i: i64) -> Node {
        Node::Stat(StatSnapshot {
            kind: StatKind::IntStat,
            value: StatValue::Int(i),
        })
    }

    fn group(entries: Vec<(&str, Node)>) -> Node {
        Node::Group(Group {
            entries: entries.into_iter().map(|(k, v)| Entry::new(k, v)).collect(),
            collapsed: false,
        })
    }

    #[test]
    fn parses_every_operator_two_chars_first() {
        for (text, op) in [
            ("a>1", Op::Gt),
            ("a<1", Op::Lt),
            ("a>=1", Op::Ge),
            ("a<=1", Op::Le),
            ("a=1", Op::Eq),
            ("a==1", Op::Eq),
            ("a!=1", Op::Ne),
        ] {
            let q = parse(text).unwrap();
            assert_eq!(q.key(), "a", "{text}");
            assert_eq!(q.comparison(), Some((op, "1")), "{text}");
        }
    }

    #[test]
    fn spaces_are_trimmed() {
        let q = parse("  total  <=  100 ").unwrap();
        assert_eq!(q.key(), "total");
        assert_eq!(q.comparison(), Some((Op::Le, "100")));
        assert_eq!(q.to_string(), "total<=100");
        let q = parse(" total ").unwrap();
        assert_eq!((q.key(), q.comparison()), ("total", None));
    }

    #[test]
    fn bad_queries_say_why() {
        assert_eq!(parse(""), Err(QueryError::Empty));
        assert_eq!(parse("   "), Err(QueryError::Empty));
        assert_eq!(parse(">5"), Err(QueryError::MissingKey { op: Op::Gt }));
        assert_eq!(
            parse("total >= "),
            Err(QueryError::MissingValue {
                key: "total".into(),
                op: Op::Ge
            })
        );
        for (text, found) in [
            ("a!b", "!"),
            ("a<<5", "<<"),
            ("a===5", "==="),
            ("a= =5", "=="),
        ] {
            assert_eq!(
                parse(text),
                Err(QueryError::BadOperator {
                    found: found.into()
                }),
                "{text}"
            );
        }
        let message = parse("a<<5").unwrap_err().to_string();
        assert!(message.contains("`<<` is not an operator"), "{message}");
    }

    #[test]
    fn value_may_contain_operator_characters_later() {
        let q = parse("url=/a?b=c").unwrap();
        assert_eq!(q.comparison(), Some((Op::Eq, "/a?b=c")));
    }

    #[test]
    fn zero_compares_numerically() {
        let tree = group(vec![("zero", int(0)), ("one", int(1))]);
        for (text, hit) in [
            ("zero>1", false),
            ("zero<1", true),
            ("zero=0", true),
            ("zero==0.0", true),
            ("zero!=0", false),
            ("zero>=0", true),
            ("zero<=-1", false),
        ] {
            assert_eq!(
                filter(&tree, &parse(text).unwrap()).is_some(),
                hit,
                "{text}"
            );
        }
    }

    #[test]
    fn text_only_equals() {
        let q = parse("state=idle").unwrap();
        assert!(q.matches(&Value::from("idle")));
        assert!(!q.matches(&Value::from("busy")));
        assert!(!parse("state>idle").unwrap().matches(&Value::from("z")));
        assert!(parse("state!=idle").unwrap().matches(&Value::from("z")));
        assert!(parse("up=TRUE").unwrap().matches(&Value::Bool(true)));
        assert!(parse("v=None").unwrap().matches(&Value::Null));
        // A number never equals a word, and is unequal to it.
        assert!(!parse("n=abc").unwrap().matches(&Value::Int(5)));
        assert!(parse("n!=abc").unwrap().matches(&Value::Int(5)));
        // NaN is unordered.
        assert!(!parse("x>0").unwrap().matches(&Value::Float(f64::NAN)));
        assert!(parse("x!=0").unwrap().matches(&Value::Float(f64::NAN)));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let q = parse("n=9007199254740993").unwrap();
        assert!(q.matches(&Value::Int(9_007_199_254_740_993)));
        assert!(!q.matches(&Value::Int(9_007_199_254_740_992)));
    }
}
