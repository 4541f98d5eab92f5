//! Every route, status code, content type and message, against a real server.

use std::time::{Duration, Instant};

use crate::support::{fixture, get, serve, serve_app, Got, HOSTILE_KEY};

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const PROM: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

fn assert_hygiene(got: &Got) {
    assert_eq!(got.header("cache-control"), Some("no-store"), "{got:?}");
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    let csp = got.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[test]
fn root_page_is_the_original_layout_escaped_and_enhanced() {
    let _shared = crate::support::shared();
    let f = fixture();
    let _broken = crate::support::broken_gauge(&f.registry);
    let server = serve(&f.registry);
    let got = get(&server.url());
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some(HTML));
    assert_hygiene(&got);
    let body = &got.body;
    assert!(body.starts_with("<!doctype html>"), "{body}");
    assert!(body.contains("<title>test&lt;img src=x onerror=alert(1)&gt;-42 - Status</title>"));
    assert!(!body.contains("<img"), "the server name must be escaped");
    assert!(body.contains(r#"id="s:web/success" data-path="web/success""#));
    assert!(body.contains(r#"title="3">3</span>"#));
    // A collapsed group starts closed, with a link to its own page.
    assert!(
        body.contains(r#"<details class="g" id="g:extended/hidden" data-path="extended/hidden">"#),
        "{body}"
    );
    assert!(body.contains(r#"href="/status/extended/hidden/""#));
    assert!(body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(body.contains("&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert_eq!(
        body.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    // A panicking gauge is an error on that stat; everything else renders.
    assert!(body.contains("error: gauge panicked"), "{body}");
    assert!(
        body.contains(r#"title="answer">answer</a>"#) || body.contains(">answer</a>"),
        "{body}"
    );
    assert!(body.contains(r#"title="42">42</span>"#));

    // The original's page, the core's markup, is `?format=html`.
    let original = get(&format!("{}?format=html", server.url()));
    assert_eq!(original.status, 200);
    let body = &original.body;
    assert!(body.starts_with("<!doctype html>\n<title>"), "{body}");
    assert!(
        body.contains(r#"<div><span class="key">success</span> <span class="int">3</span></div>"#)
    );
    assert!(body.contains(r#"<div class="key"><a href="/status/extended/hidden">hidden</a></div>"#));
    assert!(!body.contains("<img"));
    assert!(!body.contains("<script"), "the original has no script");
}

#[test]
fn sub_paths_with_and_without_trailing_slash() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();
    let a = get(&format!("{base}web"));
    let b = get(&format!("{base}web/"));
    assert_eq!((a.status, b.status), (200, 200));
    assert!(a.body.contains("- Status: /web</title>"));
    assert!(a.body.contains(r#"id="s:web/success""#));
    assert!(!a.body.contains("byPath"));
    // The rows' ids: values (a meter's mean rate) move between the two requests.
    let tree = |body: &str| {
        let tree = &body[body.find("<main").unwrap()..body.find("</main>").unwrap()];
        let ids = tree.split(" id=\"").skip(1);
        ids.map(|r| r[..r.find('"').unwrap()].to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(tree(&a.body), tree(&b.body));
    // Collapsed groups render when asked for directly.
    let hidden = get(&format!("{base}extended/hidden?format=json"));
    assert_eq!(hidden.json(), serde_json::json!({"count": 7}));
    // One stat: JSON is its value, HTML a one-entry level.
    let leaf = get(&format!("{base}web/success?format=json"));
    assert_eq!(leaf.body, "3\n");
    let leaf_html = get(&format!("{base}web/success"));
    assert_eq!(leaf_html.status, 200);
    assert!(leaf_html.body.contains(r#"id="s:web/success""#));
    // Percent-encoded segments.
    let odd = get(&format!(
        "{base}odd/%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E?format=json"
    ));
    assert_eq!(odd.status, 200, "{odd:?}");
    assert_eq!(odd.body, "\"<script>alert(3)</script>\"\n");
    let _ = HOSTILE_KEY;
}

#[test]
fn redirect_from_status_without_slash() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let url = format!("http://{}/status", server.local_addr());
    let got = get(&url);
    assert_eq!(got.status, 308);
    assert_eq!(got.header("location"), Some("status/"));
    let with_query = get(&format!("{url}?format=json"));
    assert_eq!(with_query.header("location"), Some("status/?format=json"));
}

#[test]
fn json_formats() {
    let _shared = crate::support::shared();
    let f = fixture();
    let _broken = crate::support::broken_gauge(&f.registry);
    let server = serve(&f.registry);
    let got = get(&format!("{}?format=json", server.url()));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some(JSON));
    assert_hygiene(&got);
    let json = got.json();
    assert_eq!(json["web"]["success"], 3);
    assert_eq!(json["web"]["latency"]["count"], 5);
    assert_eq!(json["processor"]["finished"], 3);
    assert!(
        json["extended"].get("hidden").is_none(),
        "collapsed groups are left out"
    );
    assert!(json["gauges"]["broken"]["error"]
        .as_str()
        .unwrap()
        .contains("gauge panicked"));
    let pretty = get(&format!("{}web?format=prettyjson", server.url()));
    assert_eq!(pretty.header("content-type"), Some(JSON));
    assert!(pretty.body.starts_with("{\n  \""), "{}", pretty.body);
    assert_eq!(pretty.json()["success"], 3);
}

#[test]
fn prometheus_formats() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let metrics = get(&format!("http://{}/metrics", server.local_addr()));
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some(PROM));
    assert_hygiene(&metrics);
    assert!(
        metrics.body.contains("\nweb_success 3\n"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("# TYPE web_latency summary\n"));
    assert!(metrics.body.contains("web_hits_total 10\n"));
    let sub = get(&format!("{}web?format=prometheus", server.url()));
    assert_eq!(sub.header("content-type"), Some(PROM));
    assert!(sub.body.contains("web_success 3\n"));
    assert!(!sub.body.contains("handler_"));

    // Scrape after scrape, the same text as a full render of the tree as it is now: with
    // new values, with a stat more, with one fewer and with new values again.
    let full = || {
        let text = scales::format::prometheus::to_string(
            &f.registry.snapshot(),
            &scales::format::prometheus::Options::default(),
        );
        // The meter's rates decay between the two renders: compare what does not.
        let steady = |text: &str| {
            text.lines()
                .filter(|l| !l.starts_with("web_hits_rate"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let metrics = get(&format!("http://{}/metrics", server.local_addr())).body;
        assert_eq!(steady(&metrics), steady(&text));
        metrics
    };
    full();
    f.success.add(4);
    assert!(full().contains("\nweb_success 7\n"));
    let late = f.registry.scope("/late").unwrap();
    let count = late.int_stat("arrivals").unwrap();
    count.add(2);
    let text = full();
    assert!(text.contains("\nlate_arrivals 2\n"), "{text}");
    drop((late, count));
    assert!(!full().contains("late_arrivals"));
    f.success.add(1);
    assert!(full().contains("\nweb_success 8\n"));
}

#[test]
fn history_format() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(&format!("{}web?format=history", server.url()));
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), Some(JSON));
        let h = got.json();
        assert_eq!(h["kinds"]["latency"], "PmfStat");
        assert_eq!(h["kinds"]["hits"], "MeterStat");
        let samples = h["series"]["success"].as_array().map_or(0, Vec::len);
        if samples >= 3 {
            assert_eq!(h["series"]["success"][0].as_f64(), Some(3.0));
            assert_eq!(h["series"]["latency\u{1f}count"][0].as_f64(), Some(5.0));
            assert!(h["series"].get("byPath").is_none(), "only below /web");
            assert_eq!(h["times"].as_array().unwrap().len(), samples);
            break;
        }
        assert!(Instant::now() < deadline, "no history after 10 s: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn queries_filter_and_bad_ones_are_400() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();
    let q = |query: &str| get(&format!("{base}?format=json&query={query}"));
    assert_eq!(
        q("success").json(),
        serde_json::json!({"web": {"success": 3}})
    );
    // The original answered 500 for `<=`, `==` and comparisons with zero-valued stats.
    assert_eq!(
        q("success%3C%3D3").json(),
        serde_json::json!({"web": {"success": 3}})
    );
    assert_eq!(
        q("success%3D%3D3").json(),
        serde_json::json!({"web": {"success": 3}})
    );
    assert_eq!(q("success%3E3").json(), serde_json::json!({}));
    assert_eq!(
        q("count%3E4").json(),
        serde_json::json!({"web": {"latency": {"count": 5}, "hits": {"count": 10}}})
    );
    let bad = q("success%3C%3C3");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some(TEXT));
    assert!(
        bad.body
            .contains("Bad query \"success<<3\": `<<` is not an operator"),
        "{}",
        bad.body
    );
    // An empty filter (the form submitted empty) shows everything.
    assert_eq!(get(&format!("{base}?query=")).status, 200);
    // The filter value is reflected escaped: the original's reflected XSS.
    let xss = get(&format!(
        "{base}?query=x%22%20autofocus%20onfocus%3D%22alert(1)"
    ));
    assert_eq!(xss.status, 200);
    assert!(xss
        .body
        .contains(r#"value="x&quot; autofocus onfocus=&quot;alert(1)""#));
    let html = get(&format!("{base}?query=finished"));
    assert!(html.body.contains(">finished</a>"), "{}", html.body);
    assert!(!html.body.contains("byPath"));
}

#[test]
fn unknown_paths_formats_and_methods() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let missing = get(&format!("{}nope", server.url()));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some(TEXT));
    assert_eq!(missing.body, "No stats found with path /nope\n");
    assert_hygiene(&missing);
    // Keys inside a stat are (tests/it/keys.rs); unknown ones are a 404 too.
    let key = get(&format!("{}web/latency/nope", server.url()));
    assert_eq!(key.status, 404);
    assert_eq!(key.body, "No key \"nope\" in stat /web/latency\n");
    let format = get(&format!("{}web?format=xml", server.url()));
    assert_eq!(format.status, 400);
    assert_eq!(
        format.body,
        "Unknown format \"xml\": use html, json, prettyjson, prometheus or history\n"
    );
    let elsewhere = get(&format!("http://{}/favicon.ico", server.local_addr()));
    assert_eq!(elsewhere.status, 404);
    assert!(elsewhere.body.starts_with("Not found"));
    let post = crate::support::raw(
        server.local_addr(),
        b"POST /status/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    let head = crate::support::raw(
        server.local_addr(),
        b"HEAD /status/?format=json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    let bad_utf8 = get(&format!("{}%FF", server.url()));
    assert_eq!(bad_utf8.status, 400);
}

#[test]
fn the_router_mounts_in_an_axum_app() {
    let _shared = crate::support::shared();
    use axum::routing::get as route_get;

    let f = fixture();
    let app = axum::Router::new()
        .route("/", route_get(|| async { "the app" }))
        .merge(scales_http::router(&f.registry, "mounted"))
        .nest(
            "/admin",
            scales_http::Config::new("nested")
                .registry(&f.registry)
                .link_prefix("/admin/status/")
                .router(),
        );
    let served = serve_app(app);
    let addr = served.addr;
    assert_eq!(get(&format!("http://{addr}/")).body, "the app");
    let json = get(&format!("http://{addr}/status/?format=json")).json();
    assert_eq!(json["web"]["success"], 3);
    let nested = get(&format!("http://{addr}/admin/status/"));
    assert_eq!(nested.status, 200);
    assert!(nested
        .body
        .contains(r#"href="/admin/status/extended/hidden/""#));
    let redirect = get(&format!("http://{addr}/admin/status"));
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("status/"));
    served.stop();
}

#[test]
fn stop_frees_the_port_and_drop_stops_too() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback(), "the default bind is 127.0.0.1");
    assert_eq!(get(&server.url()).status, 200);
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after stop"
    );
    let again = scales_http::Config::new("again")
        .registry(&f.registry)
        .serve_in_background(addr)
        .expect("the port is free again");
    assert_eq!(get(&again.url()).status, 200);
    drop(again);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after drop"
    );
    // Every interface is an explicit choice; the URL then names the loopback address.
    let everywhere = scales_http::Config::new("all")
        .registry(&f.registry)
        .serve_in_background(std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
        .unwrap();
    assert!(everywhere.local_addr().ip().is_unspecified());
    assert!(
        everywhere.url().starts_with("http://127.0.0.1:"),
        "{}",
        everywhere.url()
    );
    assert_eq!(get(&everywhere.url()).status, 200);
    drop(everywhere);
    // Binding a port in use is an error, not a panic.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let err = scales_http::serve_in_background(taken.port(), "x").unwrap_err();
    assert!(
        err.to_string().starts_with("cannot listen on 127.0.0.1:"),
        "{err}"
    );
}
