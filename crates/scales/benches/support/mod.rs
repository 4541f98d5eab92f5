//! Inputs shared by the core benchmarks and `examples/hot_path_probe.rs`, so that every
//! measurement records the same distribution.

#[allow(dead_code)] // each benchmark uses part of it
pub(crate) mod tree;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

/// A deterministic stream of lognormal(0, 1) samples. Scale them to the unit wanted (e.g.
/// `× 1e-3` for latencies of about a millisecond, in seconds).
pub(crate) struct Lognormal {
    rng: SmallRng,
    distribution: LogNormal<f64>,
}

impl Lognormal {
    /// A stream starting from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            distribution: LogNormal::new(0.0, 1.0).expect("valid parameters"),
        }
    }
}

impl Iterator for Lognormal {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        Some(self.distribution.sample(&mut self.rng))
    }
}
