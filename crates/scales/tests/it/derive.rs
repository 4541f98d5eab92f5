//! `#[derive(scales::Stats)]`: field names and renames, auto-delete, declaring through the
//! global functions, children (named and numbered), and generic stat sets.

use scales::{
    Declare, EntryKind, Error, HistogramAggregationStat, IntDictStat, IntStat, MeterStat, PmfStat,
    Registry, Stat, StatKind, Stats,
};
use serde_json::json;

use crate::support::{counts, map, stat_value, tree};

#[derive(scales::Stats)]
struct HandlerStats {
    requests: IntStat,
    latency: PmfStat,
    #[stat(name = "byPath")]
    by_path: IntDictStat,
    #[stat(auto_delete)]
    active: IntDictStat,
    #[stat(name = "activeStates", auto_delete)]
    active_states: HistogramAggregationStat,
    r#type: Stat,
}

#[derive(scales::Stats)]
struct Served {
    served: scales::CounterStat,
}

#[test]
fn a_counter_stat_field_is_declared_as_one() {
    let reg = Registry::new();
    let stats = reg.init::<Served>("/served").unwrap();
    stats.served.add(3);
    let stat = reg.snapshot().stat("/served/served").unwrap().clone();
    assert_eq!(
        (stat.kind, stat.value),
        (StatKind::Counter, scales::StatValue::Int(3))
    );
}

#[test]
fn field_names_renames_and_auto_delete() {
    let reg = Registry::new();
    let handler = reg.init::<HandlerStats>("/handler").unwrap();
    assert_eq!(
        handler.stat_names(),
        [
            "requests",
            "latency",
            "byPath",
            "active",
            "activeStates",
            "type"
        ]
    );
    handler.requests.inc();
    handler.latency.record(0.5);
    handler.by_path.inc("/index");
    handler.by_path.dec("/index");
    handler.active.inc("conn-1");
    handler.active.dec("conn-1");
    handler.active.inc("conn-2");
    handler.r#type.set("http");

    let t = tree(&reg);
    assert_eq!(t["handler"]["requests"], json!(1));
    assert_eq!(t["handler"]["latency"]["count"], json!(1));
    // Without auto-delete a key at 0 stays; with it, the key goes.
    assert_eq!(t["handler"]["byPath"], json!({"/index": 0}));
    assert_eq!(t["handler"]["active"], json!({"conn-2": 1}));
    assert_eq!(t["handler"]["type"], json!("http"));
    assert_eq!(t["handler"]["activeStates"], json!({}));

    // The auto-deleting histogram drops states nobody is in.
    let child = handler
        .scope()
        .child("c")
        .unwrap()
        .stat("activeStates")
        .unwrap();
    child.set("open");
    assert_eq!(
        counts(&stat_value(&reg, "handler/activeStates")),
        map([("open", 1)])
    );
    child.set("closed");
    assert_eq!(
        counts(&stat_value(&reg, "handler/activeStates")),
        map([("closed", 1)])
    );
}

#[derive(Stats)]
struct GlobalStats {
    hits: MeterStat,
    #[stat(name = "lastPath")]
    last_path: Stat,
}

#[test]
fn init_declares_in_the_global_registry() {
    // A path no other test uses: the global registry is shared by the whole binary.
    let path = "/it-derive/global-init";
    let stats = scales::init::<GlobalStats>(path).unwrap();
    stats.hits.add(3);
    stats.last_path.set("/index");

    let snapshot = scales::registry().snapshot_at(path).unwrap();
    let own = crate::support::json_of(&snapshot);
    assert_eq!(own["hits"]["count"], json!(3));
    assert_eq!(own["lastPath"], json!("/index"));
    assert!(scales::snapshot()
        .get("/it-derive/global-init/hits")
        .is_some());

    // Per-object stats leave the tree with their owner.
    drop(stats);
    assert!(scales::registry().snapshot_at(path).is_none());
    assert!(scales::snapshot().get(path).is_none());

    // A global collection stays for the life of the program, even once its handles are gone.
    fn declare_in_a_helper(path: &str) {
        let collection = scales::collection(path).unwrap();
        collection.int_stat("requests").unwrap().add(2);
        // A struct declared at the same path shares the collection's container.
        let stats = scales::init::<GlobalStats>(path).unwrap();
        stats.hits.add(1);
    }
    declare_in_a_helper(path);
    let snapshot = scales::registry().snapshot_at(path).unwrap();
    let own = crate::support::json_of(&snapshot);
    assert_eq!(own["requests"], json!(2));
    assert_eq!(own["hits"]["count"], json!(1));
}

#[derive(Stats)]
struct Parent {
    total: scales::SumAggregationStat,
}

#[derive(Stats)]
struct Child {
    total: IntStat,
}

#[test]
fn children_named_and_numbered() {
    let reg = Registry::new();
    let parent = reg.init::<Parent>("/parent").unwrap();
    let named = parent.init_child::<Child>("named").unwrap();
    let nested = parent.init_child::<Child>("deep/er").unwrap();
    let first = parent.init_child_of_type::<Child>("conn").unwrap();
    let second = parent.init_child_of_type::<Child>("conn").unwrap();
    let other = parent.init_child_of_type::<Child>("other").unwrap();
    // Numbered children of a child scope use the same registry-wide counter.
    let grandchild = named.init_child_of_type::<Child>("conn").unwrap();

    assert_eq!(named.scope().path(), "/parent/named");
    assert_eq!(nested.scope().path(), "/parent/deep/er");
    assert_eq!(first.scope().path(), "/parent/conn/1");
    assert_eq!(second.scope().path(), "/parent/conn/2");
    assert_eq!(other.scope().path(), "/parent/other/3");
    assert_eq!(grandchild.scope().path(), "/parent/named/conn/4");

    for (i, child) in [&named, &nested, &first, &second, &other]
        .into_iter()
        .enumerate()
    {
        child.total.add(1 << i);
    }
    grandchild.total.add(100);
    // `named` has its own `total`, so its grandchild is not added to the parent directly.
    assert_eq!(crate::support::int(&stat_value(&reg, "parent/total")), 31);
    assert_eq!(
        tree(&reg)["parent"]["conn"],
        json!({"1": {"total": 4}, "2": {"total": 8}})
    );

    // Children of an unrelated registry are numbered independently.
    let other_reg = Registry::new();
    let p = other_reg.init::<Parent>("/p").unwrap();
    assert_eq!(
        p.init_child_of_type::<Child>("conn")
            .unwrap()
            .scope()
            .path(),
        "/p/conn/1"
    );
}

/// A generic stat set: the same shape with different stat types.
#[derive(Stats)]
struct Pair<S: Declare> {
    first: S,
    #[stat(name = "secondOne")]
    second: S,
}

#[derive(Stats)]
struct Wrapped<A, B>
where
    A: Declare,
    B: Declare,
{
    a: A,
    b: B,
}

#[test]
fn generic_stat_sets() {
    let reg = Registry::new();
    let counters = reg.init::<Pair<IntStat>>("/counters").unwrap();
    let timers = reg.init::<Pair<PmfStat>>("/timers").unwrap();
    let mixed = reg.init::<Wrapped<IntDictStat, Stat>>("/mixed").unwrap();
    counters.first.inc();
    counters.second.add(2);
    timers.first.record(1.0);
    mixed.a.inc("k");
    mixed.b.set(true);
    assert_eq!(counters.stat_names(), ["first", "secondOne"]);

    let t = tree(&reg);
    assert_eq!(t["counters"], json!({"first": 1, "secondOne": 2}));
    assert_eq!(t["timers"]["first"]["count"], json!(1));
    assert_eq!(t["timers"]["secondOne"], json!({"count": 0}));
    assert_eq!(t["mixed"], json!({"a": {"k": 1}, "b": true}));

    // The same generic set at one path with other stat types clashes, field by field.
    let clash = reg.init::<Pair<PmfStat>>("/counters");
    assert!(matches!(
        clash,
        Err(Error::KindMismatch {
            existing: EntryKind::Stat(StatKind::IntStat),
            requested: EntryKind::Stat(StatKind::Pmf),
            ..
        })
    ));
}

#[derive(Stats)]
#[stat(rename_all = "camelCase")]
struct CamelStats {
    by_path: IntDictStat,
    last_request_path: Stat,
    #[stat(name = "explicit_name")]
    renamed: IntStat,
}

#[test]
fn rename_all_names_every_field_in_camel_case() {
    let reg = Registry::new();
    let stats = reg.init::<CamelStats>("/camel").unwrap();
    stats.by_path.inc("/index");
    stats.last_request_path.set("/index");
    stats.renamed.inc();
    assert_eq!(
        stats.stat_names(),
        ["byPath", "lastRequestPath", "explicit_name"]
    );
    assert_eq!(
        crate::support::json_of(&reg.snapshot_at("/camel").unwrap()),
        json!({"byPath": {"/index": 1}, "lastRequestPath": "/index", "explicit_name": 1})
    );
}

#[derive(Stats)]
struct StaticWebStats {
    errors: IntStat,
    success: IntStat,
}

static STATIC_WEB: scales::Collection<StaticWebStats> =
    scales::Collection::new("/it-derive/static-web");

#[test]
fn a_static_collection_is_one_declaration_usable_from_any_thread() {
    fn handle_request() {
        STATIC_WEB.success.inc();
    }
    let threads: Vec<_> = (0..4).map(|_| std::thread::spawn(handle_request)).collect();
    for thread in threads {
        thread.join().unwrap();
    }
    handle_request();
    assert!(STATIC_WEB.declare_error().is_none());
    let snapshot = scales::snapshot();
    assert_eq!(
        snapshot
            .stat("/it-derive/static-web/success")
            .unwrap()
            .value,
        scales::StatValue::Int(5)
    );
    assert_eq!(
        snapshot.stat("/it-derive/static-web/errors").unwrap().value,
        scales::StatValue::Int(0)
    );
}

#[derive(Stats)]
struct Clashing {
    // Declared as an IntStat elsewhere first.
    taken: PmfStat,
}

static CLASHING: scales::Collection<Clashing> = scales::Collection::new("/it-derive/clash");

#[test]
fn a_static_collection_that_clashes_still_records_and_says_why() {
    scales::collection("/it-derive/clash")
        .unwrap()
        .int_stat("taken")
        .unwrap()
        .add(7);
    CLASHING.taken.record(1.0); // no panic
    let error = CLASHING.declare_error().expect("the clash is reported");
    assert!(
        error.to_string().contains("/it-derive/clash/taken"),
        "{error}"
    );
    // The tree keeps the stat that was there first.
    assert_eq!(
        scales::snapshot()
            .stat("/it-derive/clash/taken")
            .unwrap()
            .value,
        scales::StatValue::Int(7)
    );
}
