//! `scales-demo`: a small real HTTP service instrumented with every scales stat type, with
//! the status page on 127.0.0.1:8765.
//!
//! The service (on 127.0.0.1, a free port unless `--app-port` says which) has a few
//! endpoints with varied latency and some errors; worker threads take jobs from a queue and
//! change state; a built-in client sends it traffic all the time so the stats move. Its
//! stats are the original README's `/web`, `/handler` and `/processor/thread-N` examples
//! plus meters, dicts, state timers, gauges and a collapsed sub-tree.
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it gracefully: the traffic stops, open requests finish,
//! the final dump is written (`--dump PATH`), the Graphite pusher sends what it buffered and
//! one summary line is printed. A second signal during that exits at once (code 130). A
//! panic writes a dump too (`scales::Dumper`'s panic hook); `SIGKILL` leaves the last
//! periodic one.
//! Warnings (Graphite outages, failed dumps) go to stderr through `env_logger`: `info` for
//! the scales crates and the demo, `warn` for everything else, or what `RUST_LOG` says.
//!
//! ```sh
//! cargo run --release --bin scales-demo            # then open http://127.0.0.1:8765/status/
//! cargo run --release --bin scales-demo -- --port 9000 --name my-server --duration 30
//! cargo run --release --bin scales-demo -- --dump stats.json --dump-every 10
//! cargo run --release --bin scales-demo -- --dump dumps/ --dump-every 10 --dump-keep 30
//! ```

#![forbid(unsafe_code)]

mod app;
mod traffic;
mod workers;

use std::fmt;
use std::future::IntoFuture;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "A small HTTP service instrumented with scales, and its status page"
)]
struct Args {
    /// Port of the status page.
    #[arg(long, value_name = "N", default_value_t = 8765)]
    port: u16,
    /// Address the status page binds to; 127.0.0.1 serves this machine only, 0.0.0.0 every
    /// interface.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = parse_ip)]
    bind: IpAddr,
    /// Server name shown on the status page.
    #[arg(long, default_value = "scales-demo")]
    name: String,
    /// Port of the demo's own HTTP service (on 127.0.0.1); a free port by default.
    #[arg(long, value_name = "N")]
    app_port: Option<u16>,
    /// Requests per second the built-in client sends to the service.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    rate: u32,
    /// Worker threads taking jobs from the queue.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// Stop after this many seconds (0: run until interrupted).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    duration: u64,
    /// Write the stats as JSON to PATH at startup, every --dump-every seconds, at shutdown
    /// and when the demo panics. A file is replaced atomically each time; a directory (an
    /// existing one, or a path ending in `/`) keeps the last --dump-keep dumps, named by
    /// their UTC time (stats-20261202T051500.123Z.json).
    #[arg(long, value_name = "PATH")]
    dump: Option<PathBuf>,
    /// Seconds between two dumps while running (only at startup and shutdown without it).
    #[arg(long, value_name = "SECONDS", requires = "dump", value_parser = clap::value_parser!(u64).range(1..))]
    dump_every: Option<u64>,
    /// How many dumps a --dump directory keeps (the oldest are deleted) [default: 10].
    #[arg(long, value_name = "N", requires = "dump", value_parser = clap::value_parser!(u64).range(1..))]
    dump_keep: Option<u64>,
    /// Push the stats to this Graphite carbon plaintext listener (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    graphite: Option<String>,
    /// Prefix of every Graphite metric name.
    #[arg(long, value_name = "P", default_value = "scales-demo.")]
    graphite_prefix: String,
    /// Seconds between two Graphite pushes.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    graphite_period: u64,
}

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| "not an IP address (such as 127.0.0.1, 0.0.0.0 or ::1)".to_owned())
}

/// A fatal error, printed as one line: `error: {message}`.
#[derive(Debug)]
struct Fatal(String);

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Fatal {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

fn fatal(message: impl Into<String>) -> Fatal {
    Fatal(message.into())
}

/// The default log filter: the scales crates and the demo at `info`, everything else at
/// `warn`; `RUST_LOG` replaces it.
const DEFAULT_LOG: &str = "warn,scales=info,scales_graphite=info,scales_http=info,scales_demo=info";

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG)).init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Why a listener could not be bound, and which flag changes it.
fn bind_error(what: &str, addr: SocketAddr, error: &io::Error, port_flag: &str) -> Fatal {
    let ip = addr.ip();
    fatal(match error.kind() {
        io::ErrorKind::AddrInUse => {
            format!("the {what} port {addr} is in use (another scales-demo?); pick another with {port_flag}")
        }
        io::ErrorKind::AddrNotAvailable => format!(
            "cannot listen on {addr} for the {what}: {ip} is not an address of this machine; \
             pick another with --bind ADDR"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr} for the {what}: permission denied (ports below 1024 need \
             privileges); pick another with {port_flag}"
        ),
        _ => format!(
            "cannot listen on {addr} for the {what}: {error}; pick another with {port_flag}"
        ),
    })
}

/// Starts the dumper of `--dump` (which writes the first dump, checking the path); the
/// error names the flag to change.
fn start_dumper(args: &Args, path: &Path) -> Result<scales::Dumper, Fatal> {
    use scales::dumper::{DumpError, StartError};
    let mut builder = scales::Dumper::builder(path)
        .every(args.dump_every.map_or(Duration::MAX, Duration::from_secs))
        .dump_on_panic(true);
    if let Some(keep) = args.dump_keep {
        builder = builder.keep(usize::try_from(keep).unwrap_or(usize::MAX));
    }
    builder.start().map_err(|e| match e {
        StartError::FirstDump(DumpError::Write { path, source }) => fatal(format!(
            "cannot write the dump file {}: {source}; pick another with --dump PATH",
            path.display()
        )),
        StartError::NeedsDirectory { path, .. } => fatal(format!(
            "--dump-keep needs a directory for --dump, and {} is a file (each dump replaces \
             it); give a directory (an existing one, or a path ending in /)",
            path.display()
        )),
        other => fatal(format!("--dump {}: {other}", path.display())),
    })
}

/// What stopped the demo.
#[derive(Debug, Clone, Copy)]
enum Reason {
    Interrupt,
    Terminate,
    Elapsed,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
            Self::Elapsed => "--duration elapsed",
        })
    }
}

/// SIGINT and SIGTERM (Ctrl-C only, off Unix).
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers; call inside the runtime.
    fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) -> Reason {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Reason::Interrupt,
                _ = self.terminate.recv() => Reason::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Reason::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

fn run(args: &Args) -> Result<(), Fatal> {
    let started = Instant::now();

    // Every listener first: a port problem is reported before anything starts.
    let app_addr = SocketAddr::from(([127, 0, 0, 1], args.app_port.unwrap_or(0)));
    let listener = std::net::TcpListener::bind(app_addr).map_err(|e| {
        bind_error(
            "service",
            app_addr,
            &e,
            "--app-port N, or leave --app-port out for a free port",
        )
    })?;
    let app_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let status_addr = SocketAddr::new(args.bind, args.port);
    let status = scales_http::Config::new(&args.name)
        .version(env!("CARGO_PKG_VERSION"))
        .serve_in_background(status_addr)
        .map_err(|e| match e {
            scales_http::Error::Bind { source, .. } => {
                bind_error("status page", status_addr, &source, "--port N")
            }
            other => fatal(other.to_string()),
        })?;

    let gauges = scales::collection("/gauges")?;
    gauges.gauge("currentTime", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })?;
    gauges.gauge("uptimeSeconds", move || started.elapsed().as_secs_f64())?;
    let pool =
        workers::start(usize::from(args.workers), &gauges).map_err(|e| fatal(e.to_string()))?;
    let routes = app::router(pool.sender())?;
    // The first dump checks the path before the demo runs.
    let dumper = args
        .dump
        .as_deref()
        .map(|path| start_dumper(args, path))
        .transpose()?;

    let graphite = match &args.graphite {
        Some(address) => Some(
            scales_graphite::GraphitePusher::builder(address.as_str())
                .prefix(args.graphite_prefix.as_str())
                .period(Duration::from_secs(args.graphite_period))
                .spawn(scales::registry())
                .map_err(|e| fatal(format!("--graphite {address}: {e}")))?,
        ),
        None => None,
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut signals = {
        let _entered = runtime.enter();
        Signals::new().map_err(|e| fatal(format!("cannot install the signal handlers: {e}")))?
    };
    let client = traffic::start(app_addr, args.rate).map_err(|e| fatal(e.to_string()))?;

    println!("scales-demo: service on http://{app_addr}/ (endpoints /, /search?q=.., /slow, /flaky, /work)");
    println!("scales-demo: status page at {}", status.url());
    println!(
        "             also {0}?format=json, {0}?format=prometheus and http://{1}/metrics",
        status.url(),
        status.local_addr()
    );
    if let Some(address) = &args.graphite {
        println!(
            "scales-demo: pushing to Graphite at {address} every {} s, prefix '{}' (health at /scales/graphite)",
            args.graphite_period, args.graphite_prefix
        );
    }
    if let Some(dumper) = &dumper {
        let target = if dumper.is_directory() {
            format!(
                "into {} (keeping the last {})",
                dumper.target().display(),
                args.dump_keep.unwrap_or(10)
            )
        } else {
            format!("to {}", dumper.target().display())
        };
        match args.dump_every {
            Some(every) => println!(
                "scales-demo: dumping the stats {target} every {every} s, at exit and on a panic"
            ),
            None => println!("scales-demo: dumping the stats {target} at exit and on a panic"),
        }
    }
    if args.duration > 0 {
        println!(
            "scales-demo: stopping after {} s (or Ctrl-C)",
            args.duration
        );
    } else {
        println!("scales-demo: Ctrl-C to stop");
    }

    let duration = args.duration;
    let (reason, health, final_dump) = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (stop_service, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut service = tokio::spawn(
            axum::serve(listener, routes)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        let elapsed = async {
            if duration > 0 {
                tokio::time::sleep(Duration::from_secs(duration)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let reason = tokio::select! {
            reason = signals.next() => reason,
            () = elapsed => Reason::Elapsed,
            result = &mut service => {
                let message = match result {
                    Ok(Ok(())) => "stopped".to_owned(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(fatal(format!("the service on {app_addr} failed: {message}")));
            }
        };
        println!("scales-demo: {reason}, stopping (a second Ctrl-C quits at once)");
        let forced = tokio::spawn(async move {
            let again = signals.next().await;
            eprintln!("scales-demo: {again} again, quitting without the final flush and dump");
            std::process::exit(130);
        });

        // Stop the traffic, then the service (open requests finish, 5 s at most).
        let _ = tokio::task::spawn_blocking(move || client.stop()).await;
        let _ = stop_service.send(());
        if tokio::time::timeout(Duration::from_secs(5), &mut service)
            .await
            .is_err()
        {
            log::warn!("open requests did not finish within 5 s; closing them");
            service.abort();
        }
        // The final dump (while the pusher's health is still in the tree), the final
        // Graphite flush, the status page: blocking work.
        let finish = tokio::task::spawn_blocking(move || {
            let final_dump = dumper.map(|dumper| {
                dumper
                    .shutdown()
                    .map_err(|e| fatal(format!("the final dump failed: {e}")))
            });
            let health = graphite.map(scales_graphite::PeriodicPusher::stop);
            status.stop();
            (health, final_dump)
        });
        let (health, final_dump) = finish
            .await
            .map_err(|e| fatal(format!("stopping failed: {e}")))?;
        forced.abort();
        Ok::<_, Fatal>((reason, health, final_dump))
    })?;

    println!(
        "{}",
        summary(
            started.elapsed(),
            reason,
            health.as_ref(),
            final_dump.as_ref()
        )
    );
    match final_dump {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The one line printed at exit.
fn summary(
    ran: Duration,
    reason: Reason,
    graphite: Option<&scales_graphite::Health>,
    dump: Option<&Result<PathBuf, Fatal>>,
) -> String {
    let snapshot = scales::snapshot();
    let int = |path: &str| match snapshot.stat(path).map(|s| &s.value) {
        Some(scales::StatValue::Int(n)) => *n,
        _ => 0,
    };
    let mut line = format!(
        "scales-demo: stopped after {:.1} s ({reason}): served {} requests ({} errors, {} bytes)",
        ran.as_secs_f64(),
        int("/handler/requests"),
        int("/web/errors"),
        int("/web/bytesSent"),
    );
    if let Some(health) = graphite {
        line.push_str(&format!(
            "; graphite: {} points sent, {} unsent",
            health.points_sent, health.points_buffered
        ));
    }
    match dump {
        Some(Ok(path)) => line.push_str(&format!("; stats dumped to {}", path.display())),
        Some(Err(_)) => line.push_str("; the final dump failed"),
        None => {}
    }
    line
}
