//! The case written as an identifier instead of a string.
#[derive(scales::Stats)]
#[stat(rename_all = camelCase)]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
