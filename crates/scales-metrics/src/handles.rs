//! The handles behind `metrics`' `Counter`, `Gauge` and `Histogram`: each holds the scales
//! stat it records into, so recording through a handle is the stat's own method behind one
//! dynamic call.
//!
//! Every handle is aligned to 128 bytes, so the reference counts of two copies of a handle
//! (one per stripe, see [`crate::cache`]) never share a cache line, nor the pair of lines
//! that adjacent-line prefetchers fetch together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use metrics::{CounterFn, GaugeFn, HistogramFn};
use scales::{CounterStat, DoubleStat, IntDictKey, IntStat, PmfStat, Value, OVERFLOW_KEY};

/// What a counter records into.
#[derive(Clone)]
pub(crate) enum CounterTarget {
    /// A counter without labels.
    Counter(CounterStat),
    /// A counter without labels whose path already held a scales `IntStat`.
    Int(IntStat),
    /// One key of a keyed counter, looked up once.
    Keyed(IntDictKey),
}

/// The `metrics` counter handle.
#[repr(align(128))]
pub(crate) struct CounterHandle(pub(crate) CounterTarget);

impl CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        match &self.0 {
            CounterTarget::Counter(stat) => stat.add(value),
            // Amounts beyond `i64::MAX` wrap, as in the core's own counters.
            CounterTarget::Int(stat) => stat.add(value as i64),
            CounterTarget::Keyed(key) => key.add(value as i64),
        }
    }

    /// Raises the counter to `value` if it is below, as metrics-util's counters do. The
    /// current total is read first: meant for counters that are only ever set this way.
    fn absolute(&self, value: u64) {
        match &self.0 {
            CounterTarget::Counter(stat) => {
                let now = stat.get();
                if value > now {
                    stat.add(value - now);
                }
            }
            CounterTarget::Int(stat) => {
                if let Some(delta) = raise(stat.get(), value) {
                    stat.add(delta);
                }
            }
            CounterTarget::Keyed(key) => {
                if let Some(delta) = raise(key.get(), value) {
                    key.add(delta);
                }
            }
        }
    }
}

/// What to add to a signed count `now` to raise it to `target`, if it is below.
fn raise(now: i64, target: u64) -> Option<i64> {
    let delta = i128::from(target) - i128::from(now);
    (delta > 0).then(|| i64::try_from(delta).unwrap_or(i64::MAX))
}

/// What a gauge records into.
#[derive(Clone)]
pub(crate) enum GaugeTarget {
    /// A gauge without labels.
    Double(DoubleStat),
    /// One key of a keyed gauge.
    Keyed(Arc<GaugeCell>),
}

/// The `metrics` gauge handle.
#[repr(align(128))]
pub(crate) struct GaugeHandle(pub(crate) GaugeTarget);

impl GaugeFn for GaugeHandle {
    #[inline]
    fn increment(&self, value: f64) {
        match &self.0 {
            GaugeTarget::Double(stat) => stat.add(value),
            GaugeTarget::Keyed(cell) => cell.add(value),
        }
    }

    #[inline]
    fn decrement(&self, value: f64) {
        self.increment(-value);
    }

    #[inline]
    fn set(&self, value: f64) {
        match &self.0 {
            GaugeTarget::Double(stat) => stat.set(value),
            GaugeTarget::Keyed(cell) => cell.set(value),
        }
    }
}

/// One key's value of a keyed gauge: an `f64` kept as bits.
#[derive(Default)]
pub(crate) struct GaugeCell(AtomicU64);

impl GaugeCell {
    fn add(&self, delta: f64) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// The keys of one keyed gauge, read by the scales `Stat` at its path as a map of floats
/// (which every format shows: JSON and HTML as a map, Prometheus as a gauge with a `key`
/// label). The core has no keyed float stat, so the recorder keeps the values.
pub(crate) struct KeyedGauges {
    cells: Mutex<IndexMap<Arc<str>, Arc<GaugeCell>>>,
    /// Keys kept; further ones share the [`OVERFLOW_KEY`] cell.
    max_keys: usize,
}

impl Default for KeyedGauges {
    fn default() -> Self {
        Self::with_max_keys(usize::MAX)
    }
}

impl KeyedGauges {
    pub(crate) fn with_max_keys(max_keys: usize) -> Self {
        Self {
            cells: Mutex::default(),
            max_keys,
        }
    }

    /// `key`'s cell, added (at 0) if new; the overflow key's beyond the cap.
    pub(crate) fn cell(&self, key: &str) -> Arc<GaugeCell> {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cell) = cells.get(key) {
            return cell.clone();
        }
        let kept = cells.len() - usize::from(cells.contains_key(OVERFLOW_KEY));
        let key = if kept >= self.max_keys {
            OVERFLOW_KEY
        } else {
            key
        };
        if let Some(cell) = cells.get(key) {
            return cell.clone();
        }
        let cell = Arc::new(GaugeCell::default());
        cells.insert(Arc::from(key), cell.clone());
        cell
    }

    /// Every key's value, in the order the keys were first registered.
    pub(crate) fn value(&self) -> Value {
        let cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        Value::Map(
            cells
                .iter()
                .map(|(key, cell)| (key.to_string(), Value::Float(cell.get())))
                .collect(),
        )
    }
}

/// What a histogram records into.
#[derive(Clone)]
pub(crate) enum HistogramTarget {
    /// A histogram without labels.
    Pmf(PmfStat),
    /// One key of a keyed histogram (the key's own distribution, looked up once).
    Keyed(PmfStat),
}

/// The `metrics` histogram handle.
#[repr(align(128))]
pub(crate) struct HistogramHandle(pub(crate) HistogramTarget);

impl HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        match &self.0 {
            HistogramTarget::Pmf(stat) => stat.record(value),
            HistogramTarget::Keyed(stat) => stat.record(value),
        }
    }

    fn record_many(&self, value: f64, count: usize) {
        // The core records one value at a time.
        for _ in 0..count {
            self.record(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_a_signed_count() {
        assert_eq!(raise(3, 10), Some(7));
        assert_eq!(raise(10, 10), None);
        assert_eq!(raise(12, 10), None);
        assert_eq!(raise(-5, 0), Some(5));
        assert_eq!(raise(i64::MIN, u64::MAX), Some(i64::MAX));
    }

    #[test]
    fn gauge_cells_add_and_set() {
        let cell = GaugeCell::default();
        cell.add(2.5);
        cell.add(-1.0);
        assert_eq!(cell.get(), 1.5);
        cell.set(-7.25);
        assert_eq!(cell.get(), -7.25);
    }

    #[test]
    fn keyed_gauges_read_in_registration_order() {
        let gauges = KeyedGauges::default();
        gauges.cell("b").set(2.0);
        gauges.cell("a").add(1.0);
        gauges.cell("b").add(1.0);
        assert_eq!(
            gauges.value(),
            Value::Map(vec![
                ("b".into(), Value::Float(3.0)),
                ("a".into(), Value::Float(1.0)),
            ])
        );
    }
}
