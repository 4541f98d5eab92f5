//! A stat name with a control character.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(name = "hits\n")]
    hits: scales::MeterStat,
}

fn main() {}
