//! A field whose type is no scales stat (does not implement `scales::Declare`).
#[derive(scales::Stats)]
struct WebStats {
    requests: scales::IntStat,
    count: u64,
}

fn main() {}
