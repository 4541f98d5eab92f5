//! Declaration errors (each with a readable message), and values that could break a snapshot
//! or its JSON: panicking gauges, NaN and infinities.

use scales::{EntryKind, Error, PathError, Registry, StatKind, StatValue, Value};
use serde_json::json;

use crate::support::{distribution, json_of, stat_value, tree};

#[track_caller]
fn path_error<T: std::fmt::Debug>(result: Result<T, Error>) -> (PathError, String) {
    match result {
        Err(Error::Path(e)) => {
            let message = Error::Path(e.clone()).to_string();
            (e, message)
        }
        other => panic!("expected a path error, got {other:?}"),
    }
}

#[test]
fn invalid_names() {
    let reg = Registry::new();
    let scope = reg.scope("/web").unwrap();

    let (e, message) = path_error(scope.int_stat(""));
    assert_eq!(e, PathError::EmptyName);
    assert_eq!(message, "stat name is empty");

    let (e, message) = path_error(scope.pmf_stat("a/b"));
    assert_eq!(e, PathError::SlashInName { name: "a/b".into() });
    assert!(
        message.contains("`a/b`") && message.contains("child scope"),
        "{message}"
    );

    let (e, message) = path_error(scope.meter_stat("bad\nname"));
    assert_eq!(
        e,
        PathError::ControlCharacter {
            name: "bad\nname".into()
        }
    );
    // The name is quoted with its escape, so the message stays on one line.
    assert!(message.contains("\"bad\\nname\""), "{message}");
    assert!(!message.contains('\n'));

    let (e, _) = path_error(scope.stat("nul\0"));
    assert!(matches!(e, PathError::ControlCharacter { .. }));
    let (e, _) = path_error(scope.child(""));
    assert_eq!(e, PathError::EmptyName);
    let (e, _) = path_error(scope.child_of_type("a/b"));
    assert!(matches!(e, PathError::SlashInName { .. }));

    assert_eq!(scales::validate_name("ok name ü"), Ok(()));
    // Nothing was declared by the failed calls: the scope's container is empty.
    assert_eq!(tree(&reg), json!({"web": {}}));
}

#[test]
fn invalid_paths() {
    let reg = Registry::new();
    let (e, message) = path_error(reg.scope("/web//latency"));
    assert_eq!(
        e,
        PathError::EmptySegment {
            path: "/web//latency".into()
        }
    );
    assert_eq!(message, "path `/web//latency` has an empty segment");

    let (e, _) = path_error(reg.scope("/web/\tx"));
    assert!(matches!(e, PathError::ControlCharacter { .. }));
    let (e, _) = path_error(reg.set_collapsed("/a//", true));
    assert!(matches!(e, PathError::EmptySegment { .. }));
    let (e, _) = path_error(reg.scope("/a").unwrap().child("b//c"));
    assert!(matches!(e, PathError::EmptySegment { .. }));

    // A leading `/` is optional and one trailing `/` is tolerated.
    let a = reg.scope("web/").unwrap();
    assert_eq!(a.path(), "/web");
    assert_eq!(reg.scope("").unwrap().path(), "/");
}

#[test]
fn another_kind_at_an_existing_name() {
    let reg = Registry::new();
    let scope = reg.scope("/web").unwrap();
    let _errors = scope.int_stat("errors").unwrap();

    let e = scope.pmf_stat("errors").unwrap_err();
    assert_eq!(
        e,
        Error::KindMismatch {
            path: "/web/errors".into(),
            existing: EntryKind::Stat(StatKind::IntStat),
            requested: EntryKind::Stat(StatKind::Pmf),
        }
    );
    assert_eq!(
        e.to_string(),
        "`/web/errors` is already a IntStat, cannot declare a PmfStat there"
    );
    // Aggregations are told apart too.
    let _sum = scope.sum_aggregation_stat("total").unwrap();
    assert!(matches!(
        scope.histogram_aggregation_stat("total"),
        Err(Error::KindMismatch {
            existing: EntryKind::Stat(StatKind::SumAggregation),
            requested: EntryKind::Stat(StatKind::HistogramAggregation),
            ..
        })
    ));
    // The same kind again is the same stat, from any scope at the path.
    let again = reg.scope("/web").unwrap().int_stat("errors").unwrap();
    again.inc();
    assert_eq!(_errors.get(), 1);
}

#[test]
fn a_stat_where_a_container_is_wanted_and_vice_versa() {
    let reg = Registry::new();
    let web = reg.scope("/web").unwrap();
    let _latency = web.pmf_stat("latency").unwrap();

    // A scope through a stat.
    let e = reg.scope("/web/latency/p99").unwrap_err();
    assert_eq!(
        e,
        Error::KindMismatch {
            path: "/web/latency".into(),
            existing: EntryKind::Stat(StatKind::Pmf),
            requested: EntryKind::Container,
        }
    );
    assert!(matches!(
        web.child("latency"),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        reg.set_collapsed("/web/latency", true),
        Err(Error::KindMismatch { .. })
    ));

    // A stat where a container is.
    let _sub = reg.scope("/web/sub").unwrap();
    let e = web.int_stat("sub").unwrap_err();
    assert_eq!(
        e,
        Error::KindMismatch {
            path: "/web/sub".into(),
            existing: EntryKind::Container,
            requested: EntryKind::Stat(StatKind::IntStat),
        }
    );
    assert!(e.to_string().contains("already a container"), "{e}");
}

#[test]
fn a_panicking_gauge_is_an_error_value_and_the_rest_reads_fine() {
    let reg = Registry::new();
    let scope = reg.scope("/g").unwrap();
    let ok = scope.int_stat("ok").unwrap();
    ok.add(5);
    let _bad = scope.gauge("bad", || -> i64 { panic!("boom") }).unwrap();
    let _good = scope.gauge("good", || "fine").unwrap();

    let snapshot = reg.snapshot();
    match &snapshot.stat("/g/bad").unwrap().value {
        StatValue::Error(message) => assert_eq!(message, "gauge panicked: boom"),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot.stat("/g/ok").unwrap().value, StatValue::Int(5));
    assert_eq!(
        snapshot.stat("/g/good").unwrap().value,
        StatValue::Value(Value::Str("fine".into()))
    );
    assert_eq!(
        json_of(&snapshot),
        json!({"g": {"ok": 5, "bad": {"error": "gauge panicked: boom"}, "good": "fine"}})
    );
    assert_eq!(_bad.get(), Err("gauge panicked: boom".to_owned()));

    // A formatted panic message is kept too, and the gauge keeps being asked.
    let _formatted = scope
        .gauge("formatted", || -> i64 { panic!("code {}", 7) })
        .unwrap();
    assert_eq!(
        stat_value(&reg, "g/formatted"),
        StatValue::Error("gauge panicked: code 7".into())
    );
    _bad.set(1);
    assert_eq!(stat_value(&reg, "g/bad"), StatValue::Value(Value::Int(1)));
}

#[test]
fn non_finite_values_never_break_the_json() {
    let reg = Registry::new();
    let scope = reg.scope("/nf").unwrap();
    let pmf = scope.pmf_stat("latency").unwrap();
    for v in [1.0, f64::NAN, 2.0, f64::INFINITY, f64::NEG_INFINITY] {
        pmf.record(v);
    }
    let only_nan = scope.pmf_stat("onlyNan").unwrap();
    only_nan.record(f64::NAN);
    scope.double_stat("double").unwrap().set(f64::NAN);
    scope.stat("held").unwrap().set(f64::INFINITY);
    let _gauge = scope.gauge("gauge", || f64::NEG_INFINITY).unwrap();

    let summary = distribution(&stat_value(&reg, "nf/latency"));
    assert_eq!((summary.count(), summary.dropped()), (2, 3));
    assert_eq!(
        (summary.sum(), summary.min(), summary.max()),
        (3.0, Some(1.0), Some(2.0))
    );

    // `json_of` fails the test if the text is not valid JSON.
    let parsed = json_of(&reg.snapshot());
    let nf = &parsed["nf"];
    assert_eq!(nf["latency"]["count"], json!(2));
    assert_eq!(nf["latency"]["mean"], json!(1.5));
    assert!(nf["latency"]["median"].as_f64().unwrap().is_finite());
    assert_eq!(nf["onlyNan"], json!({"count": 0}));
    assert_eq!(nf["double"], json!(null));
    assert_eq!(nf["held"], json!(null));
    assert_eq!(nf["gauge"], json!(null));
}

/// Log records of the `scales` crates, kept for the tests that check what is logged.
struct CountingLogger;

static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl log::Log for CountingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOGGED
            .lock()
            .unwrap()
            .push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

fn logged_lines(containing: &str) -> Vec<String> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CountingLogger).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LOGGED
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains(containing))
        .cloned()
        .collect()
}

#[test]
fn a_panicking_gauge_is_logged_once_then_rate_limited() {
    assert!(logged_lines("/it-errors/rate/bad").is_empty());
    let reg = Registry::new();
    let scope = reg.collection("/it-errors/rate").unwrap();
    scope
        .gauge("bad", || -> i64 { panic!("exploded on purpose") })
        .unwrap();
    for _ in 0..50 {
        let snapshot = reg.snapshot();
        assert_eq!(
            snapshot.stat("/it-errors/rate/bad").unwrap().value,
            StatValue::Error("gauge panicked: exploded on purpose".into())
        );
    }
    let lines = logged_lines("/it-errors/rate/bad");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERROR "), "{lines:?}");
    assert!(lines[0].contains("exploded on purpose"), "{lines:?}");
    assert!(
        lines[0].contains("errors.rs:"),
        "the panic's location: {lines:?}"
    );
}

/// Run by `gauge_panics_print_no_panic_report` in a child process.
#[test]
fn child_reads_a_panicking_gauge_many_times() {
    if std::env::var_os("SCALES_GAUGE_PANIC_CHILD").is_none() {
        return;
    }
    let reg = Registry::new();
    let scope = reg.collection("/child").unwrap();
    scope
        .gauge("bad", || -> i64 { panic!("quiet gauge panic") })
        .unwrap();
    for _ in 0..20 {
        let _ = reg.snapshot();
    }
    // Other panics still reach the previous hook (libtest's, which prints them).
    let _ = std::panic::catch_unwind(|| panic!("a loud ordinary panic"));
}

#[test]
fn gauge_panics_print_no_panic_report() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "errors::child_reads_a_panicking_gauge_many_times",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SCALES_GAUGE_PANIC_CHILD", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("quiet gauge panic"), "{stderr}");
    assert!(stderr.contains("a loud ordinary panic"), "{stderr}");
}

/// A gauge that blocks until the returned sender is dropped (or sent to).
fn blocking_gauge(
    scope: &scales::Scope,
    name: &str,
    value: i64,
) -> std::sync::mpsc::SyncSender<()> {
    let (release, wait) = std::sync::mpsc::sync_channel::<()>(1);
    let wait = std::sync::Mutex::new(wait);
    scope
        .gauge(name, move || {
            let _ = wait.lock().unwrap().recv();
            value
        })
        .unwrap();
    release
}

#[test]
fn a_blocking_gauge_times_out_alone_and_later_reads_do_not_wait_for_it() {
    let reg = Registry::new();
    reg.set_gauge_timeout(std::time::Duration::from_millis(200));
    let scope = reg.collection("/slow").unwrap();
    scope.gauge("before", || 1).unwrap();
    let release_a = blocking_gauge(&scope, "stuckA", 10);
    scope.gauge("between", || 2).unwrap();
    let release_b = blocking_gauge(&scope, "stuckB", 20);
    scope.gauge("after", || 3).unwrap();
    scope.int_stat("counter").unwrap().add(5);

    let started = std::time::Instant::now();
    let snapshot = reg.snapshot();
    // Two stuck gauges, 200 ms each; a generous bound that still proves nothing hangs.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let value = |name: &str| {
        snapshot
            .stat(&format!("/slow/{name}"))
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(value("before").as_f64(), Some(1.0));
    assert_eq!(value("between").as_f64(), Some(2.0));
    assert_eq!(value("after").as_f64(), Some(3.0));
    assert_eq!(value("counter"), StatValue::Int(5));
    for stuck in ["stuckA", "stuckB"] {
        match value(stuck) {
            StatValue::Error(message) => {
                assert!(message.starts_with("gauge timed out"), "{message}")
            }
            other => panic!("{stuck}: {other:?}"),
        }
    }
    assert_eq!(snapshot.gauges_timed_out(), 2);

    // Still stuck: the next snapshot does not wait for them again.
    let again = reg.snapshot();
    assert_eq!(again.gauges_timed_out(), 2);
    match &again.stat("/slow/stuckA").unwrap().value {
        StatValue::Error(message) => assert!(message.contains("still running"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(again.stat("/slow/after").unwrap().value.as_f64(), Some(3.0));

    // Once they return, they read normally again (on a later snapshot).
    drop((release_a, release_b));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let snapshot = reg.snapshot();
        if snapshot.gauges_timed_out() == 0 {
            assert_eq!(
                snapshot.stat("/slow/stuckA").unwrap().value.as_f64(),
                Some(10.0)
            );
            assert_eq!(
                snapshot.stat("/slow/stuckB").unwrap().value.as_f64(),
                Some(20.0)
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gauges never recovered"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_gauge_may_take_snapshots_itself() {
    let reg = Registry::new();
    let scope = reg.collection("/nested").unwrap();
    scope.gauge("inner", || 7).unwrap();
    let reader = reg.clone();
    scope
        .gauge("outer", move || {
            reader
                .snapshot_at("/nested/inner")
                .and_then(|s| s.stat("/nested/inner").and_then(|stat| stat.value.as_f64()))
                .unwrap_or(-1.0)
                + 1.0
        })
        .unwrap();
    let snapshot = reg.snapshot();
    assert_eq!(snapshot.gauges_timed_out(), 0);
    assert_eq!(
        snapshot.stat("/nested/outer").unwrap().value.as_f64(),
        Some(8.0)
    );
}

#[test]
fn concurrent_snapshots_share_a_gauge_run_and_never_time_out_a_fast_gauge() {
    let reg = Registry::new();
    let scope = reg.collection("/shared").unwrap();
    scope.gauge("answer", || 42).unwrap();
    scope
        .gauge("broken", || -> i64 { panic!("always broken") })
        .unwrap();
    let wrong = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..300 {
                    let snapshot = reg.snapshot();
                    if snapshot.stat("/shared/answer").unwrap().value.as_f64() != Some(42.0) {
                        wrong.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    assert_eq!(snapshot.gauges_timed_out(), 0);
                }
            });
        }
    });
    assert_eq!(wrong.into_inner(), 0);
}
