//! One snapshot with every kind of stat, shared by the fuzz targets.

use std::sync::OnceLock;

pub fn registry() -> &'static scales::Registry {
    static REGISTRY: OnceLock<scales::Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let reg = scales::Registry::new();
        let web = reg.collection("/web").unwrap();
        web.int_stat("errors").unwrap().add(3);
        web.double_stat("load").unwrap().set(0.5);
        web.stat("state").unwrap().set("serving");
        web.int_dict_stat("byPath").unwrap().add("/index", 2);
        web.string_dict_stat("versions").unwrap().set("db", "15");
        let latency = web.pmf_stat("latency").unwrap();
        for v in [0.001, 0.02, 0.3, 4.0] {
            latency.record(v);
        }
        web.named_pmf_dict_stat("byEndpoint").unwrap().record("/a", 0.1);
        web.meter_stat("hits").unwrap().add(9);
        web.meter_dict_stat("methods").unwrap().mark("GET");
        web.state_time_stat("phase").unwrap().set_state("idle");
        web.gauge("answer", || 42).unwrap();
        let parent = reg.collection("/processor").unwrap();
        parent.sum_aggregation_stat("finished").unwrap();
        parent.histogram_aggregation_stat("state").unwrap();
        let child = reg.collection("/processor/thread-0").unwrap();
        child.int_stat("finished").unwrap().add(2);
        child.stat("state").unwrap().set("busy");
        reg.set_collapsed("/processor/thread-0", true).unwrap();
        reg
    })
}

#[allow(dead_code)] // not every target renders a snapshot
pub fn snapshot() -> scales::Snapshot {
    registry().snapshot()
}
