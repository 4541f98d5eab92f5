//! Two `rename_all`s: which one wins is not guessed.
#[derive(scales::Stats)]
#[stat(rename_all = "camelCase")]
#[stat(rename_all = "kebab-case")]
struct WebStats {
    by_path: scales::IntDictStat,
}

fn main() {}
