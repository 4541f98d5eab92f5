//! Helpers shared by the test modules: JSON of a snapshot, typed stat lookups, a small seeded
//! random number generator and exact quantiles.

use std::collections::BTreeMap;

use scales::format::json::{self, Style};
use scales::{Registry, SketchSnapshot, Snapshot, StatValue};
use serde_json::Value as Json;

/// The compact JSON text of `snapshot`, parsed back (so it must be valid JSON).
pub(crate) fn json_of(snapshot: &Snapshot) -> Json {
    let text = json::to_string(snapshot, Style::Compact);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"))
}

/// The whole tree of `reg` as parsed JSON.
pub(crate) fn tree(reg: &Registry) -> Json {
    json_of(&reg.snapshot())
}

/// The value of the stat at `path` in a fresh snapshot of `reg`.
pub(crate) fn stat_value(reg: &Registry, path: &str) -> StatValue {
    reg.snapshot()
        .stat(path)
        .unwrap_or_else(|| panic!("no stat at {path}"))
        .value
        .clone()
}

/// The integer of an `Int` stat value.
pub(crate) fn int(value: &StatValue) -> i64 {
    match value {
        StatValue::Int(i) => *i,
        other => panic!("expected an Int, got {other:?}"),
    }
}

/// The entries of a `Counts` stat value, as a map.
pub(crate) fn counts(value: &StatValue) -> BTreeMap<String, i64> {
    match value {
        StatValue::Counts(entries) => entries
            .iter()
            .map(|e| (e.key.to_string(), e.value))
            .collect(),
        other => panic!("expected Counts, got {other:?}"),
    }
}

/// The sketch of a `Distribution` stat value.
pub(crate) fn distribution(value: &StatValue) -> SketchSnapshot {
    match value {
        StatValue::Distribution(d) => (**d).clone(),
        other => panic!("expected a Distribution, got {other:?}"),
    }
}

/// A `BTreeMap<String, i64>` from literal pairs.
pub(crate) fn map<const N: usize>(pairs: [(&str, i64); N]) -> BTreeMap<String, i64> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
}

/// Deterministic test data: a seeded small generator from `rand`, with normal deviates from
/// `rand_distr`.
pub(crate) struct Rng(rand::rngs::SmallRng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        use rand::SeedableRng as _;
        Self(rand::rngs::SmallRng::seed_from_u64(seed))
    }

    /// A normal deviate with the given mean and standard deviation.
    pub(crate) fn gauss(&mut self, mean: f64, sd: f64) -> f64 {
        let normal = rand_distr::Normal::new(mean, sd).expect("a finite, non-negative deviation");
        rand_distr::Distribution::sample(&normal, &mut self.0)
    }
}

/// NumPy's default ("linear") quantile of sorted data: `h = q·(n−1)`, interpolated between
/// ranks `⌊h⌋` and `⌈h⌉`. Returns `(value at ⌊h⌋, value at ⌈h⌉, interpolated)`.
pub(crate) fn exact_quantile(sorted: &[f64], q: f64) -> (f64, f64, f64) {
    assert!(!sorted.is_empty());
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (sorted[h.floor() as usize], sorted[h.ceil() as usize]);
    (lo, hi, lo + (h - h.floor()) * (hi - lo))
}

/// Relative tolerance the tests allow a sketch quantile (the sketch guarantees 1/129).
pub(crate) const QUANTILE_TOLERANCE: f64 = 0.01;

/// Asserts `estimate` lies in `[lo − 1%·|lo|, hi + 1%·|hi|]`, the exact values bracketing the
/// `q`-quantile of `sorted`.
pub(crate) fn assert_quantile_within(sorted: &[f64], q: f64, estimate: f64) {
    let (lo, hi, _) = exact_quantile(sorted, q);
    let (low, high) = (
        lo - QUANTILE_TOLERANCE * lo.abs(),
        hi + QUANTILE_TOLERANCE * hi.abs(),
    );
    assert!(
        low <= estimate && estimate <= high,
        "q={q}: estimate {estimate} outside [{low}, {high}] (exact bracket {lo}..{hi}, n={})",
        sorted.len()
    );
}

/// Sorted copy of `values`.
pub(crate) fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Whether `a` and `b` agree to a relative `tolerance` (with a tiny absolute floor for zeros).
pub(crate) fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()) + 1e-12
}
