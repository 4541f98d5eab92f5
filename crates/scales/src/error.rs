//! Errors returned when declaring stats.
//!
//! Recording never fails: every check happens once, when a stat is declared.

use std::fmt;

use crate::path::PathError;
use crate::snapshot::StatKind;

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
        /// What is there already.
        existing: EntryKind,
        /// What the caller asked for.
        requested: EntryKind,
    },
}

/// What lives at (or was asked for at) a place in the tree: a container or a stat of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A container (a scope's path, or a path above one).
    Container,
    /// A stat of this kind.
    Stat(StatKind),
}

impl fmt::Display for EntryKind {
    /// `container`, or the stat type's name (`IntStat`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryKind::Container => f.write_str("container"),
            EntryKind::Stat(kind) => f.write_str(kind.name()),
        }
    }
}
