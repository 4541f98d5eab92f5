//! JSON in the original's shapes: nested objects by path, stats as numbers, strings or
//! objects (`{"count": .., "min": .., "median": ..}` for a distribution).
//!
//! Byte-compatible with the original's output where the data agrees: compact JSON uses
//! Python's `", "` and `": "` separators, pretty JSON indents by two spaces, non-ASCII is
//! escaped as `\uXXXX`, and a newline ends the document. Unlike the original, the output is
//! always valid JSON: NaN and infinities become `null`.
//!
//! The text is streamed straight from the snapshot into any [`io::Write`](std::io::Write):
//! no intermediate JSON value is built.
//!
//! **With sketches** ([`Options::with_sketches`]), every distribution also carries its
//! sketch — the bucket counts its percentiles come from — under one more key, `"sketch"`, so
//! that a reader ([`parse`]) rebuilds the exact [`SketchSnapshot`](crate::SketchSnapshot)
//! and distributions of many servers merge into fleet-wide percentiles that keep the
//! sketch's error bound ([`RELATIVE_ERROR`](crate::sketch::RELATIVE_ERROR)):
//!
//! ```text
//! "latency": {"count": 7, "min": -1.0, ..., "999percentile": 1.5, "sketch": {"v":1,"sub_bits":6,
//!     "count":7,"sum":4.57,"sum_squares":7.3929,"min":-1.0,"max":1.5,"zeros":1,
//!     "positive":[[69568,2,1,0,1],[69600,1]],"negative":[[69568,1]]}}
//! ```
//!
//! (the values 1, 1, 1.02, 1.05, 1.5, 0 and −1; the sketch is one line).
//!
//! | key | value |
//! |---|---|
//! | `v` | the version of the form, `1`; always the first key |
//! | `sub_bits` | mantissa bits per bucket, `6` (64 buckets per power of two) |
//! | `count` | values recorded: `zeros` plus every bucket count |
//! | `sum`, `sum_squares` | sums of the values and of their squares (`null`: not finite) |
//! | `min`, `max` | exact extremes (left out when empty or unknown) |
//! | `zeros`, `dropped` | values equal to 0, NaN/infinite values not recorded (left out when 0) |
//! | `positive`, `negative` | buckets of values above and below zero (left out when empty) |
//!
//! A bucket list is a list of *runs* of adjacent buckets, `[start, c₀, c₁, …]`: bucket
//! `start + k` holds `cₖ` values (a `0` bridges a short gap between filled buckets), runs in
//! increasing index order. A bucket index is a magnitude's binary exponent and top six
//! mantissa bits as one number, from [`MIN_INDEX`](crate::sketch::MIN_INDEX) (5e-324) to
//! [`MAX_INDEX`](crate::sketch::MAX_INDEX) (`f64::MAX`); `1.0` is bucket 69568. The sketch
//! is written on one line in both styles. Without the option the output is unchanged.
//! `docs/sketch-json.md` in the repository has the compatibility rules.
//!
//! **Reading** ([`parse`]) turns JSON of these shapes — this writer's, the original's, a
//! dump's — back into a [`Snapshot`](crate::Snapshot).
//!
//! ```
//! use scales::format::json;
//!
//! let reg = scales::Registry::new();
//! let here = reg.scope("/here")?;
//! here.int_stat("count")?.inc();
//! # let _keep = &here;
//! assert_eq!(json::to_string(&reg.snapshot(), json::Style::Compact), "{\"here\": {\"count\": 1}}\n");
//!
//! let mut out = Vec::new();
//! json::write(&reg.snapshot(), json::Options::pretty(), &mut out)?;
//! assert_eq!(out, b"{\n  \"here\": {\n    \"count\": 1\n  }\n}\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod read;
mod write;

pub use read::{parse, ParseError, MAX_DEPTH};
pub use write::{node_to_string, to_string, write, write_node, write_stat, write_value};

/// The version of the sketch form this writer writes and this reader reads (the `"v"` key).
pub const SKETCH_VERSION: u64 = 1;

/// Layout of the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// One line, Python's separators (`?format=json`).
    #[default]
    Compact,
    /// Indented by two spaces (`?format=prettyjson`).
    Pretty,
}

/// How to write JSON. A [`Style`] converts into options with everything else at its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// Layout of the text.
    pub style: Style,
    /// Adds a top-level `last-updated` key with the snapshot's time in Unix seconds, as the
    /// original's dumps do (replacing a top-level entry of that name).
    pub last_updated: bool,
    /// Adds to every distribution (a [`PmfStat`](crate::PmfStat)'s object, each entry of a
    /// keyed one) its sketch under the key `"sketch"`, in the versioned form the module docs
    /// describe, so that [`parse`] rebuilds it exactly. A summary
    /// ([`SketchDetail::Summary`](crate::SketchDetail::Summary)) has no sketch to write.
    pub sketches: bool,
}

impl Options {
    /// Indented text.
    pub fn pretty() -> Self {
        Style::Pretty.into()
    }

    /// These options with the top-level `last-updated` key (see [`Options::last_updated`]).
    pub fn with_last_updated(mut self) -> Self {
        self.last_updated = true;
        self
    }

    /// These options with every distribution's sketch (see [`Options::sketches`]).
    pub fn with_sketches(mut self) -> Self {
        self.sketches = true;
        self
    }
}

impl From<Style> for Options {
    fn from(style: Style) -> Self {
        Self {
            style,
            last_updated: false,
            sketches: false,
        }
    }
}
