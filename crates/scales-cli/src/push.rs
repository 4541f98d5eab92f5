//! `scales push-graphite SOURCE HOST:PORT`: reads a server's or a dump's stats once and
//! sends them to carbon in Graphite's plaintext protocol, for cron jobs.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use scales::format::graphite;

use crate::failure::{write_stdout, Failure, EXIT_CODES};
use crate::get::unix_seconds;
use crate::source::Source;

/// Arguments of `scales push-graphite`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = EXIT_CODES,
    after_long_help = format!(
        "Each numeric leaf is one line `prefix.path value timestamp`; strings and NaN are not \
         sent. The timestamp is the dump's last-updated for a dump file, now for a URL.\n\n\
         Example (crontab):\n  \
         * * * * * scales push-graphite --quiet http://127.0.0.1:8765/status/ carbon:2003 --prefix web1\n\n\
         {EXIT_CODES}"
    )
)]
pub(crate) struct Args {
    /// A status page URL (http://127.0.0.1:8765/status/) or a JSON dump file.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// Carbon's plaintext receiver, such as 127.0.0.1:2003.
    #[arg(value_name = "HOST:PORT")]
    carbon: String,
    /// Prepended to every metric name (a `.` is added): `web1` sends `web1.web.errors`.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// Seconds to connect to carbon and to send everything.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_seconds)]
    timeout: f64,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

/// A duration flag: a positive number of seconds, at most a day.
pub(crate) fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        Ok(_) => Err("must be more than 0 and at most 86400 seconds".to_owned()),
        Err(_) => Err(format!("'{text}' is not a number of seconds")),
    }
}

pub(crate) fn run(args: Args) -> Result<(), Failure> {
    let addrs = resolve(&args.carbon)?;
    let source = Source::parse(&args.source);
    let snapshot = source.read_snapshot()?;
    let timestamp = unix_seconds(&snapshot);
    let mut lines = Vec::new();
    let rendered = graphite::write(
        &snapshot,
        &graphite::Options::with_prefix(&args.prefix),
        timestamp,
        &mut lines,
    )
    .map_err(|error| Failure::Failed(format!("rendering the stats of {source}: {error}")))?;
    let timeout = Duration::from_secs_f64(args.timeout);
    send(&addrs, &lines, timeout)
        .map_err(|error| Failure::Failed(format!("carbon at {}: {error}", args.carbon)))?;
    if !args.quiet {
        let skipped = match rendered.non_finite {
            0 => String::new(),
            n => format!(" ({n} NaN or infinite values left out)"),
        };
        let message = format!(
            "sent {} metrics from {source} to {} at timestamp {timestamp}{skipped}\n",
            rendered.points, args.carbon
        );
        write_stdout(message.as_bytes())?;
    }
    Ok(())
}

/// The addresses of `HOST:PORT`.
fn resolve(carbon: &str) -> Result<Vec<SocketAddr>, Failure> {
    let usage = |why: &str| Failure::Usage(format!("HOST:PORT {carbon:?}: {why}"));
    let Some((host, port)) = carbon.rsplit_once(':') else {
        return Err(usage("not a host:port address (such as 127.0.0.1:2003)"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(usage("not a host:port address (such as 127.0.0.1:2003)"));
    }
    let addrs: Vec<SocketAddr> = carbon
        .to_socket_addrs()
        .map_err(|error| Failure::Failed(format!("carbon at {carbon}: {error}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Failure::Failed(format!(
            "carbon at {carbon}: the host has no address"
        )));
    }
    Ok(addrs)
}

/// Sends `lines` over one TCP connection to the first of `addrs` that accepts it, and
/// closes it cleanly, within `timeout` for connecting and again for writing.
fn send(addrs: &[SocketAddr], lines: &[u8], timeout: Duration) -> io::Result<()> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(mut stream) => {
                stream.set_write_timeout(Some(timeout))?;
                stream
                    .write_all(lines)
                    .map_err(|error| describe(error, timeout))?;
                stream.flush()?;
                // FIN after the last line: carbon reads everything up to it.
                return stream.shutdown(Shutdown::Write);
            }
            Err(error) => last = Some(describe(error, timeout)),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
}

/// Timeouts said as such (the OS says "Resource temporarily unavailable").
fn describe(error: io::Error, timeout: Duration) -> io::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {} s", timeout.as_secs_f64()),
        ),
        io::ErrorKind::ConnectionRefused => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connection refused (is carbon running on that port?)",
        ),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    #[test]
    fn host_port_is_checked_before_anything_is_read() {
        for bad in ["carbon", ":2003", "carbon:port", "carbon:70000"] {
            let failure = resolve(bad).unwrap_err();
            assert_eq!(failure.exit_code(), 2, "{bad}");
            assert!(failure.to_string().contains("not a host:port"), "{failure}");
        }
        assert!(!resolve("127.0.0.1:2003").unwrap().is_empty());
    }

    #[test]
    fn lines_arrive_whole_and_the_connection_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut received = Vec::new();
            stream.read_to_end(&mut received).unwrap();
            received
        });
        let lines = b"a.b 1 1700000000\na.c 2 1700000000\n".repeat(10_000);
        send(&[addr], &lines, Duration::from_secs(10)).unwrap();
        assert_eq!(server.join().unwrap(), lines);
    }

    #[test]
    fn a_refused_port_says_so() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let error = send(&[addr], b"a 1 1\n", Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "connection refused (is carbon running on that port?)"
        );
    }

    #[test]
    fn durations_are_positive_seconds() {
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        assert!(positive_seconds("0").is_err());
        assert!(positive_seconds("-1").is_err());
        assert!(positive_seconds("NaN").is_err());
        assert!(positive_seconds("soon").unwrap_err().contains("'soon'"));
    }
}
