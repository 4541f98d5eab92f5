//! Keys inside a stat (`/status/web/latency/count`) in every format, and the history of the
//! node asked for.

use std::time::{Duration, Instant};

use crate::support::{fixture, get, serve};

const SEP: char = '\u{1f}';

#[test]
fn a_key_of_a_stat_in_every_format() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();
    let json = get(&format!("{base}web/latency/count?format=json"));
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.body, "5\n");
    assert_eq!(
        get(&format!("{base}web/latency/count/?format=prettyjson")).body,
        "5\n"
    );
    assert_eq!(
        get(&format!("{base}web/latency/max?format=json")).json(),
        0.25
    );
    assert_eq!(
        get(&format!("{base}web/hits/count?format=json")).body,
        "10\n"
    );
    assert_eq!(
        get(&format!("{base}web/hits/unit?format=json")).body,
        "\"per second\"\n"
    );

    // HTML: the stat holding only that key, as a filter would show it.
    let page = get(&format!("{base}web/latency/count"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let body = &page.body;
    assert!(
        body.contains("- Status: /web/latency/count</title>"),
        "{body}"
    );
    assert!(
        body.contains(r#"id="s:web/latency/count" data-path="web/latency/count""#),
        "{body}"
    );
    assert!(body.contains(r#"title="5">5</span>"#), "{body}");
    assert!(!body.contains(r#"id="s:web/latency/max""#));
    assert!(!body.contains(">median<"), "only the key asked for");
    assert!(body.contains(r#"<a href="/status/web/latency/">latency</a>"#));
    assert!(body.contains(r#"href="/status/web/latency/count/?format=json""#));
    assert!(
        !body.contains("format=prometheus"),
        "no Prometheus link for a key"
    );

    // Prometheus has no metric for one key: a 400 that says what to ask instead.
    let prom = get(&format!("{base}web/latency/count?format=prometheus"));
    assert_eq!(prom.status, 400);
    assert_eq!(
        prom.body,
        "The prometheus format has no metric for a key inside a stat: ask for the stat, \
         /web/latency?format=prometheus\n"
    );

    // A filter applies inside the key as on the stat's page.
    let q = |query: &str| {
        get(&format!(
            "{base}web/latency/count?format=json&query={query}"
        ))
    };
    assert_eq!(q("count%3E4").body, "5\n");
    assert_eq!(q("count%3E5").json(), serde_json::json!({}));
    assert_eq!(q("median").json(), serde_json::json!({}));
    let nothing = get(&format!("{base}web/latency/count?query=median"));
    assert_eq!(nothing.status, 200);
    assert!(!nothing.body.contains("format=prometheus"), "still a key");
    assert!(
        !nothing.body.contains("data-stat="),
        "an empty level, as it shows"
    );
}

#[test]
fn keys_holding_a_slash_are_percent_encoded() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();
    let index = get(&format!("{base}handler/byPath/%2Findex?format=json"));
    assert_eq!(index.status, 200, "{index:?}");
    assert_eq!(index.body, "1\n");
    let page = get(&format!("{base}handler/byPath/%2Findex"));
    assert!(page
        .body
        .contains(r#"id="s:handler/byPath/%2Findex" data-path="handler/byPath//index""#));
    assert!(page.body.contains(r#"title="1">1</span>"#));
    assert!(!page.body.contains(">/about<"));
    assert!(page
        .body
        .contains(r#"href="/status/handler/byPath/%2Findex/?format=json""#));
    // Unencoded, the `/` separates segments and empty segments are ignored.
    let bare = get(&format!("{base}handler/byPath//index?format=json"));
    assert_eq!(bare.status, 404);
    assert_eq!(bare.body, "No key \"index\" in stat /handler/byPath\n");
    // Names of groups and stats never hold a `/`: an encoded one is no path.
    let name = get(&format!("{base}we%2Fb?format=json"));
    assert_eq!(name.status, 404);
    assert_eq!(name.body, "No stats found with path /we/b\n");
}

#[test]
fn keys_at_any_depth_and_unknown_keys() {
    let _shared = crate::support::shared();
    let registry = scales::Registry::new();
    let scope = registry.scope("/x").unwrap();
    let dists = scope.named_pmf_dict_stat("dists").unwrap();
    dists.record("a/b", 2.0);
    dists.record("a/b", 4.0);
    let success = scope.int_stat("success").unwrap();
    success.add(2);
    let _broken = crate::support::broken_gauge(&registry);
    let server = serve(&registry);
    let base = server.url();
    assert_eq!(
        get(&format!("{base}x/dists/a%2Fb/max?format=json")).body,
        "4.0\n"
    );
    let whole = get(&format!("{base}x/dists/a%2Fb?format=json")).json();
    assert_eq!(whole["count"], 2);
    let page = get(&format!("{base}x/dists/a%2Fb/max"));
    assert!(
        page.body
            .contains(r#"id="s:x/dists/a%2Fb/max" data-path="x/dists/a/b/max""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"title="4">4</span>"#));

    let missing = |path: &str| {
        let got = get(&format!("{base}{path}"));
        assert_eq!(got.status, 404, "{path}");
        assert_eq!(
            got.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        got.body
    };
    assert_eq!(
        missing("x/dists/nope"),
        "No key \"nope\" in stat /x/dists\n"
    );
    assert_eq!(
        missing("x/dists/a%2Fb/nope?format=json"),
        "No key \"nope\" in stat /x/dists, under \"a/b\"\n"
    );
    assert_eq!(
        missing("x/dists/a%2Fb/max/more"),
        "No key \"more\" in stat /x/dists, under \"a/b\" › \"max\": it has no keys\n"
    );
    assert_eq!(
        missing("x/success/x"),
        "No key \"x\" in stat /x/success: it has no keys\n"
    );
    assert_eq!(
        missing("gauges/broken/error"),
        "No key \"error\" in stat /gauges/broken: it could not be read\n"
    );
    assert_eq!(
        missing("x/nope/count"),
        "No stats found with path /x/nope/count\n"
    );
    assert_eq!(
        missing("x/dists/%3Cb%3E?format=prometheus"),
        "No key \"<b>\" in stat /x/dists\n"
    );
}

/// The history at `url` once it holds a few samples.
fn history(url: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(url);
        assert_eq!(got.status, 200, "{got:?}");
        let h = got.json();
        if h["times"].as_array().map_or(0, Vec::len) >= 2 {
            return h;
        }
        assert!(Instant::now() < deadline, "no history after 10 s: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn series_keys(h: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = h["series"].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn history_answers_for_the_node_asked_for() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();

    // One stat: its numbers only, keyed from the group that holds it, as its page shows it.
    let stat = history(&format!("{base}web/latency?format=history"));
    assert_eq!(stat["kinds"], serde_json::json!({"latency": "PmfStat"}));
    let keys = series_keys(&stat);
    assert!(keys.contains(&format!("latency{SEP}count")), "{keys:?}");
    assert!(keys.contains(&format!("latency{SEP}median")), "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with(&format!("latency{SEP}"))),
        "only /web/latency: {keys:?}"
    );
    assert_eq!(stat["series"][format!("latency{SEP}count")][0], 5.0);

    // A scalar stat: one series.
    let success = history(&format!("{base}web/success?format=history"));
    assert_eq!(series_keys(&success), ["success"]);
    assert_eq!(success["kinds"], serde_json::json!({"success": "IntStat"}));

    // One key of a stat.
    let count = history(&format!("{base}web/latency/count?format=history"));
    assert_eq!(series_keys(&count), [format!("latency{SEP}count")]);
    assert_eq!(count["kinds"], serde_json::json!({"latency": "PmfStat"}));
    let index = history(&format!("{base}handler/byPath/%2Findex?format=history"));
    assert_eq!(series_keys(&index), [format!("byPath{SEP}/index")]);

    // A group: everything below it, nothing beside it.
    let web = history(&format!("{base}web?format=history"));
    let keys = series_keys(&web);
    assert!(keys.contains(&"success".to_owned()));
    assert!(keys.contains(&format!("latency{SEP}count")));
    assert!(!keys.iter().any(|k| k.contains("byPath")), "{keys:?}");
    assert_eq!(web["kinds"]["hits"], "MeterStat");

    // The whole tree.
    let all = history(&format!("{base}?format=history"));
    let keys = series_keys(&all);
    assert!(keys.contains(&format!("web{SEP}success")));
    assert!(keys.contains(&format!("handler{SEP}byPath{SEP}/index")));
}
