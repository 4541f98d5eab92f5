//! The demo binary as a user runs it: port and argument errors are one line naming the flag
//! to change (no panic), the service takes a free port by default, SIGTERM and SIGINT stop
//! it gracefully (final dump, final Graphite flush, summary line, exit 0), and Graphite
//! failures reach stderr as one warning, not a flood. Everything on 127.0.0.1 with ports
//! chosen at run time.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const DEMO: &str = env!("CARGO_BIN_EXE_scales-demo");

/// Starts the demo with a quiet default log filter, stdout and stderr piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(DEMO)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs the demo to its end (it must end within 30 s) with a quiet default log filter.
fn run(args: &[&str]) -> Output {
    let mut child = spawn(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scales-demo {args:?} did not end within 30 s");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The run failed with exactly `expected` as its one line on stderr, and nothing started.
fn assert_one_line_error(output: &Output, expected: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err, format!("{expected}\n"));
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(stdout(output), "", "nothing should have started");
}

/// A listener on a free loopback port, held for the test.
fn occupied() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A path in the temp dir unique to this test run.
fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scales-demo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_busy_status_port_is_one_line_naming_the_flag() {
    let (_held, port) = occupied();
    let output = run(&["--port", &port.to_string()]);
    assert_one_line_error(
        &output,
        &format!(
            "error: the status page port 127.0.0.1:{port} is in use (another scales-demo?); pick another with --port N"
        ),
    );
}

#[test]
fn a_busy_explicit_app_port_is_one_line_naming_the_flag() {
    let (_held, port) = occupied();
    let output = run(&["--port", "0", "--app-port", &port.to_string()]);
    assert_one_line_error(
        &output,
        &format!(
            "error: the service port 127.0.0.1:{port} is in use (another scales-demo?); pick another with --app-port N, or leave --app-port out for a free port"
        ),
    );
}

#[test]
fn a_bind_address_of_another_machine_is_one_line_naming_the_flag() {
    // TEST-NET-3: never an address of this machine; binding it fails at once, no traffic.
    let output = run(&["--port", "0", "--bind", "203.0.113.9"]);
    assert_one_line_error(
        &output,
        "error: cannot listen on 203.0.113.9:0 for the status page: 203.0.113.9 is not an address of this machine; pick another with --bind ADDR",
    );
}

#[test]
fn an_unwritable_dump_file_is_one_line_naming_the_flag() {
    let missing = temp_file("no-such-dir").join("stats.json");
    let output = run(&["--port", "0", "--dump", missing.to_str().unwrap()]);
    let expected = format!(
        "error: cannot write the dump file {}: No such file or directory (os error 2); pick another with --dump PATH",
        missing.display()
    );
    assert_one_line_error(&output, &expected);
}

#[test]
fn dump_keep_for_a_dump_file_is_one_line_naming_the_flag() {
    let file = temp_file("keep.json");
    let output = run(&[
        "--port",
        "0",
        "--dump",
        file.to_str().unwrap(),
        "--dump-keep",
        "3",
    ]);
    let expected = format!(
        "error: --dump-keep needs a directory for --dump, and {} is a file (each dump replaces it); give a directory (an existing one, or a path ending in /)",
        file.display()
    );
    assert_one_line_error(&output, &expected);
    assert!(!file.exists());
}

#[test]
fn dumps_into_a_directory_keep_the_last_ones_and_end_with_the_final_dump() {
    let dir = temp_file("dumps-dir");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep-me.txt"), "mine").unwrap();
    let output = run(&[
        "--port",
        "0",
        "--rate",
        "100",
        "--duration",
        "3",
        "--dump",
        dir.to_str().unwrap(),
        "--dump-every",
        "1",
        "--dump-keep",
        "2",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.contains(&format!(
            "scales-demo: dumping the stats into {} (keeping the last 2) every 1 s, at exit and on a panic",
            dir.display()
        )),
        "{out}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // The first, periodic and final dumps were written; the two newest are kept, and the
    // other file is left alone.
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names.remove(0), "keep-me.txt");
    assert_eq!(
        std::fs::read_to_string(dir.join("keep-me.txt")).unwrap(),
        "mine"
    );
    for name in &names {
        assert!(
            name.starts_with("stats-") && name.ends_with("Z.json") && name.len() == 31,
            "{name}"
        );
    }
    let newest = dir.join(&names[1]);
    let summary = out.lines().last().unwrap();
    assert!(
        summary.ends_with(&format!("; stats dumped to {}", newest.display())),
        "{summary}"
    );
    let stats = read_json(&newest);
    let requests = stats["handler"]["requests"].as_i64().unwrap();
    assert!(
        summary.contains(&format!("served {requests} requests")),
        "{summary}"
    );
    // The dumper's health, as of the dump before the final one: the first dump and the
    // periodic ones, no failure.
    let health = &stats["scales"]["dumps"];
    assert!(health["written"].as_i64().unwrap() >= 2, "{health}");
    assert_eq!(health["failed"], serde_json::json!(0), "{health}");
    assert!(health["removed"].as_i64().unwrap() >= 1, "{health}");
    let older = read_json(&dir.join(&names[0]));
    assert!(older["handler"]["requests"].as_i64().unwrap() <= requests);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_graphite_address_is_one_line_naming_the_flag() {
    let output = run(&["--port", "0", "--graphite", "carbon"]);
    assert_one_line_error(
        &output,
        "error: --graphite carbon: 'carbon' is not a host:port address (such as 127.0.0.1:2003)",
    );
}

#[test]
fn malformed_flags_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (&["--bind", "localhost:80"][..], "'--bind <ADDR>'"),
        (&["--port", "70000"][..], "'--port <N>'"),
        (&["--rate", "0"][..], "'--rate <RATE>'"),
        (&["--dump-every", "5"][..], "--dump <PATH>"),
        (&["--dump-keep", "5"][..], "--dump <PATH>"),
        (
            &["--dump", "d/", "--dump-keep", "0"][..],
            "'--dump-keep <N>'",
        ),
    ] {
        let output = run(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A running demo whose stdout lines arrive on a channel, and whose stderr is kept.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let mut child = spawn(args);
        let (send, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let shared = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                shared
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits (20 s at most) for a stdout line containing `text`; returns it.
    fn wait_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?}; stdout so far: {:#?}; stderr: {}",
                    self.seen,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("the kill command");
        assert!(status.success());
    }

    /// Waits (`limit` at most) for the exit; its code and the rest of stdout.
    fn wait_exit(mut self, limit: Duration) -> (Option<i32>, Vec<String>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("did not exit within {limit:?}; stdout: {:#?}", self.seen);
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut rest = self.seen;
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
        thread::sleep(Duration::from_millis(50));
        let err = self.stderr.lock().unwrap().clone();
        (status.code(), rest, err)
    }
}

fn read_json(path: &PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn sigterm_and_sigint_stop_gracefully_with_a_final_dump_and_a_summary() {
    for signal in ["TERM", "INT"] {
        let dump = temp_file(&format!("sig{signal}.json"));
        let mut demo = Running::start(&[
            "--port",
            "0",
            "--rate",
            "100",
            "--dump",
            dump.to_str().unwrap(),
        ]);
        demo.wait_line("Ctrl-C to stop");
        // The startup dump checked the path; the stats move for a moment.
        assert!(dump.exists());
        thread::sleep(Duration::from_millis(1500));
        demo.signal(signal);
        let started = Instant::now();
        let (code, lines, err) = demo.wait_exit(Duration::from_secs(10));
        assert_eq!(code, Some(0), "SIG{signal}: {lines:#?} {err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(!err.contains("panicked"), "{err}");

        let summary = lines.last().unwrap();
        assert!(
            summary.starts_with("scales-demo: stopped after ")
                && summary.contains(&format!("(SIG{signal}): served "))
                && summary.ends_with(&format!("; stats dumped to {}", dump.display())),
            "{summary}"
        );
        let stats = read_json(&dump);
        let requests = stats["handler"]["requests"].as_i64().unwrap();
        assert!(requests > 10, "{requests}");
        assert!(
            summary.contains(&format!("served {requests} requests")),
            "{summary}"
        );
        let bytes = stats["web"]["bytesSent"].as_i64().unwrap();
        assert!(bytes > 0, "{bytes}");
        assert!(summary.contains(&format!(" {bytes} bytes)")), "{summary}");
        // The final dump is taken after the traffic stopped: every request sent was served
        // or failed, none is left in flight.
        let client = &stats["client"];
        assert_eq!(
            client["sent"].as_i64().unwrap(),
            requests + client["failed"].as_i64().unwrap(),
            "{client}"
        );
        let _ = std::fs::remove_file(&dump);
    }
}

#[test]
fn the_service_takes_a_free_port_so_8080_may_be_busy() {
    // Hold 8080 if nothing else does; either way it is busy for the demo.
    let _held = TcpListener::bind("127.0.0.1:8080");
    let output = run(&["--port", "0", "--duration", "1"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    let service = out
        .lines()
        .find(|l| l.starts_with("scales-demo: service on http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{out}"));
    let addr: SocketAddr = service
        .trim_start_matches("scales-demo: service on http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 8080);
    let summary = out.lines().last().unwrap();
    assert!(
        summary.starts_with("scales-demo: stopped after ")
            && summary.contains("(--duration elapsed)"),
        "{summary}"
    );
}

/// Accepts connections and keeps what they send.
fn carbon_sink() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let shared = received.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let shared = shared.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    shared.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (addr, received)
}

#[test]
fn graphite_pushes_reach_a_loopback_carbon() {
    let (addr, received) = carbon_sink();
    let output = run(&[
        "--port",
        "0",
        "--duration",
        "3",
        "--graphite",
        &addr.to_string(),
        "--graphite-period",
        "1",
        "--graphite-prefix",
        "demo.",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert_eq!(stderr(&output), "", "no warning when carbon is up");
    let text = String::from_utf8(received.lock().unwrap().clone()).unwrap();
    assert!(text.contains("\ndemo.web.bytesSent "), "{text}");
    assert!(
        text.contains("\ndemo.scales.graphite.pointsSent "),
        "{text}"
    );
    let summary = out.lines().last().unwrap();
    assert!(
        summary.contains("; graphite: ") && summary.ends_with(" points sent, 0 unsent"),
        "{summary}"
    );
}

#[test]
fn an_unreachable_carbon_is_one_warning_on_stderr_not_a_flood() {
    // A port just freed: connections are refused.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = run(&[
        "--port",
        "0",
        "--duration",
        "4",
        "--graphite",
        &addr.to_string(),
        "--graphite-period",
        "1",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let refused: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(&format!("cannot connect to carbon at {addr}: ")))
        .collect();
    // One warning when the outage starts, one when the pusher stops with points unsent.
    assert_eq!(refused.len(), 2, "{err}");
    assert!(
        refused[0].contains("WARN") && refused[0].contains("buffering points and retrying"),
        "{err}"
    );
    assert!(
        refused[1].contains("graphite pusher stopped with "),
        "{err}"
    );
    assert!(
        !err.contains("Os {") && !err.contains("SystemTime"),
        "{err}"
    );
    let summary = stdout(&output);
    let summary = summary.lines().last().unwrap();
    assert!(summary.contains("; graphite: 0 points sent, "), "{summary}");
}

#[test]
fn the_status_page_shows_the_demo_version() {
    use std::io::Write;
    let mut child = spawn(&["--port", "0", "--duration", "20"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .take(20)
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("scales-demo: status page at ")
                .map(str::to_owned)
        })
        .expect("the demo prints its status page URL");
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /status/ HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    let read = stream.read_to_string(&mut page);
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap();
    let expected = format!(
        "<span class=\"version\">{}</span>",
        env!("CARGO_PKG_VERSION")
    );
    assert!(page.contains(&expected), "{expected} not in {page}");
}
