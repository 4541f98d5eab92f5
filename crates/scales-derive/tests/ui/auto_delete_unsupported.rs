//! `auto_delete` on a stat type that ignores it.
use scales::IntStat;

#[derive(scales::Stats)]
struct WebStats {
    #[stat(auto_delete)]
    active: IntStat,
    #[stat(name = "latencies", auto_delete)]
    latency: scales::PmfStat,
}

fn main() {}
