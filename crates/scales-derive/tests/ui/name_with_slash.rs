//! A stat name with `/`, which only paths have.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(name = "web/hits")]
    hits: scales::MeterStat,
}

fn main() {}
