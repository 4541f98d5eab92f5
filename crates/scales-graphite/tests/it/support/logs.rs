//! The test binary's one logger. `log` takes one logger per process, and every test of
//! this binary runs in it, pushing and logging at the same time; so the logger is installed
//! once, by the first [`capture`], and a test sees only what was logged on its own thread
//! while its [`Capture`] lives (a [`GraphitePusher`](scales_graphite::GraphitePusher) logs
//! on the thread that pushes). Other tests' lines, and those of periodic pushers' threads,
//! are let go.

use std::sync::{Mutex, Once};
use std::thread::{self, ThreadId};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// One log line: its level, target and message.
pub type Line = (Level, String, String);

/// The lines of each thread capturing now.
static CAPTURED: Mutex<Vec<(ThreadId, Vec<Line>)>> = Mutex::new(Vec::new());

static INSTALL: Once = Once::new();

struct Collector;

impl Log for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let me = thread::current().id();
        let mut captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, lines)) = captured.iter_mut().find(|(id, _)| *id == me) {
            lines.push((
                record.level(),
                record.target().to_owned(),
                record.args().to_string(),
            ));
        }
    }

    fn flush(&self) {}
}

/// What the current thread logs from now on, until it is dropped.
#[must_use = "lines are captured while the capture lives"]
pub struct Capture {
    thread: ThreadId,
}

/// Starts capturing what the current thread logs, at every level (installing the logger
/// the first time).
pub fn capture() -> Capture {
    INSTALL.call_once(|| {
        log::set_logger(&Collector).expect("the only logger of this test binary");
        log::set_max_level(LevelFilter::Trace);
    });
    let thread = thread::current().id();
    let mut captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        captured.iter().all(|(id, _)| *id != thread),
        "this thread captures already"
    );
    captured.push((thread, Vec::new()));
    Capture { thread }
}

impl Capture {
    /// The lines logged on the capturing thread so far.
    pub fn lines(&self) -> Vec<Line> {
        let captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
        captured
            .iter()
            .find(|(id, _)| *id == self.thread)
            .map(|(_, lines)| lines.clone())
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
        captured.retain(|(id, _)| *id != self.thread);
    }
}
