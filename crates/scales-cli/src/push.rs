//! `scales push` (not written yet).

use std::process::ExitCode;

/// Arguments of `scales push`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`push` is not written yet".to_owned())
}
