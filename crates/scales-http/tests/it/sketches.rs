//! `?format=json&sketches=1`: distributions carry their sketches, which read back exactly.

use scales::format::json;
use scales::StatValue;

use crate::support::{fixture, get, serve};

#[test]
fn json_with_sketches_reads_back_the_exact_distribution() {
    let _shared = crate::support::shared();
    let f = fixture();
    let server = serve(&f.registry);
    let base = server.url();
    let plain = get(&format!("{base}?format=json"));
    assert!(!plain.body.contains("\"sketch\""), "{}", plain.body);
    // The meter's mean rate moves with time: compare a distribution alone.
    let latency = get(&format!("{base}web/latency?format=json"));
    let off = get(&format!("{base}web/latency?format=json&sketches=0"));
    assert_eq!(off.body, latency.body);
    for format in ["json", "prettyjson"] {
        let got = get(&format!("{base}?format={format}&sketches=1"));
        assert_eq!(got.status, 200, "{}", got.body);
        assert!(got.body.contains("\"sketch\": {\"v\":1,"), "{}", got.body);
        let back = json::parse(got.body.as_bytes()).unwrap();
        let StatValue::Distribution(sketch) = &back.stat("/web/latency").unwrap().value else {
            panic!("{:?}", back.stat("/web/latency"));
        };
        assert_eq!(**sketch, f.latency.snapshot());
    }
    // A sub-tree too.
    let web = get(&format!("{base}web?format=json&sketches=1"));
    assert!(web.body.contains("\"sketch\""), "{}", web.body);
    let bad = get(&format!("{base}?format=json&sketches=maybe"));
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Bad sketches value \"maybe\""),
        "{}",
        bad.body
    );
}
