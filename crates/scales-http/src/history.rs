//! A bounded in-memory history of the numeric values in the tree, for the page's trend lines.
//!
//! A sampler takes a snapshot every interval and appends every numeric leaf (an `IntStat`,
//! a distribution's `median`, a meter's `m1`, a dict's entries, ...) to a ring of the last
//! `samples` values. At most `max_series` leaves are kept: leaves first seen after that get
//! no history. A leaf that disappears gets `null`s and is forgotten once its ring holds only
//! `null`s. Memory is bounded by `samples × max_series` numbers plus the names.
//!
//! Depends on: `config` (its `HistoryOptions`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::UNIX_EPOCH;

use scales::{Snapshot, StatAt, StatSnapshot, Value};
use serde_json::{Map, Value as Json};

use crate::config::HistoryOptions;

/// Joins the segments of a leaf's key (stat path, then keys inside the stat). Stat names
/// cannot contain control characters, so stat paths never collide; the page's script joins
/// JSON keys the same way.
pub(crate) const SEP: char = '\u{1f}';

pub(crate) struct History {
    options: HistoryOptions,
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    /// Sample times, seconds since the Unix epoch.
    times: VecDeque<f64>,
    /// Leaf key → one value per sample time (NaN where missing).
    series: HashMap<String, VecDeque<f64>>,
}

impl History {
    pub(crate) fn new(options: HistoryOptions) -> Self {
        Self {
            options,
            ring: Mutex::new(Ring::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.options.samples > 0
    }

    pub(crate) fn options(&self) -> HistoryOptions {
        self.options
    }

    /// Appends one sample of every numeric leaf of `snapshot` (a snapshot of the whole tree).
    pub(crate) fn record(&self, snapshot: &Snapshot) {
        if !self.enabled() {
            return;
        }
        let time = snapshot
            .taken_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut leaves = HashMap::new();
        for StatAt { path, stat } in snapshot.stats() {
            let segments: Vec<&str> = path.iter().map(|name| name.as_str()).collect();
            numeric_leaves(stat, segments.join(&SEP.to_string()), &mut leaves);
        }

        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = self.options.samples;
        let full = ring.times.len() >= capacity;
        if full {
            ring.times.pop_front();
        }
        ring.times.push_back(time);
        let len = ring.times.len();
        ring.series.retain(|key, values| {
            if full {
                values.pop_front();
            }
            values.push_back(leaves.remove(key).unwrap_or(f64::NAN));
            values.iter().any(|v| !v.is_nan())
        });
        for (key, value) in leaves {
            if ring.series.len() >= self.options.max_series {
                break;
            }
            let mut values = VecDeque::with_capacity(capacity);
            values.resize(len - 1, f64::NAN);
            values.push_back(value);
            ring.series.insert(key, values);
        }
    }

    /// Runs `f` with the recorded samples, for the page's rates, trend lines and "what
    /// moved" (the lock is held meanwhile: `f` should only read).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Recent<'_>) -> R) -> R {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        f(&Recent { ring: &ring })
    }

    /// The history of the leaves at or below `node` (path segments: a group, a stat or keys
    /// inside a stat), keys relative to `base` (a prefix of `node`), as JSON:
    /// `{"interval_seconds": 5, "times": [...], "series": {key: [...]}}`.
    pub(crate) fn to_json(&self, base: &[String], node: &[String]) -> Json {
        let sep = SEP.to_string();
        let mut prefix = base.join(&sep);
        if !prefix.is_empty() {
            prefix.push(SEP);
        }
        let node_key = node.join(&sep);
        let within = |key: &str| {
            node.is_empty()
                || key
                    .strip_prefix(node_key.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(SEP))
        };
        let relative = |key: &str| {
            within(key)
                .then(|| key.strip_prefix(prefix.as_str()).map(str::to_owned))
                .flatten()
        };
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let mut series: Vec<(String, Json)> = ring
            .series
            .iter()
            .filter_map(|(key, values)| {
                let values = values.iter().map(|&v| number(v)).collect();
                Some((relative(key)?, Json::Array(values)))
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Map::new();
        out.insert(
            "interval_seconds".into(),
            number(self.options.interval.as_secs_f64()),
        );
        out.insert(
            "times".into(),
            Json::Array(ring.times.iter().map(|&t| number(t)).collect()),
        );
        out.insert("series".into(), Json::Object(series.into_iter().collect()));
        Json::Object(out)
    }
}

/// The samples recorded so far, read under the history's lock.
pub(crate) struct Recent<'a> {
    ring: &'a Ring,
}

impl Recent<'_> {
    /// Sample times, seconds since the Unix epoch, oldest first.
    pub(crate) fn times(&self) -> &VecDeque<f64> {
        &self.ring.times
    }

    /// One leaf's values (NaN where missing), one per sample time; its key is the stat's
    /// path and any keys inside it, joined by [`SEP`].
    pub(crate) fn series(&self, key: &str) -> Option<&VecDeque<f64>> {
        self.ring.series.get(key)
    }
}

fn number(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

/// Every numeric leaf of a stat's JSON value, keyed by `key` plus the keys inside.
fn numeric_leaves(stat: &StatSnapshot, key: String, out: &mut HashMap<String, f64>) {
    fn walk(value: &Value, key: String, out: &mut HashMap<String, f64>) {
        match value {
            Value::Int(_) | Value::Float(_) => {
                // Non-finite numbers are `null` in the JSON, so not a leaf of the history.
                if let Some(v) = value.as_f64().filter(|v| v.is_finite()) {
                    out.insert(key, v);
                }
            }
            Value::Map(map) => {
                for (k, v) in map {
                    walk(v, format!("{key}{SEP}{k}"), out);
                }
            }
            _ => {}
        }
    }
    walk(&stat.to_value(), key, out);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn history(samples: usize, max_series: usize) -> History {
        History::new(HistoryOptions {
            interval: Duration::from_secs(5),
            samples,
            max_series,
        })
    }

    #[test]
    fn keeps_the_last_samples_and_forgets_departed_leaves() {
        let reg = scales::Registry::new();
        let scope = reg.scope("/web").unwrap();
        let hits = scope.int_stat("hits").unwrap();
        let other = reg.scope("/other").unwrap();
        let gone = other.int_stat("gone").unwrap();
        let h = history(3, 100);
        for i in 0..5 {
            hits.set(i);
            h.record(&reg.snapshot());
        }
        drop((gone, other));
        h.record(&reg.snapshot());
        let j = h.to_json(&[], &[]);
        let gone_key = format!("other{SEP}gone");
        assert_eq!(
            j["series"][gone_key.as_str()],
            serde_json::json!([0.0, 0.0, null])
        );
        for _ in 0..2 {
            h.record(&reg.snapshot());
        }
        let j = h.to_json(&["web".to_owned()], &["web".to_owned()]);
        assert_eq!(j["series"]["hits"], serde_json::json!([4.0, 4.0, 4.0]));
        assert_eq!(j["times"].as_array().unwrap().len(), 3);
        let j = h.to_json(&[], &[]);
        assert!(j["series"].get(gone_key.as_str()).is_none(), "{j}");
    }

    #[test]
    fn only_the_node_asked_for() {
        let reg = scales::Registry::new();
        let scope = reg.scope("/web").unwrap();
        scope.pmf_stat("latency").unwrap().record(0.5);
        scope.int_stat("success").unwrap().inc();
        let h = history(4, 100);
        h.record(&reg.snapshot());
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let keys = |j: Json| {
            let mut keys: Vec<String> = j["series"].as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let web = path(&["web"]);
        let stat = h.to_json(&web, &path(&["web", "latency"]));
        let all = keys(stat);
        assert!(
            all.iter().all(|k| k.starts_with(&format!("latency{SEP}"))),
            "{all:?}"
        );
        assert!(all.contains(&format!("latency{SEP}median")));
        let key = h.to_json(&web, &path(&["web", "latency", "count"]));
        assert_eq!(keys(key), [format!("latency{SEP}count")]);
        // A name that only starts like the node's is not below it.
        assert!(keys(h.to_json(&[], &path(&["we"]))).is_empty());
        assert_eq!(keys(h.to_json(&web, &web)).len(), all.len() + 1);
    }

    #[test]
    fn bounded_by_series_count() {
        let reg = scales::Registry::new();
        let scope = reg.scope("/many").unwrap();
        let _stats: Vec<_> = (0..50)
            .map(|i| scope.int_stat(&format!("s{i}")).unwrap())
            .collect();
        let h = history(4, 10);
        h.record(&reg.snapshot());
        let j = h.to_json(&[], &[]);
        assert_eq!(j["series"].as_object().unwrap().len(), 10);
    }

    #[test]
    fn inner_keys_of_distributions() {
        let reg = scales::Registry::new();
        let scope = reg.scope("/web").unwrap();
        scope.pmf_stat("latency").unwrap().record(0.5);
        let h = history(4, 100);
        h.record(&reg.snapshot());
        let j = h.to_json(&[], &[]);
        let key = format!("web{SEP}latency{SEP}median");
        assert_eq!(j["series"][key.as_str()], serde_json::json!([0.5]));
    }
}
