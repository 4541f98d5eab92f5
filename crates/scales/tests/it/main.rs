//! Integration tests of `scales-core`, built as one test binary with one module per area.
//!
//! Every test builds its own [`scales::Registry`] (with a [`scales::ManualClock`] where time
//! matters), except the few that exercise the crate-level functions on the global registry;
//! those use paths no other test uses.

mod accuracy;
mod cardinality;
mod concurrency;
mod derive;
mod dump;
mod dumper;
mod errors;
#[cfg(all(feature = "html", feature = "prometheus"))]
mod formats;
#[cfg(feature = "graphite")]
mod graphite;
#[cfg(feature = "json")]
mod json_read;
mod lifecycle;
mod process;
mod pruned;
mod readme_tree;
mod sharding;
mod summaries;
mod support;
/// Hand-built snapshot trees (the golden run's `readme` and `all` trees) for the format tests.
#[cfg(any(feature = "html", feature = "prometheus", feature = "graphite"))]
mod trees;
mod upstream;
