//! `scales watch` in a real terminal: tmux runs it against a real `scales-demo` in a
//! detached session of its own (its own `-L` socket), the test reads the screen with
//! `capture-pane` and types with `send-keys`. Without tmux the test is skipped, unless
//! `SCALES_E2E=1` (scripts/test.sh, which installs tmux through scripts/services/tmux.sh).

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{demo_bin, e2e, Demo};

/// A tmux server of this test alone, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        command
    }

    /// Starts `shell_command` in a 120x40 session.
    fn start(shell_command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("scales-cli-watch-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "120", "-y", "40", shell_command])
            .env("TERM", "xterm-256color")
            .status()
            .expect("running tmux");
        assert!(status.success(), "tmux new-session: {status}");
        tmux
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let status = self
            .command()
            .args(["send-keys", keys])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits (`limit` at most) until the screen satisfies `done`; the screen.
    fn wait(&self, limit: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{what} within {limit:?}; the screen:\n{screen}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

fn has_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The number shown on the row of `path`, if it is on screen.
fn value_of(screen: &str, path: &str) -> Option<i64> {
    let line = screen
        .lines()
        .find(|line| line.starts_with(&format!("{path} ")))?;
    line.split_whitespace()
        .last()?
        .replace(',', "")
        .parse()
        .ok()
}

#[test]
fn watch_shows_live_stats_moving_survives_an_outage_and_quits_cleanly() {
    if !has_tmux() {
        assert!(
            !e2e(),
            "SCALES_E2E=1 but tmux is missing: install it (scripts/services/tmux.sh packages)"
        );
        eprintln!(
            "skipping the scales watch terminal test: tmux is missing (apt-get install tmux)"
        );
        return;
    }
    // Built before the clock starts.
    let _ = demo_bin();
    let demo = Demo::start(&[]);
    let port = demo.port;
    let scales = Path::new(env!("CARGO_BIN_EXE_scales"));
    // After scales exits: its status, and whether the terminal is back in cooked mode.
    let shell = format!(
        "{} watch {} --interval 0.5; echo scales-exit=$?; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon | sed 's/^/tty-/'; sleep 60",
        scales.display(),
        demo.url
    );
    let tmux = Tmux::start(&shell);

    // /processor/finished: a counter near the top of the tree, so on the first screen.
    let counter = "/processor/finished";
    let first = tmux.wait(Duration::from_secs(20), "the demo's stats on screen", |s| {
        value_of(s, counter).is_some()
    });
    assert!(first.starts_with("scales watch "), "{first}");
    assert!(
        first.contains("/processor/taskTime ") && first.contains(" count "),
        "{first}"
    );
    assert!(first.contains("q quit"), "{first}");
    let before = value_of(&first, counter).unwrap();
    // It moves, with its rate per second beside it.
    let rate_shown = |s: &str| {
        s.lines()
            .find(|line| line.starts_with(&format!("{counter} ")))
            .is_some_and(|row| row.contains("/s "))
    };
    let moved = tmux.wait(Duration::from_secs(30), "the counter moving", |s| {
        value_of(s, counter).is_some_and(|now| now > before) && rate_shown(s)
    });
    // Scrolling moves the rows up by one.
    let top = |screen: &str| screen.lines().nth(1).unwrap_or_default().to_owned();
    let first_row = top(&moved);
    tmux.keys("Down");
    tmux.wait(Duration::from_secs(10), "a scroll down", |s| {
        top(s) != first_row
    });
    tmux.keys("Home");
    tmux.wait(Duration::from_secs(10), "a scroll home", |s| {
        top(s) == first_row
    });

    // The server goes down: the last stats stay, the status line says since when.
    demo.kill();
    let down = tmux.wait(
        Duration::from_secs(20),
        "the outage on the status line",
        |s| s.contains("unreachable since "),
    );
    assert!(down.contains("connection refused"), "{down}");
    assert!(value_of(&down, counter).is_some(), "{down}");

    // It comes back on the same port: the view recovers.
    let back = restart_on(port);
    tmux.wait(Duration::from_secs(20), "the recovery", |s| {
        !s.contains("unreachable since") && s.contains("q quit") && value_of(s, counter).is_some()
    });

    tmux.keys("q");
    let after = tmux.wait(Duration::from_secs(10), "scales watch to exit", |s| {
        s.contains("scales-exit=")
    });
    assert!(after.contains("scales-exit=0"), "{after}");
    // The terminal is restored: the main screen again (no view left on it), cooked mode.
    assert!(
        !after.contains("scales watch ") && !after.contains("q quit"),
        "{after}"
    );
    tmux.wait(Duration::from_secs(5), "the tty check", |s| {
        s.contains("tty-")
    });
    assert!(tmux.screen().contains("tty-icanon"), "{}", tmux.screen());
    drop(back);
}

/// A demo on `port` again (the port was just freed; a few tries).
fn restart_on(port: u16) -> Demo {
    let mut tries = 0;
    loop {
        tries += 1;
        match std::panic::catch_unwind(|| Demo::start_on(port, &[])) {
            Ok(demo) => return demo,
            Err(panic) if tries >= 3 => std::panic::resume_unwind(panic),
            Err(_) => thread::sleep(Duration::from_millis(500)),
        }
    }
}
