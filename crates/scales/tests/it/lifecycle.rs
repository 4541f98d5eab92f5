//! How stats enter and leave the tree: dropping owners, shared paths, what aggregations keep
//! of departed children, `reset`, collapsing, and snapshots of parts of the tree.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scales::{
    HistogramAggregationStat, IntDictStat, IntDictSumAggregationStat, IntStat, Node,
    PmfAggregationStat, PmfStat, Registry, Stat, StatKind, StatOptions, StatValue, Stats,
    SumAggregationStat,
};
use serde_json::json;

use crate::support::{counts, distribution, int, map, stat_value, tree};

#[derive(Stats)]
struct Leaf {
    count: IntStat,
    latency: PmfStat,
}

#[test]
fn dropping_a_stat_set_removes_its_stats_and_prunes_empty_containers() {
    let reg = Registry::new();
    let keep = reg.scope("/a").unwrap().int_stat("kept").unwrap();
    let leaf = reg.init::<Leaf>("/a/b/c").unwrap();
    leaf.count.inc();
    assert_eq!(tree(&reg)["a"]["b"]["c"]["count"], json!(1));

    drop(leaf);
    // `/a/b/c` and the now-empty `/a/b` are gone; `/a` still holds a stat.
    assert_eq!(tree(&reg), json!({"a": {"kept": 0}}));
    drop(keep);
    assert_eq!(tree(&reg), json!({}));
}

#[test]
fn a_stat_handle_alone_keeps_its_scope_alive() {
    let reg = Registry::new();
    let scope = reg.scope("/owner").unwrap();
    let counter = scope.int_stat("n").unwrap();
    let other = scope.pmf_stat("other").unwrap();
    drop(scope);
    counter.add(3);
    // Both stats stay: the handles own the scope, not just their own stat.
    assert_eq!(
        tree(&reg)["owner"]["n"],
        json!(3),
        "the stat must stay while its handle lives"
    );
    assert!(reg.snapshot().stat("owner/other").is_some());
    drop(other);
    assert!(reg.snapshot().stat("owner/n").is_some());
    drop(counter);
    assert_eq!(tree(&reg), json!({}));
}

#[test]
fn two_objects_at_one_path_share_stats_until_both_drop() {
    let reg = Registry::new();
    let first = reg.init::<Leaf>("/same").unwrap();
    let second = reg.init::<Leaf>("/same").unwrap();
    first.count.inc();
    second.count.inc();
    assert_eq!(first.count.get(), 2);
    assert_ne!(first.scope().id(), second.scope().id());

    drop(first);
    assert_eq!(int(&stat_value(&reg, "same/count")), 2);
    second.count.inc();
    assert_eq!(int(&stat_value(&reg, "same/count")), 3);
    drop(second);
    assert!(reg.snapshot().get("same").is_none());

    // A new object at the path starts afresh.
    let third = reg.init::<Leaf>("/same").unwrap();
    assert_eq!(third.count.get(), 0);
}

#[derive(Stats)]
struct Processor {
    #[stat(name = "state")]
    states: HistogramAggregationStat,
    finished: SumAggregationStat,
    errors: IntDictSumAggregationStat,
    latency: PmfAggregationStat,
}

#[derive(Stats)]
struct Worker {
    state: Stat,
    finished: IntStat,
    errors: IntDictStat,
    latency: PmfStat,
}

#[test]
fn aggregations_after_a_child_is_dropped() {
    let reg = Registry::new();
    let processor = reg.init::<Processor>("/processor").unwrap();
    let busy = processor.init_child::<Worker>("busy").unwrap();
    let idle = processor.init_child::<Worker>("idle").unwrap();
    busy.state.set("busy");
    idle.state.set("idle");
    busy.finished.add(3);
    idle.finished.add(2);
    busy.errors.add("404", 4);
    idle.errors.add("500", 1);
    for v in [1.0, 2.0, 3.0] {
        busy.latency.record(v);
    }
    idle.latency.record(10.0);

    assert_eq!(int(&stat_value(&reg, "processor/finished")), 5);
    assert_eq!(
        counts(&stat_value(&reg, "processor/state")),
        map([("busy", 1), ("idle", 1)])
    );

    drop(busy);
    let snap = reg.snapshot();
    assert!(snap.get("/processor/busy").is_none());
    // The sum keeps the dropped child's count: totals never go backwards.
    assert_eq!(int(&snap.stat("/processor/finished").unwrap().value), 5);
    // The histogram counts live children only (a seen state stays listed at 0).
    assert_eq!(
        counts(&snap.stat("/processor/state").unwrap().value),
        map([("busy", 0), ("idle", 1)])
    );
    // Keyed sums and merged distributions keep the dropped child's data.
    assert_eq!(
        counts(&snap.stat("/processor/errors").unwrap().value),
        map([("404", 4), ("500", 1)])
    );
    let latency = distribution(&snap.stat("/processor/latency").unwrap().value);
    assert_eq!((latency.count(), latency.sum()), (4, 16.0));
    assert_eq!((latency.min(), latency.max()), (Some(1.0), Some(10.0)));

    // A new child adds on top of what was retired.
    let late = processor.init_child::<Worker>("late").unwrap();
    late.finished.add(10);
    late.errors.add("404", 1);
    assert_eq!(int(&stat_value(&reg, "processor/finished")), 15);
    assert_eq!(
        counts(&stat_value(&reg, "processor/errors")),
        map([("404", 5), ("500", 1)])
    );
    drop((idle, late));
    assert_eq!(int(&stat_value(&reg, "processor/finished")), 15);
}

#[test]
fn auto_delete_histogram_forgets_states() {
    let reg = Registry::new();
    let scope = reg.scope("/p").unwrap();
    let _states: HistogramAggregationStat = scope
        .declare_with("state", StatOptions::auto_delete())
        .unwrap();
    let a = scope.child("a").unwrap().stat("state").unwrap();
    let b = scope.child("b").unwrap().stat("state").unwrap();
    a.set("busy");
    b.set("idle");
    assert_eq!(
        counts(&stat_value(&reg, "p/state")),
        map([("busy", 1), ("idle", 1)])
    );
    drop(a);
    assert_eq!(counts(&stat_value(&reg, "p/state")), map([("idle", 1)]));
    b.set("");
    assert_eq!(counts(&stat_value(&reg, "p/state")), map([]));
}

#[test]
fn a_dropped_grandchild_counts_in_the_nearest_aggregation() {
    let reg = Registry::new();
    let root = reg.scope("/root").unwrap();
    let _sum = root.sum_aggregation_stat("n").unwrap();
    // No stat named `n` at /root/mid: the grandchildren count directly.
    let leaf1 = root.child("mid/leaf1").unwrap().int_stat("n").unwrap();
    let leaf2 = root.child("mid/leaf2").unwrap().int_stat("n").unwrap();
    leaf1.add(7);
    leaf2.add(1);
    assert_eq!(int(&stat_value(&reg, "root/n")), 8);
    drop(leaf1);
    assert_eq!(int(&stat_value(&reg, "root/n")), 8);
    drop(leaf2);
    assert_eq!(int(&stat_value(&reg, "root/n")), 8);
    // The empty intermediate container is pruned.
    assert_eq!(tree(&reg), json!({"root": {"n": 8}}));
}

#[test]
fn nested_sums_pass_totals_up_even_after_the_middle_is_dropped() {
    let reg = Registry::new();
    let root = reg.scope("/root").unwrap();
    let _total = root.sum_aggregation_stat("n").unwrap();
    let mid = root.child("mid").unwrap();
    let mid_sum = mid.sum_aggregation_stat("n").unwrap();
    let leaf = mid.child("leaf").unwrap().int_stat("n").unwrap();
    leaf.add(4);
    assert_eq!(int(&stat_value(&reg, "root/mid/n")), 4);
    assert_eq!(int(&stat_value(&reg, "root/n")), 4);
    drop(leaf);
    assert_eq!(int(&stat_value(&reg, "root/mid/n")), 4);
    drop((mid, mid_sum));
    // The middle's retired total moved up to the root.
    assert_eq!(int(&stat_value(&reg, "root/n")), 4);
}

#[test]
fn reset_empties_the_tree_and_old_handles_do_not_disturb_new_stats() {
    let reg = Registry::new();
    let old = reg.scope("/x").unwrap().int_stat("n").unwrap();
    old.add(5);
    reg.reset();
    assert_eq!(tree(&reg), json!({}));
    // Old handles keep working but are not in the tree.
    old.inc();
    assert_eq!(old.get(), 6);
    assert_eq!(tree(&reg), json!({}));

    let new = reg.scope("/x").unwrap().int_stat("n").unwrap();
    new.inc();
    drop(old);
    assert_eq!(tree(&reg), json!({"x": {"n": 1}}));
    drop(new);
    assert_eq!(tree(&reg), json!({}));
}

#[test]
fn collapsing_hides_a_container_from_json_only() {
    let reg = Registry::new();
    let hidden = reg.scope("/outer/hidden").unwrap();
    hidden.int_stat("n").unwrap().inc();
    let shown = reg.scope("/outer/shown").unwrap();
    shown.int_stat("n").unwrap().inc();

    reg.set_collapsed("/outer/hidden", true).unwrap();
    assert_eq!(tree(&reg), json!({"outer": {"shown": {"n": 1}}}));
    match reg.snapshot().get("outer/hidden") {
        Some(Node::Group(group)) => assert!(group.collapsed),
        other => panic!("{other:?}"),
    }
    // A snapshot of the collapsed container itself shows its contents.
    let own = reg.snapshot_at("/outer/hidden").unwrap();
    assert_eq!(crate::support::json_of(&own), json!({"n": 1}));

    hidden.set_collapsed(false);
    assert_eq!(
        tree(&reg),
        json!({"outer": {"hidden": {"n": 1}, "shown": {"n": 1}}})
    );
    // Collapsing a path nobody owns creates a container that stays while collapsed.
    reg.set_collapsed("/ghost", true).unwrap();
    assert!(matches!(reg.snapshot().get("ghost"), Some(Node::Group(g)) if g.collapsed));
}

#[test]
fn snapshots_of_parts_of_the_tree() {
    let reg = Registry::new();
    let processor = reg.init::<Processor>("/processor").unwrap();
    let worker = processor.init_child::<Worker>("w").unwrap();
    worker.finished.add(4);
    worker.state.set("busy");

    // A sub-path: its aggregations are computed from its own sub-tree.
    let sub = reg.snapshot_at("/processor").unwrap();
    assert_eq!(sub.path(), "/processor");
    assert_eq!(int(&sub.stat("/processor/finished").unwrap().value), 4);
    assert_eq!(int(&sub.stat("/processor/w/finished").unwrap().value), 4);

    // A single stat.
    let one = reg.snapshot_at("/processor/w/finished").unwrap();
    assert_eq!(one.path(), "/processor/w/finished");
    match one.root() {
        Node::Stat(stat) => {
            assert_eq!(stat.kind, StatKind::IntStat);
            assert_eq!(stat.value, StatValue::Int(4));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(crate::support::json_of(&one), json!(4));

    // An aggregation stat alone is still computed from its siblings' sub-trees.
    let agg = reg.snapshot_at("processor/finished").unwrap();
    match agg.root() {
        Node::Stat(stat) => {
            assert_eq!(stat.kind, StatKind::SumAggregation);
            assert_eq!(stat.value, StatValue::Int(4));
        }
        other => panic!("{other:?}"),
    }
    let hist = reg.snapshot_at("/processor/state/").unwrap();
    assert_eq!(crate::support::json_of(&hist), json!({"busy": 1}));

    // A container named like a stat inside it is the container, not the stat.
    let odd = reg.scope("/odd").unwrap();
    let _inner = odd.child("odd").unwrap().int_stat("odd").unwrap();
    assert_eq!(
        crate::support::json_of(&reg.snapshot_at("/odd").unwrap()),
        json!({"odd": {"odd": 0}})
    );

    // Missing or invalid paths.
    assert!(reg.snapshot_at("/nothing").is_none());
    assert!(reg.snapshot_at("/processor/w/finished/deeper").is_none());
    assert!(reg.snapshot_at("/processor//w").is_none());
    // The root is the whole tree.
    let whole = reg.snapshot_at("/").unwrap();
    assert!(whole.path().is_root());
    assert_eq!(
        crate::support::json_of(&whole),
        crate::support::json_of(&reg.snapshot())
    );
}

#[test]
fn a_stat_can_be_redeclared_as_another_kind_once_gone() {
    let reg = Registry::new();
    let scope = reg.scope("/k").unwrap();
    let n = scope.int_stat("x").unwrap();
    assert!(scope.pmf_stat("x").is_err());
    drop(n);
    // The stat stays while its scope lives.
    assert!(scope.pmf_stat("x").is_err());
    drop(scope);
    let again = reg.scope("/k").unwrap().pmf_stat("x").unwrap();
    again.record(1.0);
    assert_eq!(distribution(&stat_value(&reg, "k/x")).count(), 1);
}

#[test]
fn gauge_closures_may_own_scopes_and_read_the_registry() {
    let reg = Registry::new();
    let drops = Arc::new(AtomicUsize::new(0));

    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let other = reg.scope("/other").unwrap().int_stat("n").unwrap();
    other.add(41);
    let gauges = reg.scope("/gauges").unwrap();
    let reader = reg.clone();
    let token = CountDrop(drops.clone());
    let captured = other.clone();
    let gauge = gauges
        .gauge("plusOne", move || {
            let _token = &token;
            // Reading the registry from inside a gauge must not deadlock.
            let seen = reader
                .snapshot_at("/other/n")
                .and_then(|s| s.root().clone().into_stat_int());
            let _keep = &captured;
            seen.unwrap_or(0) + 1
        })
        .unwrap();
    drop(other);

    assert_eq!(
        stat_value(&reg, "gauges/plusOne"),
        StatValue::Value(scales::Value::Int(42))
    );
    // Dropping the gauge's scope drops the closure, which releases the `/other` handle it
    // owned: `/other` leaves the tree, without deadlocking on the tree lock.
    drop((gauges, gauge));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(tree(&reg), json!({}));
}

/// The integer of a stat node.
trait IntoStatInt {
    fn into_stat_int(self) -> Option<i64>;
}

impl IntoStatInt for Node {
    fn into_stat_int(self) -> Option<i64> {
        match self {
            Node::Stat(stat) => match stat.value {
                StatValue::Int(i) => Some(i),
                _ => None,
            },
            Node::Group(_) => None,
        }
    }
}
