//! A union has no fields to declare stats from.
#[derive(scales::Stats)]
union WebStats {
    requests: u64,
}

fn main() {}
