//! Every attribute form the derive takes, declared in a registry and checked by name.
use scales::{Declare, HistogramAggregationStat, IntDictStat, IntStat, Stats};

#[derive(Stats)]
struct Plain {
    requests: IntStat,
    latency: scales::PmfStat,
    hits: ::scales::MeterStat,
    r#type: scales::Stat,
}

#[derive(scales::Stats)]
struct Attributes {
    #[stat(name = "byPath")]
    by_path: IntDictStat,
    #[stat(auto_delete)]
    active: IntDictStat,
    #[stat(name = "activeStates", auto_delete)]
    active_states: HistogramAggregationStat,
    #[stat(auto_delete, name = "trailing")]
    comma: scales::IntDictStat,
    #[stat(name = "split")]
    #[stat(auto_delete)]
    two_attributes: IntDictStat,
    #[stat()]
    empty: IntStat,
    #[stat(name = "with space, ünïcode and.dots")]
    odd: IntStat,
}

#[derive(Stats)]
#[stat(rename_all = "camelCase")]
struct Camel {
    by_path: IntDictStat,
    #[stat(name = "kept_as_is")]
    explicit: IntStat,
}

#[derive(Stats)]
#[stat(rename_all = "PascalCase")]
struct Pascal {
    by_path: IntDictStat,
}

#[derive(Stats)]
#[stat(rename_all = "snake_case")]
struct Snake {
    by_path: IntDictStat,
}

#[derive(Stats)]
#[stat(rename_all = "kebab-case")]
struct Kebab {
    by_path: IntDictStat,
}

#[derive(Stats)]
#[stat(rename_all = "SCREAMING_SNAKE_CASE")]
#[stat()]
struct Screaming {
    by_path: IntDictStat,
}

/// A generic set; `auto_delete` on a type parameter is left to the type.
#[derive(Stats)]
struct Generic<S: Declare, T>
where
    T: Declare,
{
    #[stat(auto_delete)]
    first: S,
    second: T,
}

#[derive(Stats)]
struct Empty {}

fn names<T: Stats>(path: &str) -> Vec<&'static str> {
    let registry = scales::Registry::new();
    registry.init::<T>(path).unwrap().stat_names()
}

fn main() {
    assert_eq!(
        names::<Plain>("/p"),
        ["requests", "latency", "hits", "type"]
    );
    assert_eq!(
        names::<Attributes>("/a"),
        [
            "byPath",
            "active",
            "activeStates",
            "trailing",
            "split",
            "empty",
            "with space, ünïcode and.dots"
        ]
    );
    assert_eq!(names::<Camel>("/c"), ["byPath", "kept_as_is"]);
    assert_eq!(names::<Pascal>("/c"), ["ByPath"]);
    assert_eq!(names::<Snake>("/c"), ["by_path"]);
    assert_eq!(names::<Kebab>("/c"), ["by-path"]);
    assert_eq!(names::<Screaming>("/c"), ["BY_PATH"]);
    assert_eq!(
        names::<Generic<IntDictStat, IntStat>>("/g"),
        ["first", "second"]
    );
    assert!(names::<Empty>("/e").is_empty());
}
