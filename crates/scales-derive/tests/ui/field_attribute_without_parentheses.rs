//! `#[stat]` on a field, with nothing in it.
#[derive(scales::Stats)]
struct WebStats {
    #[stat]
    requests: scales::IntStat,
}

fn main() {}
