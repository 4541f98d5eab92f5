//! The README's examples, compiled and run as doctests by `cargo test`.
//!
//! They live in this crate because it depends on every crate the README shows.

#![forbid(unsafe_code)]

/// The README, whose Rust code blocks are this crate's doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
