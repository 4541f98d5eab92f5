//! `scales aggregate` (not written yet).

use std::process::ExitCode;

/// Arguments of `scales aggregate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`aggregate` is not written yet".to_owned())
}
