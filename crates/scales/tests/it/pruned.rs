//! Pruned snapshots (`SnapshotOptions::with_prune`): groups left unread, their gauge
//! closures not run, unless an aggregation above them adds them up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use scales::{Node, Registry, SnapshotOptions, StatPath, StatValue};

/// A gauge that counts its calls (the stat lives as long as the returned handle).
fn counting_gauge(reg: &Registry, scope: &str, name: &str) -> (Arc<AtomicUsize>, scales::Stat) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let stat = reg
        .scope(scope)
        .unwrap()
        .gauge(name, move || {
            seen.fetch_add(1, Ordering::SeqCst);
            7
        })
        .unwrap();
    (calls, stat)
}

fn closed(paths: &'static [&'static str]) -> SnapshotOptions {
    SnapshotOptions::default().with_prune(move |p| paths.contains(&p.to_string().as_str()))
}

#[test]
fn a_pruned_group_is_empty_with_its_count_and_its_gauges_do_not_run() {
    let reg = Registry::new();
    let (open, _g1) = counting_gauge(&reg, "/open", "g");
    let (shut, _g2) = counting_gauge(&reg, "/closed", "g");
    let (deep, _g3) = counting_gauge(&reg, "/closed/inner", "g");
    let c = reg.scope("/closed").unwrap().int_stat("c").unwrap();
    c.add(1);

    let snapshot = reg.snapshot_with(&closed(&["/closed"]));
    assert_eq!(open.load(Ordering::SeqCst), 1);
    assert_eq!(shut.load(Ordering::SeqCst), 0);
    assert_eq!(deep.load(Ordering::SeqCst), 0);
    assert!(matches!(
        snapshot.stat("/open/g").map(|s| &s.value),
        Some(StatValue::Value(_))
    ));
    let Node::Group(root) = snapshot.root() else {
        panic!("root is a group")
    };
    let Some(Node::Group(group)) = root.get("closed") else {
        panic!("the pruned group is still listed")
    };
    assert!(group.entries.is_empty());
    let path = StatPath::parse("/closed").unwrap();
    assert_eq!(snapshot.pruned(&path), Some(3));
    assert_eq!(snapshot.pruned(&StatPath::parse("/open").unwrap()), None);

    // Without pruning, everything runs.
    reg.snapshot();
    assert_eq!(shut.load(Ordering::SeqCst), 1);
    assert_eq!(deep.load(Ordering::SeqCst), 1);
}

#[test]
fn an_aggregation_above_a_pruned_group_still_adds_it_up() {
    let reg = Registry::new();
    let top = reg.scope("/svc").unwrap();
    let _total = top.sum_aggregation_stat("n").unwrap();
    let a = reg.scope("/svc/a").unwrap().int_stat("n").unwrap();
    let b = reg.scope("/svc/b").unwrap().int_stat("n").unwrap();
    a.add(2);
    b.add(3);
    let (calls, _g) = counting_gauge(&reg, "/svc/b", "g");

    let whole = reg.snapshot();
    let pruned = reg.snapshot_with(&closed(&["/svc/b"]));
    let sum = |s: &scales::Snapshot| s.stat("/svc/n").map(|s| s.value.clone());
    assert_eq!(sum(&pruned), sum(&whole));
    assert!(
        matches!(sum(&whole), Some(StatValue::Int(5))),
        "{:?}",
        sum(&whole)
    );
    // Evaluated for the sum (its gauge ran), but not emitted.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(pruned.stat("/svc/b/n").is_none());
    assert!(pruned.stat("/svc/a/n").is_some());
    assert_eq!(pruned.pruned(&StatPath::parse("/svc/b").unwrap()), Some(2));
}

#[test]
fn a_snapshot_below_the_root_prunes_by_full_paths() {
    let reg = Registry::new();
    let (open, _g1) = counting_gauge(&reg, "/web/open", "g");
    let (shut, _g2) = counting_gauge(&reg, "/web/closed", "g");
    let top = reg.scope("/web/summed").unwrap();
    let _total = top.sum_aggregation_stat("n").unwrap();
    let n = reg.scope("/web/summed/in").unwrap().int_stat("n").unwrap();
    n.add(4);
    let options = closed(&["/web/closed", "/web/summed/in"]);
    let snapshot = reg.snapshot_at_with("/web", &options).unwrap();
    assert_eq!(
        (open.load(Ordering::SeqCst), shut.load(Ordering::SeqCst)),
        (1, 0)
    );
    let at = |p: &str| StatPath::parse(p).unwrap();
    assert_eq!(snapshot.pruned(&at("/web/closed")), Some(1));
    assert_eq!(snapshot.pruned(&at("/web/summed/in")), Some(1));
    let Node::Group(web) = snapshot.root() else {
        panic!("a group")
    };
    let Some(Node::Group(summed)) = web.get("summed") else {
        panic!("summed is a group")
    };
    assert!(matches!(
        summed.get("n"),
        Some(Node::Stat(s)) if matches!(s.value, StatValue::Int(4))
    ));
    let Some(Node::Group(inner)) = summed.get("in") else {
        panic!("in is a group")
    };
    assert!(inner.entries.is_empty());
}

#[test]
fn a_pruned_group_counts_its_stats_at_every_depth_without_reading_them() {
    let reg = Registry::new();
    // /svc: 2 stats of its own; /svc/a: a counter and a keyed stat (which counts once);
    // /svc/a/deep: 2 gauges; /svc/b: 1. Seven stats, in four direct entries.
    let (top, _g1) = counting_gauge(&reg, "/svc", "top");
    let n = reg.scope("/svc").unwrap().int_stat("n").unwrap();
    let a = reg.scope("/svc/a").unwrap();
    let hits = a.int_stat("hits").unwrap();
    let by = a.int_dict_stat("by").unwrap();
    by.inc("x");
    by.inc("y");
    let (deep1, _g2) = counting_gauge(&reg, "/svc/a/deep", "one");
    let (deep2, _g3) = counting_gauge(&reg, "/svc/a/deep", "two");
    let b = reg.scope("/svc/b").unwrap().int_stat("n").unwrap();
    let _keep = (&n, &hits, &b);

    let at = |p: &str| StatPath::parse(p).unwrap();
    let snapshot = reg.snapshot_with(&closed(&["/svc"]));
    assert_eq!(
        snapshot.pruned(&at("/svc")),
        Some(7),
        "every depth, not 4 entries"
    );
    let inner = reg.snapshot_with(&closed(&["/svc/a"]));
    assert_eq!(inner.pruned(&at("/svc/a")), Some(4));
    assert_eq!(
        inner.pruned(&at("/svc/a/deep")),
        None,
        "below a pruned group: not asked"
    );
    // Counting read nothing: the pruned groups' gauges did not run.
    assert_eq!(
        (deep1.load(Ordering::SeqCst), deep2.load(Ordering::SeqCst)),
        (0, 0)
    );
    assert_eq!(
        top.load(Ordering::SeqCst),
        1,
        "/svc's own gauge ran when /svc/a was pruned"
    );
    // Below the root too.
    let below = reg.snapshot_at_with("/svc", &closed(&["/svc/a"])).unwrap();
    assert_eq!(below.pruned(&at("/svc/a")), Some(4));
}
