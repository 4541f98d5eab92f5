//! Errors returned when declaring stats.
//!
//! Recording never fails: every check happens once, when a stat is declared.

use crate::path::PathError;

/// Error returned when a stat, scope or stat set cannot be declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path or name failed validation.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Something of another kind already lives at this path.
    #[error("`{path}` is already a {existing}, cannot declare a {requested} there")]
    KindMismatch {
        /// Where the clash happened.
        path: String,
        /// What is there already (`"IntStat"`, `"container"`, ...).
        existing: &'static str,
        /// What the caller asked for.
        requested: &'static str,
    },
}
