//! `auto_delete` given twice for one field.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(auto_delete, name = "activeConnections", auto_delete)]
    active: scales::IntDictStat,
}

fn main() {}
