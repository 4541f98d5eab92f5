//! `#[stat = "..."]` on the struct, as if it took one value.
#[derive(scales::Stats)]
#[stat = "camelCase"]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
