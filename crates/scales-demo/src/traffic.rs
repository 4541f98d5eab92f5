//! The built-in client: keeps sending requests to the service so the stats move, and records
//! what it sees in `/client`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use scales::Stats;

use crate::rng::Rng;

/// The client's stats: global, so they stay in the tree after the client stopped.
static CLIENT: scales::Collection<ClientStats> = scales::Collection::new("/client");

#[derive(Stats)]
struct ClientStats {
    sent: scales::IntStat,
    failed: scales::IntStat,
    #[stat(name = "roundTripTime")]
    round_trip: scales::PmfStat,
}

/// The running client threads.
pub(crate) struct Client {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Client {
    /// Stops the threads and waits for them (each finishes the request it is sending, a
    /// few seconds at most).
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

const ENDPOINTS: &[(&str, f64)] = &[
    ("/", 40.0),
    ("/search?q=rust", 15.0),
    ("/search?q=metrics", 10.0),
    ("/search", 2.0),
    ("/slow", 5.0),
    ("/flaky", 13.0),
    ("/work", 15.0),
];

/// Starts four client threads sending `rate` requests per second in all to `addr`.
pub(crate) fn start(addr: SocketAddr, rate: u32) -> Result<Client, Box<dyn std::error::Error>> {
    if let Some(error) = CLIENT.declare_error() {
        return Err(error.clone().into());
    }
    let stats = &*CLIENT;
    let stop = Arc::new(AtomicBool::new(false));
    let threads: u32 = 4;
    let pause = Duration::from_secs_f64(f64::from(threads) / f64::from(rate));
    let mut handles = Vec::new();
    for i in 0..threads {
        let stop = stop.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn(move || {
                    let mut rng = Rng::new(u64::from(i) + 1);
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let path = rng.pick(ENDPOINTS);
                        stats.sent.inc();
                        match request(addr, path) {
                            Ok(()) => stats.round_trip.record(started.elapsed().as_secs_f64()),
                            Err(_) => stats.failed.inc(),
                        }
                        // Bursty: the pause varies around the mean.
                        nap(pause.mul_f64(rng.range(0.2, 1.8)), &stop);
                    }
                })?,
        );
    }
    Ok(Client {
        stop,
        threads: handles,
    })
}

/// Sleeps for `pause`, waking early when `stop` is set (a stop waits at most 50 ms for a
/// sleeping thread, whatever the rate).
fn nap(pause: Duration, stop: &AtomicBool) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// One GET, read to the end.
fn request(addr: SocketAddr, path: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if response.starts_with(b"HTTP/1.1 ") {
        Ok(())
    } else {
        Err(std::io::Error::other("not an HTTP response"))
    }
}
