//! Span timing: busy and idle against the manual clock, nesting, closing, threads, async.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use scales_tracing::ScalesLayer;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

use crate::{assert_ms, distribution, exists, int, manual_registry, ms, with_layer};

#[test]
fn busy_and_idle_follow_the_clock() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        let span = tracing::info_span!(target: "app", "work");
        clock.advance(ms(1)); // idle: created, not yet entered
        span.in_scope(|| clock.advance(ms(2)));
        clock.advance(ms(4));
        span.in_scope(|| clock.advance(ms(8)));
        clock.advance(ms(16));
        drop(span);
    });
    assert_ms(&distribution(&registry, "/spans/app/work/busy"), &[10]);
    assert_ms(&distribution(&registry, "/spans/app/work/idle"), &[21]);
    assert_eq!(int(&registry, "/spans/app/work/closed"), 1);
    Ok(())
}

#[test]
fn a_span_never_entered_is_idle_all_its_life() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        let span = tracing::info_span!(target: "app", "waiting");
        clock.advance(ms(5));
        drop(span);
    });
    assert_ms(&distribution(&registry, "/spans/app/waiting/busy"), &[0]);
    assert_ms(&distribution(&registry, "/spans/app/waiting/idle"), &[5]);
    Ok(())
}

#[test]
fn nested_spans_and_reentry() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        let parent = tracing::info_span!(target: "app", "parent");
        parent.in_scope(|| {
            clock.advance(ms(1));
            let child = tracing::info_span!(target: "app", "child");
            clock.advance(ms(2)); // child idle, parent busy
            child.in_scope(|| clock.advance(ms(4))); // both busy
                                                     // Entering the entered parent again counts its busy time once.
            parent.in_scope(|| clock.advance(ms(8)));
            drop(child); // child: busy 4, idle 2 + 8
            clock.advance(ms(16));
        });
        clock.advance(ms(32));
    });
    assert_ms(&distribution(&registry, "/spans/app/parent/busy"), &[31]);
    assert_ms(&distribution(&registry, "/spans/app/parent/idle"), &[32]);
    assert_ms(&distribution(&registry, "/spans/app/child/busy"), &[4]);
    assert_ms(&distribution(&registry, "/spans/app/child/idle"), &[10]);
    Ok(())
}

#[test]
fn a_span_closes_with_its_last_handle_and_after_its_children() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        let parent = tracing::info_span!(target: "app", "parent");
        let child = tracing::info_span!(target: "app", parent: &parent, "child");
        let parent_again = parent.clone();
        drop(parent);
        assert_eq!(int(&registry, "/spans/app/parent/closed"), 0);
        drop(parent_again); // the child still holds the parent
        assert_eq!(int(&registry, "/spans/app/child/closed"), 0);
        clock.advance(ms(3));
        drop(child);
        assert_eq!(int(&registry, "/spans/app/child/closed"), 1);
        assert_eq!(int(&registry, "/spans/app/parent/closed"), 1);
    });
    // The parent lived until its child closed.
    assert_ms(&distribution(&registry, "/spans/app/parent/idle"), &[3]);
    Ok(())
}

#[test]
fn spans_of_one_name_share_stats_across_callsites() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        for n in 1..=3 {
            tracing::info_span!(target: "app", "step").in_scope(|| clock.advance(ms(n)));
            tracing::debug_span!(target: "app", "step").in_scope(|| clock.advance(ms(10 * n)));
        }
    });
    assert_ms(
        &distribution(&registry, "/spans/app/step/busy"),
        &[1, 2, 3, 10, 20, 30],
    );
    assert_eq!(int(&registry, "/spans/app/step/closed"), 6);
    Ok(())
}

#[test]
fn concurrent_spans_on_many_threads_are_all_counted() -> Result<(), scales::Error> {
    const THREADS: usize = 4;
    const SPANS: usize = 1000;
    let (_clock, registry) = manual_registry();
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(ScalesLayer::new(&registry)?));
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    for _ in 0..SPANS {
                        let outer = tracing::info_span!(target: "app", "outer");
                        let _entered = outer.enter();
                        tracing::info_span!(target: "app", "inner").in_scope(|| {});
                    }
                });
            });
        }
    });
    let total = (THREADS * SPANS) as i64;
    assert_eq!(int(&registry, "/spans/app/outer/closed"), total);
    assert_eq!(int(&registry, "/spans/app/inner/closed"), total);
    assert_eq!(
        distribution(&registry, "/spans/app/outer/busy").count(),
        total as u64
    );
    assert_eq!(
        distribution(&registry, "/spans/app/inner/idle").count(),
        total as u64
    );
    Ok(())
}

#[test]
fn a_span_entered_on_two_threads_at_once_is_busy_once() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(ScalesLayer::new(&registry)?));
    let span = tracing::dispatcher::with_default(
        &dispatch,
        || tracing::info_span!(target: "app", "shared"),
    );
    let entered = Barrier::new(3);
    let advanced = Barrier::new(3);
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let _guard = span.enter();
                entered.wait();
                advanced.wait();
            });
        }
        entered.wait(); // both threads are inside the span
        clock.advance(ms(5));
        advanced.wait();
    });
    clock.advance(ms(7));
    drop(span);
    assert_ms(&distribution(&registry, "/spans/app/shared/busy"), &[5]);
    assert_ms(&distribution(&registry, "/spans/app/shared/idle"), &[7]);
    Ok(())
}

/// A future that is ready on its third poll, and spends 1 ms of the clock in each poll.
struct ThreePolls<'a> {
    polls: u32,
    clock: &'a scales::ManualClock,
}

impl Future for ThreePolls<'_> {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        self.clock.advance(ms(1));
        self.polls += 1;
        if self.polls == 3 {
            Poll::Ready(self.polls)
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn an_instrumented_future_is_idle_between_polls() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    let polled = Mutex::new(Vec::new());
    with_layer(ScalesLayer::new(&registry)?, || {
        let future = ThreePolls {
            polls: 0,
            clock: &clock,
        }
        .instrument(tracing::info_span!(target: "app", "request"));
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        for wait in [10, 20, 30] {
            clock.advance(ms(wait)); // waiting to be polled
            let poll = future.as_mut().poll(&mut cx);
            polled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(poll.is_ready());
        }
    });
    assert_eq!(
        *polled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        [false, false, true]
    );
    assert_ms(&distribution(&registry, "/spans/app/request/busy"), &[3]);
    assert_ms(&distribution(&registry, "/spans/app/request/idle"), &[60]);
    Ok(())
}

#[test]
fn names_become_valid_path_segments() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    with_layer(ScalesLayer::new(&registry)?, || {
        tracing::info_span!(target: "my_crate::db", "GET /users").in_scope(|| {});
        tracing::info_span!(target: "a/b", "line\nbreak").in_scope(|| {});
    });
    assert_eq!(int(&registry, "/spans/my_crate::db/GET _users/closed"), 1);
    assert_eq!(int(&registry, "/spans/a_b/line_break/closed"), 1);
    Ok(())
}

#[test]
fn spans_beyond_the_cap_go_to_other() -> Result<(), scales::Error> {
    let (clock, registry) = manual_registry();
    let layer = ScalesLayer::builder().max_spans(2).build(&registry)?;
    with_layer(layer, || {
        for _ in 0..2 {
            tracing::info_span!(target: "app", "first").in_scope(|| clock.advance(ms(1)));
            tracing::info_span!(target: "app", "second").in_scope(|| clock.advance(ms(2)));
            tracing::info_span!(target: "app", "third").in_scope(|| clock.advance(ms(3)));
            tracing::info_span!(target: "lib", "fourth").in_scope(|| clock.advance(ms(4)));
            // Another callsite of a name that has its stats takes no place under the cap.
            tracing::info_span!(target: "app", "first").in_scope(|| clock.advance(ms(5)));
        }
    });
    assert_eq!(int(&registry, "/spans/app/first/closed"), 4);
    assert_eq!(int(&registry, "/spans/app/second/closed"), 2);
    assert!(!exists(&registry, "/spans/app/third"));
    assert!(!exists(&registry, "/spans/lib"));
    assert_eq!(int(&registry, "/spans/other/other/closed"), 4);
    assert_ms(
        &distribution(&registry, "/spans/other/other/busy"),
        &[3, 4, 3, 4],
    );
    Ok(())
}

#[test]
fn a_clashing_stat_sends_the_span_to_other() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let _clash = registry.scope("/spans/app/taken")?.int_stat("busy")?;
    with_layer(ScalesLayer::new(&registry)?, || {
        tracing::info_span!(target: "app", "taken").in_scope(|| {});
        tracing::info_span!(target: "app", "free").in_scope(|| {});
    });
    assert_eq!(int(&registry, "/spans/app/taken/busy"), 0);
    assert_eq!(int(&registry, "/spans/other/other/closed"), 1);
    assert_eq!(int(&registry, "/spans/app/free/closed"), 1);
    Ok(())
}

#[test]
fn the_stats_outlive_the_layer_and_a_cloned_layer_shares_them() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layer = ScalesLayer::new(&registry)?;
    with_layer(layer.clone(), || {
        tracing::info_span!(target: "app", "work").in_scope(|| {})
    });
    with_layer(layer, || {
        tracing::info_span!(target: "app", "work").in_scope(|| {})
    });
    assert_eq!(int(&registry, "/spans/app/work/closed"), 2);
    Ok(())
}
