//! `scales watch` (not written yet).

use std::process::ExitCode;

/// Arguments of `scales watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<ExitCode, String> {
    Err("`watch` is not written yet".to_owned())
}
