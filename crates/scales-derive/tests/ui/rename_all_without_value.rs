//! `rename_all` without a case.
#[derive(scales::Stats)]
#[stat(rename_all)]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
