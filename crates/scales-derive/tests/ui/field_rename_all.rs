//! `rename_all` written on a field.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(rename_all = "camelCase")]
    by_path: scales::IntDictStat,
}

fn main() {}
