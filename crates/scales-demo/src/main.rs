//! `scales-demo`: a small real HTTP service instrumented with every scales stat type, with
//! the status page on 127.0.0.1:8765.
//!
//! The service (127.0.0.1:8080 by default) has a few endpoints with varied latency and some
//! errors; worker threads take jobs from a queue and change state; a built-in client sends
//! it traffic all the time so the stats move. Its stats are the original README's `/web`,
//! `/handler` and `/processor/thread-N` examples plus meters, dicts, state timers, gauges and
//! a collapsed sub-tree.
//!
//! ```sh
//! cargo run --release --bin scales-demo            # then open http://127.0.0.1:8765/status/
//! cargo run --release --bin scales-demo -- --port 9000 --name my-server --duration 30
//! ```

#![forbid(unsafe_code)]

mod app;
mod rng;
mod traffic;
mod workers;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "A small HTTP service instrumented with scales, and its status page"
)]
struct Args {
    /// Port of the status page.
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address the status page binds to; 127.0.0.1 serves this machine only, 0.0.0.0 every
    /// interface.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Server name shown on the status page.
    #[arg(long, default_value = "scales-demo")]
    name: String,
    /// Port of the demo's own HTTP service (on 127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    app_port: u16,
    /// Requests per second the built-in client sends to the service.
    #[arg(long, default_value_t = 40)]
    rate: u32,
    /// Worker threads taking jobs from the queue.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Stop after this many seconds (0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    duration: u64,
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

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scales-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let gauges = scales::collection("/gauges")?;
    gauges.gauge("currentTime", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })?;
    gauges.gauge("uptimeSeconds", move || started.elapsed().as_secs_f64())?;

    let pool = workers::start(args.workers.max(1), &gauges)?;
    let app_addr = SocketAddr::from(([127, 0, 0, 1], args.app_port));
    let listener = std::net::TcpListener::bind(app_addr)
        .map_err(|e| format!("cannot listen on {app_addr} for the service: {e}"))?;
    listener.set_nonblocking(true)?;
    let status =
        scales_http::serve_in_background(SocketAddr::new(args.bind, args.port), &args.name)?;
    let client = traffic::start(app_addr, args.rate.max(1))?;
    let graphite = match &args.graphite {
        Some(address) => {
            let pusher = scales_graphite::GraphitePusher::builder(address.as_str())
                .prefix(args.graphite_prefix.as_str())
                .period(Duration::from_secs(args.graphite_period))
                .spawn(scales::registry())?;
            println!(
                "scales-demo: pushing to Graphite at {address} every {} s, prefix {:?} (health at /scales/graphite)",
                args.graphite_period, args.graphite_prefix
            );
            Some(pusher)
        }
        None => None,
    };

    println!("scales-demo: service on http://{app_addr}/ (endpoints /, /search?q=.., /slow, /flaky, /work)");
    println!("scales-demo: status page at {}", status.url());
    println!(
        "             also {0}?format=json, {0}?format=prometheus and http://{1}/metrics",
        status.url(),
        status.local_addr()
    );
    if args.duration > 0 {
        println!("scales-demo: stopping after {} s", args.duration);
    } else {
        println!("scales-demo: Ctrl-C to stop");
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let duration = args.duration;
    let routes = app::router(pool.sender())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let service = axum::serve(listener, routes);
        if duration > 0 {
            service
                .with_graceful_shutdown(tokio::time::sleep(Duration::from_secs(duration)))
                .await
        } else {
            service.await
        }
    })?;
    client.stop();
    if let Some(pusher) = graphite {
        pusher.stop();
    }
    status.stop();
    let snapshot = scales::snapshot();
    if let Some(requests) = snapshot.stat("/handler/requests") {
        println!("scales-demo: served {:?} requests", requests.value);
    }
    Ok(())
}
