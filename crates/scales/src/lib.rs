//! scales
