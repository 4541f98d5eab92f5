//! Helpers of the `get`, `errors`, `watch` and `push` tests: the built `scales` and
//! `scales-demo` binaries, a running demo on a port the kernel picks, and tiny loopback
//! servers that misbehave on purpose.

// A test binary has no outside users: `pub` here means "for the test modules".
#![allow(unreachable_pub, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// The `scales` command under test.
pub fn scales() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scales"));
    command
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `scales ARGS` to its end (60 s at most).
pub fn run(args: &[&str]) -> Output {
    let child = scales().args(args).spawn().expect("starting scales");
    wait_output(child, Duration::from_secs(60), &format!("scales {args:?}"))
}

/// Waits for `child` (killing it past `limit`) and returns its output.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    // Pipes are drained on threads so that a large output cannot block the child.
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The run succeeded; its stdout.
pub fn success(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// The run failed with exit status 1 and one line on stderr, `scales: {source}: ...`,
/// with nothing on stdout and no panic; the rest of that line.
pub fn source_failure(output: &Output, source: &str) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert_eq!(stdout(output), "", "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let prefix = format!("scales: {source}: ");
    assert!(err.starts_with(&prefix), "{err}");
    err[prefix.len()..].trim_end().to_owned()
}

/// Stdout as JSON.
pub fn json(output: &Output) -> Json {
    let text = success(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A directory of this test run's own, emptied.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scales-cli-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `scales-demo` binary beside `scales` (`target/<profile>/`), built once with cargo
/// when missing (`cargo test -p scales-cli` alone does not build other packages' binaries).
pub fn demo_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let scales = Path::new(env!("CARGO_BIN_EXE_scales"));
            let dir = scales.parent().unwrap();
            let path = dir.join(format!("scales-demo{}", std::env::consts::EXE_SUFFIX));
            if !path.exists() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
                let mut build = Command::new(cargo);
                build.args([
                    "build",
                    "--quiet",
                    "-p",
                    "scales-demo",
                    "--bin",
                    "scales-demo",
                ]);
                match dir.file_name().and_then(|name| name.to_str()) {
                    Some("debug") | None => {}
                    Some("release") => {
                        build.arg("--release");
                    }
                    Some(profile) => {
                        build.args(["--profile", profile]);
                    }
                }
                let child = build
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("running cargo to build scales-demo");
                let output = wait_output(
                    child,
                    Duration::from_secs(900),
                    "cargo build -p scales-demo",
                );
                assert!(
                    output.status.success(),
                    "cargo build -p scales-demo failed: {}",
                    stderr(&output)
                );
            }
            assert!(
                path.exists(),
                "{} is missing after building it",
                path.display()
            );
            path
        })
        .clone()
}

/// A running `scales-demo`, its status page on a port the kernel picked; killed when
/// dropped.
pub struct Demo {
    child: Child,
    /// `http://127.0.0.1:PORT/status/`.
    pub url: String,
    /// The status page's port.
    pub port: u16,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Demo {
    /// Starts the demo (`--port 0` plus `args`, 5 minutes at most) and waits until its
    /// status page serves stats that moved (20 s at most).
    pub fn start(args: &[&str]) -> Demo {
        Self::start_on(0, args)
    }

    /// [`start`](Self::start) on a given status port (for a restart on the same one).
    pub fn start_on(port: u16, args: &[&str]) -> Demo {
        let mut child = Command::new(demo_bin())
            .args([
                "--port",
                &port.to_string(),
                "--duration",
                "300",
                "--rate",
                "50",
            ])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting scales-demo");
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
        let mut demo = Demo {
            child,
            url: String::new(),
            port: 0,
            lines,
            stderr,
        };
        let line = demo.wait_line("scales-demo: status page at ");
        let url = line
            .trim_start_matches("scales-demo: status page at ")
            .trim()
            .to_owned();
        demo.port = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/status/")
            .parse()
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        demo.url = url;
        demo.wait_for_traffic();
        demo
    }

    /// Waits (30 s at most) for a stdout line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "scales-demo printed no line {prefix:?}; stderr: {}",
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// The status page as JSON, read directly (not through `scales`).
    pub fn live_json(&self) -> Json {
        let body = ureq::get(&format!("{}?format=json", self.url))
            .call()
            .expect("the demo's status page")
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    fn wait_for_traffic(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let served = ureq::get(&format!("{}?format=json", self.url))
                .call()
                .ok()
                .and_then(|r| r.into_body().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<Json>(&body).ok())
                .and_then(|json| json["web"]["success"].as_i64());
            if served.is_some_and(|n| n > 0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the demo at {} served no traffic within 20 s; stderr: {}",
                self.url,
                self.stderr.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the demo with SIGTERM (it writes its final dump) and waits for it (15 s at
    /// most); its exit status must be 0.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("the kill command");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "scales-demo: {status}; {}",
                    self.stderr.lock().unwrap()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "scales-demo did not stop within 15 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the demo at once (a server that went down).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A loopback server that answers each of up to `connections` connections with `response`
/// once it read the request head, then closes; its status URL.
pub fn serve(response: &'static [u8], connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/status/", listener.local_addr().unwrap());
    thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            read_head(&mut stream);
            let _ = stream.write_all(response);
        }
    });
    url
}

/// Reads a request up to its blank line (64 KiB at most, 5 s at most).
fn read_head(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < 64 * 1024 && !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// A loopback port nothing listens on (just freed).
pub fn refused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the end-to-end tests run (`SCALES_E2E=1`, as scripts/test.sh sets it).
pub fn e2e() -> bool {
    std::env::var("SCALES_E2E").as_deref() == Ok("1")
}
