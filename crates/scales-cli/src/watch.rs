//! `scales watch` (not written yet).

use crate::failure::Failure;

/// Arguments of `scales watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<(), Failure> {
    Err(Failure::Usage("`watch` is not written yet".to_owned()))
}
