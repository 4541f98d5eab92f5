//! What a refresh reads: `closed=` leaves the page's closed groups unread (their gauge
//! closures do not run), drawn closed with their stats' count; malformed or oversized lists
//! are a `400`; `search=` finds stats in groups the page did not load, up to its cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use scales::Registry;

use crate::support::{agent, get, serve_app, Got};

/// A gauge counting its reads; the scope keeps it declared.
fn counting(reg: &Registry, scope: &str, name: &str) -> (Arc<AtomicUsize>, scales::Scope) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let scope = reg.scope(scope).unwrap();
    scope
        .gauge(name, move || seen.fetch_add(1, Ordering::SeqCst) as i64 + 1)
        .unwrap();
    (calls, scope)
}

/// A server without history: the sampler's snapshots would read every gauge.
fn quiet(reg: &Registry) -> scales_http::Config {
    scales_http::Config::new("pruning")
        .registry(reg)
        .history(Duration::from_secs(1), 0, 0)
}

/// `closed=` as the page's script sends it: each name percent-encoded, names joined by `/`,
/// paths by `,`, the whole form-encoded once more.
fn closed(paths: &[&[&str]]) -> String {
    let list: Vec<String> = paths
        .iter()
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    form_urlencoded::byte_serialize(list.join(",").as_bytes()).collect()
}

fn loads(calls: &Arc<AtomicUsize>) -> usize {
    calls.load(Ordering::SeqCst)
}

#[test]
fn a_refresh_with_closed_groups_runs_none_of_their_gauges() {
    let _shared = crate::support::shared();
    let reg = Registry::new();
    let (open, _s1) = counting(&reg, "/open", "g");
    let (shut, _s2) = counting(&reg, "/shut", "g");
    let (deep, _s3) = counting(&reg, "/shut/inner/deeper", "g");
    let shut_scope = reg.scope("/shut").unwrap();
    shut_scope.int_stat("c").unwrap().add(1);
    // A name that needs escaping: a comma, a slash-free space, markup.
    let (odd, _s4) = counting(&reg, "/a,b <c>", "g");
    let (sub, _s5) = counting(&reg, "/svc/part", "g");
    let (sub_open, _s6) = counting(&reg, "/svc", "g");
    let server = quiet(&reg).serve_in_background(0).unwrap();

    let got = get(&format!(
        "{}?closed={}",
        server.url(),
        closed(&[&["shut"], &["a,b <c>"]])
    ));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        (loads(&open), loads(&shut), loads(&deep), loads(&odd)),
        (1, 0, 0, 0)
    );
    assert_eq!(loads(&sub), 1, "groups not named are read");
    // Drawn closed, empty, with its count at every depth, and marked for the script.
    assert!(
        got.body.contains(
            r#"<details class="g" id="g:shut" data-path="shut" data-lazy="/status/shut/" data-pruned=""><summary><span class="n">shut</span><span class="meta">3 stats</span>"#
        ),
        "{}",
        got.body
    );
    assert!(got.body.contains("3 stats: open this group's page"));
    assert!(!got.body.contains("id=\"s:shut/c\""));
    assert!(got
        .body
        .contains(r#"id="g:a%2Cb%20%3Cc%3E" data-path="a,b &lt;c&gt;""#));
    assert!(got
        .body
        .contains(r#"data-lazy="/status/a%2Cb%20%3Cc%3E/" data-pruned="""#));
    assert!(got.body.contains(r#"data-base="""#));
    // The open groups are read and drawn.
    assert!(got.body.contains("id=\"s:open/g\""));

    // Opening it: its own page reads it.
    let page = get(&format!("{}shut/", server.url()));
    assert_eq!(page.status, 200);
    assert_eq!((loads(&shut), loads(&deep)), (1, 1));
    assert!(page.body.contains("id=\"s:shut/c\""));

    // Paths are relative to the page: on /status/svc/, `part` is /svc/part.
    let got = get(&format!(
        "{}svc/?closed={}",
        server.url(),
        closed(&[&["part"]])
    ));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!((loads(&sub), loads(&sub_open)), (1, 2));
    assert!(got.body.contains(r#"data-base="svc""#));
    assert!(got.body.contains(
        r#"id="g:svc/part" data-path="svc/part" data-lazy="/status/svc/part/" data-pruned="""#
    ));
    // A nested path, and one that names nothing (no harm).
    let got = get(&format!(
        "{}?closed={}",
        server.url(),
        closed(&[&["shut", "inner"], &["nothing", "here"]])
    ));
    assert_eq!(got.status, 200);
    assert_eq!((loads(&shut), loads(&deep)), (2, 1));
    assert!(got
        .body
        .contains(r#"data-path="shut/inner" data-lazy="/status/shut/inner/" data-pruned="""#));
    assert!(got.body.contains("id=\"s:shut/c\""));

    // Only the page prunes: JSON and a server query read everything.
    let json = get(&format!(
        "{}?format=json&closed={}",
        server.url(),
        closed(&[&["shut"]])
    ));
    assert_eq!(json.status, 200);
    assert_eq!(json.json()["shut"]["c"], 1);
    let queried = get(&format!(
        "{}?query=c&closed={}",
        server.url(),
        closed(&[&["shut"]])
    ));
    assert!(queried.body.contains("id=\"s:shut/c\""), "{}", queried.body);
}

#[test]
fn closed_keeps_the_mount_prefix_and_the_credentials() {
    let _shared = crate::support::shared();
    let reg = Registry::new();
    let (shut, _s1) = counting(&reg, "/shut", "g");
    let (open, _s2) = counting(&reg, "/open", "g");
    let app = serve_app(Router::new().nest("/admin", quiet(&reg).router()));
    let got = get(&format!(
        "http://{}/admin/status/?closed={}",
        app.addr,
        closed(&[&["shut"]])
    ));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!((loads(&shut), loads(&open)), (0, 1));
    assert!(got
        .body
        .contains(r#"data-lazy="/admin/status/shut/" data-pruned="""#));

    let guarded = quiet(&reg)
        .bearer_token("t0ken")
        .serve_in_background(0)
        .unwrap();
    let url = format!("{}?closed={}", guarded.url(), closed(&[&["shut"]]));
    assert_eq!(get(&url).status, 401);
    let bad = format!("{}?closed=a,,b", guarded.url());
    assert_eq!(get(&bad).status, 401, "credentials come first");
    let mut response = agent()
        .get(&url)
        .header("Authorization", "Bearer t0ken")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = response.body_mut().read_to_string().unwrap();
    assert!(body.contains("data-pruned"));
    assert_eq!((loads(&shut), loads(&open)), (0, 2));
}

#[test]
fn malformed_or_oversized_closed_lists_are_a_400() {
    let _shared = crate::support::shared();
    let reg = Registry::new();
    let (shut, _s1) = counting(&reg, "/shut", "g");
    let server = quiet(&reg).serve_in_background(0).unwrap();
    let ask = |value: &str| -> Got { get(&format!("{}?closed={value}", server.url())) };
    let many = vec!["a"; 257].join(",");
    let cases: Vec<(String, &str)> = vec![
        ("a%2C%2Cb".to_owned(), "is empty"),
        ("a%2C".to_owned(), "is empty"),
        ("a%2F%2Fb".to_owned(), "an empty name"),
        ("%2Fa".to_owned(), "an empty name"),
        ("%25FF".to_owned(), "not UTF-8"),
        ("%2501x".to_owned(), "not a group path"),
        (
            form_urlencoded::byte_serialize(many.as_bytes()).collect(),
            "at most 256",
        ),
        ("x".repeat(8 * 1024 + 1), "at most 8192 bytes"),
    ];
    for (value, says) in &cases {
        let got = ask(value);
        assert_eq!(got.status, 400, "closed={value}: {}", got.body);
        assert_eq!(
            got.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(got.body.contains("closed="), "{}", got.body);
        assert!(got.body.contains(says), "closed={value}: {}", got.body);
        assert!(got.body.len() < 300, "{}", got.body);
    }
    // At the limits, fine; the empty list is no list.
    assert_eq!(ask(&vec!["a"; 256].join("%2C")).status, 200);
    assert_eq!(ask(&"x".repeat(8 * 1024)).status, 200);
    assert_eq!(ask("").status, 200);
    assert_eq!(loads(&shut), 3, "the 400s read nothing");
}

#[test]
fn search_finds_stats_in_groups_the_page_did_not_load_up_to_its_cap() {
    let _shared = crate::support::shared();
    let reg = Registry::new();
    // 2,102 stats in /big: past the page's 2,000 rows, so it is drawn closed and empty.
    let mut scopes = Vec::new();
    for g in 0..21 {
        let scope = reg.scope(&format!("/big/g{g:02}")).unwrap();
        for s in 0..100 {
            scope.int_stat(&format!("s{s:03}")).unwrap();
        }
        scopes.push(scope);
    }
    let zz = reg.scope("/big/zz").unwrap();
    zz.int_stat("The_Needle").unwrap().set(5);
    zz.int_dict_stat("byStatus").unwrap().inc("teapot418");
    let hits = reg.scope("/hits").unwrap();
    for i in 0..150 {
        hits.int_stat(&format!("hit{i:03}")).unwrap();
    }
    scopes.extend([zz, hits]);
    let server = quiet(&reg).serve_in_background(0).unwrap();

    let page = get(&server.url());
    assert!(page
        .body
        .contains(r#"id="g:big" data-path="big" data-lazy="/status/big/""#));
    assert!(!page.body.contains("The_Needle"));

    let found = get(&format!("{}?search=needle", server.url()));
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.header("content-type"), Some("application/json"));
    let json = found.json();
    assert_eq!(json["matches"], serde_json::json!(["big/zz/The_Needle"]));
    assert_eq!(json["capped"], false);
    assert_eq!(json["limit"], 100);
    // Keys of keyed stats, as the page's rows are named; below a sub-path; with format=json.
    let key = get(&format!("{}big/?format=json&search=TEAPOT", server.url())).json();
    assert_eq!(
        key["matches"],
        serde_json::json!(["big/zz/byStatus/teapot418"])
    );

    // The cap: the first 100 in tree order, and it says there were more.
    let capped = get(&format!("{}?search=hit", server.url())).json();
    let matches = capped["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 100);
    assert_eq!(matches[0], "hits/hit000");
    assert_eq!(capped["capped"], true);
    let none = get(&format!("{}?search=nowhere", server.url())).json();
    assert_eq!(none["matches"], serde_json::json!([]));

    for (query, says) in [
        ("search=", "Empty search"),
        ("search=%20", "Empty search"),
        ("search=x&format=prometheus", "answers JSON"),
        ("search=x&format=html", "answers JSON"),
    ] {
        let got = get(&format!("{}?{query}", server.url()));
        assert_eq!(got.status, 400, "{query}: {}", got.body);
        assert!(got.body.contains(says), "{query}: {}", got.body);
    }
    let long = get(&format!("{}?search={}", server.url(), "x".repeat(201)));
    assert_eq!(long.status, 400);
    assert!(
        long.body.contains("at most 200 characters"),
        "{}",
        long.body
    );
    assert_eq!(get(&format!("{}nope/?search=x", server.url())).status, 404);
}
