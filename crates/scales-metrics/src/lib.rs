//! A [`metrics`] facade recorder for scales: counters, gauges and histograms recorded with
//! `metrics::counter!`, `gauge!` and `histogram!` anywhere in the program — in its
//! dependencies too — appear in a scales stat tree, beside the program's own stats, on the
//! status page, in dumps and in every output format.
//!
//! # Example
//!
//! ```
//! // Once, at startup: a recorder over the global scales registry, as the global recorder.
//! let recorder = scales_metrics::install_global()?;
//!
//! // Anywhere, in any crate that uses the `metrics` facade:
//! metrics::counter!("http.requests", "path" => "/index").increment(1);
//! metrics::gauge!("pool.connections").set(4.0);
//! metrics::histogram!("http.latency").record(0.012);
//! metrics::describe_counter!("http.requests", metrics::Unit::Count, "Requests served");
//!
//! let snapshot = scales::snapshot();
//! assert_eq!(
//!     snapshot.stat("/http/requests").unwrap().value,
//!     scales::StatValue::Counts(vec![("/index", 1).into()]),
//! );
//! assert_eq!(snapshot.stat("/pool/connections").unwrap().value.as_f64(), Some(4.0));
//! assert_eq!(recorder.description("http.requests").unwrap().text, "Requests served");
//!
//! // A second global recorder is refused with an error, not a panic.
//! assert!(scales_metrics::install_global().is_err());
//! # Ok::<(), scales_metrics::InstallError>(())
//! ```
//!
//! [`ScalesRecorder::new`] takes any registry, [`ScalesRecorder::with_prefix`] puts every
//! stat below a path, and [`metrics::with_local_recorder`] installs a recorder for one thread
//! only (handy in tests).
//!
//! # Mapping
//!
//! | `metrics` | scales |
//! |---|---|
//! | name `http.requests` | path `/http/requests` (dots separate names; with a prefix `/app`: `/app/http/requests`) |
//! | name `/web/errors` (starts with `/`) | path `/web/errors`: a scales path, read as scales reads paths (dots stay in names) |
//! | invalid name: empty segment (`a..b`, `""`), `/` or control character in a segment | each bad segment repaired (`/a/_/b`, `/_`, `x\ny` → `/x_y`), counted once per name in `/scales/metrics/invalid_names` and logged once; never a panic |
//! | `counter!` | `CounterStat` (Prometheus `counter`, `..._total`); if the program already declared an `IntStat` there, that `IntStat` |
//! | `counter!` with labels | `IntDictStat` at the name's path, one key per label set |
//! | `gauge!` (`set`, `increment`, `decrement`) | `DoubleStat` |
//! | `gauge!` with labels | a `Stat` whose value is a map of floats, one key per label set (Prometheus: a gauge with a `key` label) |
//! | `histogram!` | `PmfStat` (count, min, max, mean, stddev, percentiles within [`scales::sketch::RELATIVE_ERROR`]) |
//! | `histogram!` with labels | `NamedPmfDictStat`, one distribution per label set |
//! | one label `{path="/a"}` | key `/a` (the value) |
//! | several labels `{path="/a", method="GET"}` | key `method=GET,path=/a`: `name=value` pairs **sorted by label name**, `\`, `,` and `=` escaped with `\` |
//! | `Counter::absolute(v)` | raises the count to `v` if below (metrics-util's semantics) |
//! | `describe_*!(name, unit, text)` | kept by the recorder ([`ScalesRecorder::description`]), and shown in the `/scales/metrics/descriptions` dict as `path → "text [unit]"` |
//!
//! Labels are sorted because `metrics` itself treats `{a, b}` and `{b, a}` as one metric:
//! with the order as given, whichever call site registered first would decide the key. A
//! metric is expected to have the same label names at every call site, as in Prometheus:
//! one with a single label `{route="/a"}` and one with `{path="/a"}` share the key `/a`.
//!
//! **Conflicts.** A metric whose stat cannot be declared — a counter and a gauge of one name,
//! `a.b` beside `a.b.c` (a stat cannot also be a container), a name used with and without
//! labels, or a path where the program declared another kind of stat — records nothing: it
//! gets a no-op handle, is counted once per name in `/scales/metrics/conflicts` and logged
//! once through the `log` crate. The first declaration keeps its stat.
//!
//! Stats are declared in global collections of the registry (as by
//! [`Registry::collection`](scales::Registry::collection)): they stay in the tree for the life
//! of the registry, as metrics stay in a `metrics` exporter. The recorder caches its handles,
//! so after [`Registry::reset`](scales::Registry::reset) (in tests) build a new recorder.
//!
//! # Cost
//!
//! A `counter!` call asks the recorder for a handle each time. Its handle comes from a small
//! per-thread cache (no lock, no atomic), falling back to a lock-free shared map; the handle
//! holds the scales stat itself, so the increment is `CounterStat::add` behind one dynamic
//! call, into the recording thread's own cells. The handle's reference count, which the call
//! increments and decrements, is per thread too (one copy of each handle per CPU), so threads
//! recording the same metric write no shared memory at all. See `BENCHMARKS.md`, section
//! *The `metrics` facade*, for the measured cost against metrics-util's registry.
//!
//! Keyed metrics pay the core's key lookup on each record (`IntDictStat::add`,
//! `NamedPmfDictStat::record`); `metrics` builds and hashes labels on every call anyway.

mod cache;
mod handles;
mod names;
mod recorder;

pub use recorder::{
    install_global, Description, InstallError, MetricKind, ScalesRecorder, DEFAULT_MAX_LABEL_SETS,
    INTERNAL_PATH,
};
