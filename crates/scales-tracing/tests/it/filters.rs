//! The target list of the builder, and tracing-subscriber's per-layer filters.

use scales_tracing::ScalesLayer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::{counts, exists, int, manual_registry, CloseCounter};

/// Emits one span and one event on each of these targets.
fn emit_on_targets() {
    tracing::info_span!(target: "my_crate", "root")
        .in_scope(|| tracing::info!(target: "my_crate", "x"));
    tracing::info_span!(target: "my_crate::db", "query")
        .in_scope(|| tracing::info!(target: "my_crate::db", "x"));
    tracing::info_span!(target: "my_crate_extra", "other")
        .in_scope(|| tracing::info!(target: "my_crate_extra", "x"));
    tracing::info_span!(target: "tower_http::trace", "request")
        .in_scope(|| tracing::info!(target: "tower_http::trace", "x"));
    tracing::info_span!(target: "hyper", "conn").in_scope(|| tracing::info!(target: "hyper", "x"));
}

#[test]
fn with_targets_records_only_those_targets_and_their_modules() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::builder()
        .with_targets(["my_crate", "tower_http"])
        .build(&registry)?;
    let others = CloseCounter::default();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(others.clone());
    tracing::subscriber::with_default(subscriber, emit_on_targets);

    assert_eq!(int(&registry, "/spans/my_crate/root/closed"), 1);
    assert_eq!(int(&registry, "/spans/my_crate::db/query/closed"), 1);
    assert_eq!(int(&registry, "/spans/tower_http::trace/request/closed"), 1);
    assert!(!exists(&registry, "/spans/my_crate_extra"));
    assert!(!exists(&registry, "/spans/hyper"));
    let expected: Vec<(String, i64)> = ["my_crate", "my_crate::db", "tower_http::trace"]
        .iter()
        .map(|target| ((*target).to_owned(), 1))
        .collect();
    assert_eq!(counts(&registry, "/events/info"), expected);
    // The other layer saw every span close.
    assert_eq!(others.get(), 5);
    Ok(())
}

#[test]
fn an_empty_target_list_records_nothing() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::builder()
        .with_targets(Vec::<String>::new())
        .build(&registry)?;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit_on_targets);
    match registry.snapshot().get("/spans") {
        Some(scales::Node::Group(group)) => assert!(group.entries.is_empty(), "{group:?}"),
        other => panic!("/spans should be an empty container: {other:?}"),
    }
    assert_eq!(counts(&registry, "/events/info"), Vec::new());
    Ok(())
}

#[test]
fn a_per_layer_level_filter_is_respected() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::new(&registry)?.with_filter(LevelFilter::INFO);
    let others = CloseCounter::default();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(others.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!(target: "app", "kept").in_scope(|| {
            tracing::warn!(target: "app", "kept");
            tracing::debug!(target: "app", "dropped");
        });
        tracing::debug_span!(target: "app", "dropped").in_scope(|| {});
    });
    assert_eq!(int(&registry, "/spans/app/kept/closed"), 1);
    assert!(!exists(&registry, "/spans/app/dropped"));
    assert_eq!(
        counts(&registry, "/events/warn"),
        vec![("app".to_owned(), 1)]
    );
    assert_eq!(counts(&registry, "/events/debug"), Vec::new());
    assert_eq!(others.get(), 2);
    Ok(())
}

#[test]
fn a_per_layer_targets_filter_is_respected() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let filter = Targets::new().with_target("my_crate::db", LevelFilter::TRACE);
    let layer = ScalesLayer::new(&registry)?.with_filter(filter);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit_on_targets);
    assert_eq!(int(&registry, "/spans/my_crate::db/query/closed"), 1);
    assert!(!exists(&registry, "/spans/my_crate"));
    assert_eq!(
        counts(&registry, "/events/info"),
        vec![("my_crate::db".to_owned(), 1)]
    );
    Ok(())
}
