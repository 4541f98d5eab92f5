//! A unit struct declares no stat.
#[derive(scales::Stats)]
struct WebStats;

fn main() {}
