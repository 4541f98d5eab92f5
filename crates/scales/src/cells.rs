//! Per-thread single-writer cells: the storage behind [`IntStat`](crate::IntStat),
//! [`MeterStat`](crate::MeterStat) and [`PmfStat`](crate::PmfStat).
//!
//! # Design
//!
//! Every sharded stat owns one **slot** (a `u32`) of a process-wide [`Arena`]. Each thread
//! that records into a stat gets its own 64-bit cell for that slot, in a **chunk** of
//! [`CHUNK`] cells that the thread allocates on first use of any slot in that chunk. The
//! thread finds its chunks through a constant-initialised `thread_local!` directory of
//! pointers, so a counter increment is: one TLS load, one pointer load, and a plain
//! `load` + `store` of the thread's own cell — no `lock`-prefixed instruction, no shared
//! cache line.
//!
//! * **Counters** keep their per-thread delta in the cell. A read takes the arena lock and
//!   sums the slot's **retired** total and every live thread's cell. `set(v)` computes
//!   that sum under the lock and moves the retired total by `v − sum`. A snapshot reads
//!   runs of counters under one hold of the lock ([`CounterReader`], at most 64 reads per
//!   hold).
//! * **Blocks** (per-thread distributions): the cell holds the address of a heap block the
//!   thread allocated for that stat (see [`Block`]); a read visits every live block under
//!   the lock.
//! * **Thread exit**: a second `thread_local!` (the guard, which has a destructor) nulls the
//!   thread's directory and then, **under the same lock readers take**, folds every non-zero
//!   cell into its slot's retired total (or its stat's shared sink, for blocks), frees the
//!   blocks and chunks and forgets the thread. A read therefore sees each update exactly once:
//!   either in the live cell or in the retired total, never both, never neither.
//! * **After the guard is gone** (an update from another thread-local's destructor that runs
//!   later), `try_with` fails and the update goes, under the lock, into the slot's retired
//!   total (counters) or into the stat's shared sketch (blocks). Nothing is lost.
//! * **Slot reuse**: dropping a stat zeroes its cell in every live thread (freeing blocks)
//!   under the lock and puts the slot on a free list.
//!
//! # Orderings
//!
//! Cells are written only by their thread, with `Relaxed` loads and stores: a counter is an
//! independent tally, and any update that happens-before a read (program order on the same
//! thread, a `join`, a channel message) is visible to it through that happens-before edge;
//! readers need no more than each cell's latest value. The fold at thread exit and every
//! read hold the arena mutex, whose acquire/release makes the fold atomic with respect to
//! readers. Chunk and block addresses are published under that mutex as well.
//!
//! # Limits
//!
//! * **Signal handlers**: the per-thread update is a load followed by a store. A signal
//!   handler that interrupts it and updates the **same** stat on the **same** thread loses
//!   one of the two updates. Use a separate stat (or an `AtomicU64`) in signal handlers.
//! * A read is not an atomic snapshot across stats, nor across threads: it sees every update
//!   that happened-before it and any subset of the concurrent ones. A monotonic counter
//!   never appears to go backwards to one reader (each cell and the retired total only grow,
//!   and a fold moves a value from a cell to the retired total atomically under the lock).
//! * At most [`MAX_CHUNKS`] × [`CHUNK`] sharded stats exist at once (2 096 128: the last
//!   chunk is reserved; a tree of a million stats with dictionaries takes about 1.15
//!   million); further stats use only their shared fallback atomic or sketch, which is
//!   slower to record into and to read.
//! * Memory: 8 bytes per live stat per thread that touched its chunk (chunks of 8 KiB) and a
//!   16 KiB record per thread that records anything, both freed when the thread exits; plus
//!   the 16 KiB directory in every thread's static thread-local storage.

#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::{Arc, LazyLock, PoisonError};

use crate::sync::{AtomicPtr, AtomicU64, Mutex, MutexGuard, Ordering};

#[cfg(not(loom))]
const CHUNK_BITS: u32 = 10;
#[cfg(loom)]
const CHUNK_BITS: u32 = 1;
/// Cells per chunk.
pub(crate) const CHUNK: usize = 1 << CHUNK_BITS;
/// Chunks per thread.
#[cfg(not(loom))]
pub(crate) const MAX_CHUNKS: usize = 2048;
#[cfg(loom)]
pub(crate) const MAX_CHUNKS: usize = 2;
const MAX_SLOTS: usize = CHUNK * MAX_CHUNKS;
/// The slot of a stat that got none because the arena is full: it uses its fallback only.
/// Its chunk index is past every directory, so the hot path's masked lookup never finds it.
const NO_SLOT: u32 = u32::MAX;

#[inline]
fn split(slot: u32) -> (usize, usize) {
    ((slot >> CHUNK_BITS) as usize, slot as usize & (CHUNK - 1))
}

/// The block a cell's word points to. Words are block addresses whose provenance was
/// exposed when the block was installed ([`Arena::install`]).
#[inline]
fn block_ptr<B>(word: u64) -> *const B {
    ptr::with_exposed_provenance(word as usize)
}

/// One thread's cells for [`CHUNK`] consecutive slots, on cache lines of its own.
#[repr(align(128))]
pub(crate) struct Chunk {
    cells: [AtomicU64; CHUNK],
}

impl Chunk {
    fn new_boxed() -> Box<Self> {
        Box::new(Chunk {
            cells: std::array::from_fn(|_| AtomicU64::new(0)),
        })
    }
}

/// The arena's view of one thread: the chunks it allocated.
pub(crate) struct ThreadRecord {
    chunks: Box<[AtomicPtr<Chunk>]>,
}

impl ThreadRecord {
    /// The chunk `index`, if allocated.
    ///
    /// # Safety
    /// The caller holds the arena lock, or is the thread that owns this record: chunks are
    /// freed only by [`Arena::detach`] (under the lock, called by the owning thread) and by
    /// dropping the record (when no reference to it remains).
    unsafe fn chunk(&self, index: usize) -> Option<&Chunk> {
        // Acquire: pairs with the Release in `Arena::chunk`, so the zeroed cells are visible.
        let p = self.chunks.get(index)?.load(Ordering::Acquire);
        // SAFETY: non-null entries come from `Box::into_raw` in `Arena::chunk` and are freed
        // only as stated in this function's contract, which the caller upholds.
        unsafe { p.as_ref() }
    }
}

impl Drop for ThreadRecord {
    fn drop(&mut self) {
        for entry in self.chunks.iter() {
            // Relaxed: `&mut self`, no other thread can reach this record any more.
            let p = entry.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: `p` came from `Box::into_raw` in `Arena::chunk`, and the last
                // reference to the record is going away, so nothing can use the chunk.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// What a slot holds, and so how a thread's cell is folded when the thread exits.
///
/// One pointer wide (the arena keeps one per slot): a free slot is a `Counter` whose cells are
/// all zero (freeing a slot zeroes them), and a block slot's operations are boxed twice so
/// that the pointer is thin.
enum SlotKind {
    /// A counter, or a free slot: a thread's non-zero cell is added to the retired total.
    Counter,
    /// Per-thread blocks of a stat: a thread's non-zero cell is its block, folded and freed.
    Blocks(Box<Box<dyn BlockOps>>),
}

const _: () = assert!(std::mem::size_of::<SlotKind>() == std::mem::size_of::<usize>());

/// Type-erased fold and free of a [`Block`] from its address.
trait BlockOps: Send + Sync {
    /// Folds the block at `word` into its stat's sink, then frees it.
    ///
    /// # Safety
    /// `word` is the address of a live block of this slot's type, taken out of its cell (no
    /// other reference to it remains).
    unsafe fn fold(&self, word: u64);
    /// Frees the block at `word` without folding it (its stat is being dropped).
    ///
    /// # Safety
    /// As for [`fold`](Self::fold).
    unsafe fn discard(&self, word: u64);
}

struct Ops<B: Block>(Arc<B::Sink>, PhantomData<fn(B)>);

impl<B: Block> BlockOps for Ops<B> {
    unsafe fn fold(&self, word: u64) {
        // SAFETY: the caller passes the address of a live `B` from `Box::into_raw` in
        // `Arena::install` and gives up every other reference to it.
        let block = unsafe { Box::from_raw(block_ptr::<B>(word).cast_mut()) };
        block.fold_into(&self.0);
    }

    unsafe fn discard(&self, word: u64) {
        // SAFETY: as in `fold`.
        drop(unsafe { Box::from_raw(block_ptr::<B>(word).cast_mut()) });
    }
}

/// The arena's shared state, behind its mutex.
pub(crate) struct State {
    threads: Vec<Arc<ThreadRecord>>,
    kinds: Vec<SlotKind>,
    retired: Vec<u64>,
    free: Vec<u32>,
}

impl State {
    /// Every live thread's cell for `slot` (0 where a thread has no chunk for it).
    fn cells(&self, slot: u32) -> impl Iterator<Item = &AtomicU64> + '_ {
        let (chunk, index) = split(slot);
        self.threads.iter().filter_map(move |record| {
            // SAFETY: `&self` is borrowed from the arena's lock guard, so the lock is held.
            unsafe { record.chunk(chunk) }.map(|c| &c.cells[index])
        })
    }
}

/// The registry of threads, slots and retired totals behind every sharded stat.
pub(crate) struct Arena {
    state: Mutex<State>,
}

impl Arena {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                threads: Vec::new(),
                kinds: Vec::new(),
                retired: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn alloc(&self, kind: SlotKind) -> u32 {
        let mut state = self.lock();
        let slot = match state.free.pop() {
            Some(slot) => slot,
            // The last chunk is kept free: NO_SLOT's masked chunk index points at it.
            None if state.kinds.len() < MAX_SLOTS - CHUNK => {
                state.kinds.push(SlotKind::Counter);
                state.retired.push(0);
                (state.kinds.len() - 1) as u32
            }
            None => return NO_SLOT,
        };
        state.kinds[slot as usize] = kind;
        slot
    }

    /// Frees `slot`: zeroes its cell in every live thread (freeing blocks) and its retired
    /// total. The caller guarantees that nothing records into the slot any more.
    fn release(&self, slot: u32) {
        if slot == NO_SLOT {
            return;
        }
        let mut state = self.lock();
        let kind = std::mem::replace(&mut state.kinds[slot as usize], SlotKind::Counter);
        for cell in state.cells(slot) {
            // Relaxed: under the lock; the slot's owner threads no longer write it (the stat
            // is gone), and the next user of the slot gets it through this lock.
            let word = cell.load(Ordering::Relaxed);
            cell.store(0, Ordering::Relaxed);
            if let (SlotKind::Blocks(ops), true) = (&kind, word != 0) {
                // SAFETY: a non-zero word of a block slot is its thread's block, now taken
                // out of the cell.
                unsafe { ops.discard(word) };
            }
        }
        state.retired[slot as usize] = 0;
        state.free.push(slot);
    }

    /// Registers a new thread.
    pub(crate) fn attach(&self) -> Arc<ThreadRecord> {
        let record = Arc::new(ThreadRecord {
            chunks: (0..MAX_CHUNKS)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
        });
        self.lock().threads.push(record.clone());
        record
    }

    /// `record`'s chunk `index`, allocated if needed. Called only by the thread that owns
    /// `record`; the chunk stays valid until that thread calls [`detach`](Self::detach).
    pub(crate) fn chunk(&self, record: &ThreadRecord, index: usize) -> *const Chunk {
        // Relaxed: only this thread stores into its own entries.
        let p = record.chunks[index].load(Ordering::Relaxed);
        if !p.is_null() {
            return p;
        }
        let _state = self.lock();
        let p = Box::into_raw(Chunk::new_boxed());
        // Release: pairs with the Acquire in `ThreadRecord::chunk` (readers also hold the lock).
        record.chunks[index].store(p, Ordering::Release);
        p
    }

    /// Stores a new block in `cell` (this thread's cell of a block slot) and returns its
    /// address as a word.
    fn install<B: Block>(&self, cell: &AtomicU64) -> u64 {
        let _state = self.lock();
        let word = Box::into_raw(Box::new(B::new())).expose_provenance() as u64;
        // Release: publishes the block's initialisation (readers also hold the lock).
        cell.store(word, Ordering::Release);
        word
    }

    /// Folds every cell of `record` into the retired totals (or the blocks' sinks), frees its
    /// chunks and forgets the thread. Called by the owning thread, which writes no cell
    /// afterwards.
    pub(crate) fn detach(&self, record: &ThreadRecord) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.threads.retain(|r| !ptr::eq(&**r, record));
        for (chunk_index, entry) in record.chunks.iter().enumerate() {
            // Relaxed: under the lock, and this thread is the only writer of its entries.
            let p = entry.load(Ordering::Relaxed);
            entry.store(ptr::null_mut(), Ordering::Relaxed);
            if p.is_null() {
                continue;
            }
            // SAFETY: `p` came from `Box::into_raw` in `chunk`; the entry is now null and the
            // record is off the list, so neither readers (who hold the lock we hold) nor the
            // owner (which writes no cell after calling `detach`) can reach the chunk.
            let chunk = unsafe { Box::from_raw(p) };
            for (index, cell) in chunk.cells.iter().enumerate() {
                // Relaxed: the owner's own earlier stores, read by the owner.
                let word = cell.load(Ordering::Relaxed);
                let slot = chunk_index * CHUNK + index;
                match (word, state.kinds.get(slot)) {
                    (0, _) | (_, None) => {}
                    (_, Some(SlotKind::Counter)) => {
                        state.retired[slot] = state.retired[slot].wrapping_add(word);
                    }
                    (_, Some(SlotKind::Blocks(ops))) => {
                        // SAFETY: a non-zero word of a block slot is this thread's block; the
                        // chunk holding it is being freed, so this is the last reference.
                        unsafe { ops.fold(word) };
                    }
                }
            }
        }
    }

    /// Under the lock: `f` on `sink` and the live thread blocks of `slot`, which it may walk
    /// as often as it needs.
    fn read_live_blocks<B: Block, R>(
        &self,
        slot: u32,
        sink: &B::Sink,
        f: impl FnOnce(&B::Sink, &LiveBlocks<'_, B>) -> R,
    ) -> R {
        let state = self.lock();
        f(
            sink,
            &LiveBlocks {
                state: &state,
                slot,
                _block: PhantomData,
            },
        )
    }

    /// Under the lock: `init` on `sink`, then `f` on every live thread's block of `slot`.
    fn read_blocks<B: Block, R>(
        &self,
        slot: u32,
        sink: &B::Sink,
        init: impl FnOnce(&B::Sink) -> R,
        mut f: impl FnMut(&mut R, &B),
    ) -> R {
        self.read_live_blocks(slot, sink, |sink, blocks: &LiveBlocks<'_, B>| {
            let mut out = init(sink);
            for block in blocks.iter() {
                f(&mut out, block);
            }
            out
        })
    }

    /// The counter total of `slot`: retired plus every live thread's cell, or `fallback`
    /// for a counter without a slot.
    pub(crate) fn read_counter(&self, slot: u32, fallback: &AtomicU64) -> u64 {
        let state = self.lock();
        Self::counter_locked(&state, slot, fallback)
    }

    fn counter_locked(state: &State, slot: u32, fallback: &AtomicU64) -> u64 {
        if slot == NO_SLOT {
            // Relaxed: an independent tally.
            return fallback.load(Ordering::Relaxed);
        }
        // Relaxed: see the module docs; the lock orders this against folds.
        state
            .cells(slot)
            .fold(state.retired[slot as usize], |sum, cell| {
                sum.wrapping_add(cell.load(Ordering::Relaxed))
            })
    }

    /// Adds `n` to the retired total of `slot` (an update from a thread whose cells are gone).
    pub(crate) fn add_retired(&self, slot: u32, n: u64) {
        let mut state = self.lock();
        let retired = &mut state.retired[slot as usize];
        *retired = retired.wrapping_add(n);
    }

    /// Makes the counter total of `slot` equal to `value`.
    pub(crate) fn set_counter(&self, slot: u32, fallback: &AtomicU64, value: u64) {
        let mut state = self.lock();
        if slot == NO_SLOT {
            // Relaxed: an independent value.
            fallback.store(value, Ordering::Relaxed);
            return;
        }
        let current = Self::counter_locked(&state, slot, fallback);
        let retired = &mut state.retired[slot as usize];
        *retired = retired.wrapping_add(value.wrapping_sub(current));
    }
}

/// Runs `f` on this thread's cell for `slot`, if this thread already has its chunk.
///
/// A cell reference never outlives the call: the chunk is freed only by this thread's guard,
/// which first nulls the directory.
#[inline]
fn with_local<R>(Slot(slot): Slot, f: impl FnOnce(&AtomicU64) -> R) -> Option<R> {
    let (chunk, index) = split(slot);
    // Masked (no bounds check): only slots below MAX_SLOTS, or NO_SLOT, exist. NO_SLOT maps
    // to the last chunk of the directory, which `alloc` never hands out, so it stays null.
    let p = DIR.with(|dir| dir[chunk & (MAX_CHUNKS - 1)].get());
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null directory entry points to a chunk of this thread's record, which
    // stays allocated until this thread's guard drops; the guard nulls the directory first.
    Some(f(unsafe { &(*p).cells[index] }))
}

/// The slow path of [`with_local`]: registers the thread and allocates the chunk. `None`
/// when the thread's guard is already destroyed (the caller falls back to shared storage)
/// or the stat has no slot.
#[cold]
#[inline(never)]
fn attach_local<R>(slot: u32, f: impl FnOnce(&AtomicU64) -> R) -> Option<R> {
    if slot == NO_SLOT {
        return None;
    }
    let (chunk, index) = split(slot);
    GUARD
        .try_with(|guard| {
            let p = ARENA.chunk(&guard.record, chunk);
            DIR.with(|dir| dir[chunk].set(p));
            // SAFETY: as in `with_local`: the chunk belongs to this thread's record.
            f(unsafe { &(*p).cells[index] })
        })
        .ok()
}

static ARENA: LazyLock<Arena> = LazyLock::new(Arena::new);

thread_local! {
    /// This thread's chunks (hot; no destructor, so always accessible).
    static DIR: [Cell<*const Chunk>; MAX_CHUNKS] =
        const { [const { Cell::new(ptr::null()) }; MAX_CHUNKS] };
    /// Registers the thread on first use; folds and frees its cells when the thread exits.
    static GUARD: ThreadGuard = ThreadGuard { record: ARENA.attach() };
}

struct ThreadGuard {
    record: Arc<ThreadRecord>,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // Later updates from this thread (other TLS destructors) take the fallback path.
        let _ = DIR.try_with(|dir| dir.iter().for_each(|entry| entry.set(ptr::null())));
        ARENA.detach(&self.record);
    }
}

/// A copy of a sharded stat's slot. Handles keep one (see [`Counter::add_at`] and
/// [`Blocks::with_at`]) so that the hot path reads it from the handle instead of through the
/// handle's `Arc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(u32);

/// A sharded 64-bit counter (wrapping arithmetic; signed users cast).
pub(crate) struct Counter {
    slot: u32,
    fallback: AtomicU64,
}

impl Counter {
    pub(crate) fn new() -> Self {
        Self {
            slot: ARENA.alloc(SlotKind::Counter),
            fallback: AtomicU64::new(0),
        }
    }

    /// A copy of this counter's slot, for [`add_at`](Self::add_at).
    pub(crate) fn slot(&self) -> Slot {
        Slot(self.slot)
    }

    /// Adds `n` (wrapping).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.add_at(self.slot(), n);
    }

    /// Adds `n` (wrapping), given this counter's [`slot`](Self::slot): handles keep a copy,
    /// so the hot path reads it from the handle instead of through the handle's `Arc`.
    #[inline]
    pub(crate) fn add_at(&self, slot: Slot, n: u64) {
        debug_assert_eq!(slot, self.slot(), "a slot of another stat");
        if !Self::add_local(slot, n) {
            self.add_slow(n);
        }
    }

    /// The hot path of [`add_at`](Self::add_at) alone: adds `n` to this thread's cell of
    /// `slot` if the thread already has it; `false` (nothing added) otherwise, and the
    /// caller then calls `add_at` on the counter. For callers that keep the slot apart from
    /// the counter, such as the keyed counters' per-thread cache.
    #[inline]
    pub(crate) fn add_local(slot: Slot, n: u64) -> bool {
        with_local(slot, |cell| {
            // Relaxed load + store, no RMW: this thread is the cell's only writer.
            let value = cell.load(Ordering::Relaxed);
            cell.store(value.wrapping_add(n), Ordering::Relaxed);
        })
        .is_some()
    }

    #[cold]
    #[inline(never)]
    fn add_slow(&self, n: u64) {
        let done = attach_local(self.slot, |cell| {
            // Relaxed: as in `add`.
            let value = cell.load(Ordering::Relaxed);
            cell.store(value.wrapping_add(n), Ordering::Relaxed);
        });
        if done.is_some() {
            return;
        }
        if self.slot == NO_SLOT {
            // Relaxed: an independent tally.
            self.fallback.fetch_add(n, Ordering::Relaxed);
        } else {
            // This thread's cells are gone (it is exiting): into the retired total.
            ARENA.add_retired(self.slot, n);
        }
    }

    /// The exact total of every update that happened-before this call.
    pub(crate) fn get(&self) -> u64 {
        ARENA.read_counter(self.slot, &self.fallback)
    }

    /// Sets the total.
    pub(crate) fn set(&self, value: u64) {
        ARENA.set_counter(self.slot, &self.fallback, value);
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads counters one after another under one hold of the arena lock: taken at the first
/// read, given back after [`BATCH`](Self::BATCH) reads and on [`release`](Self::release) or
/// drop. A snapshot reads a group's runs of counters this way instead of locking once per
/// counter (two locked instructions each), and a thread that needs the lock meanwhile (its
/// first record into a chunk, its exit) waits for at most one batch of reads.
///
/// While it holds the lock, its thread must not touch any other arena-backed stat (every
/// other arena operation takes the lock, which is not reentrant): release it first.
pub(crate) struct CounterReader {
    guard: Option<MutexGuard<'static, State>>,
    reads: usize,
}

impl CounterReader {
    /// Reads per hold of the lock.
    const BATCH: usize = 64;

    pub(crate) fn new() -> Self {
        Self {
            guard: None,
            reads: 0,
        }
    }

    /// [`Counter::get`] of the counter whose [`slot`](Counter::slot) is `slot`, under the
    /// reader's hold of the lock. The counter itself is loaded only when it has no slot.
    pub(crate) fn get_at(&mut self, Slot(slot): Slot, counter: &Counter) -> u64 {
        debug_assert_eq!(slot, counter.slot, "the slot of another counter");
        if self.reads == Self::BATCH {
            self.release();
        }
        self.reads += 1;
        let state = self.guard.get_or_insert_with(|| ARENA.lock());
        Arena::counter_locked(state, slot, &counter.fallback)
    }

    /// Gives the lock back (the next [`get_at`](Self::get_at) takes it again).
    pub(crate) fn release(&mut self) {
        self.guard = None;
        self.reads = 0;
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        ARENA.release(self.slot);
    }
}

/// A per-thread block of a sharded stat, such as one thread's part of a distribution.
///
/// Its owner thread updates it with single-writer operations; readers visit it under the
/// arena lock, so it must tolerate concurrent reads of its atomics.
pub(crate) trait Block: Send + Sync + 'static {
    /// Where blocks are folded when their thread exits (and where updates go when the
    /// thread's block is unavailable).
    type Sink: Send + Sync + 'static;
    /// An empty block.
    fn new() -> Self;
    /// Adds this block's contents to `sink`.
    fn fold_into(&self, sink: &Self::Sink);
}

/// A stat made of one [`Block`] per recording thread plus a shared sink.
pub(crate) struct Blocks<B: Block> {
    slot: u32,
    sink: Arc<B::Sink>,
    _block: PhantomData<fn(B)>,
}

impl<B: Block> Blocks<B> {
    pub(crate) fn new(sink: B::Sink) -> Self {
        let sink = Arc::new(sink);
        Self {
            slot: ARENA.alloc(SlotKind::Blocks(Box::new(Box::new(Ops::<B>(
                sink.clone(),
                PhantomData,
            ))))),
            sink,
            _block: PhantomData,
        }
    }

    /// The shared sink, for updates that do not go to a block.
    pub(crate) fn sink(&self) -> &B::Sink {
        &self.sink
    }

    /// A copy of this stat's slot, for [`with_at`](Self::with_at).
    pub(crate) fn slot(&self) -> Slot {
        Slot(self.slot)
    }

    /// Runs `f` on this thread's block (allocating it on first use); `None` when the thread
    /// can have no block any more (its thread-locals are being destroyed). `slot` is this
    /// stat's [`slot`](Self::slot), which handles keep so that the hot path reads it from
    /// the handle instead of through the handle's `Arc`.
    #[inline]
    pub(crate) fn with_at<R>(&self, slot: Slot, f: impl FnOnce(&B) -> R) -> Option<R> {
        debug_assert_eq!(slot, self.slot(), "a slot of another stat");
        // Relaxed: the thread's own cell, written only by this thread.
        let word = match with_local(slot, |cell| cell.load(Ordering::Relaxed)) {
            Some(word) if word != 0 => word,
            _ => self.local_slow()?,
        };
        // SAFETY: `word` is this thread's block for this slot, from `Arena::install`. It is
        // freed only by this thread's guard (which nulls the directory first, so we could not
        // have found it) or by `release` when this stat is dropped, impossible while `&self`
        // is borrowed.
        Some(f(unsafe { &*block_ptr::<B>(word) }))
    }

    #[cold]
    #[inline(never)]
    fn local_slow(&self) -> Option<u64> {
        let word = attach_local(self.slot, |cell| {
            // Relaxed: the thread's own cell.
            match cell.load(Ordering::Relaxed) {
                0 => ARENA.install::<B>(cell),
                word => word,
            }
        })?;
        (word != 0).then_some(word)
    }

    /// Under the arena lock: `init` on the sink, then `f` on every live thread's block.
    pub(crate) fn read<R>(&self, init: impl FnOnce(&B::Sink) -> R, f: impl FnMut(&mut R, &B)) -> R {
        ARENA.read_blocks(self.slot, &*self.sink, init, f)
    }

    /// Under the arena lock: `f` on the sink and this stat's live thread blocks (which it
    /// may walk more than once, e.g. to read totals first and then only some buckets).
    pub(crate) fn read_live<R>(&self, f: impl FnOnce(&B::Sink, &LiveBlocks<'_, B>) -> R) -> R {
        ARENA.read_live_blocks(self.slot, &*self.sink, f)
    }

    /// Number of live per-thread blocks of this stat (for tests of memory reclamation).
    #[cfg(test)]
    pub(crate) fn live_blocks(&self) -> usize {
        self.read(|_| 0, |n, _| *n += 1)
    }
}

impl<B: Block> Drop for Blocks<B> {
    fn drop(&mut self) {
        ARENA.release(self.slot);
    }
}

/// Asks the CPU to start loading every cache line of `value` (no effect where there is no
/// prefetch instruction): a reader about to walk several scattered blocks issues all their
/// loads at once instead of waiting for each block's misses in turn.
#[inline]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = (value as *const T).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: a prefetch never faults and has no visible effect; the address is
            // inside `value`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.add(offset),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The live thread blocks of one stat, borrowed while the arena lock is held
/// ([`Blocks::read_live`]).
pub(crate) struct LiveBlocks<'a, B> {
    state: &'a State,
    slot: u32,
    _block: PhantomData<&'a B>,
}

impl<'a, B: Block> LiveBlocks<'a, B> {
    /// Every live thread's block, in the arena's thread order (the same on every walk).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a B> + '_ {
        let cells = (self.slot != NO_SLOT).then(|| self.state.cells(self.slot));
        cells.into_iter().flatten().filter_map(|cell| {
            // Acquire: pairs with the Release in `Arena::install` (the lock orders it too).
            let word = cell.load(Ordering::Acquire);
            // SAFETY: a live block of this slot; blocks are freed only under the lock, which
            // is held for as long as `self` is borrowed.
            (word != 0).then(|| unsafe { &*block_ptr::<B>(word) })
        })
    }
}

/// A fixed-size table of boxes allocated on first use through `&self`: like
/// `[OnceLock<Box<T>>; N]`, but an entry is one pointer (half the size) and reading it is a
/// single load and null check. Used for the octaves of the distribution sketches.
///
/// Each entry may carry a companion `E` beside its pointer (`()` by default, which takes no
/// room): the per-thread sketches keep each octave's total there, in the cache line the
/// recording thread loads anyway to find the octave.
pub(crate) struct LazyBoxes<T, const N: usize, E = ()> {
    entries: [LazyEntry<T, E>; N],
    // Owns the boxes: `Send`/`Sync` as `Box<T>` is.
    _owns: PhantomData<Box<T>>,
}

struct LazyEntry<T, E> {
    boxed: std::sync::atomic::AtomicPtr<T>,
    companion: E,
}

impl<T, const N: usize, E: Default> LazyBoxes<T, N, E> {
    pub(crate) fn new() -> Self {
        Self {
            entries: std::array::from_fn(|_| LazyEntry {
                boxed: std::sync::atomic::AtomicPtr::new(ptr::null_mut()),
                companion: E::default(),
            }),
            _owns: PhantomData,
        }
    }
}

impl<T, const N: usize, E> LazyBoxes<T, N, E> {
    /// Entry `index`, allocated with `init` if it is still empty. Panics if `index >= N`.
    #[inline]
    pub(crate) fn get_or_init(&self, index: usize, init: impl FnOnce() -> Box<T>) -> &T {
        match self.get(index) {
            Some(entry) => entry,
            None => self.init(index, init),
        }
    }

    #[cold]
    #[inline(never)]
    fn init(&self, index: usize, init: impl FnOnce() -> Box<T>) -> &T {
        let new = Box::into_raw(init());
        // AcqRel: publishes the initialised box (Release) and, on failure, acquires the
        // winner's (Acquire).
        match self.entries[index].boxed.compare_exchange(
            ptr::null_mut(),
            new,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        ) {
            // SAFETY: `new` is now owned by the table, which frees it only in `drop`
            // (`&mut self`), so it lives as long as `&self`.
            Ok(_) => unsafe { &*new },
            Err(winner) => {
                // SAFETY: `new` came from `Box::into_raw` above and was never shared.
                drop(unsafe { Box::from_raw(new) });
                // SAFETY: a non-null entry is a published box, freed only in `drop`.
                unsafe { &*winner }
            }
        }
    }

    /// Entry `index`, if allocated. Panics if `index >= N`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        // Acquire: pairs with the Release of `init`, so the box's contents are visible.
        let p = self.entries[index]
            .boxed
            .load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: a non-null entry is a box published by `init` and freed only in `drop`.
        unsafe { p.as_ref() }
    }

    /// The companion of entry `index` (allocated or not). Panics if `index >= N`.
    #[inline]
    pub(crate) fn companion(&self, index: usize) -> &E {
        &self.entries[index].companion
    }

    /// The allocated entries with their indices, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.iter_range(0..N)
    }

    /// The allocated entries among `indices` (clamped to the table), in order.
    pub(crate) fn iter_range(
        &self,
        indices: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, &T)> + '_ {
        (indices.start.min(N)..indices.end.min(N))
            .filter_map(|index| self.get(index).map(|entry| (index, entry)))
    }
}

impl<T, const N: usize, E> Drop for LazyBoxes<T, N, E> {
    fn drop(&mut self) {
        for entry in &mut self.entries {
            let p = *entry.boxed.get_mut();
            if !p.is_null() {
                // SAFETY: non-null entries come from `Box::into_raw` in `init`; `&mut self`
                // means no reference to them remains.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::LazyBoxes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    /// Counts live instances, to check that losers of a race and the table's entries are freed.
    struct Tracked<'a>(&'a AtomicUsize);

    impl<'a> Tracked<'a> {
        fn new(live: &'a AtomicUsize) -> Box<Self> {
            live.fetch_add(1, Ordering::SeqCst);
            Box::new(Tracked(live))
        }
    }

    impl Drop for Tracked<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn lazy_boxes_racing_initialisers_agree_and_nothing_leaks() {
        let live = AtomicUsize::new(0);
        for _ in 0..200 {
            let table = LazyBoxes::<Tracked<'_>, 4>::new();
            let barrier = Barrier::new(2);
            let seen: Vec<usize> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            table.get_or_init(2, || Tracked::new(&live)) as *const _ as usize
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert_eq!(seen[0], seen[1], "both racers see the winner's box");
            assert_eq!(live.load(Ordering::SeqCst), 1, "the loser's box was freed");
            assert!(table.get(1).is_none());
            assert_eq!(table.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![2]);
            drop(table);
            assert_eq!(
                live.load(Ordering::SeqCst),
                0,
                "dropping the table frees its boxes"
            );
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model checks of the fold/read protocol with explicit threads (loom cannot run TLS
    //! destructors): `attach` / `chunk` / cell update / `detach` against concurrent reads.

    use super::*;
    use loom::thread;

    fn bump(arena: &Arena, record: &ThreadRecord, slot: u32, n: u64) {
        let (chunk, index) = split(slot);
        let p = arena.chunk(record, chunk);
        // SAFETY: the chunk belongs to `record`, owned by this thread until `detach`.
        let cell = unsafe { &(*p).cells[index] };
        let value = cell.load(Ordering::Relaxed);
        cell.store(value.wrapping_add(n), Ordering::Relaxed);
    }

    #[test]
    fn loom_counter_exact_across_exit_and_monotonic() {
        loom::model(|| {
            let arena = Arc::new(Arena::new());
            let fallback = Arc::new(AtomicU64::new(0));
            let slot = arena.alloc(SlotKind::Counter);
            let writer = {
                let arena = arena.clone();
                thread::spawn(move || {
                    let record = arena.attach();
                    bump(&arena, &record, slot, 1);
                    bump(&arena, &record, slot, 2);
                    arena.detach(&record);
                })
            };
            let first = arena.read_counter(slot, &fallback);
            let second = arena.read_counter(slot, &fallback);
            assert!(first <= second && second <= 3, "{first} then {second}");
            writer.join().unwrap();
            assert_eq!(arena.read_counter(slot, &fallback), 3);
        });
    }

    /// A one-cell block whose sink is an atomic total.
    struct TestBlock(AtomicU64);

    impl Block for TestBlock {
        type Sink = AtomicU64;
        fn new() -> Self {
            TestBlock(AtomicU64::new(0))
        }
        fn fold_into(&self, sink: &AtomicU64) {
            sink.fetch_add(self.0.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    fn block_total(arena: &Arena, slot: u32, sink: &AtomicU64) -> u64 {
        arena.read_blocks::<TestBlock, u64>(
            slot,
            sink,
            |sink| sink.load(Ordering::Relaxed),
            |total, block| *total += block.0.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn loom_blocks_fold_exactly_once() {
        loom::model(|| {
            let arena = Arc::new(Arena::new());
            let sink = Arc::new(AtomicU64::new(0));
            let slot = arena.alloc(SlotKind::Blocks(Box::new(Box::new(Ops::<TestBlock>(
                sink.clone(),
                PhantomData,
            )))));
            let writer = {
                let arena = arena.clone();
                thread::spawn(move || {
                    let record = arena.attach();
                    let (chunk, index) = split(slot);
                    let p = arena.chunk(&record, chunk);
                    // SAFETY: the chunk belongs to `record`, owned by this thread.
                    let cell = unsafe { &(*p).cells[index] };
                    let word = arena.install::<TestBlock>(cell);
                    // SAFETY: the block was just installed by this thread and lives until
                    // `detach` below.
                    let block = unsafe { &*block_ptr::<TestBlock>(word) };
                    for _ in 0..2 {
                        let value = block.0.load(Ordering::Relaxed);
                        block.0.store(value + 1, Ordering::Relaxed);
                    }
                    arena.detach(&record);
                })
            };
            let first = block_total(&arena, slot, &sink);
            let second = block_total(&arena, slot, &sink);
            assert!(first <= second && second <= 2, "{first} then {second}");
            writer.join().unwrap();
            assert_eq!(block_total(&arena, slot, &sink), 2);
            arena.release(slot);
        });
    }

    #[test]
    fn loom_set_and_two_writers() {
        loom::model(|| {
            let arena = Arc::new(Arena::new());
            let fallback = Arc::new(AtomicU64::new(0));
            let slot = arena.alloc(SlotKind::Counter);
            let main_record = arena.attach();
            bump(&arena, &main_record, slot, 5);
            arena.set_counter(slot, &fallback, 10);
            let writer = {
                let arena = arena.clone();
                thread::spawn(move || {
                    let record = arena.attach();
                    bump(&arena, &record, slot, 1);
                    arena.detach(&record);
                })
            };
            bump(&arena, &main_record, slot, 1);
            writer.join().unwrap();
            assert_eq!(arena.read_counter(slot, &fallback), 12);
            arena.detach(&main_record);
            assert_eq!(arena.read_counter(slot, &fallback), 12);
        });
    }
}
