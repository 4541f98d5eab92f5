//! Accuracy of the distribution sketch against exact quantiles of the sorted data, with
//! NumPy's linear definition (`h = q·(n−1)`, interpolated between ranks `⌊h⌋` and `⌈h⌉`):
//! every estimate must lie within 1 % of the exact values bracketing it.

use proptest::prelude::*;
use scales::{Registry, SketchSnapshot};

use crate::support::{assert_quantile_within, close, sorted, Rng};

/// The quantiles the original reports, plus the extremes and a few in between.
const QS: [f64; 12] = [
    0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0,
];

fn check_all_quantiles(values: &[f64]) {
    let sketch = SketchSnapshot::from_values(values.iter().copied());
    let data = sorted(values);
    for q in QS {
        assert_quantile_within(&data, q, sketch.quantile(q).unwrap());
    }
    // The extremes are exact: estimates are clamped to the exact min and max.
    assert_eq!(sketch.quantile(0.0), Some(data[0]));
    assert_eq!(sketch.quantile(1.0), Some(data[data.len() - 1]));
    assert_eq!(sketch.min(), Some(data[0]));
    assert_eq!(sketch.max(), Some(data[data.len() - 1]));
    assert_eq!(sketch.count(), values.len() as u64);
}

/// Positive values over 24 orders of magnitude, with varied mantissas.
fn positive() -> impl Strategy<Value = f64> {
    (1.0f64..10.0, -12i32..12).prop_map(|(m, e)| m * 10f64.powi(e))
}

/// Positive, negative and zero values.
fn signed() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => positive(),
        4 => positive().prop_map(|v| -v),
        1 => Just(0.0),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn quantiles_of_positive_data_are_within_one_percent(
        values in prop::collection::vec(positive(), 1..400),
        q in 0.0f64..=1.0,
    ) {
        let sketch = SketchSnapshot::from_values(values.iter().copied());
        let data = sorted(&values);
        let estimate = sketch.quantile(q).unwrap();
        let (lo, hi, _) = crate::support::exact_quantile(&data, q);
        prop_assert!(
            lo * (1.0 - 0.01) <= estimate && estimate <= hi * (1.0 + 0.01),
            "q={} estimate={} exact bracket {}..{}", q, estimate, lo, hi
        );
        check_all_quantiles(&values);
    }

    #[test]
    fn quantiles_of_signed_data_are_within_one_percent(
        values in prop::collection::vec(signed(), 1..400),
        q in 0.0f64..=1.0,
    ) {
        let sketch = SketchSnapshot::from_values(values.iter().copied());
        assert_quantile_within(&sorted(&values), q, sketch.quantile(q).unwrap());
        check_all_quantiles(&values);
    }

    #[test]
    fn merging_equals_recording_together(
        a in prop::collection::vec(signed(), 0..200),
        b in prop::collection::vec(signed(), 0..200),
    ) {
        let mut merged = SketchSnapshot::from_values(a.iter().copied());
        merged.merge(&SketchSnapshot::from_values(b.iter().copied()));
        let together = SketchSnapshot::from_values(a.iter().chain(&b).copied());

        prop_assert_eq!(merged.count(), together.count());
        prop_assert_eq!(merged.min(), together.min());
        prop_assert_eq!(merged.max(), together.max());
        for q in QS {
            prop_assert_eq!(merged.quantile(q), together.quantile(q));
        }
        // Sums are added in another order: equal up to rounding.
        let scale: f64 = a.iter().chain(&b).map(|v| v.abs()).sum();
        prop_assert!((merged.sum() - together.sum()).abs() <= 1e-12 * scale + 1e-300);
    }

    #[test]
    fn delta_since_isolates_the_interval(
        before in prop::collection::vec(positive(), 0..200),
        during in prop::collection::vec(positive(), 1..200),
    ) {
        let reg = Registry::new();
        let pmf = reg.scope("/d").unwrap().pmf_stat("v").unwrap();
        for &v in &before {
            pmf.record(v);
        }
        let earlier = pmf.snapshot();
        for &v in &during {
            pmf.record(v);
        }
        let delta = pmf.snapshot().delta_since(&earlier);

        prop_assert_eq!(delta.count(), during.len() as u64);
        let sum: f64 = during.iter().sum();
        let scale: f64 = before.iter().chain(&during).sum();
        prop_assert!((delta.sum() - sum).abs() <= 1e-12 * scale);
        let data = sorted(&during);
        for q in QS {
            assert_quantile_within(&data, q, delta.quantile(q).unwrap());
        }
        // min and max of an interval come from its buckets: within the sketch's error.
        let (min, max) = (delta.min().unwrap(), delta.max().unwrap());
        prop_assert!(close(min, data[0], scales::sketch::RELATIVE_ERROR + 1e-12), "{} vs {}", min, data[0]);
        prop_assert!(close(max, data[data.len() - 1], scales::sketch::RELATIVE_ERROR + 1e-12), "{} vs {}", max, data[data.len() - 1]);
    }
}

/// A million lognormal latencies around 10 ms with a heavy tail.
#[test]
fn a_million_lognormal_values() {
    let mut rng = Rng::new(1);
    let values: Vec<f64> = (0..1_000_000)
        .map(|_| 0.010 * rng.gauss(0.0, 1.0).exp())
        .collect();
    check_all_quantiles(&values);
    let sketch = SketchSnapshot::from_values(values.iter().copied());
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(close(sketch.mean().unwrap(), mean, 1e-9));
}

/// A million values from two modes (90 % around 1 ms, 10 % around 100 ms): the percentiles
/// either side of the gap must land in the right mode.
#[test]
fn a_million_bimodal_values() {
    let mut rng = Rng::new(2);
    let values: Vec<f64> = (0..1_000_000)
        .map(|i| {
            let centre = if i % 10 == 9 { 0.100 } else { 0.001 };
            centre * rng.gauss(0.0, 0.1).exp()
        })
        .collect();
    check_all_quantiles(&values);
    let sketch = SketchSnapshot::from_values(values.iter().copied());
    assert!(sketch.quantile(0.85).unwrap() < 0.002);
    assert!(sketch.quantile(0.95).unwrap() > 0.05);
}

#[test]
fn negative_zero_and_mixed_values() {
    let mut rng = Rng::new(3);
    // Standard normal with 10 % exact zeros.
    let mixed: Vec<f64> = (0..100_000)
        .map(|i| {
            if i % 10 == 0 {
                0.0
            } else {
                rng.gauss(0.0, 1.0)
            }
        })
        .collect();
    check_all_quantiles(&mixed);

    let negative: Vec<f64> = (0..10_000).map(|_| -(rng.gauss(5.0, 1.0).exp())).collect();
    check_all_quantiles(&negative);

    let zeros = SketchSnapshot::from_values([0.0; 1000]);
    for q in QS {
        assert_eq!(zeros.quantile(q), Some(0.0));
    }
    assert_eq!(
        (zeros.sum(), zeros.mean(), zeros.stddev()),
        (0.0, Some(0.0), Some(0.0))
    );

    // Zeros in the middle of the ranks are reported exactly.
    let s = SketchSnapshot::from_values([-2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0]);
    assert_eq!(s.quantile(0.5), Some(0.0));
    assert_eq!(s.quantile(0.4), Some(0.0));
}

#[test]
fn the_extreme_ranks_are_the_exact_min_and_max() {
    // Found by proptest: the lowest rank used to report its bucket's estimate (-48.25)
    // although the exact min (-48.33) is known.
    let s = SketchSnapshot::from_values([-48.32728790758452, 0.0]);
    assert_eq!(s.quantile(0.0), Some(-48.32728790758452));
    assert_eq!(s.quantile(1.0), Some(0.0));
    let s = SketchSnapshot::from_values([1.972535135237662e-12, 5.0, 7.0]);
    assert_eq!(s.quantile(0.0), s.min());
    assert_eq!(s.quantile(1.0), Some(7.0));
    // Interpolating towards the max uses the exact max too.
    let s = SketchSnapshot::from_values([1.0, 1000.3]);
    assert_eq!(s.quantile(0.5), Some(1.0 + 0.5 * (1000.3 - 1.0)));
}

#[test]
fn small_samples_interpolate_like_numpy() {
    // The 11 README latencies: the original's off-by-one gave 0.016 and 0.03 here.
    let ms = [
        12.0, 15.0, 11.0, 30.0, 14.0, 13.0, 250.0, 16.0, 12.0, 18.0, 17.0,
    ];
    let s = SketchSnapshot::from_values(ms);
    assert!(close(s.quantile(0.5).unwrap(), 15.0, 0.01));
    assert!(close(s.quantile(0.75).unwrap(), 17.5, 0.01));
    assert!(close(s.quantile(0.95).unwrap(), 140.0, 0.01));
    // n = 3: every percentile of the original was NaN.
    let s = SketchSnapshot::from_values([1.0, 2.0, 3.0]);
    assert!(close(s.quantile(0.5).unwrap(), 2.0, 0.01));
    assert!(close(s.quantile(0.75).unwrap(), 2.5, 0.01));
    assert!(s.percentiles().all(|(_, v)| v.is_finite()));
}

#[test]
fn merge_of_integer_data_is_identical_to_recording_together() {
    let a: Vec<f64> = (1..=500).map(f64::from).collect();
    let b: Vec<f64> = (-200..300).map(|i| f64::from(i) * 4.0).collect();
    let mut merged = SketchSnapshot::from_values(a.iter().copied());
    merged.merge(&SketchSnapshot::from_values(b.iter().copied()));
    let together = SketchSnapshot::from_values(a.iter().chain(&b).copied());
    assert_eq!(merged, together);
    // Merging an empty snapshot changes nothing, either way round.
    let mut with_empty = together.clone();
    with_empty.merge(&SketchSnapshot::default());
    assert_eq!(with_empty, together);
    let mut from_empty = SketchSnapshot::default();
    from_empty.merge(&together);
    assert_eq!(from_empty, together);
}

#[test]
fn delta_of_nothing_new_is_empty() {
    let before = SketchSnapshot::from_values([1.0, 2.0, 3.0]);
    let delta = before.delta_since(&before);
    assert_eq!(delta.count(), 0);
    assert_eq!(delta.quantile(0.5), None);
    assert_eq!(delta.min(), None);
    assert_eq!(delta.sum(), 0.0);
}

/// Normal values over the whole `f64` range (2⁻¹⁰²² to `f64::MAX`), either sign.
fn any_normal() -> impl Strategy<Value = f64> {
    (1.0f64..2.0, -1022i32..=1023, any::<bool>()).prop_map(|(m, e, negative)| {
        let v = m * 2f64.powi(e);
        if negative {
            -v
        } else {
            v
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The bound holds for every magnitude, not only inside the sketch's lock-free window
    /// (2⁻⁶⁴ to 2⁶⁴), recorded through a `PmfStat` from two threads.
    #[test]
    fn quantiles_hold_their_bound_over_the_whole_f64_range(
        values in prop::collection::vec(any_normal(), 1..300),
    ) {
        let reg = Registry::new();
        let pmf = reg.collection("/range").unwrap().pmf_stat("values").unwrap();
        let (left, right) = values.split_at(values.len() / 2);
        std::thread::scope(|s| {
            for part in [left, right] {
                let pmf = pmf.clone();
                s.spawn(move || part.iter().for_each(|&v| pmf.record(v)));
            }
        });
        let sketch = pmf.snapshot();
        prop_assert_eq!(sketch.count(), values.len() as u64);
        let data = sorted(&values);
        for q in QS {
            assert_quantile_within(&data, q, sketch.quantile(q).unwrap());
        }
    }
}

#[test]
fn magnitudes_near_the_window_edges_and_beyond() {
    // Values the window used to fold into its edge buckets (errors of 96 % and more).
    check_all_quantiles(&[1e19, 2e19, 5e19, 1e20, 5e20, 1e21]);
    check_all_quantiles(&[1e300, 2e300, 4e300, 8e300, f64::MAX]);
    check_all_quantiles(&[1e-21, 2e-21, 3e-21, 5e-20, 1e-19]);
    check_all_quantiles(&[-1e21, -3e20, 0.0, 1.0, 3e20, 1e21]);
}
