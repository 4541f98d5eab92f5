//! Tuple fields have no names to name the stats by.
#[derive(scales::Stats)]
struct WebStats(scales::IntStat, scales::PmfStat);

fn main() {}
