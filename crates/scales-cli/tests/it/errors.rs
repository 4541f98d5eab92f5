//! Bad sources and bad arguments: each is one line on stderr naming the source and saying
//! what happened, exit status 1 (2 for usage), never a panic.

use crate::support::{refused_port, run, serve, source_failure, stderr, success, temp_dir, Demo};

#[test]
fn an_unreachable_url_is_connection_refused() {
    let url = format!("http://127.0.0.1:{}/status/", refused_port());
    // A carbon address nothing listens on either: the source fails first.
    let carbon = format!("127.0.0.1:{}", refused_port());
    for command in ["get", "push-graphite"] {
        let mut args = vec![command, url.as_str()];
        if command == "push-graphite" {
            args.push(&carbon);
        }
        let output = run(&args);
        assert_eq!(
            source_failure(&output, &url),
            "connection refused (is the server running on that port?)",
            "{command}"
        );
    }
}

#[test]
fn a_server_that_sends_html_is_told_apart() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 15\r\nConnection: close\r\n\r\n<html>hi</html>",
        1,
    );
    let message = source_failure(&run(&["get", &url]), &url);
    assert_eq!(
        message,
        "got HTML, not JSON (is this a scales status page, or a dump written by scales?)"
    );
}

#[test]
fn a_server_that_closes_mid_body_is_a_body_cut_off() {
    let url = serve(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"web\": {\"errors\": 3, \"succ",
        1,
    );
    let message = source_failure(&run(&["get", &url]), &url);
    assert_eq!(message, "cut off mid-body after 27 of 1000 bytes");
}

#[test]
fn an_http_error_status_is_named() {
    let url = serve(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot found\n",
        1,
    );
    let message = source_failure(&run(&["get", &url]), &url);
    assert!(
        message.starts_with("HTTP status 404 (not found"),
        "{message}"
    );
}

#[test]
fn a_truncated_dump_and_a_missing_file_are_named() {
    let dir = temp_dir("errors-dump");
    let dump = dir.join("stats.json");
    let demo = Demo::start(&["--dump", dump.to_str().unwrap()]);
    demo.stop();
    let text = std::fs::read(&dump).unwrap();
    let cut = dir.join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let cut_name = cut.to_str().unwrap();
    let message = source_failure(&run(&["get", cut_name]), cut_name);
    assert!(
        message.starts_with("not a JSON tree of stats: "),
        "{message}"
    );
    assert!(message.contains("line 1, column"), "{message}");

    let missing = dir.join("missing.json");
    let missing_name = missing.to_str().unwrap();
    let output = run(&["get", missing_name, "--format", "prometheus"]);
    assert_eq!(
        source_failure(&output, missing_name),
        "no such file or directory"
    );
    let empty = dir.join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let empty_name = empty.to_str().unwrap();
    assert_eq!(
        source_failure(&run(&["get", empty_name]), empty_name),
        "empty"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_path_with_nothing_there_is_named() {
    let dir = temp_dir("errors-path");
    let dump = dir.join("stats.json");
    std::fs::write(&dump, "{\"web\": {\"errors\": 3}}\n").unwrap();
    let name = dump.to_str().unwrap();
    let output = run(&["get", name, "/db"]);
    assert_eq!(source_failure(&output, name), "no stats at /db");
    assert_eq!(
        success(&run(&["get", name, "/web/errors", "--format", "json"])),
        "3\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_arguments_are_usage_errors() {
    // Refused before anything is sent; no fixed port either way.
    let carbon = format!("127.0.0.1:{}", refused_port());
    for args in [
        &["get", "x.json", "/a//b"][..],
        &["get", "x.json", "--format", "xml"],
        &["get"],
        &["push-graphite", "x.json", "carbon"],
        &["push-graphite", "x.json", carbon.as_str(), "--timeout", "0"],
        &["watch", "http://127.0.0.1:1/status/", "--interval", "-1"],
    ] {
        let output = run(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.starts_with("scales: ") || err.starts_with("error: "),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn watch_without_a_terminal_says_so() {
    let output = run(&["watch", "http://127.0.0.1:1/status/"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "scales: scales watch needs a terminal (for one reading, use scales get)\n"
    );
}
