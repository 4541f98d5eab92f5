//! The JSON reader (`scales::format::json::parse`) on any bytes: it must never panic, and
//! whatever it accepts must write back (with sketches) into text it reads again into the
//! same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scales::format::json;

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = json::parse(data) {
        let text = json::to_string(&snapshot, json::Options::default().with_sketches());
        let again = json::parse(text.as_bytes()).expect("the writer's text reads back");
        let text_again = json::to_string(&again, json::Options::default().with_sketches());
        assert_eq!(text, text_again);
    }
});
