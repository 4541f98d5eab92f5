//! The integration tests of `scales-derive`, one binary.

mod ui;
