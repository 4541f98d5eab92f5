//! Output formats: pure functions from a [`Snapshot`](crate::Snapshot) to text.
//!
//! No format reads live stats or does I/O, so each is testable on a hand-built snapshot.

pub mod graphite;
pub mod html;
pub mod json;
mod number;
pub mod prometheus;
pub mod query;
