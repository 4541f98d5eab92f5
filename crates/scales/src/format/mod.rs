//! Output formats: pure functions from a [`Snapshot`](crate::Snapshot) to text.
//!
//! No format reads live stats or does I/O, so each is testable on a hand-built snapshot.

//! Each format is behind the cargo feature of its name: `json` (default), `html`,
//! `prometheus`, `graphite`.

#[cfg(any(feature = "html", feature = "graphite", feature = "prometheus"))]
mod chunked;
#[cfg(feature = "graphite")]
pub mod graphite;
#[cfg(feature = "html")]
pub mod html;
#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(any(feature = "graphite", feature = "prometheus"))]
mod shape;
