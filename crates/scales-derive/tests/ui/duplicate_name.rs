//! Two fields declared under one stat name.
#[derive(scales::Stats)]
struct WebStats {
    hits: scales::MeterStat,
    #[stat(name = "hits")]
    hits_total: scales::IntStat,
}

fn main() {}
