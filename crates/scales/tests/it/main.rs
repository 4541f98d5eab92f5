//! Integration tests of `scales-core`, built as one test binary with one module per area.
//!
//! Every test builds its own [`scales::Registry`] (with a [`scales::ManualClock`] where time
//! matters), except the few that exercise the crate-level functions on the global registry;
//! those use paths no other test uses.

mod accuracy;
mod concurrency;
mod derive;
mod dump;
mod errors;
mod lifecycle;
mod readme_tree;
mod sharding;
mod support;
mod upstream;
