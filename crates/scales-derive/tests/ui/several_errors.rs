//! Every error of a struct is reported in one build, not one per build.
#[derive(scales::Stats)]
#[stat(rename_all = "camel")]
struct WebStats {
    #[stat(name = "")]
    requests: scales::IntStat,
    #[stat(auto_delete = "yes")]
    active: scales::IntDictStat,
}

fn main() {}
