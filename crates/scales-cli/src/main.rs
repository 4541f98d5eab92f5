//! `scales`: read, watch, aggregate and push the stats of servers that use scales, or of the
//! dumps they leave behind.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod aggregate;
mod get;
mod push;
// Used by get, watch, push-graphite and aggregate as they land.
#[allow(dead_code)]
mod source;
mod watch;

/// Read, watch, aggregate and push the stats of servers that use scales.
#[derive(Debug, Parser)]
#[command(name = "scales", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the stats of one server or dump.
    Get(get::Args),
    /// A live view of one server's stats.
    Watch(watch::Args),
    /// One tree for many servers or dumps.
    Aggregate(aggregate::Args),
    /// Send one server's or dump's stats to Graphite once.
    PushGraphite(push::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Get(args) => get::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Aggregate(args) => aggregate::run(args),
        Command::PushGraphite(args) => push::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("scales: {error}");
            ExitCode::from(2)
        }
    }
}
