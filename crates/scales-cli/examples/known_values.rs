//! A server whose stats are known in advance, for `scales aggregate`'s tests: instance `I`
//! records `COUNT` latencies `value(I, k)`, counts `COUNT + I` requests and `I` errors, and
//! records two keyed distributions, then serves its status page on a free 127.0.0.1 port
//! (printing the URL on stdout) and/or writes a dump.
//!
//! ```sh
//! cargo run -p scales-cli --example known_values -- --instance 2 --serve
//! cargo run -p scales-cli --example known_values -- --instance 2 --dump /tmp/web2.json
//! ```
//!
//! With `--serve` it runs until its stdin closes (or it is killed).

use std::io::{BufRead as _, Write as _};

/// Latencies recorded by each instance.
pub const COUNT: u64 = 2000;

/// The `k`-th latency (seconds) of instance `instance`: spread over three decades, each
/// instance shifted, so that the fleet's percentiles differ from every instance's.
pub fn value(instance: u64, k: u64) -> f64 {
    let spread = ((k * 7919 + instance * 104_729) % 10_007) as f64 / 10_007.0;
    1e-4 * (1.0 + instance as f64) * 10f64.powf(3.0 * spread)
}

fn main() {
    let mut instance = 0;
    let mut serve = false;
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--instance" => {
                instance = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--instance N")
            }
            "--serve" => serve = true,
            "--dump" => dump = Some(args.next().expect("--dump FILE")),
            other => panic!("unknown argument {other}"),
        }
    }
    let registry = scales::Registry::new();
    let web = registry.scope("/web").expect("a valid path");
    let latency = web.pmf_stat("latency").expect("a valid name");
    for k in 0..COUNT {
        latency.record(value(instance, k));
    }
    web.int_stat("requests")
        .expect("a valid name")
        .add((COUNT + instance) as i64);
    web.int_stat("errors")
        .expect("a valid name")
        .add(instance as i64);
    web.stat("version")
        .expect("a valid name")
        .set(if instance % 2 == 0 { "1.2" } else { "1.3" });
    let by_path = web.named_pmf_dict_stat("byPath").expect("a valid name");
    for k in 0..100 {
        by_path.record("/index", value(instance, k) * 2.0);
        by_path.record("/about", value(instance + 7, k));
    }
    if let Some(path) = dump {
        registry.dump_to(&path).expect("the dump is written");
    }
    if serve {
        let server = scales_http::Config::new(&format!("known-values-{instance}"))
            .registry(&registry)
            .serve_in_background(0)
            .expect("a free port on 127.0.0.1");
        println!("{}", server.url());
        std::io::stdout().flush().expect("stdout");
        // Until the parent closes our stdin.
        let mut line = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut line)
            .is_ok_and(|n| n > 0)
        {
            line.clear();
        }
        server.stop();
    }
}
