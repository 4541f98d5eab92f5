//! A case `rename_all` does not know.
#[derive(scales::Stats)]
#[stat(rename_all = "Title Case")]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
