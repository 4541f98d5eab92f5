//! A field attribute written on the struct.
#[derive(scales::Stats)]
#[stat(auto_delete)]
struct WebStats {
    active: scales::IntDictStat,
}

fn main() {}
