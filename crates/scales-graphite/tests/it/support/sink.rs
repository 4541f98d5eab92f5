//! [`Sink`]: a loopback listener that reads like carbon and keeps what it read.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A listener that reads every connection to its end of stream and then closes it, as
/// carbon does (so the pusher counts what it wrote as read), and keeps the bytes of each
/// connection. Its threads live as long as the test binary.
pub struct Sink {
    pub addr: SocketAddr,
    connections: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Sink {
    /// A sink on a free port of 127.0.0.1.
    pub fn start() -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A sink accepting on `listener` (one bound where carbon comes back, say).
    pub fn on(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let shared = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let shared = shared.clone();
                let index = {
                    let mut all = shared.lock().unwrap();
                    all.push(Vec::new());
                    all.len() - 1
                };
                thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        shared.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                    }
                    // Dropping the stream closes it: carbon's answer to the end of stream.
                });
            }
        });
        Self { addr, connections }
    }

    /// The bytes received on each connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<Vec<u8>> {
        self.connections.lock().unwrap().clone()
    }

    /// Every complete line received so far, over all connections in order (a line cut by
    /// a failed connection is left out, as carbon leaves it out).
    pub fn lines(&self) -> Vec<String> {
        let all = self.connections.lock().unwrap();
        all.iter()
            .flat_map(|bytes| {
                let text = String::from_utf8_lossy(bytes);
                let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
                complete.lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits up to 10 s until `done` holds for the lines received, and returns them.
    pub fn wait_until(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        self.poll(done, |lines| format!("timed out; got {lines:#?}"))
    }

    /// Waits until `n` lines arrived (or panics after 10 s).
    pub fn wait_lines(&self, n: usize) -> Vec<String> {
        self.poll(
            |lines| lines.len() >= n,
            |lines| format!("only {} of {n} lines arrived", lines.len()),
        )
    }

    fn poll(
        &self,
        done: impl Fn(&[String]) -> bool,
        failure: impl Fn(&[String]) -> String,
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.lines();
            if done(&lines) {
                return lines;
            }
            assert!(Instant::now() < deadline, "{}", failure(&lines));
            thread::sleep(Duration::from_millis(10));
        }
    }
}
