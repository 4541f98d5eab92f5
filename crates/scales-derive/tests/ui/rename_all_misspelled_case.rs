//! A known case with the wrong capitals: the error says which was meant.
#[derive(scales::Stats)]
#[stat(rename_all = "camelcase")]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
