//! Where the stats come from: a server's status page or a dump file.
//!
//! A [`Source`] is what the user typed: `http://127.0.0.1:8765/status/` (or a sub-tree,
//! `.../status/web`, or `https://...`) or a path to a JSON dump. [`Source::read`] fetches its
//! bytes with bounded time and memory, [`Source::read_snapshot`] parses them into a
//! [`scales::Snapshot`]. Every failure is a [`SourceError`] that names the source and says
//! what happened in words a person at a terminal can act on.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A status page or a dump file to read stats from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A status page URL, as typed (`http://host:port/status/`, `https://...`).
    Url(String),
    /// A JSON dump file.
    File(PathBuf),
}

/// How much a read may take: bytes, and time to connect and between bytes received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest body accepted; a larger one is [`What::TooLarge`].
    pub(crate) max_bytes: u64,
    /// Time to connect to a server (DNS included).
    pub(crate) connect: Duration,
    /// Time for the server to answer, and between any two reads of its body.
    pub(crate) read: Duration,
}

impl Limits {
    /// 256 MiB, 5 s to connect, 30 s of silence from the server.
    pub(crate) const DEFAULT: Limits = Limits {
        max_bytes: 256 * 1024 * 1024,
        connect: Duration::from_secs(5),
        read: Duration::from_secs(30),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Source {
    /// `http://` and `https://` arguments are URLs (any case), everything else a path.
    pub(crate) fn parse(arg: &str) -> Source {
        let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Source::Url(arg.to_owned())
        } else {
            Source::File(PathBuf::from(arg))
        }
    }

    /// The source as the user wrote it, for messages.
    pub(crate) fn name(&self) -> Cow<'_, str> {
        match self {
            Source::Url(url) => Cow::Borrowed(url),
            Source::File(path) => path.to_string_lossy(),
        }
    }

    /// The source's bytes, within [`Limits::DEFAULT`].
    ///
    /// # Errors
    /// A [`SourceError`] naming the source: not found, refused, timed out, an HTTP error
    /// status, HTML instead of JSON, a body cut off or over the size limit, ...
    pub(crate) fn read(&self) -> Result<Vec<u8>, SourceError> {
        self.read_with(&Limits::DEFAULT)
    }

    /// The source's bytes, within `limits` (see [`read`](Self::read)).
    pub(crate) fn read_with(&self, limits: &Limits) -> Result<Vec<u8>, SourceError> {
        let bytes = match self {
            Source::Url(url) => fetch(&json_url(url), limits),
            Source::File(path) => read_file(path, limits.max_bytes),
        }
        .map_err(|what| self.error(what))?;
        check_json_start(&bytes).map_err(|what| self.error(what))?;
        Ok(bytes)
    }

    /// The source's stats. A status URL of a sub-tree (`.../status/web`) gives a snapshot
    /// at that path (`/web`), so that stats keep their full paths.
    ///
    /// # Errors
    /// Those of [`read`](Self::read), and [`What::Parse`] when the bytes are not a JSON
    /// tree of stats (a dump cut short, say).
    pub(crate) fn read_snapshot(&self) -> Result<scales::Snapshot, SourceError> {
        self.read_snapshot_with(&Limits::DEFAULT)
    }

    /// The source's stats, read within `limits` (see [`read_snapshot`](Self::read_snapshot)).
    pub(crate) fn read_snapshot_with(
        &self,
        limits: &Limits,
    ) -> Result<scales::Snapshot, SourceError> {
        let bytes = self.read_with(limits)?;
        let snapshot = scales::format::json::parse(&bytes)
            .map_err(|error| self.error(What::Parse(error.to_string())))?;
        Ok(match self.tree_path() {
            Some(path) if !path.is_root() => {
                scales::Snapshot::new(path, snapshot.root().clone(), snapshot.taken_at())
            }
            _ => snapshot,
        })
    }

    /// Where in the server's tree a status URL points: the path after its `/status`
    /// (`/status/web/latency` is `/web/latency`, percent-decoded). `None` for a file, or a
    /// URL without `/status` or with a path that is not one of stats.
    pub(crate) fn tree_path(&self) -> Option<scales::StatPath> {
        let Source::Url(url) = self else { return None };
        let url = url.split(['?', '#']).next().unwrap_or(url);
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
        let at = path
            .rfind("/status/")
            .or_else(|| path.strip_suffix("/status").map(str::len))?;
        let rest = &path[at + "/status".len()..];
        scales::StatPath::parse(&percent_decode(rest)?).ok()
    }

    /// An error of this source.
    pub(crate) fn error(&self, what: What) -> SourceError {
        SourceError {
            source: self.name().into_owned(),
            what,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The sources of command-line arguments, in order: each argument [parsed](Source::parse),
/// a directory replaced by the `*.json` files directly in it, sorted by name.
///
/// # Errors
/// A directory that cannot be listed, or that holds no `*.json` file.
#[allow(dead_code, reason = "for `scales aggregate`, written beside")]
pub(crate) fn expand<S: AsRef<str>>(args: &[S]) -> Result<Vec<Source>, SourceError> {
    let mut sources = Vec::with_capacity(args.len());
    for arg in args {
        let source = Source::parse(arg.as_ref());
        match &source {
            Source::File(dir) if dir.is_dir() => {
                let files = json_files(dir).map_err(|what| source.error(what))?;
                sources.extend(files.into_iter().map(Source::File));
            }
            _ => sources.push(source),
        }
    }
    Ok(sources)
}

/// The `*.json` files directly in `dir`, sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, What> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(What::Io)? {
        let path = entry.map_err(What::Io)?.path();
        if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(What::EmptyDirectory);
    }
    files.sort();
    Ok(files)
}

/// A source that could not be read: which one, and what happened.
#[derive(Debug)]
pub(crate) struct SourceError {
    /// The source's [name](Source::name).
    pub(crate) source: String,
    /// What happened.
    pub(crate) what: What,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.what)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.what {
            What::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// What went wrong reading a source.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum What {
    /// Nothing listens at the URL's host and port.
    Refused,
    /// The URL's host name does not resolve.
    HostNotFound,
    /// Connecting took longer than the limit.
    ConnectTimeout(Duration),
    /// The server went silent for longer than the limit.
    ReadTimeout(Duration),
    /// The server answered with an error status.
    Status(u16),
    /// The server (or file) sent HTML, not JSON.
    Html,
    /// The bytes do not start like JSON (their first byte, shown).
    NotJson(String),
    /// The body ended before its announced length, or the connection broke mid-body.
    Truncated {
        /// Bytes received before it ended, when known.
        received: Option<u64>,
        /// Bytes announced (`Content-Length`), when known.
        expected: Option<u64>,
    },
    /// The body is larger than the limit (in bytes).
    TooLarge(u64),
    /// The file or the source is empty.
    Empty,
    /// A directory without any `*.json` file.
    #[allow(dead_code, reason = "for `scales aggregate`, written beside")]
    EmptyDirectory,
    /// A file could not be opened or read.
    Io(io::Error),
    /// An HTTP failure not listed above (TLS, a bad URL, too many redirects, ...).
    Http(String),
    /// The bytes are not a JSON tree of stats.
    Parse(String),
}

impl What {
    /// Whether the server could not be reached at all (refused, unknown host, no connection
    /// or no answer in time), as opposed to answering wrongly.
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(
            self,
            What::Refused | What::HostNotFound | What::ConnectTimeout(_) | What::ReadTimeout(_)
        )
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Refused => {
                f.write_str("connection refused (is the server running on that port?)")
            }
            What::HostNotFound => f.write_str("host not found"),
            What::ConnectTimeout(limit) => {
                write!(f, "no connection within {} s", limit.as_secs_f64())
            }
            What::ReadTimeout(limit) => {
                write!(f, "the server sent nothing for {} s", limit.as_secs_f64())
            }
            What::Status(code) => write!(f, "HTTP status {code}{}", status_hint(*code)),
            What::Html => f.write_str(
                "got HTML, not JSON (is this a scales status page, or a dump written by scales?)",
            ),
            What::NotJson(first) => write!(f, "not JSON (it starts with {first})"),
            What::Truncated { received, expected } => {
                f.write_str("cut off mid-body")?;
                match (received, expected) {
                    (Some(received), Some(expected)) => {
                        write!(f, " after {received} of {expected} bytes")
                    }
                    (Some(received), None) => write!(f, " after {received} bytes"),
                    (None, Some(expected)) => write!(f, " (of {expected} bytes announced)"),
                    (None, None) => Ok(()),
                }
            }
            What::TooLarge(limit) => write!(
                f,
                "larger than the limit of {} MiB",
                limit.div_ceil(1024 * 1024)
            ),
            What::Empty => f.write_str("empty"),
            What::EmptyDirectory => f.write_str("a directory without any *.json file"),
            What::Io(error) => io_message(error, f),
            What::Http(message) => f.write_str(message),
            What::Parse(message) => write!(f, "not a JSON tree of stats: {message}"),
        }
    }
}

/// A hint after an HTTP status that has a usual cause here.
fn status_hint(code: u16) -> &'static str {
    match code {
        404 => " (not found: is the path a status page, such as /status/ or /status/web?)",
        401 | 403 => " (the server refuses access)",
        500..=599 => " (the server failed)",
        _ => "",
    }
}

/// An I/O error without Rust's `(os error N)` tail where the kind says it all.
fn io_message(error: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match error.kind() {
        io::ErrorKind::NotFound => f.write_str("no such file or directory"),
        io::ErrorKind::PermissionDenied => f.write_str("permission denied"),
        io::ErrorKind::IsADirectory => f.write_str("a directory, not a file"),
        _ => write!(f, "{error}"),
    }
}

/// The URL fetched for a status URL: `url` with `format=json&sketches=1` in its query
/// (an existing `format` or `sketches` replaced, other parameters such as `query=` kept, a
/// `#fragment` dropped).
fn json_url(url: &str) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = String::with_capacity(url.len() + 24);
    out.push_str(base);
    out.push('?');
    for pair in query.split('&') {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        if !pair.is_empty() && key != "format" && key != "sketches" {
            out.push_str(pair);
            out.push('&');
        }
    }
    out.push_str("format=json&sketches=1");
    out
}

/// GETs `url`: the whole body, or what went wrong.
fn fetch(url: &str, limits: &Limits) -> Result<Vec<u8>, What> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_resolve(Some(limits.connect))
        .timeout_connect(Some(limits.connect))
        .timeout_recv_response(Some(limits.read))
        .timeout_per_read(Some(limits.read))
        .user_agent(concat!("scales/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|error| http_error(error, limits))?;
    let status = response.status().as_u16();
    if status >= 400 {
        return Err(What::Status(status));
    }
    let body = response.body_mut();
    if body.mime_type().is_some_and(|mime| mime == "text/html") {
        return Err(What::Html);
    }
    let expected = body.content_length();
    if expected.is_some_and(|length| length > limits.max_bytes) {
        return Err(What::TooLarge(limits.max_bytes));
    }
    let mut reader = body.with_config().reader();
    let mut bytes = Vec::with_capacity(initial_capacity(expected, limits.max_bytes));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(body_error(error, limits, bytes.len() as u64, expected));
            }
        };
        if (bytes.len() + n) as u64 > limits.max_bytes {
            return Err(What::TooLarge(limits.max_bytes));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    match expected {
        Some(expected) if (bytes.len() as u64) < expected => Err(What::Truncated {
            received: Some(bytes.len() as u64),
            expected: Some(expected),
        }),
        _ => Ok(bytes),
    }
}

/// Room for an announced body, but not more than 16 MiB up front: a lying
/// `Content-Length` must not reserve memory that never fills.
fn initial_capacity(expected: Option<u64>, max_bytes: u64) -> usize {
    let cap = expected.unwrap_or(0).min(max_bytes).min(16 * 1024 * 1024);
    usize::try_from(cap).unwrap_or(0)
}

/// What a ureq error before the response's body means to the user.
fn http_error(error: ureq::Error, limits: &Limits) -> What {
    use ureq::Error as E;
    match error {
        E::StatusCode(code) => What::Status(code),
        E::HostNotFound => What::HostNotFound,
        E::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            What::ConnectTimeout(limits.connect)
        }
        E::Timeout(_) => What::ReadTimeout(limits.read),
        E::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => What::Refused,
        E::Io(io) if io.kind() == io::ErrorKind::TimedOut => What::ReadTimeout(limits.read),
        E::ConnectionFailed => What::Refused,
        E::Io(io) => What::Http(io.to_string()),
        other => What::Http(other.to_string()),
    }
}

/// What an error reading the body means, `received` bytes into it (of `expected`, when
/// the server announced a length): a broken connection or a malformed chunk is a body cut
/// short.
fn body_error(error: io::Error, limits: &Limits, received: u64, expected: Option<u64>) -> What {
    let truncated = What::Truncated {
        received: Some(received),
        expected,
    };
    match ureq::Error::from(error) {
        ureq::Error::Timeout(_) => What::ReadTimeout(limits.read),
        ureq::Error::BodyExceedsLimit(_) => What::TooLarge(limits.max_bytes),
        ureq::Error::Protocol(_) => truncated,
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => What::ReadTimeout(limits.read),
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::InvalidData => truncated,
            _ => What::Http(io.to_string()),
        },
        other => What::Http(other.to_string()),
    }
}

/// The bytes of the file at `path`, at most `max_bytes`.
fn read_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, What> {
    let file = File::open(path).map_err(What::Io)?;
    let metadata = file.metadata().map_err(What::Io)?;
    if metadata.is_dir() {
        return Err(What::Io(io::Error::from(io::ErrorKind::IsADirectory)));
    }
    if metadata.len() > max_bytes {
        return Err(What::TooLarge(max_bytes));
    }
    // The file may grow while read: never more than the limit in memory.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(What::Io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(What::TooLarge(max_bytes));
    }
    Ok(bytes)
}

/// Whether `bytes` can be JSON: HTML and other text are told apart before parsing, so
/// the message says what the source really is.
fn check_json_start(bytes: &[u8]) -> Result<(), What> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(What::Empty),
        Some(b'<') => Err(What::Html),
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Ok(()),
        Some(&other) => Err(What::NotJson(if other.is_ascii_graphic() {
            format!("'{}'", char::from(other))
        } else {
            format!("byte 0x{other:02x}")
        })),
    }
}

/// `%XX` escapes decoded; `None` when malformed or not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    use super::*;

    #[test]
    fn a_status_url_says_where_in_the_tree_it_points() {
        let path = |url: &str| Source::parse(url).tree_path().map(|p| p.to_string());
        assert_eq!(path("http://h:1/status/").as_deref(), Some("/"));
        assert_eq!(path("http://h:1/status").as_deref(), Some("/"));
        assert_eq!(
            path("http://h:1/status/web?query=x").as_deref(),
            Some("/web")
        );
        assert_eq!(
            path("http://h:1/admin/status/web/by%20path/").as_deref(),
            Some("/web/by path")
        );
        assert_eq!(path("http://h:1/metrics"), None);
        assert_eq!(path("http://h:1/status/a%2"), None);
        assert_eq!(path("stats.json"), None);
    }

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert_eq!(
            Source::parse("http://127.0.0.1:8765/status/"),
            Source::Url("http://127.0.0.1:8765/status/".into())
        );
        assert_eq!(
            Source::parse("HTTPS://example.invalid/status/web"),
            Source::Url("HTTPS://example.invalid/status/web".into())
        );
        assert_eq!(
            Source::parse("stats.json"),
            Source::File("stats.json".into())
        );
        assert_eq!(
            Source::parse("http:stats"),
            Source::File("http:stats".into())
        );
        assert_eq!(Source::parse("dumps/a.json").name(), "dumps/a.json");
    }

    #[test]
    fn the_json_url_keeps_the_query_and_replaces_the_format() {
        let url = json_url;
        assert_eq!(
            url("http://h:1/status/"),
            "http://h:1/status/?format=json&sketches=1"
        );
        assert_eq!(
            url("http://h:1/status/web?query=web&format=html"),
            "http://h:1/status/web?query=web&format=json&sketches=1"
        );
        assert_eq!(
            url("http://h:1/status/?sketches=0&&x=1#top"),
            "http://h:1/status/?x=1&format=json&sketches=1"
        );
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("scales-cli-source-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_directory_expands_to_its_json_files_sorted() {
        let dir = temp_dir("expand");
        for name in ["b.json", "a.json", "notes.txt", "c.json.tmp"] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }
        std::fs::create_dir(dir.join("sub.json")).unwrap();
        let dir_arg = dir.to_str().unwrap().to_owned();
        let sources = expand(&["http://h:1/status/", &dir_arg, "x.json"]).unwrap();
        assert_eq!(
            sources,
            [
                Source::Url("http://h:1/status/".into()),
                Source::File(dir.join("a.json")),
                Source::File(dir.join("b.json")),
                Source::File("x.json".into()),
            ]
        );
        let empty = temp_dir("expand-empty");
        let error = expand(&[empty.to_str().unwrap()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: a directory without any *.json file", empty.display())
        );
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(empty);
    }

    #[test]
    fn file_errors_name_the_file_and_say_what_happened() {
        let dir = temp_dir("files");
        let read = |name: &str, limits: &Limits| {
            Source::File(dir.join(name))
                .read_with(limits)
                .unwrap_err()
                .to_string()
        };
        let name = |file: &str| dir.join(file).display().to_string();
        let limits = Limits::DEFAULT;
        assert_eq!(
            read("missing.json", &limits),
            format!("{}: no such file or directory", name("missing.json"))
        );
        std::fs::write(dir.join("page.html"), "\n <!doctype html><html>").unwrap();
        assert!(read("page.html", &limits).starts_with(&format!("{}: got HTML", name("page.html"))));
        std::fs::write(dir.join("empty.json"), " \n").unwrap();
        assert_eq!(
            read("empty.json", &limits),
            format!("{}: empty", name("empty.json"))
        );
        std::fs::write(dir.join("text.json"), "hello").unwrap();
        assert_eq!(
            read("text.json", &limits),
            format!("{}: not JSON (it starts with 'h')", name("text.json"))
        );
        std::fs::write(dir.join("big.json"), "{\"a\": 1234567}").unwrap();
        let small = Limits {
            max_bytes: 8,
            ..Limits::DEFAULT
        };
        assert_eq!(
            read("big.json", &small),
            format!("{}: larger than the limit of 1 MiB", name("big.json"))
        );
        assert_eq!(
            Source::File(dir.join("big.json")).read().unwrap(),
            b"{\"a\": 1234567}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A server on a free loopback port answering one connection with `response` (after
    /// reading the request head), then closing it.
    fn serve_once(response: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/status/", listener.local_addr().unwrap());
        thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            read_head(&mut stream);
            let _ = stream.write_all(response);
        });
        url
    }

    /// Reads the request up to its blank line (bounded).
    fn read_head(stream: &mut TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while head.len() < 64 * 1024 && !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
    }

    fn http_error_of(response: &'static [u8], limits: &Limits) -> String {
        let url = serve_once(response);
        let error = Source::Url(url.clone()).read_with(limits).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with(&format!("{url}: ")), "{text}");
        text[url.len() + 2..].to_owned()
    }

    #[test]
    fn http_bodies_are_read_whole() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n",
        );
        assert_eq!(Source::Url(url).read().unwrap(), b"{\"a\": 1}\n");
    }

    #[test]
    fn http_failures_say_what_happened() {
        let limits = Limits::DEFAULT;
        assert_eq!(
            http_error_of(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", &limits),
            "HTTP status 404 (not found: is the path a status page, such as /status/ or /status/web?)"
        );
        assert!(http_error_of(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 6\r\n\r\n<html>",
            &limits
        )
        .starts_with("got HTML, not JSON"));
        // HTML sent as JSON is still told by its first byte.
        assert!(http_error_of(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n<html>",
            &limits
        )
        .starts_with("got HTML, not JSON"));
        assert_eq!(
            http_error_of(
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\": 1, \"b\"",
                &limits
            ),
            "cut off mid-body after 12 of 100 bytes"
        );
        assert_eq!(
            http_error_of(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"a\": 1}\n\r\n5\r\n{\"b\"",
                &limits
            ),
            "cut off mid-body after 13 bytes"
        );
        let small = Limits {
            max_bytes: 4,
            ..Limits::DEFAULT
        };
        assert_eq!(
            http_error_of(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n",
                &small
            ),
            "larger than the limit of 1 MiB"
        );
        assert_eq!(
            http_error_of(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"a\": 1}\n\r\n",
                &small
            ),
            "larger than the limit of 1 MiB"
        );
    }

    #[test]
    fn a_refused_port_is_connection_refused() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let source = Source::Url(format!("http://127.0.0.1:{port}/status/"));
        assert_eq!(
            source.read().unwrap_err().to_string(),
            format!(
                "http://127.0.0.1:{port}/status/: connection refused (is the server running on that port?)"
            )
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/status/", listener.local_addr().unwrap());
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let accepted = listener.accept();
            // Holds the connection open, silent, until the client gave up.
            let _ = wait.recv_timeout(Duration::from_secs(10));
            drop(accepted);
        });
        let limits = Limits {
            read: Duration::from_millis(300),
            ..Limits::DEFAULT
        };
        let error = Source::Url(url).read_with(&limits).unwrap_err();
        let _ = done.send(());
        server.join().unwrap();
        assert!(
            error
                .to_string()
                .ends_with("the server sent nothing for 0.3 s"),
            "{error}"
        );
    }
}
