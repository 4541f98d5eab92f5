//! A field's name after `rename_all` is the explicit name of another.
#[derive(scales::Stats)]
#[stat(rename_all = "camelCase")]
struct WebStats {
    #[stat(name = "byPath")]
    paths: scales::IntDictStat,
    by_path: scales::IntDictStat,
}

fn main() {}
