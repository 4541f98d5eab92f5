//! `scales get` (not written yet).

use std::process::ExitCode;

/// Arguments of `scales get`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`get` is not written yet".to_owned())
}
