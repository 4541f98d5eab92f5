//! A struct attribute the derive does not know (`rename`, meant `rename_all`).
#[derive(scales::Stats)]
#[stat(rename = "camelCase")]
struct WebStats {
    requests: scales::IntStat,
}

fn main() {}
