//! The `?query=` language: any input parses or is rejected with an error, and a parsed
//! query filters every kind of stat and renders without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scales::format::json;
use scales::query;

mod tree;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = query::parse(text) else {
        return;
    };
    let _ = parsed.key();
    let _ = parsed.comparison();
    let snapshot = tree::snapshot();
    if let Some(node) = query::filter(snapshot.root(), &parsed) {
        let _ = json::to_string(
            &scales::Snapshot::new(scales::StatPath::root(), node, snapshot.taken_at()),
            json::Style::Compact,
        );
    }
});
