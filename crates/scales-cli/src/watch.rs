//! `scales watch SOURCE [PATH]`: a live view of a server's stats in the terminal.
//!
//! A thread reads the source every `--interval` seconds and hands each result to the
//! terminal loop, which never blocks on the network: keys answer at once, a server that is
//! down shows as a status line (`unreachable since ...`) over the last stats read, and the
//! view picks up again when the server is back. [`Model`] holds what is shown and is pure
//! (unit-tested, drawn into ratatui's test backend); [`run`] wires it to the terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use scales::{Snapshot, StatPath};

use crate::failure::{Failure, EXIT_CODES};
use crate::get::{parse_path, select};
use crate::push::positive_seconds;
use crate::source::{Limits, Source, SourceError};
use crate::table::{self, Row};

/// Arguments of `scales watch`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = EXIT_CODES,
    after_long_help = format!(
        "Keys: q, Esc or Ctrl-C quit; Up/Down (or k/j), PgUp/PgDn (or space), Home/End \
         scroll.\n\n\
         Each row shows the change per second of its number since the last refresh (a \
         distribution's or a meter's count), and rows that changed are highlighted. When the \
         server cannot be read the last stats stay on screen and the status line says since \
         when; the view recovers by itself.\n\n{EXIT_CODES}"
    )
)]
pub(crate) struct Args {
    /// A status page URL (http://127.0.0.1:8765/status/, or a sub-tree such as
    /// .../status/web), or a JSON dump file that is rewritten (scales-demo --dump-every).
    #[arg(value_name = "URL")]
    source: String,
    /// Only the stats under this path (/web).
    #[arg(value_name = "PATH")]
    path: Option<String>,
    /// Seconds between refreshes.
    #[arg(long, short, value_name = "SECONDS", default_value_t = 2.0, value_parser = positive_seconds)]
    interval: f64,
}

pub(crate) fn run(args: Args) -> Result<(), Failure> {
    let path = args.path.as_deref().map(parse_path).transpose()?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "scales watch needs a terminal (for one reading, use scales get)".to_owned(),
        ));
    }
    let source = Source::parse(&args.source);
    let interval = Duration::from_secs_f64(args.interval);
    let mut model = Model::new(&source, path.as_ref(), interval);
    let (updates, _stop) = spawn_reader(source, path, interval);

    let mut terminal = ratatui::try_init().map_err(|error| {
        let _ = ratatui::try_restore();
        Failure::Failed(format!("cannot set up the terminal: {error}"))
    })?;
    let result = event_loop(&mut terminal, &mut model, &updates);
    let restored = ratatui::try_restore();
    // `_stop` drops here: the reader ends at its next wake-up (the process ends first).
    result?;
    restored.map_err(|error| Failure::Failed(format!("cannot restore the terminal: {error}")))
}

/// Draws, reads keys and takes updates until a quitting key.
fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    model: &mut Model,
    updates: &Receiver<Update>,
) -> Result<(), Failure> {
    let io = |error: std::io::Error| Failure::Failed(format!("terminal: {error}"));
    loop {
        while let Ok(update) = updates.try_recv() {
            model.update(update);
        }
        terminal.draw(|frame| model.draw(frame)).map_err(io)?;
        if event::poll(Duration::from_millis(100)).map_err(io)? {
            match event::read().map_err(io)? {
                Event::Key(key)
                    if key.kind != KeyEventKind::Release && model.key(key) == Flow::Quit =>
                {
                    return Ok(());
                }
                // Resizes and the rest: drawn again on the next turn.
                _ => {}
            }
        }
    }
}

/// One reading of the source.
#[derive(Debug)]
pub(crate) struct Update {
    /// The stats, or why they could not be read.
    pub(crate) result: Result<Snapshot, ReadError>,
    /// When the reading ended.
    pub(crate) at: Instant,
    /// The same moment on the wall clock.
    pub(crate) wall: SystemTime,
}

/// Why a reading gave no stats.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The source could not be read.
    Source(SourceError),
    /// The source has nothing at the PATH asked for.
    NoStatsAt(String),
}

impl ReadError {
    fn is_unreachable(&self) -> bool {
        matches!(self, ReadError::Source(error) if error.what.is_unreachable())
    }

    fn message(&self) -> String {
        match self {
            ReadError::Source(error) => error.to_string(),
            ReadError::NoStatsAt(path) => format!("no stats at {path}"),
        }
    }
}

/// Reads `source` every `interval` on a thread of its own; readings arrive on the receiver.
/// The thread ends when the returned sender is dropped (at its next wake-up) or the receiver
/// is gone.
fn spawn_reader(
    source: Source,
    path: Option<StatPath>,
    interval: Duration,
) -> (Receiver<Update>, Sender<()>) {
    let (send, updates) = mpsc::channel();
    let (stop, stopped) = mpsc::channel::<()>();
    // A reading never takes much longer than the refresh interval (and at most 10 s).
    let limits = Limits {
        connect: interval.clamp(Duration::from_secs(1), Duration::from_secs(5)),
        read: interval.clamp(Duration::from_secs(2), Duration::from_secs(10)),
        ..Limits::DEFAULT
    };
    thread::spawn(move || loop {
        let started = Instant::now();
        let result = match source.read_snapshot_with(&limits) {
            Err(error) => Err(ReadError::Source(error)),
            Ok(snapshot) => match &path {
                None => Ok(snapshot),
                Some(path) => {
                    select(&snapshot, path).ok_or_else(|| ReadError::NoStatsAt(path.to_string()))
                }
            },
        };
        let update = Update {
            result,
            at: Instant::now(),
            wall: SystemTime::now(),
        };
        if send.send(update).is_err() {
            return;
        }
        match stopped.recv_timeout(interval.saturating_sub(started.elapsed())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    });
    (updates, stop)
}

/// Whether to go on after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep watching.
    Continue,
    /// Leave.
    Quit,
}

/// One row as shown: the table's row, its rate and whether it moved.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    row: Row,
    text: String,
    /// Change per second of the row's number since the previous reading.
    rate: Option<f64>,
    /// Whether the value differs from the previous reading's.
    moved: bool,
}

/// Everything the view shows.
#[derive(Debug)]
pub(crate) struct Model {
    title: String,
    interval: Duration,
    rows: Vec<Shown>,
    /// The previous reading's numbers and texts by row path, and when it ended.
    previous: HashMap<String, (Option<f64>, String)>,
    previous_at: Option<Instant>,
    /// When the stats on screen were read.
    updated: Option<SystemTime>,
    /// The current failure: since when (wall clock), whether the server is unreachable,
    /// and what it is.
    failing: Option<(SystemTime, bool, String)>,
    /// The first row on screen, and how many rows the last draw had room for.
    scroll: usize,
    page: usize,
}

impl Model {
    pub(crate) fn new(source: &Source, path: Option<&StatPath>, interval: Duration) -> Self {
        let title = match path {
            Some(path) => format!("{source} {path}"),
            None => source.to_string(),
        };
        Self {
            title,
            interval,
            rows: Vec::new(),
            previous: HashMap::new(),
            previous_at: None,
            updated: None,
            failing: None,
            scroll: 0,
            page: 1,
        }
    }

    /// Takes one reading: new rows with their rates and moves, or a failure kept beside the
    /// last rows.
    pub(crate) fn update(&mut self, update: Update) {
        let snapshot = match update.result {
            Ok(snapshot) => snapshot,
            Err(error) => {
                let since = match &self.failing {
                    Some((since, _, _)) => *since,
                    None => update.wall,
                };
                self.failing = Some((since, error.is_unreachable(), error.message()));
                return;
            }
        };
        self.failing = None;
        let elapsed = self
            .previous_at
            .map(|then| update.at.saturating_duration_since(then).as_secs_f64());
        let mut previous = HashMap::with_capacity(self.rows.len());
        self.rows = table::rows(&snapshot)
            .into_iter()
            .map(|row| {
                let text = row.cell.text();
                let count = row.cell.count();
                let before = self.previous.get(&row.path);
                let rate = match (count, before, elapsed) {
                    (Some(now), Some((Some(then), _)), Some(secs)) if secs > 0.0 => {
                        Some((now - then) / secs)
                    }
                    _ => None,
                };
                let moved = before.is_some_and(|(_, then)| *then != text);
                previous.insert(row.path.clone(), (count, text.clone()));
                Shown {
                    row,
                    text,
                    rate,
                    moved,
                }
            })
            .collect();
        self.previous = previous;
        self.previous_at = Some(update.at);
        self.updated = Some(update.wall);
        self.scroll = self.scroll.min(self.max_scroll());
    }

    /// Answers a key.
    pub(crate) fn key(&mut self, key: KeyEvent) -> Flow {
        let page = self.page.max(1);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Flow::Quit,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Flow::Quit
            }
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += page,
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            _ => {}
        }
        self.scroll = self.scroll.min(self.max_scroll());
        Flow::Continue
    }

    fn max_scroll(&self) -> usize {
        self.rows.len().saturating_sub(self.page.max(1))
    }

    /// Draws the view: a title line, the rows, a status line.
    pub(crate) fn draw(&mut self, frame: &mut Frame<'_>) {
        let [header, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        self.page = usize::from(body.height).max(1);
        self.scroll = self.scroll.min(self.max_scroll());

        let updated = match self.updated {
            Some(at) => format!("updated {}", clock(at)),
            None => "reading...".to_owned(),
        };
        let title = Line::from(vec![
            Span::styled("scales watch ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                "{}  every {} s  {updated}",
                self.title,
                trim_float(self.interval.as_secs_f64())
            )),
        ]);
        frame.render_widget(Paragraph::new(title), header);

        let path_width = self.rows.iter().map(|s| s.row.path.chars().count()).max();
        let path_width = path_width.unwrap_or(0).min(usize::from(body.width) / 2);
        let lines: Vec<Line<'_>> = self
            .rows
            .iter()
            .skip(self.scroll)
            .take(self.page)
            .map(|shown| row_line(shown, path_width))
            .collect();
        frame.render_widget(Paragraph::new(lines), body);

        frame.render_widget(Paragraph::new(self.status_line()), status);
    }

    fn status_line(&self) -> Line<'static> {
        if let Some((since, unreachable, message)) = &self.failing {
            let state = if *unreachable {
                "unreachable"
            } else {
                "failing"
            };
            let shown = match self.updated {
                Some(at) => format!(" (stats of {})", clock(at)),
                None => String::new(),
            };
            return Line::styled(
                format!("{state} since {}: {message}{shown}", clock(*since)),
                Style::new().fg(Color::White).bg(Color::Red),
            );
        }
        let rows = if self.rows.is_empty() {
            "no rows".to_owned()
        } else {
            let last = (self.scroll + self.page).min(self.rows.len());
            format!("rows {}-{last} of {}", self.scroll + 1, self.rows.len())
        };
        Line::styled(
            format!("q quit  Up/Down PgUp/PgDn Home/End scroll  {rows}"),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }
}

/// `path  rate  value`, the value highlighted when it moved.
fn row_line(shown: &Shown, path_width: usize) -> Line<'_> {
    let path = &shown.row.path;
    let pad = path_width.saturating_sub(path.chars().count());
    let rate = match shown.rate {
        Some(rate) if rate != 0.0 => {
            let sign = if rate > 0.0 { "+" } else { "" };
            format!("{sign}{}", table::rate(rate))
        }
        _ => String::new(),
    };
    let value_style = if shown.moved {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    Line::from(vec![
        Span::raw(format!("{path}{:pad$}  ", "")),
        Span::styled(format!("{rate:>11}  "), Style::new().fg(Color::Green)),
        Span::styled(shown.text.as_str(), value_style),
    ])
}

/// A wall-clock time as `HH:MM:SS UTC`.
fn clock(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

fn trim_float(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use scales::Registry;

    use super::*;
    use crate::source::What;

    fn screen(model: &mut Model) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(80, 8)).unwrap();
        terminal.draw(|frame| model.draw(frame)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    fn ok(snapshot: Snapshot, start: Instant, secs: u64) -> Update {
        Update {
            result: Ok(snapshot),
            at: start + Duration::from_secs(secs),
            wall: UNIX_EPOCH + Duration::from_secs(3600 + secs),
        }
    }

    fn model() -> Model {
        Model::new(
            &Source::parse("http://127.0.0.1:1/status/"),
            None,
            Duration::from_secs(2),
        )
    }

    #[test]
    fn rates_are_changes_per_second_and_moves_are_marked() {
        let registry = Registry::new();
        let web = registry.scope("/web").unwrap();
        let hits = web.int_stat("hits").unwrap();
        let idle = web.int_stat("idle").unwrap();
        idle.set(7);
        let mut model = model();
        let start = Instant::now();
        model.update(ok(registry.snapshot(), start, 0));
        assert!(model.rows.iter().all(|s| s.rate.is_none() && !s.moved));
        hits.add(10);
        model.update(ok(registry.snapshot(), start, 2));
        let hits_row = &model.rows[0];
        assert_eq!(hits_row.row.path, "/web/hits");
        assert_eq!((hits_row.rate, hits_row.moved), (Some(5.0), true));
        let idle_row = &model.rows[1];
        assert_eq!((idle_row.rate, idle_row.moved), (Some(0.0), false));

        let lines = screen(&mut model);
        assert_eq!(
            lines[0],
            "scales watch http://127.0.0.1:1/status/  every 2 s  updated 01:00:02 UTC"
        );
        assert_eq!(lines[1], "/web/hits         +5/s  10");
        assert_eq!(lines[2], format!("/web/idle{:15}7", ""));
        assert!(lines[7].starts_with("q quit") && lines[7].ends_with("rows 1-2 of 2"));
    }

    #[test]
    fn a_failure_keeps_the_last_stats_and_says_since_when_until_it_recovers() {
        let registry = Registry::new();
        let web = registry.scope("/web").unwrap();
        web.int_stat("hits").unwrap().add(1);
        let mut model = model();
        let start = Instant::now();
        model.update(ok(registry.snapshot(), start, 0));
        let source = Source::parse("http://127.0.0.1:1/status/");
        for secs in [5, 7] {
            model.update(Update {
                result: Err(ReadError::Source(source.error(What::Refused))),
                at: start + Duration::from_secs(secs),
                wall: UNIX_EPOCH + Duration::from_secs(3600 + secs),
            });
        }
        let lines = screen(&mut model);
        assert_eq!(lines[1], format!("/web/hits{:15}1", ""));
        assert!(
            lines[7].starts_with(
                "unreachable since 01:00:05 UTC: http://127.0.0.1:1/status/: connection refused"
            ),
            "{lines:#?}"
        );
        model.update(ok(registry.snapshot(), start, 9));
        assert!(screen(&mut model)[7].starts_with("q quit"));
    }

    #[test]
    fn keys_scroll_within_the_rows_and_quit() {
        let registry = Registry::new();
        let web = registry.scope("/web").unwrap();
        let stats: Vec<_> = (0..20)
            .map(|i| web.int_stat(&format!("s{i:02}")).unwrap())
            .collect();
        let mut model = model();
        model.update(ok(registry.snapshot(), Instant::now(), 0));
        screen(&mut model); // 6 rows fit
        let press = |model: &mut Model, code| model.key(KeyEvent::from(code));
        assert_eq!(press(&mut model, KeyCode::Down), Flow::Continue);
        assert_eq!(screen(&mut model)[1], format!("/web/s01{:15}0", ""));
        press(&mut model, KeyCode::PageDown);
        assert_eq!(screen(&mut model)[1], format!("/web/s07{:15}0", ""));
        press(&mut model, KeyCode::End);
        let lines = screen(&mut model);
        assert_eq!(lines[6], format!("/web/s19{:15}0", ""));
        assert!(lines[7].ends_with("rows 15-20 of 20"), "{lines:#?}");
        press(&mut model, KeyCode::Up);
        press(&mut model, KeyCode::Home);
        assert_eq!(screen(&mut model)[1], format!("/web/s00{:15}0", ""));
        assert_eq!(press(&mut model, KeyCode::Char('q')), Flow::Quit);
        assert_eq!(press(&mut model, KeyCode::Esc), Flow::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(model.key(ctrl_c), Flow::Quit);
        drop(stats);
    }
}
