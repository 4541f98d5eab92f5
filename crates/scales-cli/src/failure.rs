//! How a subcommand fails, and the exit status each failure gives.

use std::fmt;
use std::io::{self, Write};

use crate::source::SourceError;

/// The exit statuses, as `--help` lists them.
pub(crate) const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  a source could not be read (unreachable, timed out, not JSON, cut off, ...) or
     the stats could not be sent
  2  usage: a bad argument or flag";

/// Why a subcommand did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A bad argument (exit status 2).
    Usage(String),
    /// A source could not be read (exit status 1).
    Source(SourceError),
    /// Anything else that failed, said in words (exit status 1).
    Failed(String),
}

impl Failure {
    /// The exit status: 2 for usage, 1 for the rest.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Source(_) | Failure::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Failed(message) => f.write_str(message),
            Failure::Source(error) => write!(f, "{error}"),
        }
    }
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Self {
        Failure::Source(error)
    }
}

/// Writes `bytes` to stdout. A reader that went away (`scales get ... | head`) is not a
/// failure: there is no one left to tell.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::Failed(format!("cannot write to stdout: {error}")))
        }
        _ => Ok(()),
    }
}
