//! A field attribute the derive does not know (a typo of `name`).
#[derive(scales::Stats)]
struct WebStats {
    #[stat(nmae = "hitsTotal")]
    hits: scales::MeterStat,
}

fn main() {}
