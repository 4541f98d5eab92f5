//! Event counts by level and target.

use scales_tracing::ScalesLayer;

use crate::{counts, manual_registry, with_layer};

fn pairs(entries: &[(&str, i64)]) -> Vec<(String, i64)> {
    entries
        .iter()
        .map(|(key, n)| ((*key).to_owned(), *n))
        .collect()
}

#[test]
fn events_are_counted_by_level_and_target() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        for _ in 0..3 {
            tracing::info!(target: "my_crate::db", "query");
        }
        tracing::info!(target: "my_crate", "started");
        tracing::warn!(target: "my_crate", "slow");
        tracing::warn!(target: "my_crate", "slow again");
        tracing::error!(target: "my_crate::db", "lost connection");
        tracing::debug!(target: "my_crate::db", "detail");
        // Inside a span, an event is counted the same.
        tracing::info_span!(target: "my_crate", "request")
            .in_scope(|| tracing::trace!(target: "my_crate::db", "row"));
    });
    assert_eq!(
        counts(&registry, "/events/info"),
        pairs(&[("my_crate", 1), ("my_crate::db", 3)])
    );
    assert_eq!(counts(&registry, "/events/warn"), pairs(&[("my_crate", 2)]));
    assert_eq!(
        counts(&registry, "/events/error"),
        pairs(&[("my_crate::db", 1)])
    );
    assert_eq!(
        counts(&registry, "/events/debug"),
        pairs(&[("my_crate::db", 1)])
    );
    assert_eq!(
        counts(&registry, "/events/trace"),
        pairs(&[("my_crate::db", 1)])
    );
    Ok(())
}

#[test]
fn the_level_dicts_exist_before_any_event() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let _layer = ScalesLayer::new(&registry)?;
    for level in ["error", "warn", "info", "debug", "trace"] {
        assert_eq!(
            counts(&registry, &format!("/events/{level}")),
            Vec::new(),
            "{level}"
        );
    }
    Ok(())
}

#[test]
fn targets_beyond_the_cap_count_under_other() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::builder()
        .max_event_targets(2)
        .build(&registry)?;
    with_layer(layer, || {
        for _ in 0..2 {
            tracing::info!(target: "a", "x");
            tracing::warn!(target: "b", "x");
            tracing::info!(target: "c", "x");
            tracing::error!(target: "d", "x");
            // A second callsite of a counted target keeps its key.
            tracing::error!(target: "a", "x");
        }
    });
    assert_eq!(
        counts(&registry, "/events/info"),
        pairs(&[("a", 2), ("other", 2)])
    );
    assert_eq!(counts(&registry, "/events/warn"), pairs(&[("b", 2)]));
    assert_eq!(
        counts(&registry, "/events/error"),
        pairs(&[("a", 2), ("other", 2)])
    );
    Ok(())
}

#[test]
fn custom_paths() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::builder()
        .spans_path("/tracing/spans")
        .events_path("/tracing/events")
        .build(&registry)?;
    with_layer(layer, || {
        tracing::info_span!(target: "app", "work")
            .in_scope(|| tracing::info!(target: "app", "hello"));
    });
    assert_eq!(
        counts(&registry, "/tracing/events/info"),
        pairs(&[("app", 1)])
    );
    assert_eq!(crate::int(&registry, "/tracing/spans/app/work/closed"), 1);
    assert!(!crate::exists(&registry, "/spans"));
    assert!(!crate::exists(&registry, "/events"));
    Ok(())
}

#[test]
fn build_fails_on_a_clashing_or_invalid_path() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let _events = registry.scope("/")?.int_stat("events")?;
    assert!(ScalesLayer::new(&registry).is_err());
    let _info = registry.scope("/elsewhere")?.pmf_stat("info")?;
    assert!(ScalesLayer::builder()
        .events_path("/elsewhere")
        .build(&registry)
        .is_err());
    assert!(ScalesLayer::builder()
        .spans_path("/a//b")
        .events_path("/ok")
        .build(&registry)
        .is_err());
    Ok(())
}
