//! An empty stat name.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(name = "")]
    requests: scales::IntStat,
}

fn main() {}
