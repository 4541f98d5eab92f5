//! `scales push-graphite` (not written yet).

use crate::failure::Failure;

/// Arguments of `scales push-graphite`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

pub(crate) fn run(_args: Args) -> Result<(), Failure> {
    Err(Failure::Usage(
        "`push-graphite` is not written yet".to_owned(),
    ))
}
