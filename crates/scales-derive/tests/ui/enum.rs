//! An enum has no fields to declare stats from.
#[derive(scales::Stats)]
enum WebStats {
    Requests(scales::IntStat),
}

fn main() {}
