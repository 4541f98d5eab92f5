//! The built-in client: keeps sending requests to the service so the stats move, and records
//! what it sees in `/client`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use scales::Stats;

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

/// The paths the client asks for, with their weights (percent of the requests).
const ENDPOINTS: &[(&str, u32)] = &[
    ("/", 40),
    ("/search?q=rust", 15),
    ("/search?q=metrics", 10),
    ("/search", 2),
    ("/slow", 5),
    ("/flaky", 13),
    ("/work", 15),
];

/// One of `items`, chosen with a probability proportional to its weight.
fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut x = rng.u32(..total);
    for (item, weight) in items {
        if x < *weight {
            return item;
        }
        x -= weight;
    }
    unreachable!("x is below the total of the weights")
}

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
                    let mut rng = fastrand::Rng::new();
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let path = pick(&mut rng, ENDPOINTS);
                        stats.sent.inc();
                        match request(addr, path) {
                            Ok(()) => stats.round_trip.record(started.elapsed().as_secs_f64()),
                            Err(_) => stats.failed.inc(),
                        }
                        // Bursty: the pause varies around the mean, uniform in [0.2, 1.8).
                        nap(pause.mul_f64(0.2 + 1.6 * rng.f64()), &stop);
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

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_are_picked_by_weight() {
        // Seeded, so the check sees the same draws every run.
        let mut rng = fastrand::Rng::with_seed(1);
        let draws = 100_000;
        let mut counts = vec![0u32; super::ENDPOINTS.len()];
        for _ in 0..draws {
            let path = super::pick(&mut rng, super::ENDPOINTS);
            counts[super::ENDPOINTS
                .iter()
                .position(|(p, _)| p == path)
                .unwrap()] += 1;
        }
        let total: u32 = super::ENDPOINTS.iter().map(|(_, w)| w).sum();
        for ((path, weight), count) in super::ENDPOINTS.iter().zip(counts) {
            let expected = f64::from(*weight) / f64::from(total);
            let seen = f64::from(count) / f64::from(draws);
            assert!(
                (seen - expected).abs() < 0.01,
                "{path}: {seen} against {expected}"
            );
        }
    }
}
