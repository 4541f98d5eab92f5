//! Two names for one field.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(name = "hits")]
    #[stat(name = "hitsTotal")]
    hits: scales::MeterStat,
}

fn main() {}
