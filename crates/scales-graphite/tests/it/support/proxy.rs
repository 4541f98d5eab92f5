//! A TCP proxy on 127.0.0.1 in front of a real server that plays faults: it forwards
//! faithfully (ends of stream included, so the server's answer to the pusher's end of
//! stream comes back), accepts and never reads (a hung server), reads a few bytes and resets
//! (SO_LINGER 0), or is closed altogether (connections refused) and reopened on the same
//! port. Every loop is bounded: the threads end when the proxy is dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways to the target.
    Forward,
    /// Accepts and never reads (the connection is held until the proxy closes).
    Hang,
    /// Forwards this many bytes to the target (cutting a line, most likely), then resets
    /// the connection (SO_LINGER 0) and ends the one to the target.
    ResetAfter(usize),
}

struct Shared {
    target: SocketAddr,
    mode: Mutex<Mode>,
    /// Connections held without reading ([`Mode::Hang`]).
    held: Mutex<Vec<TcpStream>>,
    resets: AtomicUsize,
    /// Set to end the accept thread of the current listener.
    closed: Mutex<Arc<AtomicBool>>,
}

/// The proxy; dropping it closes it.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 to `target`, starting in `mode`.
    pub fn start(target: SocketAddr, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            target,
            mode: Mutex::new(mode),
            held: Mutex::new(Vec::new()),
            resets: AtomicUsize::new(0),
            closed: Mutex::new(Arc::new(AtomicBool::new(false))),
        });
        let proxy = Self { addr, shared };
        proxy.serve(listener);
        proxy
    }

    /// Changes what new connections get.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Connections reset so far ([`Mode::ResetAfter`]).
    pub fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// Connections held unread now ([`Mode::Hang`]).
    pub fn held(&self) -> usize {
        self.shared.held.lock().unwrap().len()
    }

    /// Closes the listener (new connections are refused) and the held connections, which
    /// reset since they have unread data.
    pub fn close(&self) {
        self.shared
            .closed
            .lock()
            .unwrap()
            .store(true, Ordering::SeqCst);
        for stream in self.shared.held.lock().unwrap().drain(..) {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        // The accept thread drops the listener within its poll interval.
        thread::sleep(Duration::from_millis(50));
    }

    /// Listens again on the same port, in `mode`.
    pub fn reopen(&self, mode: Mode) {
        self.set_mode(mode);
        let listener =
            TcpListener::bind(self.addr).unwrap_or_else(|e| panic!("rebinding {}: {e}", self.addr));
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let closed = Arc::new(AtomicBool::new(false));
        *self.shared.closed.lock().unwrap() = closed.clone();
        listener.set_nonblocking(true).unwrap();
        let shared = self.shared.clone();
        thread::spawn(move || {
            while !closed.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let mode = *shared.mode.lock().unwrap();
                        handle(&shared, stream, mode);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

fn handle(shared: &Arc<Shared>, stream: TcpStream, mode: Mode) {
    match mode {
        Mode::Hang => shared.held.lock().unwrap().push(stream),
        Mode::ResetAfter(n) => {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut stream = stream;
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut head = vec![0u8; n];
                let read = stream.read_exact(&mut head);
                if let (Ok(()), Ok(mut upstream)) = (
                    read,
                    TcpStream::connect_timeout(&shared.target, Duration::from_secs(2)),
                ) {
                    let _ = upstream.write_all(&head);
                    let _ = upstream.shutdown(Shutdown::Write);
                }
                socket2::SockRef::from(&stream)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(stream);
                shared.resets.fetch_add(1, Ordering::SeqCst);
            });
        }
        Mode::Forward => {
            let Ok(upstream) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2))
            else {
                // The target is down: the client sees its connection reset.
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            };
            let (client_in, upstream_out) =
                (stream.try_clone().unwrap(), upstream.try_clone().unwrap());
            thread::spawn(move || pipe(client_in, upstream_out));
            thread::spawn(move || pipe(upstream, stream));
        }
    }
}

/// Copies `from` to `to` until the end of stream, which it passes on (a half-close); an
/// error resets `to`.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    from.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 65536];
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    let _ = socket2::SockRef::from(&from).set_linger(Some(Duration::ZERO));
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = socket2::SockRef::from(&to).set_linger(Some(Duration::ZERO));
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}
