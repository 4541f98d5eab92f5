//! The README's "Status page" example: serve the global registry's stats on
//! http://127.0.0.1:8765/status/ while the program works.
//!
//! Run with `cargo run -p scales-http --example status_page` (it stops after 30 s; pass a
//! number of seconds to change that, 0 to stop at once).

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(30), |s| s.parse())?;

    let web = scales::collection("/web")?;
    let hits = web.meter_stat("hits")?;
    let latency = web.pmf_stat("latency")?;

    // One line: the page on 127.0.0.1:8765, served from a background thread.
    let server = scales_http::serve_in_background(8765, "something-server-42")?;
    println!("stats at {}", server.url());

    for i in 0..seconds * 10 {
        hits.mark();
        latency.record(0.010 + (i % 7) as f64 / 1000.0);
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop(); // or let it drop
    Ok(())
}
