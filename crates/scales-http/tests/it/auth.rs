//! Optional authentication: a bearer token, basic credentials or both, on every route and
//! format; 401 with a challenge otherwise; the host's own routes left alone.

use base64::Engine as _;

use crate::support::{agent, config, fixture, serve_app, Got};

const TOKEN: &str = "9f1c2a7e-token-for-the-tests";
const USER: &str = "ops";
const PASSWORD: &str = "correct horse battery staple";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `GET url` with `Authorization: authorization`, when given.
fn get_as(url: &str, authorization: Option<&str>) -> Got {
    let mut request = agent().get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap();
    Got {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

/// Every kind of URL the routes answer, relative to the server's root.
const URLS: &[&str] = &[
    "/status/",
    "/status",
    "/status/web",
    "/status/web/latency/count",
    "/status/?format=json",
    "/status/?format=prettyjson",
    "/status/?format=prometheus",
    "/status/?format=history",
    "/status/web?format=history",
    "/status/?query=success",
    "/metrics",
    "/status/no/such/stat",
    "/elsewhere",
];

fn assert_refused(got: &Got, challenges: &[&str], url: &str) {
    assert_eq!(got.status, 401, "{url}: {got:?}");
    let offered: Vec<&str> = got
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(offered, challenges, "{url}");
    assert_eq!(got.header("cache-control"), Some("no-store"));
    assert!(got.header("content-security-policy").is_some());
    assert!(!got.body.contains("success"), "{url}: {}", got.body);
}

#[test]
fn a_bearer_token_guards_every_route_and_format() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = config(&f.registry)
        .bearer_token(TOKEN)
        .serve_in_background(0)
        .unwrap();
    let root = server.url().trim_end_matches("/status/").to_owned();
    let challenge = ["Bearer realm=\"scales\""];
    for url in URLS {
        let url = format!("{root}{url}");
        assert_refused(&get_as(&url, None), &challenge, &url);
        for wrong in [
            format!("Bearer {TOKEN}x"),
            format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
            format!("Bearer {}", TOKEN.to_uppercase()),
            TOKEN.to_owned(),
            basic(USER, TOKEN),
        ] {
            assert_refused(&get_as(&url, Some(&wrong)), &challenge, &url);
        }
        let got = get_as(&url, Some(&format!("Bearer {TOKEN}")));
        assert!(
            matches!(got.status, 200 | 308 | 404),
            "{url}: {} {}",
            got.status,
            got.body
        );
    }
    let page = get_as(&server.url(), Some(&format!("bearer {TOKEN}")));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("success"));
    let metrics = get_as(&format!("{root}/metrics"), Some(&format!("Bearer {TOKEN}")));
    assert!(metrics.body.contains("web_success 3"), "{}", metrics.body);
}

#[test]
fn basic_credentials_guard_every_route_and_either_works_when_both_are_set() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = config(&f.registry)
        .basic_auth(USER, PASSWORD)
        .serve_in_background(0)
        .unwrap();
    let root = server.url().trim_end_matches("/status/").to_owned();
    let challenge = ["Basic realm=\"scales\", charset=\"UTF-8\""];
    for url in URLS {
        let url = format!("{root}{url}");
        assert_refused(&get_as(&url, None), &challenge, &url);
        for wrong in [
            basic(USER, "correct horse battery stapl"),
            basic("Ops", PASSWORD),
            basic("", PASSWORD),
            basic(USER, ""),
            format!("Bearer {PASSWORD}"),
        ] {
            assert_refused(&get_as(&url, Some(&wrong)), &challenge, &url);
        }
        let got = get_as(&url, Some(&basic(USER, PASSWORD)));
        assert!(matches!(got.status, 200 | 308 | 404), "{url}: {got:?}");
    }

    let both = config(&f.registry)
        .basic_auth(USER, PASSWORD)
        .bearer_token(TOKEN)
        .serve_in_background(0)
        .unwrap();
    let url = format!("{}?format=json", both.url());
    let refused = get_as(&url, Some("Bearer nope"));
    assert_refused(&refused, &[challenge[0], "Bearer realm=\"scales\""], &url);
    assert_eq!(get_as(&url, Some(&basic(USER, PASSWORD))).status, 200);
    assert_eq!(get_as(&url, Some(&format!("Bearer {TOKEN}"))).status, 200);
}

#[test]
fn mounted_routes_ask_for_credentials_and_the_hosts_routes_do_not() {
    let _shared = crate::support::shared();
    use axum::routing::get as route;

    let f = fixture();
    let app = axum::Router::new()
        .route("/", route(|| async { "the app" }))
        .merge(config(&f.registry).basic_auth(USER, PASSWORD).router());
    let app = serve_app(app);
    let base = format!("http://{}", app.addr);
    assert_eq!(get_as(&format!("{base}/"), None).status, 200);
    for url in ["/status/", "/metrics", "/status/?format=history"] {
        let url = format!("{base}{url}");
        assert_eq!(get_as(&url, None).status, 401, "{url}");
        assert_eq!(
            get_as(&url, Some(&basic(USER, PASSWORD))).status,
            200,
            "{url}"
        );
    }
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let _shared = crate::support::shared();
    let config = scales_http::Config::new("x")
        .bearer_token(TOKEN)
        .basic_auth(USER, PASSWORD);
    let shown = format!("{config:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
#[should_panic(expected = "empty bearer token")]
fn an_empty_token_is_refused() {
    let _shared = crate::support::shared();
    let _ = scales_http::Config::new("x").bearer_token("");
}

#[test]
#[should_panic(expected = "cannot hold ':'")]
fn a_user_name_with_a_colon_is_refused() {
    let _shared = crate::support::shared();
    let _ = scales_http::Config::new("x").basic_auth("a:b", "pw");
}
