//! `scales get SOURCE [PATH]`: prints the stats of one server or dump, as a table for
//! people or in one of the server's own formats for programs.

use std::io::IsTerminal;
use std::time::UNIX_EPOCH;

use scales::format::{graphite, json, prometheus};
use scales::{Snapshot, StatPath};

use crate::failure::{write_stdout, Failure, EXIT_CODES};
use crate::source::Source;
use crate::table;

/// Arguments of `scales get`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = EXIT_CODES,
    after_long_help = format!(
        "Examples:\n  \
         scales get http://127.0.0.1:8765/status/\n  \
         scales get http://127.0.0.1:8765/status/ /web --format prometheus\n  \
         scales get stats.json /web/latency\n\n{EXIT_CODES}"
    )
)]
pub(crate) struct Args {
    /// A status page URL (http://127.0.0.1:8765/status/, or a sub-tree such as
    /// .../status/web) or a JSON dump file.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// Only the stats under this path (/web, /web/latency).
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

/// What `scales get` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned rows for people: full paths, units, thousands separators.
    Table,
    /// JSON on one line, as the status page's ?format=json.
    Json,
    /// Indented JSON, as ?format=prettyjson.
    Prettyjson,
    /// Prometheus text exposition format, as ?format=prometheus.
    Prometheus,
    /// Graphite plaintext lines (`path value timestamp`), timestamped with the snapshot's
    /// time (a dump's last-updated).
    Graphite,
}

pub(crate) fn run(args: Args) -> Result<(), Failure> {
    let path = args.path.as_deref().map(parse_path).transpose()?;
    let source = Source::parse(&args.source);
    let snapshot = source.read_snapshot()?;
    let snapshot = match &path {
        Some(path) => select(&snapshot, path)
            .ok_or_else(|| Failure::Failed(format!("{source}: no stats at {path}")))?,
        None => snapshot,
    };
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    write_stdout(&render(&snapshot, format))
}

/// A PATH argument as a path of the tree.
///
/// # Errors
/// A usage failure naming the argument.
pub(crate) fn parse_path(path: &str) -> Result<StatPath, Failure> {
    StatPath::parse(path).map_err(|error| Failure::Usage(format!("PATH {path:?}: {error}")))
}

/// The part of `snapshot` at `path` (the whole of it for the root, or for `snapshot`'s own
/// path); `None` when `path` holds nothing in it.
pub(crate) fn select(snapshot: &Snapshot, path: &StatPath) -> Option<Snapshot> {
    let node = snapshot.get(&path.to_string())?;
    Some(Snapshot::new(
        path.clone(),
        node.clone(),
        snapshot.taken_at(),
    ))
}

/// `snapshot` in `format`.
pub(crate) fn render(snapshot: &Snapshot, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = match format {
        Format::Table => {
            out.extend_from_slice(table::render(snapshot).as_bytes());
            Ok(())
        }
        Format::Json => json::write(snapshot, json::Style::Compact, &mut out),
        Format::Prettyjson => json::write(snapshot, json::Style::Pretty, &mut out),
        Format::Prometheus => {
            prometheus::write(snapshot, &prometheus::Options::default(), &mut out)
        }
        Format::Graphite => graphite::write(
            snapshot,
            &graphite::Options::default(),
            unix_seconds(snapshot),
            &mut out,
        )
        .map(|_| ()),
    };
    out
}

/// The snapshot's time in whole Unix seconds.
pub(crate) fn unix_seconds(snapshot: &Snapshot) -> u64 {
    snapshot
        .taken_at()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use scales::Registry;

    use super::*;

    fn snapshot() -> Snapshot {
        let registry = Registry::new();
        let web = registry.scope("/web").unwrap();
        web.int_stat("errors").unwrap().add(3);
        let db = registry.scope("/db").unwrap();
        db.int_stat("queries").unwrap().add(5);
        let snapshot = registry.snapshot();
        Snapshot::new(
            snapshot.path().clone(),
            snapshot.root().clone(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    fn text(snapshot: &Snapshot, format: Format) -> String {
        String::from_utf8(render(snapshot, format)).unwrap()
    }

    #[test]
    fn every_format_renders_the_snapshot() {
        let snapshot = snapshot();
        assert_eq!(
            text(&snapshot, Format::Json),
            "{\"web\": {\"errors\": 3}, \"db\": {\"queries\": 5}}\n"
        );
        assert!(text(&snapshot, Format::Prettyjson).starts_with("{\n  \"web\": {\n"));
        let prometheus = text(&snapshot, Format::Prometheus);
        assert!(prometheus.contains("\nweb_errors 3\n"), "{prometheus}");
        assert_eq!(
            text(&snapshot, Format::Graphite),
            "web.errors 3 1700000000\ndb.queries 5 1700000000\n"
        );
        assert_eq!(
            text(&snapshot, Format::Table),
            "/web/errors  3\n/db/queries  5\n"
        );
    }

    #[test]
    fn a_path_selects_a_sub_tree_with_its_full_paths() {
        let snapshot = snapshot();
        let web = select(&snapshot, &parse_path("/web").unwrap()).unwrap();
        assert_eq!(text(&web, Format::Table), "/web/errors  3\n");
        assert_eq!(text(&web, Format::Json), "{\"errors\": 3}\n");
        assert_eq!(text(&web, Format::Graphite), "web.errors 3 1700000000\n");
        let stat = select(&snapshot, &parse_path("web/errors").unwrap()).unwrap();
        assert_eq!(text(&stat, Format::Table), "/web/errors  3\n");
        assert!(select(&snapshot, &parse_path("/nothing").unwrap()).is_none());
        assert!(select(&snapshot, &parse_path("/").unwrap()).is_some());
        let bad = parse_path("/web//errors").unwrap_err();
        assert_eq!(bad.exit_code(), 2);
        assert!(
            bad.to_string().starts_with("PATH \"/web//errors\": "),
            "{bad}"
        );
    }
}
