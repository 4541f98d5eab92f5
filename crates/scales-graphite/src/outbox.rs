//! The buffer of rendered batches and the connection to carbon.
//!
//! Batches wait in `pending` until written completely; then they wait in `unconfirmed`
//! until their connection has stayed up for `confirm_after`. A connection found closed
//! sends every unconfirmed batch back to the front of `pending` (see the crate docs for why
//! resending is safe).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::builder::Config;
use crate::health::HealthStats;
use crate::text::Human;
use crate::PushError;

/// Repeated warnings of one kind (an outage going on, a buffer still overflowing) are
/// logged at most this often; the retries in between are debug messages.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// An outage in progress: failures since the last successful write.
#[derive(Debug)]
struct Outage {
    started: Instant,
    failures: u64,
    last_warned: Instant,
}

/// Points dropped from a full buffer since the last warning about it.
#[derive(Debug, Default)]
struct Drops {
    last_warned: Option<Instant>,
    pushes: u64,
    points: u64,
}

/// One rendered push: lines sharing one timestamp.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) data: Vec<u8>,
    pub(crate) points: usize,
    /// Whether this batch was written before (its connection then failed).
    pub(crate) resend: bool,
}

/// Capped exponential backoff with jitter.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
    next_attempt: Option<Instant>,
    rng: u64,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64)
            | 1;
        Self {
            min,
            max,
            step: min,
            next_attempt: None,
            rng: seed,
        }
    }

    /// A uniform number in [0, 1) (xorshift64*).
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Records a failure: the next attempt waits between half and all of the current step,
    /// and the step doubles up to `max`.
    fn fail(&mut self, now: Instant) -> Duration {
        let wait = self.step.mul_f64(0.5 + 0.5 * self.random());
        self.next_attempt = Some(now + wait);
        self.step = (self.step * 2).min(self.max);
        wait
    }

    fn reset(&mut self) {
        self.step = self.min;
        self.next_attempt = None;
    }
}

/// Batches on their way to carbon.
pub(crate) struct Outbox {
    addr: String,
    connect_timeout: Duration,
    write_timeout: Duration,
    confirm_after: Duration,
    capacity: usize,
    conn: Option<TcpStream>,
    pending: VecDeque<Batch>,
    pending_points: usize,
    unconfirmed: VecDeque<(Batch, Instant)>,
    unconfirmed_points: usize,
    backoff: Backoff,
    ever_connected: bool,
    /// The outage in progress, if any (its first failure was logged as a warning).
    outage: Option<Outage>,
    drops: Drops,
    /// [`WARN_EVERY`], shorter in tests.
    warn_every: Duration,
    health: HealthStats,
    cancel: Option<Arc<AtomicBool>>,
}

impl Outbox {
    pub(crate) fn new(config: &Config, health: HealthStats) -> Self {
        Self {
            addr: config.addr.clone(),
            connect_timeout: config.connect_timeout,
            write_timeout: config.write_timeout,
            confirm_after: config.confirm_after,
            capacity: config.buffer_points,
            conn: None,
            pending: VecDeque::new(),
            pending_points: 0,
            unconfirmed: VecDeque::new(),
            unconfirmed_points: 0,
            backoff: Backoff::new(config.backoff_min, config.backoff_max),
            ever_connected: false,
            outage: None,
            drops: Drops::default(),
            warn_every: WARN_EVERY,
            health,
            cancel: None,
        }
    }

    /// Points waiting to be written.
    pub(crate) fn pending_points(&self) -> usize {
        self.pending_points
    }

    /// Bytes held by the buffer (pending and unconfirmed batches).
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.pending
            .iter()
            .map(|b| b.data.capacity())
            .sum::<usize>()
            + self
                .unconfirmed
                .iter()
                .map(|(b, _)| b.data.capacity())
                .sum::<usize>()
    }

    /// Whether written batches are waiting for their confirmation.
    pub(crate) fn has_unconfirmed(&self) -> bool {
        !self.unconfirmed.is_empty()
    }

    /// When the next connection attempt is allowed, if it is delayed.
    pub(crate) fn next_attempt(&self) -> Option<Instant> {
        self.backoff.next_attempt
    }

    /// Queues a batch, dropping the oldest ones if the buffer overflows.
    pub(crate) fn enqueue(&mut self, batch: Batch) {
        self.pending_points += batch.points;
        self.pending.push_back(batch);
        while self.pending_points + self.unconfirmed_points > self.capacity {
            // Written batches go first: carbon most likely has them.
            if let Some((batch, _)) = self.unconfirmed.pop_front() {
                self.unconfirmed_points -= batch.points;
                continue;
            }
            if self.pending.len() <= 1 {
                break; // a single batch larger than the buffer is kept alone
            }
            if let Some(batch) = self.pending.pop_front() {
                self.pending_points -= batch.points;
                self.health.points_dropped.add(batch.points as i64);
                self.dropped(batch.points);
            }
        }
        self.update_buffered();
    }

    /// Logs a dropped push: the first one at once, the next ones summed up once per
    /// [`WARN_EVERY`].
    fn dropped(&mut self, points: usize) {
        let now = Instant::now();
        let drops = &mut self.drops;
        drops.pushes += 1;
        drops.points += points as u64;
        match drops.last_warned {
            None => log::warn!(
                target: "scales_graphite",
                "graphite buffer full ({} points): dropped the oldest push ({points} points); \
                 further drops are logged once a minute",
                self.capacity
            ),
            Some(at) if now.duration_since(at) >= self.warn_every => log::warn!(
                target: "scales_graphite",
                "graphite buffer still full ({} points): dropped {} more pushes ({} points) in \
                 the last {}",
                self.capacity,
                drops.pushes,
                drops.points,
                Human(now.duration_since(at))
            ),
            Some(_) => return,
        }
        *drops = Drops {
            last_warned: Some(now),
            ..Drops::default()
        };
    }

    fn update_buffered(&self) {
        self.health
            .points_buffered
            .set(i64::try_from(self.pending_points).unwrap_or(i64::MAX));
    }

    /// Checks the connection: a closed one sends unconfirmed batches back to the buffer;
    /// on an open one, batches written long enough ago are confirmed.
    pub(crate) fn check(&mut self, now: Instant) {
        if let Some(conn) = &self.conn {
            if let Err(reason) = peer_open(conn) {
                log::debug!(
                    target: "scales_graphite",
                    "carbon at {} closed the connection ({reason}); {} written points will be sent again",
                    self.addr,
                    self.unconfirmed_points
                );
                self.disconnect();
                return;
            }
        }
        while let Some((_, written)) = self.unconfirmed.front() {
            if now.duration_since(*written) < self.confirm_after {
                break;
            }
            if let Some((batch, _)) = self.unconfirmed.pop_front() {
                self.unconfirmed_points -= batch.points;
            }
        }
    }

    /// Drops the connection; unconfirmed batches go back to the front of the buffer.
    fn disconnect(&mut self) {
        self.conn = None;
        while let Some((mut batch, _)) = self.unconfirmed.pop_back() {
            self.unconfirmed_points -= batch.points;
            self.pending_points += batch.points;
            batch.resend = true;
            self.pending.push_front(batch);
        }
        self.update_buffered();
    }

    /// Records a failed connect or write: health stats, backoff, and a log line (a warning
    /// for the first failure of an outage and then once per [`WARN_EVERY`], debug
    /// messages for the retries in between).
    fn failure(&mut self, error: PushError) -> PushError {
        let now = Instant::now();
        let wait = Human(self.backoff.fail(now));
        self.health.failures.inc();
        let message = error.to_string();
        self.health.set_error(&message);
        match &mut self.outage {
            None => {
                log::warn!(
                    target: "scales_graphite",
                    "{message}; buffering points and retrying (first retry in {wait})"
                );
                self.outage = Some(Outage {
                    started: now,
                    failures: 1,
                    last_warned: now,
                });
            }
            Some(outage) => {
                outage.failures += 1;
                if now.duration_since(outage.last_warned) >= self.warn_every {
                    outage.last_warned = now;
                    log::warn!(
                        target: "scales_graphite",
                        "{message}; still failing after {} failures in {}, {} points buffered, \
                         next retry in {wait}",
                        outage.failures,
                        Human(now.duration_since(outage.started)),
                        self.pending_points
                    );
                } else {
                    log::debug!(target: "scales_graphite", "{message}; retrying in {wait}");
                }
            }
        }
        error
    }

    fn connect(&mut self, deadline: Option<Instant>) -> Result<(), PushError> {
        let addrs: Vec<_> = match self.addr.to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(source) => {
                let addr = self.addr.clone();
                return Err(self.failure(PushError::Resolve { addr, source }));
            }
        };
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            let timeout = capped(self.connect_timeout, deadline);
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    if self.ever_connected {
                        self.health.reconnects.inc();
                    }
                    self.ever_connected = true;
                    self.conn = Some(stream);
                    return Ok(());
                }
                Err(e) => last_error = e,
            }
        }
        let addr = self.addr.clone();
        Err(self.failure(PushError::Connect {
            addr,
            source: last_error,
        }))
    }

    /// [`flush`](Self::flush) without waiting for the backoff: the last chance, at stop.
    pub(crate) fn flush_now(&mut self, deadline: Instant) -> Result<(), PushError> {
        self.backoff.next_attempt = None;
        self.cancel = None;
        self.flush(Some(deadline))
    }

    /// Makes [`flush`](Self::flush) give up between chunks once `flag` is set (the
    /// periodic pusher's stop request).
    pub(crate) fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// Writes one batch, a chunk per `write` call, giving up when no byte could be written
    /// for the write timeout, at the deadline, or on cancellation (checked at least every
    /// [`POLL`]).
    fn write_batch(&mut self, deadline: Option<Instant>) -> Result<(), Interrupted> {
        let (Some(conn), Some(batch)) = (&mut self.conn, self.pending.front()) else {
            return Ok(());
        };
        let data = &batch.data;
        let mut written = 0;
        let mut progress_at = Instant::now();
        while written < data.len() {
            if deadline.is_some_and(|d| Instant::now() >= d)
                || self
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Err(Interrupted::Stopped);
            }
            conn.set_write_timeout(Some(capped(POLL, deadline)))
                .map_err(Interrupted::Io)?;
            let end = data.len().min(written + WRITE_CHUNK);
            match conn.write(&data[written..end]) {
                Ok(0) => return Err(Interrupted::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    written += n;
                    progress_at = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if progress_at.elapsed() >= self.write_timeout {
                        return Err(Interrupted::Io(e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Interrupted::Io(e)),
            }
        }
        Ok(())
    }

    /// Writes pending batches, oldest first, until none is left, a failure, or `deadline`.
    pub(crate) fn flush(&mut self, deadline: Option<Instant>) -> Result<(), PushError> {
        self.check(Instant::now());
        loop {
            if self.pending.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(PushError::Deadline);
            }
            if self.conn.is_none() {
                if let Some(at) = self.backoff.next_attempt {
                    if now < at {
                        return Err(PushError::BackingOff(at - now));
                    }
                }
                self.connect(deadline)?;
                continue;
            }
            match self.write_batch(deadline) {
                Ok(()) => {}
                Err(Interrupted::Stopped) => {
                    // A half-written batch must not be continued on this connection: the
                    // next line would be glued to its cut one. Start over on a new one.
                    self.disconnect();
                    return Err(PushError::Deadline);
                }
                Err(Interrupted::Io(source)) => {
                    self.disconnect();
                    let addr = self.addr.clone();
                    return Err(self.failure(PushError::Write { addr, source }));
                }
            }
            let Some(batch) = self.pending.pop_front() else {
                return Ok(());
            };
            let points = batch.points;
            self.pending_points -= points;
            self.health.points_sent.add(points as i64);
            if batch.resend {
                self.health.points_resent.add(points as i64);
            }
            if !self.confirm_after.is_zero() {
                self.unconfirmed_points += points;
                self.unconfirmed.push_back((batch, Instant::now()));
            }
            self.update_buffered();
            self.backoff.reset();
            if let Some(outage) = self.outage.take() {
                self.health.last_error.set("");
                self.drops = Drops::default();
                let failures = outage.failures;
                log::warn!(
                    target: "scales_graphite",
                    "carbon at {} is reachable again after {failures} {} in {}",
                    self.addr,
                    if failures == 1 { "failure" } else { "failures" },
                    Human(outage.started.elapsed())
                );
            }
        }
    }
}

/// Most bytes per `write` call: a push takes few calls.
const WRITE_CHUNK: usize = 256 * 1024;

/// Longest a blocked `write` waits before the deadline and stop request are looked at again.
const POLL: Duration = Duration::from_millis(100);

/// Why a batch was not written completely.
enum Interrupted {
    Io(io::Error),
    Stopped,
}

/// `timeout`, shortened to what is left before `deadline` (at least 1 ms: zero means
/// "no timeout" to the socket calls).
fn capped(timeout: Duration, deadline: Option<Instant>) -> Duration {
    let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
    timeout.min(left).max(Duration::from_millis(1))
}

/// Whether the peer still has the connection open: carbon never writes on the plaintext
/// port, so a readable socket means end of stream (or an error).
fn peer_open(conn: &TcpStream) -> Result<(), String> {
    conn.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    let result = match conn.peek(&mut byte) {
        Ok(0) => Err("end of stream".to_owned()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(700));
        let now = Instant::now();
        let waits: Vec<Duration> = (0..6).map(|_| backoff.fail(now)).collect();
        for (wait, step) in waits.iter().zip([100, 200, 400, 700, 700, 700]) {
            let step = Duration::from_millis(step);
            assert!(
                *wait >= step / 2 && *wait <= step,
                "{wait:?} for step {step:?}"
            );
        }
        backoff.reset();
        assert!(backoff.fail(now) <= Duration::from_millis(100));
    }

    /// Log lines of this test binary.
    static RECORDS: std::sync::Mutex<Vec<(log::Level, String)>> = std::sync::Mutex::new(Vec::new());

    struct Collector;

    impl log::Log for Collector {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            let mut records = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
            records.push((record.level(), record.args().to_string()));
        }

        fn flush(&self) {}
    }

    #[test]
    fn a_long_outage_and_a_full_buffer_warn_again_once_per_interval() {
        let _ = log::set_logger(&Collector);
        log::set_max_level(log::LevelFilter::Trace);
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = crate::GraphitePusher::builder(addr.to_string())
            .buffer_points(2)
            .backoff(Duration::from_millis(1), Duration::from_millis(1))
            .into_config();
        let health = HealthStats::declare(&scales::Registry::new(), None).unwrap();
        let mut outbox = Outbox::new(&config, health);
        let batch = || Batch {
            data: b"a 1 1\n".to_vec(),
            points: 1,
            resend: false,
        };
        let warnings = || -> Vec<String> {
            let records = RECORDS.lock().unwrap();
            let ours = records
                .iter()
                .filter(|(_, m)| m.contains(&addr.to_string()) || m.contains("buffer"));
            ours.filter(|(l, _)| *l == log::Level::Warn)
                .map(|(_, m)| m.clone())
                .collect()
        };
        // Within the interval: one warning for the outage, one for the first drop.
        for _ in 0..4 {
            outbox.enqueue(batch());
            assert!(outbox
                .flush_now(Instant::now() + Duration::from_secs(1))
                .is_err());
        }
        assert_eq!(warnings().len(), 2, "{:#?}", warnings());
        assert!(warnings()[0].starts_with("cannot connect to carbon at "));
        assert!(warnings()[1]
            .starts_with("graphite buffer full (2 points): dropped the oldest push (1 points)"));
        // Once the interval has passed, the next failure and the next drop warn again
        // with what happened since.
        outbox.warn_every = Duration::ZERO;
        outbox.enqueue(batch());
        assert!(outbox
            .flush_now(Instant::now() + Duration::from_secs(1))
            .is_err());
        let all = warnings();
        assert_eq!(all.len(), 4, "{all:#?}");
        assert!(all[2].starts_with("graphite buffer still full (2 points): dropped 2 more pushes (2 points) in the last "), "{}", all[2]);
        assert!(
            all[3].contains("; still failing after 5 failures in "),
            "{}",
            all[3]
        );
        assert!(
            all[3].contains(", 2 points buffered, next retry in "),
            "{}",
            all[3]
        );
        // Carbon is back: one line says so.
        let _listener = std::net::TcpListener::bind(addr).unwrap();
        outbox
            .flush_now(Instant::now() + Duration::from_secs(1))
            .unwrap();
        let all = warnings();
        assert_eq!(all.len(), 5, "{all:#?}");
        let back = format!("carbon at {addr} is reachable again after 5 failures in ");
        assert!(all[4].starts_with(&back), "{}", all[4]);
    }

    #[test]
    fn jitter_varies() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff.fail(Instant::now())).collect();
        assert!(waits.len() > 10);
    }
}
