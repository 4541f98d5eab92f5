//! Stat names and paths from outside: declaring, looking up and naming for Prometheus never
//! panic, and whatever is accepted round-trips through the tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scales::format::prometheus;

mod tree;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let valid_name = scales::validate_name(text).is_ok();
    let reg = scales::Registry::new();
    if let Ok(scope) = reg.collection(text) {
        let stat = scope.int_stat("n").unwrap();
        stat.inc();
        // Whatever path was accepted is found again by the same text.
        let snapshot = reg.snapshot();
        let path = format!("{}/n", text.trim_end_matches('/'));
        assert!(snapshot.stat(&path).is_some(), "{path:?}");
        assert!(reg.snapshot_at(text).is_some(), "{text:?}");
    }
    if valid_name {
        assert!(reg.collection("/x").unwrap().int_stat(text).is_ok());
    }
    let _ = tree::registry().snapshot_at(text);
    let _ = tree::snapshot().get(text);
    let segments: Vec<&str> = text.split('/').collect();
    let name = prometheus::metric_name("", &segments);
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "{name:?}"
    );
    assert!(!name.starts_with(|c: char| c.is_ascii_digit()), "{name:?}");
});
