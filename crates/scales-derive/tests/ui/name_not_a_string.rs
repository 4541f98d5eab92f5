//! A stat name that is not a string literal.
#[derive(scales::Stats)]
struct WebStats {
    #[stat(name = 404)]
    not_found: scales::IntStat,
}

fn main() {}
