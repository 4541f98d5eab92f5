//! The original README's examples in Rust: declares its stats, records some values, and
//! prints the whole tree as pretty JSON (what `?format=prettyjson` serves).
//!
//! Run with `cargo run --release -p scales-core --example readme`.

use std::thread;
use std::time::Duration;

use scales::format::json::{self, Style};
use scales::Stats;

#[derive(Stats)]
struct WebStats {
    errors: scales::IntStat,
    success: scales::IntStat,
    latency: scales::PmfStat,
    hits: scales::MeterStat,
}

#[derive(Stats)]
struct HandlerStats {
    requests: scales::IntStat,
    latency: scales::PmfStat,
    #[stat(name = "byPath")]
    by_path: scales::IntDictStat,
}

#[derive(Stats)]
struct ProcessorStats {
    #[stat(name = "state")]
    thread_states: scales::HistogramAggregationStat,
    finished: scales::SumAggregationStat,
}

#[derive(Stats)]
struct ThreadStats {
    state: scales::Stat,
    finished: scales::IntStat,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // "How to use it" and "Timing sections of code".
    let web = scales::init::<WebStats>("/web")?;
    web.success.inc();
    for ms in [12.0, 15.0, 11.0, 30.0, 14.0, 13.0, 250.0, 16.0, 12.0, 18.0] {
        web.latency.record(ms / 1000.0);
    }
    {
        let _timer = web.latency.time();
        thread::sleep(Duration::from_millis(17));
    }

    // "Metering rates".
    web.hits.mark();
    web.hits.add(4);
    web.hits.add(5);

    // "Class stats".
    let handler = scales::init::<HandlerStats>("/handler")?;
    for path in ["/index", "/about", "/index"] {
        let _timer = handler.latency.time();
        thread::sleep(Duration::from_millis(5));
        handler.requests.inc();
        handler.by_path.inc(path);
    }

    // "Gauges".
    let gauges = scales::collection("/gauges")?;
    gauges.gauge("currentTime", || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })?;

    // "Hierarchical stats and aggregation": worker threads really run here.
    let processor = scales::init::<ProcessorStats>("/processor")?;
    let workers: Vec<_> = [3, 2, 1]
        .into_iter()
        .enumerate()
        .map(|(i, tasks)| {
            let stats = processor.init_child::<ThreadStats>(&format!("thread-{i}"))?;
            Ok(thread::spawn(move || {
                for _ in 0..tasks {
                    stats.state.set("waitingForTask");
                    stats.state.set("performingTask");
                    thread::sleep(Duration::from_millis(2));
                    stats.finished.inc();
                }
                stats.state.set(if i == 1 {
                    "performingTask"
                } else {
                    "waitingForTask"
                });
                stats
            }))
        })
        .collect::<Result<_, scales::Error>>()?;
    let threads: Vec<_> = workers
        .into_iter()
        .map(|w| w.join().expect("worker panicked"))
        .collect();

    print!("{}", json::to_string(&scales::snapshot(), Style::Pretty));
    drop(threads);
    Ok(())
}
