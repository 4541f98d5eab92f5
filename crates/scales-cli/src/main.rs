//! `scales`: read, watch, aggregate and push the stats of servers that use scales, or of the
//! dumps they leave behind.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod aggregate;
mod failure;
mod get;
mod push;
mod source;
mod table;
mod watch;

use failure::{Failure, EXIT_CODES};

/// Read, watch, aggregate and push the stats of servers that use scales.
///
/// A SOURCE is a status page URL (http://127.0.0.1:8765/status/, or a sub-tree such as
/// .../status/web; https:// too) or a JSON dump file (scales-demo --dump FILE).
#[derive(Debug, Parser)]
#[command(name = "scales", version, about, long_about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the stats of one server or dump: a table on a terminal, JSON when piped.
    Get(get::Args),
    /// A live view of one server's stats, with rates and what moved.
    Watch(watch::Args),
    /// One tree for many servers or dumps.
    Aggregate(aggregate::Args),
    /// Send one server's or dump's stats to Graphite once (for cron).
    PushGraphite(push::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Get(args) => get::run(args),
        Command::Watch(args) => watch::run(args),
        // Its own exit status, or a message about its arguments.
        Command::Aggregate(args) => match aggregate::run(args) {
            Ok(code) => return code,
            Err(message) => Err(Failure::Usage(message)),
        },
        Command::PushGraphite(args) => push::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("scales: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
