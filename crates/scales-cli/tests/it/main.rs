//! Integration tests of the `scales` command, one module per subcommand, run against the
//! built binary.

mod aggregate;
mod errors;
mod fleet;
mod get;
mod push;
mod support;
mod watch;
