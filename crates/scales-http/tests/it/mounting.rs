//! The routes inside a host application: merged next to the host's own fallback, nested
//! under a prefix (links, breadcrumbs, format links and the script's requests follow the
//! mount point), and the handle's `detach`.

use axum::http::StatusCode;
use axum::routing::get as route;
use axum::Router;

use crate::support::{fixture, get, serve, serve_app, Got};

/// The `href`s of a page, HTML-unescaped (`&amp;` is the only entity links hold).
fn hrefs(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .collect()
}

/// An attribute of the page's tree element, HTML-unescaped.
fn tree_attribute(body: &str, name: &str) -> Option<String> {
    let tree = &body[body.find("<main id=\"scales-tree\"")?..];
    let tree = &tree[..tree.find('>')?];
    let at = tree.find(&format!(" {name}=\""))? + name.len() + 3;
    let value = &tree[at..];
    Some(
        value[..value.find('"')?]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

#[test]
fn the_script_builds_its_requests_from_the_page_url() {
    let _shared = crate::support::shared();
    // The script fetches the page itself (a refresh) and the links the server wrote on it
    // (lazy groups, histograms): no path of its own, so it follows the mount point.
    let script = include_str!("../../assets/status.js");
    assert!(script.contains("var u = new URL(href, location.href);"));
    // A refresh adds `closed=` to the page's own URL, or to a loaded lazy group's link.
    assert!(script.contains("getPage(withClosed(location.href, "));
    assert!(script.contains("getPage(d.getAttribute('data-lazy'))"));
    assert!(script.contains("getPage(withClosed(d.getAttribute('data-lazy'), "));
    assert!(script.contains("var u = new URL(href, location.href);\n    var list = closedList("));
    // The search asks the page's own URL, its query replaced.
    assert!(script.contains("var u = new URL(url(location.href));\n    u.search = '';"));
    assert!(script.contains("getPage(d.getAttribute('data-src'))"));
    assert!(!script.contains("/status"), "no absolute path");
}

#[test]
fn merges_into_an_app_with_its_own_fallback() {
    let _shared = crate::support::shared();
    let f = fixture();
    let teapot = || async { (StatusCode::IM_A_TEAPOT, "the host's fallback") };
    // The host's fallback before the merge (axum panicked when both had one) and after it.
    let before = Router::new()
        .route("/", route(|| async { "the app" }))
        .fallback(teapot)
        .merge(scales_http::router(&f.registry, "merged"));
    let after = Router::new()
        .route("/", route(|| async { "the app" }))
        .merge(scales_http::router(&f.registry, "merged"))
        .fallback(teapot);
    for app in [before, after] {
        let app = serve_app(app);
        let base = format!("http://{}", app.addr);
        let home = get(&format!("{base}/"));
        assert_eq!(home.body, "the app");
        assert_eq!(
            home.header("content-security-policy"),
            None,
            "the host's responses are the host's"
        );
        for unknown in [
            "/nope",
            "/favicon.ico",
            "/statusx",
            "/metrics/x",
            "/a/status/",
        ] {
            let got = get(&format!("{base}{unknown}"));
            assert_eq!(
                (got.status, got.body.as_str()),
                (418, "the host's fallback"),
                "{unknown}"
            );
        }
        let page = get(&format!("{base}/status/"));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<title>merged - Status</title>"));
        assert!(page.header("content-security-policy").is_some());
        assert_eq!(
            get(&format!("{base}/status/web?format=json")).json()["success"],
            3
        );
        assert!(get(&format!("{base}/metrics"))
            .body
            .contains("web_success 3\n"));
        // Below /status/ the URLs are the status page's: its own 404.
        let missing = get(&format!("{base}/status/nope"));
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body, "No stats found with path /nope\n");
        assert_eq!(get(&format!("{base}/status")).status, 308);
    }
}

#[test]
fn without_a_fallback_the_hosts_unknown_urls_are_axums_404() {
    let _shared = crate::support::shared();
    let f = fixture();
    let app = serve_app(
        Router::new()
            .route("/", route(|| async { "the app" }))
            .merge(scales_http::router(&f.registry, "merged")),
    );
    let got = get(&format!("http://{}/nope", app.addr));
    assert_eq!(got.status, 404);
    assert_eq!(got.body, "", "not the status page's message");
    assert_eq!(got.header("content-security-policy"), None);
}

/// Every link of the page at `page` (path and query) and every request of its script, on
/// `base`: each must stay under `prefix` and answer 200. Returns the page.
fn check_links(base: &str, page: &str, prefix: &str) -> Got {
    let got = get(&format!("{base}{page}"));
    assert_eq!(got.status, 200, "{page}: {got:?}");
    let links = hrefs(&got.body);
    assert!(!links.is_empty(), "{page}");
    // `#s:web/latency`: a deep link into this same page.
    for href in links
        .iter()
        .filter(|h| !h.starts_with("data:") && !h.starts_with('#'))
    {
        assert!(
            href.starts_with(prefix),
            "{page}: link {href} not under {prefix}"
        );
        assert_eq!(get(&format!("{base}{href}")).status, 200, "{page}: {href}");
    }
    // The script's links into sub-trees: data-link-base + the group's path.
    let link_base = tree_attribute(&got.body, "data-link-base").unwrap();
    assert!(link_base.starts_with(prefix), "{page}: {link_base}");
    // The script's refresh: the page itself, same shape.
    let again = get(&format!("{base}{page}"));
    assert_eq!(again.status, 200, "{page}: the script's refresh");
    assert!(again.body.contains("<main id=\"scales-tree\""));
    got
}

#[test]
fn nested_under_a_prefix_its_links_and_script_follow() {
    let _shared = crate::support::shared();
    let f = fixture();
    let app = serve_app(
        Router::new()
            .route("/", route(|| async { "the app" }))
            .nest("/admin", scales_http::router(&f.registry, "nested"))
            .nest(
                "/deep",
                Router::new().nest("/er", scales_http::router(&f.registry, "deeper")),
            )
            .fallback(|| async { (StatusCode::IM_A_TEAPOT, "the host's fallback") }),
    );
    let base = format!("http://{}", app.addr);
    let root = check_links(&base, "/admin/status/", "/admin/status/");
    assert!(root
        .body
        .contains(r#"href="/admin/status/extended/hidden/""#));
    assert_eq!(
        tree_attribute(&root.body, "data-link-base").as_deref(),
        Some("/admin/status/")
    );
    assert!(root
        .body
        .contains(r#"<a href="/admin/status/?format=json">JSON</a>"#));
    // The script links the groups it finds to data-link-base + path: a real page.
    assert_eq!(get(&format!("{base}/admin/status/web")).status, 200);

    let web = check_links(&base, "/admin/status/web", "/admin/status/");
    assert!(
        web.body.contains(r#"<a href="/admin/status/">/</a>"#),
        "{}",
        web.body
    );
    assert_eq!(
        tree_attribute(&web.body, "data-link-base").as_deref(),
        Some("/admin/status/web/")
    );
    let stat = check_links(&base, "/admin/status/web/latency", "/admin/status/");
    assert!(stat
        .body
        .contains(r#"<a href="/admin/status/web/">web</a>"#));
    assert_eq!(
        tree_attribute(&stat.body, "data-link-base").as_deref(),
        Some("/admin/status/web/")
    );
    let history = get(&format!("{base}/admin/status/web/latency?format=history")).json();
    assert_eq!(history["kinds"], serde_json::json!({"latency": "PmfStat"}));
    check_links(&base, "/admin/status/web/latency/count", "/admin/status/");
    check_links(&base, "/admin/status/extended/hidden", "/admin/status/");
    check_links(&base, "/admin/status/web?query=count", "/admin/status/");
    check_links(&base, "/deep/er/status/web/", "/deep/er/status/");

    // The redirect is relative: it lands under the prefix.
    let redirect = get(&format!("{base}/admin/status"));
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header("location"), Some("status/"));
    // Unknown URLs beside the nested routes are the host's.
    let got = get(&format!("{base}/admin/nope"));
    assert_eq!(
        (got.status, got.body.as_str()),
        (418, "the host's fallback")
    );
    assert_eq!(
        get(&format!("{base}/status/")).status,
        418,
        "only under /admin"
    );
}

#[test]
fn a_configured_link_prefix_overrides_the_mount_point() {
    let _shared = crate::support::shared();
    // Behind a proxy that serves /stats/status/ from the server's /status/, say.
    let f = fixture();
    let app = serve_app(
        Router::new().nest(
            "/admin",
            scales_http::Config::new("proxied")
                .registry(&f.registry)
                .link_prefix("/stats/status")
                .router(),
        ),
    );
    let page = get(&format!("http://{}/admin/status/", app.addr));
    assert!(page
        .body
        .contains(r#"href="/stats/status/extended/hidden/""#));
    assert_eq!(
        tree_attribute(&page.body, "data-link-base").as_deref(),
        Some("/stats/status/")
    );
    // The background server's links are at the root.
    let server = serve(&f.registry);
    let page = get(&server.url());
    assert!(page.body.contains(r#"href="/status/extended/hidden/""#));
}

#[test]
fn a_detached_server_keeps_serving() {
    let _shared = crate::support::shared();
    let f = fixture();
    let addr = {
        let server = serve(&f.registry);
        let addr = server.local_addr();
        server.detach();
        addr
    };
    // The handle is gone; the server serves until the test binary exits.
    for _ in 0..3 {
        let got = get(&format!("http://{addr}/status/web?format=json"));
        assert_eq!(got.json()["success"], 3);
    }
}
