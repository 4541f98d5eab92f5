//! The hot path allocates nothing: a counting global allocator (per thread, so that the
//! other tests running at the same time do not count) around the span's life.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use scales_tracing::ScalesLayer;

use crate::manual_registry;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting this thread's allocations.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counter is a const-initialised thread-local `Cell`, whose access neither allocates nor
// re-enters the allocator (`try_with`: nothing is counted while the thread's locals are
// being destroyed).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` made on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations of creating, of entering and exiting, and of closing one span, after a
/// first span of the same callsite has warmed every cache.
fn span_allocations() -> [u64; 3] {
    let one = || {
        let mut span = None;
        let create = allocations(|| span = Some(tracing::info_span!(target: "app", "hot")));
        let enter_exit = allocations(|| {
            if let Some(span) = &span {
                span.in_scope(|| {});
            }
        });
        let close = allocations(|| drop(span.take()));
        [create, enter_exit, close]
    };
    one();
    one()
}

#[test]
fn enter_exit_and_close_allocate_nothing() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let bare = tracing::subscriber::with_default(tracing_subscriber::registry(), span_allocations);
    let layered = crate::with_layer(ScalesLayer::new(&registry)?, span_allocations);
    assert_eq!(bare, [0, 0, 0], "the registry alone, in steady state");
    // Creating a span boxes its timing into the span's extensions; nothing else allocates.
    assert_eq!(layered, [1, 0, 0], "with the layer");
    assert_eq!(crate::int(&registry, "/spans/app/hot/closed"), 2);
    Ok(())
}

#[test]
fn counting_an_event_allocates_nothing() -> Result<(), scales::Error> {
    let (_clock, registry) = manual_registry();
    let layered = crate::with_layer(ScalesLayer::new(&registry)?, || {
        tracing::info!(target: "app", "warm");
        (0..2)
            .map(|_| allocations(|| tracing::info!(target: "app", "hot")))
            .collect::<Vec<_>>()
    });
    // The first event of a callsite fills the cache (copying the map); later ones
    // allocate nothing.
    assert!(layered[0] > 0, "{layered:?}");
    assert_eq!(layered[1], 0, "{layered:?}");
    assert_eq!(
        crate::counts(&registry, "/events/info"),
        vec![("app".to_owned(), 3)]
    );
    Ok(())
}
