//! Inputs shared by the core benchmarks and `examples/hot_path_probe.rs`, so that every
//! measurement records the same distribution.

/// A deterministic stream of lognormal(0, 1) samples: xorshift64 uniforms turned normal by
/// Box–Muller, then exponentiated. Scale the samples to the unit wanted (e.g. `× 1e-3` for
/// latencies of about a millisecond, in seconds).
pub(crate) struct Lognormal {
    state: u64,
}

impl Lognormal {
    /// A stream starting from `seed` (non-zero).
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn uniform(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Iterator for Lognormal {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        Some(((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()).exp())
    }
}
