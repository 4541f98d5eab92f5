//! The buffer of rendered batches and the connection to carbon.
//!
//! Batches wait in `queue`, oldest first, until carbon has *read* them: they are written
//! on a connection, the pusher ends its side of the connection (a half-close), and carbon,
//! which closes its side only after it has read everything before the end of stream,
//! answers with its own end of stream. Then they move to `recent`, where they stay for
//! `confirm_after` in case carbon dies before storing them (its memory cache): any failure
//! in that time sends them back to the front of `queue`. A connection that fails in any way
//! (refused, reset, closed, no progress for the write timeout, no answer within it) sends
//! every batch written on it, and every recent one, back to the front of `queue`, to be
//! written again on a new connection (see the crate docs for why resending is safe).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::PushError;
use crate::health::HealthStats;
use crate::text::Human;

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
    /// The jitter's source, seeded at random (from the thread's generator), so that the
    /// pushers of many hosts restarted together do not retry in step.
    rng: fastrand::Rng,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            step: min,
            next_attempt: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// Records a failure: the next attempt waits between half and all of the current step,
    /// and the step doubles up to `max`.
    fn fail(&mut self, now: Instant) -> Duration {
        // `f64()` is uniform in [0, 1).
        let wait = self.step.mul_f64(0.5 + 0.5 * self.rng.f64());
        self.next_attempt = Some(now + wait);
        self.step = (self.step * 2).min(self.max);
        wait
    }

    fn reset(&mut self) {
        self.step = self.min;
        self.next_attempt = None;
    }
}

/// Whether a failure waits for the backoff before the next connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Wait for the backoff.
    Backoff,
    /// Try again at once (an idle connection found closed: carbon may well be back).
    Now,
}

/// The connection to carbon and where writing stands on it.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// Bytes of `queue[sent - 1]` written so far (all of it once it is complete).
    offset: usize,
    /// Bytes written on this connection.
    bytes: usize,
    /// The last time a write took bytes, or when the pusher ended its side.
    progress_at: Instant,
    /// The pusher ended its side (half-close) and waits for carbon's end of stream.
    closing: bool,
}

/// What the periodic thread should do next with the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Call [`Outbox::flush`]: batches wait and a connection is in use or may be opened.
    Flush,
    /// Call [`Outbox::check`] within [`CHECK_EVERY`]: batches carbon read recently are
    /// watched.
    Check,
    /// Nothing before this instant (the backoff), or nothing at all.
    Wait(Option<Instant>),
}

/// How often an idle connection is looked at while carbon's recent reads are watched.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(250);

/// After this many bytes on one connection, the pusher ends it at the next batch boundary
/// and waits for carbon's answer: a large backlog is confirmed a few megabytes at a time, so
/// a connection that fails late loses the progress of its last part only, and the answer
/// never waits for more unread bytes than this plus one batch.
const ROTATE_BYTES: usize = 4 << 20;

/// Batches on their way to carbon.
pub(crate) struct Outbox {
    addr: String,
    connect_timeout: Duration,
    write_timeout: Duration,
    confirm_after: Duration,
    capacity: usize,
    conn: Option<Conn>,
    /// Batches carbon has not read yet, oldest first; the first `sent` are written (the
    /// last of them maybe partly) on `conn`.
    queue: VecDeque<Batch>,
    queue_points: usize,
    sent: usize,
    /// Batches carbon read, with when, kept for `confirm_after`.
    recent: VecDeque<(Batch, Instant)>,
    recent_points: usize,
    backoff: Backoff,
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
            queue: VecDeque::new(),
            queue_points: 0,
            sent: 0,
            recent: VecDeque::new(),
            recent_points: 0,
            backoff: Backoff::new(config.backoff_min, config.backoff_max),
            outage: None,
            drops: Drops::default(),
            warn_every: WARN_EVERY,
            health,
            cancel: None,
        }
    }

    /// Points carbon has not read yet (waiting, or written and not yet read).
    pub(crate) fn pending_points(&self) -> usize {
        self.queue_points
    }

    /// Bytes held by the buffer (unread and recently read batches).
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.queue.iter().map(|b| b.data.capacity()).sum::<usize>()
            + self
                .recent
                .iter()
                .map(|(b, _)| b.data.capacity())
                .sum::<usize>()
    }

    /// What the periodic thread should do next.
    pub(crate) fn next(&self) -> Next {
        if !self.queue.is_empty() {
            if self.conn.is_some() {
                return Next::Flush;
            }
            return match self.backoff.next_attempt {
                Some(at) if Instant::now() < at => Next::Wait(Some(at)),
                _ => Next::Flush,
            };
        }
        if !self.recent.is_empty() || self.conn.is_some() {
            return Next::Check;
        }
        Next::Wait(None)
    }

    /// Queues a batch, dropping the oldest ones if the buffer overflows.
    pub(crate) fn enqueue(&mut self, batch: Batch) {
        self.queue_points += batch.points;
        self.queue.push_back(batch);
        while self.queue_points + self.recent_points > self.capacity {
            // Batches carbon read go first; they are not lost points.
            if let Some((batch, _)) = self.recent.pop_front() {
                self.recent_points -= batch.points;
                continue;
            }
            // Then the oldest unread batch, except the newest one (a single batch larger
            // than the buffer is kept alone) and one half-written on the connection (its
            // bytes so far are on the wire: the rest must follow).
            let partial = self
                .conn
                .as_ref()
                .filter(|_| self.sent > 0)
                .is_some_and(|c| c.offset < self.queue[self.sent - 1].data.len());
            let Some(index) = (0..self.queue.len() - 1).find(|&i| !(partial && i == self.sent - 1))
            else {
                break;
            };
            let Some(batch) = self.queue.remove(index) else {
                break;
            };
            if index < self.sent {
                // A batch written completely: the connection goes on after the batch now
                // last written (a half-written one is never removed).
                self.sent -= 1;
                if let (Some(conn), false) = (self.conn.as_mut(), partial) {
                    conn.offset = self
                        .sent
                        .checked_sub(1)
                        .map_or(0, |last| self.queue[last].data.len());
                }
            }
            self.queue_points -= batch.points;
            self.health.points_dropped.add(batch.points as i64);
            self.dropped(batch.points);
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
            .set(i64::try_from(self.queue_points).unwrap_or(i64::MAX));
    }

    /// Looks at the connection and the recent batches: a connection carbon closed is a
    /// failure (everything written on it and every recent batch is sent again); recent
    /// batches older than `confirm_after` are released; an idle connection is closed once
    /// no recent batch is left to watch.
    pub(crate) fn check(&mut self, now: Instant) {
        if let Some(conn) = self.conn.as_ref().filter(|c| !c.closing) {
            if let Err(source) = peer_open(&conn.stream) {
                let addr = self.addr.clone();
                let retry = if self.sent == 0 {
                    Retry::Now
                } else {
                    Retry::Backoff
                };
                let _ = self.fail(PushError::Closed { addr, source }, retry);
                return;
            }
        }
        while let Some((_, read_at)) = self.recent.front() {
            if now.duration_since(*read_at) < self.confirm_after {
                break;
            }
            if let Some((batch, _)) = self.recent.pop_front() {
                self.recent_points -= batch.points;
            }
        }
        if self.recent.is_empty() && self.queue.is_empty() {
            if let Some(conn) = self.conn.take() {
                // Nothing to watch or send: end the connection cleanly.
                let _ = conn.stream.shutdown(Shutdown::Write);
            }
        }
    }

    /// Gives up the connection after a failure: everything written on it and every recent
    /// batch go back to the front of the queue, to be written again; the failure is
    /// counted, logged and (with [`Retry::Backoff`]) delays the next attempt.
    fn fail(&mut self, error: PushError, retry: Retry) -> PushError {
        if let Some(conn) = self.conn.take() {
            // Reset rather than close: a hung peer gets nothing more to read, and no
            // orphaned socket keeps retransmitting to it.
            let _ = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
        }
        for batch in self.queue.iter_mut().take(self.sent) {
            batch.resend = true;
        }
        self.sent = 0;
        while let Some((mut batch, _)) = self.recent.pop_back() {
            self.recent_points -= batch.points;
            self.queue_points += batch.points;
            batch.resend = true;
            self.queue.push_front(batch);
        }
        self.update_buffered();
        self.failure(error, retry)
    }

    /// Records a failure: health stats, backoff, and a log line (a warning for the first
    /// failure of an outage and then once per [`WARN_EVERY`], debug messages for the retries
    /// in between).
    fn failure(&mut self, error: PushError, retry: Retry) -> PushError {
        let now = Instant::now();
        let wait = match retry {
            Retry::Backoff => format!("in {}", Human(self.backoff.fail(now))),
            Retry::Now => "now".to_owned(),
        };
        self.health.failures.inc();
        if matches!(error, PushError::Stalled { .. }) {
            self.health.stalls.inc();
        }
        let message = error.to_string();
        self.health.set_error(&message);
        match &mut self.outage {
            None => {
                log::warn!(
                    target: "scales_graphite",
                    "{message}; buffering points and retrying (first retry {wait})"
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
                         next retry {wait}",
                        outage.failures,
                        Human(now.duration_since(outage.started)),
                        self.queue_points
                    );
                } else {
                    log::debug!(target: "scales_graphite", "{message}; retrying {wait}");
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
                return Err(self.fail(PushError::Resolve { addr, source }, Retry::Backoff));
            }
        };
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in addrs {
            let timeout = capped(self.connect_timeout, deadline);
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    if self.outage.is_some() {
                        self.health.reconnects.inc();
                    }
                    self.conn = Some(Conn {
                        stream,
                        offset: 0,
                        bytes: 0,
                        progress_at: Instant::now(),
                        closing: false,
                    });
                    return Ok(());
                }
                Err(e) => last_error = e,
            }
        }
        let addr = self.addr.clone();
        Err(self.fail(
            PushError::Connect {
                addr,
                source: last_error,
            },
            Retry::Backoff,
        ))
    }

    /// [`flush`](Self::flush) without waiting for the backoff and without watching carbon
    /// afterwards: the last chance, at stop.
    pub(crate) fn flush_now(&mut self, deadline: Instant) -> Result<(), PushError> {
        self.backoff.next_attempt = None;
        self.cancel = None;
        self.send(Some(deadline), false)
    }

    /// Makes [`flush`](Self::flush) give up between chunks once `flag` is set (the
    /// periodic pusher's stop request).
    pub(crate) fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    fn interrupted(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() >= d)
            || self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// The points written on the connection and not yet read by carbon.
    fn points_in_flight(&self) -> usize {
        self.queue.iter().take(self.sent).map(|b| b.points).sum()
    }

    fn stalled(&mut self) -> PushError {
        let error = PushError::Stalled {
            addr: self.addr.clone(),
            points: self.points_in_flight(),
            timeout: self.write_timeout,
        };
        self.fail(error, Retry::Backoff)
    }

    /// Writes one chunk of the queue on the connection (waiting at most [`POLL`]), and ends
    /// the pusher's side once everything queued (or [`ROTATE_BYTES`]) is written.
    fn write_some(&mut self, deadline: Option<Instant>) -> Result<(), PushError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let current_done = self.sent == 0 || conn.offset == self.queue[self.sent - 1].data.len();
        if current_done {
            if self.sent == self.queue.len() || (self.sent > 0 && conn.bytes >= ROTATE_BYTES) {
                // Everything is written: end our side; carbon answers once it read it all.
                if let Err(source) = conn.stream.shutdown(Shutdown::Write) {
                    let addr = self.addr.clone();
                    return Err(self.fail(PushError::Write { addr, source }, Retry::Backoff));
                }
                conn.closing = true;
                conn.progress_at = Instant::now();
                return Ok(());
            }
            self.sent += 1;
            conn.offset = 0;
        }
        let batch = &self.queue[self.sent - 1];
        let end = batch.data.len().min(conn.offset + WRITE_CHUNK);
        let result = conn
            .stream
            .set_write_timeout(Some(capped(POLL, deadline)))
            .and_then(|()| conn.stream.write(&batch.data[conn.offset..end]));
        match result {
            Ok(0) => {
                let addr = self.addr.clone();
                let source = io::ErrorKind::WriteZero.into();
                Err(self.fail(PushError::Write { addr, source }, Retry::Backoff))
            }
            Ok(n) => {
                conn.offset += n;
                conn.bytes += n;
                conn.progress_at = Instant::now();
                if conn.offset == batch.data.len() {
                    self.health.points_sent.add(batch.points as i64);
                    if batch.resend {
                        self.health.points_resent.add(batch.points as i64);
                    }
                }
                Ok(())
            }
            Err(e) => {
                let progress_at = conn.progress_at;
                self.unfinished(e, progress_at, |addr, source| PushError::Write {
                    addr,
                    source,
                })
            }
        }
    }

    /// A write or read on the connection that failed: a timeout is no failure until the
    /// write timeout passed without progress (then the connection stalled), an interruption
    /// is retried, any other error fails the connection as `error`.
    fn unfinished(
        &mut self,
        e: io::Error,
        progress_at: Instant,
        error: fn(String, io::Error) -> PushError,
    ) -> Result<(), PushError> {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                if progress_at.elapsed() >= self.write_timeout {
                    return Err(self.stalled());
                }
                Ok(())
            }
            io::ErrorKind::Interrupted => Ok(()),
            _ => {
                let addr = self.addr.clone();
                Err(self.fail(error(addr, e), Retry::Backoff))
            }
        }
    }

    /// Waits at most [`POLL`] for carbon's answer to the end of stream. Its end of stream
    /// means it read everything: the batches written move to `recent`.
    fn await_answer(&mut self, deadline: Option<Instant>) -> Result<(), PushError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 512];
        let result = conn
            .stream
            .set_read_timeout(Some(capped(POLL, deadline)))
            .and_then(|()| conn.stream.read(&mut buf));
        match result {
            // Carbon never writes on this port; anything it says is ignored.
            Ok(n) if n > 0 => Ok(()),
            Ok(_) => {
                // A reset right behind the end of stream means carbon closed before our
                // last bytes arrived (it reset them): that is no answer.
                if let Some(source) = reset_after_end(&conn.stream) {
                    let addr = self.addr.clone();
                    return Err(self.fail(PushError::Closed { addr, source }, Retry::Backoff));
                }
                self.confirmed();
                Ok(())
            }
            Err(e) => {
                let progress_at = conn.progress_at;
                self.unfinished(e, progress_at, |addr, source| PushError::Closed {
                    addr,
                    source,
                })
            }
        }
    }

    /// Carbon read every batch written on the connection: they move to `recent` (or are
    /// released at once without a confirmation window), and an outage in progress ends.
    fn confirmed(&mut self) {
        self.conn = None;
        let now = Instant::now();
        for _ in 0..self.sent {
            let Some(batch) = self.queue.pop_front() else {
                break;
            };
            self.queue_points -= batch.points;
            if !self.confirm_after.is_zero() {
                self.recent_points += batch.points;
                self.recent.push_back((batch, now));
            }
        }
        self.sent = 0;
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

    /// Sends queued batches, oldest first, until carbon has read them all, a failure, or
    /// `deadline`. Where writing stands is kept across calls: a call cut short by its
    /// deadline or the stop request goes on from there at the next call.
    pub(crate) fn flush(&mut self, deadline: Option<Instant>) -> Result<(), PushError> {
        self.send(deadline, true)
    }

    /// [`flush`](Self::flush); `watch`: open the connection that watches carbon after it
    /// read everything.
    fn send(&mut self, deadline: Option<Instant>, watch: bool) -> Result<(), PushError> {
        self.check(Instant::now());
        loop {
            if self.queue.is_empty() {
                if watch && !self.recent.is_empty() && self.conn.is_none() {
                    // Watch carbon while it may still hold what it read in memory: a
                    // connection it closes (or a refused one) sends those batches again.
                    self.connect(deadline)?;
                }
                return Ok(());
            }
            if self.interrupted(deadline) {
                return Err(PushError::Deadline);
            }
            match &self.conn {
                None => {
                    if let Some(at) = self.backoff.next_attempt {
                        let now = Instant::now();
                        if now < at {
                            return Err(PushError::BackingOff(at - now));
                        }
                    }
                    self.connect(deadline)?;
                }
                Some(conn) if conn.closing => self.await_answer(deadline)?,
                Some(_) => self.write_some(deadline)?,
            }
        }
    }
}

/// Most bytes per `write` call: a push takes few calls.
const WRITE_CHUNK: usize = 256 * 1024;

/// Longest a blocked `write` or `read` waits before the deadline and stop request are
/// looked at again.
const POLL: Duration = Duration::from_millis(100);

/// `timeout`, shortened to what is left before `deadline` (at least 1 ms: zero means
/// "no timeout" to the socket calls).
fn capped(timeout: Duration, deadline: Option<Instant>) -> Duration {
    let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
    timeout.min(left).max(Duration::from_millis(1))
}

/// The error of a connection whose end of stream was read, if a reset followed it.
fn reset_after_end(conn: &TcpStream) -> Option<io::Error> {
    if let Err(e) = peer_open(conn) {
        if e.kind() != io::ErrorKind::UnexpectedEof {
            return Some(e);
        }
    }
    match conn.take_error() {
        Ok(error) => error,
        Err(e) => Some(e),
    }
}

/// Whether the peer still has the connection open: carbon never writes on the plaintext
/// port, so a readable socket means end of stream (or an error).
fn peer_open(conn: &TcpStream) -> Result<(), io::Error> {
    conn.set_nonblocking(true)?;
    let mut byte = [0u8; 1];
    let result = match conn.peek(&mut byte) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "end of stream",
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    };
    conn.set_nonblocking(false)?;
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
        let config = Config {
            buffer_points: 2,
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            ..Config::new(addr.to_string())
        };
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
        // Carbon is back (reading to the end of stream and closing, as carbon does): one line
        // says so.
        let listener = std::net::TcpListener::bind(addr).unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten().take(2) {
                let _ = io::copy(&mut stream, &mut io::sink());
            }
        });
        outbox
            .flush_now(Instant::now() + Duration::from_secs(1))
            .unwrap();
        let all = warnings();
        assert_eq!(all.len(), 5, "{all:#?}");
        let back = format!("carbon at {addr} is reachable again after 5 failures in ");
        assert!(all[4].starts_with(&back), "{}", all[4]);
    }

    /// `lines` lines stamped `ts`, counted as `points` points.
    fn batch_of(ts: u64, lines: usize, points: usize) -> Batch {
        let mut data = Vec::with_capacity(lines * 64);
        for i in 0..lines {
            let name = format!("m.{ts}.{i}");
            data.extend_from_slice(format!("{name:_<54} 1 {ts}\n").as_bytes());
        }
        Batch {
            data,
            points,
            resend: false,
        }
    }

    #[test]
    fn an_overflow_while_a_batch_is_half_written_keeps_the_stream_whole() {
        // A peer that does not read yet: the first batch (32 MB) stops half way.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = Config {
            buffer_points: 30,
            ..Config::new(listener.local_addr().unwrap().to_string())
        };
        let health = HealthStats::declare(&scales::Registry::new(), None).unwrap();
        let mut outbox = Outbox::new(&config, health.clone());
        outbox.enqueue(batch_of(1, 500_000, 10));
        let cut = Instant::now() + Duration::from_millis(500);
        assert!(matches!(outbox.flush(Some(cut)), Err(PushError::Deadline)));
        let offset = outbox.conn.as_ref().unwrap().offset;
        assert!(
            outbox.sent == 1 && offset > 0 && offset < 32_000_000,
            "{offset}"
        );
        // Three more pushes overflow the buffer: the half-written one stays, the next
        // oldest goes.
        for ts in 2..=4 {
            outbox.enqueue(batch_of(ts, 10, 10));
        }
        assert_eq!(health.read().points_dropped, 10);
        assert_eq!(outbox.pending_points(), 30);
        // The peer reads now: every line arrives whole, push 2 missing.
        let reader = std::thread::spawn(move || {
            // Every connection read to its end (the first ends after push 1: the pusher
            // confirms every 4 MB), until push 4 came.
            let mut all = Vec::new();
            while !all.ends_with(b" 4\n") {
                let (mut stream, _) = listener.accept().unwrap();
                stream.read_to_end(&mut all).unwrap();
            }
            (all, listener) // the listener stays: carbon is still up
        });
        outbox
            .flush(Some(Instant::now() + Duration::from_secs(20)))
            .unwrap();
        let (all, _listener) = reader.join().unwrap();
        let text = String::from_utf8(all).unwrap();
        let mut per_push = std::collections::BTreeMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "{line:?}");
            *per_push.entry(fields[2].to_owned()).or_insert(0) += 1;
        }
        let expected: std::collections::BTreeMap<String, usize> =
            [("1", 500_000), ("3", 10), ("4", 10)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
        assert_eq!(per_push, expected);
        assert_eq!(outbox.pending_points(), 0);
    }

    #[test]
    fn jitter_varies() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff.fail(Instant::now())).collect();
        assert!(waits.len() > 10);
    }
}
