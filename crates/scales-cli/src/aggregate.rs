//! `scales aggregate SOURCE...`: one tree for a fleet of servers or their dumps.
//!
//! Every source is read (several at once, `--jobs`), parsed with
//! `scales::format::json::parse` and folded into one tree ([`merge`]): distributions that
//! carry their sketches (status pages asked with `sketches=1`, dumps of this scales) merge
//! as sketches, so the fleet's percentiles are within the sketch's bound of the exact ones;
//! everything else is combined by the aggregators of a [`spec`] (the original's
//! `aggregation.py`). A source that cannot be read is reported by name on stderr and left
//! out; the others are still aggregated.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use scales::format::json;
use scales::{Entry, Node, Snapshot, StatKind, StatSnapshot, StatValue, Value};

use crate::source::{self, Source, SourceError};

mod merge;
mod spec;

pub(crate) use merge::Aggregation;
pub(crate) use spec::Spec;

const HELP: &str = concat!(
    "\
Sources: status page URLs (http://host:port/status/, or a sub-tree such as .../status/web;
`format=json&sketches=1` is added to the query), dump files, and directories (their *.json
files). Names in the results are file names without `.json`, and URLs as given.

How values combine:
  * groups merge by name (the union of their entries);
  * distributions that carry their sketches merge as sketches: exact counts, sums, min and
    max, and percentiles within 0.78 % of the fleet's exact ones;
  * every other value (the original's dumps carry no sketch) by the first spec rule whose
    pattern matches its path: the --spec file's rules, then the default ones:

",
    "PATTERN            AGGREGATOR... [approximate]\n",
    include_str!("aggregate/default.spec"),
    "
  Patterns are paths (leading `/` optional) with `*`, `?` and `[..]` within a segment and
  `**` for any number of segments. Aggregators: sum, average (weighted by the `count`
  beside the value when there is one), min, max, highest and lowest (the value and its
  source), inverse ({value: [sources]}), sorted ([[source, value], ...]), first, skip.
  Text, booleans and null under numeric aggregators: the value when all sources agree,
  else {value: [sources]}. Results of rules marked `approximate` (an average of p99s is
  not the fleet's p99) are listed in a top-level \"approximate\" list in JSON.

Exit status:
  0  every source was read and aggregated
  1  some sources could not be read (each is named on stderr); the rest are aggregated
  2  usage: a bad argument, flag or spec, or no source could be read (nothing printed)"
);

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line of JSON (the default when stdout is not a terminal).
    Json,
    /// Indented JSON.
    Prettyjson,
    /// An aligned table for people (the default on a terminal); approximate values are
    /// marked `~`.
    Table,
}

/// Arguments of `scales aggregate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = HELP)]
pub(crate) struct Args {
    /// Status page URLs, dump files, or directories of dumps.
    #[arg(required = true, value_name = "SOURCE")]
    sources: Vec<String>,
    /// Output format [default: json when piped, table on a terminal].
    #[arg(long, short, value_enum)]
    format: Option<Format>,
    /// A spec file: lines of `PATTERN AGGREGATOR... [approximate]`, tried before the
    /// default rules (see --help).
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Only the --spec file's rules, without the default ones after them.
    #[arg(long, requires = "spec")]
    no_default_spec: bool,
    /// Merged distributions carry their sketches in the JSON (so that the result can be
    /// aggregated again, exactly).
    #[arg(long)]
    sketches: bool,
    /// Progress on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Sources read at once.
    #[arg(long, short, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
}

/// A source read and parsed, or why not.
type Read = Result<Snapshot, SourceError>;

/// The name a source has in results: a file's name without `.json`, a URL as given.
fn result_name(source: &Source) -> String {
    match source {
        Source::File(path) => path.file_stem().map_or_else(
            || source.name().into_owned(),
            |s| s.to_string_lossy().into_owned(),
        ),
        Source::Url(_) => source.name().into_owned(),
    }
}

/// Reads and parses one source.
pub(crate) fn read(source: &Source) -> Read {
    let bytes = source.read()?;
    json::parse(&bytes).map_err(|error| source.error(source::What::Parse(error.to_string())))
}

/// Progress on stderr: rewritten in place on a terminal, one line per source otherwise.
struct Progress {
    on: bool,
    terminal: bool,
    total: usize,
    done: usize,
    failed: usize,
}

impl Progress {
    fn step(&mut self, name: &str, ok: bool) {
        self.done += 1;
        self.failed += usize::from(!ok);
        if !self.on {
            return;
        }
        let failed = if self.failed > 0 {
            format!(", {} failed", self.failed)
        } else {
            String::new()
        };
        let mut stderr = io::stderr().lock();
        let _ = if self.terminal {
            write!(
                stderr,
                "\r\x1b[Kscales aggregate: {}/{} sources read{failed}",
                self.done, self.total
            )
        } else {
            writeln!(
                stderr,
                "scales aggregate: {}/{} {name}{}",
                self.done,
                self.total,
                if ok { "" } else { " (failed)" }
            )
        };
    }

    fn clear(&self) {
        if self.on && self.terminal && self.done > 0 {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }
}

pub(crate) fn run(args: Args) -> Result<ExitCode, String> {
    let spec = match &args.spec {
        None => Spec::default_spec(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the spec {}: {e}", path.display()))?;
            let user =
                Spec::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
            if args.no_default_spec {
                user
            } else {
                user.then(Spec::default_spec())
            }
        }
    };

    let mut failures: Vec<SourceError> = Vec::new();
    let mut sources = Vec::new();
    for arg in &args.sources {
        match source::expand(std::slice::from_ref(arg)) {
            Ok(expanded) => sources.extend(expanded),
            Err(error) => failures.push(error),
        }
    }
    let terminal = io::stderr().is_terminal();
    let mut progress = Progress {
        on: args.progress || (terminal && sources.len() > 1),
        terminal,
        total: sources.len(),
        done: 0,
        failed: 0,
    };
    for error in &failures {
        eprintln!("scales aggregate: {error}");
    }

    let mut aggregation = Aggregation::new(&spec);
    let jobs = usize::from(args.jobs).max(1);
    // In chunks of `jobs`, folded in the order given: the result does not depend on which
    // server answers first, and at most `jobs` parsed trees are held at once.
    for chunk in sources.chunks(jobs) {
        let reads: Vec<Read> = if chunk.len() == 1 {
            vec![read(&chunk[0])]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|source| scope.spawn(move || read(source)))
                    .collect();
                handles
                    .into_iter()
                    .zip(chunk)
                    .map(|(handle, source)| {
                        handle.join().unwrap_or_else(|_| {
                            Err(source.error(source::What::Http(
                                "reading it failed unexpectedly".to_owned(),
                            )))
                        })
                    })
                    .collect()
            })
        };
        for (source, read) in chunk.iter().zip(reads) {
            let name = source.name();
            match read {
                Ok(snapshot) => {
                    aggregation.add(&result_name(source), &snapshot);
                    progress.step(&name, true);
                }
                Err(error) => {
                    progress.step(&name, false);
                    progress.clear();
                    eprintln!("scales aggregate: {error}");
                    failures.push(error);
                }
            }
        }
    }
    progress.clear();
    let conflicts = aggregation.conflicts();
    for conflict in conflicts.iter().take(20) {
        eprintln!("scales aggregate: warning: {conflict}");
    }
    if conflicts.len() > 20 {
        eprintln!(
            "scales aggregate: warning: {} more values skipped for their shape",
            conflicts.len() - 20
        );
    }
    if aggregation.source_count() == 0 {
        eprintln!("scales aggregate: no source could be read: nothing to aggregate");
        return Ok(ExitCode::from(2));
    }

    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    let text = render(&aggregation, format, args.sketches);
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
            return Err(format!("cannot write to stdout: {error}"));
        }
        _ => {}
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The fleet's tree as JSON, with a top-level `"approximate"` list of the paths whose
/// values approximate the fleet-wide value (`[]` when every value is exact).
pub(crate) fn render(aggregation: &Aggregation<'_>, format: Format, sketches: bool) -> String {
    let (snapshot, approximate) = aggregation.finish();
    let options = match format {
        Format::Json => json::Options::default(),
        Format::Prettyjson => json::Options::pretty(),
        Format::Table => return table(&snapshot, &approximate),
    };
    let options = if sketches {
        options.with_sketches()
    } else {
        options
    };
    json::to_string(&with_approximate(snapshot, approximate), options)
}

/// `scales get`'s table, rows holding an approximate value marked `~`, and a note saying
/// what the mark means.
fn table(snapshot: &Snapshot, approximate: &[String]) -> String {
    let mut rows = crate::table::rows(snapshot);
    if rows.is_empty() {
        return "(no stats)\n".to_owned();
    }
    let mut marked = false;
    for row in &mut rows {
        let holds = |path: &String| {
            path == &row.path
                || path
                    .strip_prefix(row.path.as_str())
                    .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('['))
        };
        if approximate.iter().any(holds) {
            row.path.push_str(" ~");
            marked = true;
        }
    }
    let mut out = crate::table::format_rows(&rows);
    if marked {
        out.push_str(
            "~ approximate: averages of the sources' summaries (they carried no sketch)\n",
        );
    }
    out
}

/// `snapshot` with the `"approximate"` list as its last top-level entry.
fn with_approximate(snapshot: Snapshot, approximate: Vec<String>) -> Snapshot {
    let list = Node::Stat(StatSnapshot {
        kind: StatKind::Stat,
        value: StatValue::Value(Value::List(
            approximate.into_iter().map(Value::Str).collect(),
        )),
    });
    let root = match snapshot.root().clone() {
        Node::Group(mut group) => {
            group.entries.retain(|e| &*e.name != "approximate");
            group.entries.push(Entry::new("approximate", list));
            Node::Group(group)
        }
        stat => stat,
    };
    Snapshot::new(snapshot.path().clone(), root, snapshot.taken_at())
}
