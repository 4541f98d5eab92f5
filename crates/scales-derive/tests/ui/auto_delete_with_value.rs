//! `auto_delete` is a flag, not `= true`.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(auto_delete = true)]
    active: scales::IntDictStat,
}

fn main() {}
