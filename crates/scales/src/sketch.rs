//! The quantile sketch behind [`PmfStat`](crate::PmfStat): a log-linear histogram.
//!
//! Every finite value falls into a bucket chosen from its binary exponent and the top
//! [`SUB_BITS`] bits of its mantissa, so each power of two is split into 64 equal sub-buckets
//! (the layout HdrHistogram and DDSketch-style sketches use). A bucket's relative width is at
//! most 1/64, and reporting its harmonic midpoint bounds the relative error of every quantile
//! at 1/129 ≈ 0.78 %. Counts are plain integers, so sketches merge by adding buckets and an
//! interval's sketch is the difference of two cumulative ones.
//!
//! Written here rather than taken from a crate because recording must be lock-free from many
//! threads at a few nanoseconds: `hdrhistogram` and `sketches-ddsketch` are single-writer
//! structures that would need a lock around every record.
//!
//! Range: every finite value has its own bucket, from the smallest subnormal to `f64::MAX`.
//! Magnitudes in the *window* 2⁻⁶⁴ ≤ |v| < 2⁶⁴ (about 5.4e-20 to 1.8e19) are counted in
//! octaves allocated on first use, 512 bytes each (latencies that span 1 µs–10 s touch about
//! 24 octaves), by the recording thread without a lock. Magnitudes outside the window are
//! rare; they are counted in a small map behind a mutex, with the same bucket layout, so the
//! error bound holds for them too. For normal values (|v| ≥ 2.2e-308) a bucket's reported
//! value is within 1/129 of every value in it; for subnormal values, whose own precision is
//! coarser, within 1/129 plus one subnormal step (4.9e-324). NaN and infinities are not
//! recorded; they are counted in [`SketchSnapshot::dropped`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::atomic_f64::AtomicF64;
use crate::cells::LazyBoxes;

/// Mantissa bits that pick the sub-bucket within a power of two.
pub const SUB_BITS: u32 = 6;
const SUBS: usize = 1 << SUB_BITS;
const MIN_EXP: i32 = -64;
const MAX_EXP: i32 = 63;
const OCTAVES: usize = (MAX_EXP - MIN_EXP + 1) as usize;
/// The largest relative error of a reported quantile, before clamping to min and max.
pub const RELATIVE_ERROR: f64 = 1.0 / (2 * SUBS + 1) as f64;

/// Extra octaves below the normal range in the full index, so that subnormals (scaled by
/// 2⁶⁴ to find their bucket) get non-negative indices.
const SUBNORMAL_OCTAVES: u32 = 64;
/// The full index of the window's first bucket.
const WINDOW_OFFSET: u32 = ((1023 + MIN_EXP) as u32 + SUBNORMAL_OCTAVES) << SUB_BITS;

/// Index of the window bucket holding magnitude `abs` (> 0), or `None` outside the window.
#[inline]
fn window_index(abs: f64) -> Option<usize> {
    let index = ((abs.to_bits() >> (52 - SUB_BITS)) as usize)
        .wrapping_sub(((1023 + MIN_EXP) as usize) << SUB_BITS);
    (index < OCTAVES * SUBS).then_some(index)
}

/// Index of the bucket holding magnitude `abs` (> 0, finite) among all finite magnitudes: the
/// exponent and the top [`SUB_BITS`] mantissa bits, as one number. Window index `i` is full
/// index `i + WINDOW_OFFSET`.
pub(crate) fn full_index(abs: f64) -> u32 {
    const SCALE: f64 = 18_446_744_073_709_551_616.0; // 2⁶⁴
    if abs >= f64::MIN_POSITIVE {
        (abs.to_bits() >> (52 - SUB_BITS)) as u32 + (SUBNORMAL_OCTAVES << SUB_BITS)
    } else {
        // Exact: multiplying by a power of two only moves the exponent.
        ((abs * SCALE).to_bits() >> (52 - SUB_BITS)) as u32
    }
}

/// The value reported for a bucket (by full index): the harmonic midpoint of its bounds.
pub(crate) fn bucket_estimate(index: u32) -> f64 {
    let exp = (index >> SUB_BITS) as i32 - SUBNORMAL_OCTAVES as i32 - 1023;
    let sub = f64::from(index & (SUBS as u32 - 1));
    // 2^exp exactly, normal or subnormal.
    let base = if exp >= -1022 {
        f64::from_bits(((exp + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (exp + 1074))
    };
    let (a, b) = (1.0 + sub / SUBS as f64, 1.0 + (sub + 1.0) / SUBS as f64);
    // The midpoint as a factor of `base` first, so that the top octave does not overflow.
    base * (2.0 * a * b / (a + b))
}

/// The smallest bucket index ([`SketchSnapshot::positive_buckets`]): the bucket of the
/// smallest subnormal, 5e-324.
pub const MIN_INDEX: u32 =
    ((5e-324f64 * 18_446_744_073_709_551_616.0).to_bits() >> (52 - SUB_BITS)) as u32;
/// The largest bucket index: the bucket of `f64::MAX`.
pub const MAX_INDEX: u32 =
    (f64::MAX.to_bits() >> (52 - SUB_BITS)) as u32 + (SUBNORMAL_OCTAVES << SUB_BITS);

/// The counts of one octave (power of two): one per sub-bucket.
type Octave = [AtomicU64; SUBS];

fn new_octave() -> Box<Octave> {
    Box::new(std::array::from_fn(|_| AtomicU64::new(0)))
}

/// Which of an [`AtomicSketch`]'s two sides counts a value's magnitude.
const POSITIVE: usize = 0;
const NEGATIVE: usize = 1;

/// Lock-free bucket counts for one sign, octaves allocated on first use.
struct AtomicBuckets {
    octaves: LazyBoxes<Octave, OCTAVES>,
}

impl AtomicBuckets {
    fn new() -> Box<Self> {
        Box::new(Self {
            octaves: LazyBoxes::new(),
        })
    }

    #[inline]
    fn add(&self, index: usize, n: u64) {
        let octave = self.octaves.get_or_init(index / SUBS, new_octave);
        // Relaxed: buckets are independent tallies; readers only need eventual exactness.
        octave[index % SUBS].fetch_add(n, Ordering::Relaxed);
    }

    /// Appends the non-zero buckets, by full index.
    fn collect(&self, out: &mut Vec<(u32, u64)>) {
        collect_octaves(self.octaves.iter(), WINDOW_OFFSET, out);
    }
}

/// Appends the non-zero buckets of `octaves` to `out`, in index order, each window index
/// plus `offset`.
fn collect_octaves<'a>(
    octaves: impl Iterator<Item = (usize, &'a Octave)>,
    offset: u32,
    out: &mut Vec<(u32, u64)>,
) {
    thread_local! {
        /// Where this thread gathers a sketch's buckets before copying them out.
        static GATHERED: std::cell::RefCell<Vec<(u32, u64)>> = const {
            std::cell::RefCell::new(Vec::new())
        };
    }
    // Gathered in a per-thread buffer, then copied into a list allocated once at its size:
    // snapshots of big trees hold many of these lists, and growing them by doubling would
    // churn twice the memory. One pass over the counts (a count-then-collect pair of passes
    // costs a third more).
    let mut octaves = Some(octaves);
    let mut gather = |gathered: &mut Vec<(u32, u64)>| {
        gathered.clear();
        if let Some(octaves) = octaves.take() {
            append_octaves(octaves, offset, gathered);
        }
        out.reserve_exact(gathered.len());
        out.extend_from_slice(gathered);
    };
    let done = GATHERED
        .try_with(|gathered| match gathered.try_borrow_mut() {
            Ok(mut gathered) => {
                gather(&mut gathered);
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if !done {
        // This thread's buffer is gone (thread exit) or in use: a buffer of its own.
        gather(&mut Vec::new());
    }
}

/// Appends the non-zero buckets of `octaves` to `out` (growing it as needed), in index
/// order, each window index plus `offset`.
fn append_octaves<'a>(
    octaves: impl Iterator<Item = (usize, &'a Octave)>,
    offset: u32,
    out: &mut Vec<(u32, u64)>,
) {
    for (octave_index, octave) in octaves {
        let base = (octave_index * SUBS) as u32 + offset;
        // Compacted without a branch per bucket: which buckets are empty is data, and a
        // mispredicted branch costs more than the store.
        let mut buffer = [(0u32, 0u64); SUBS];
        let mut filled = 0;
        for (sub, count) in (0u32..).zip(octave.iter()) {
            // Relaxed: independent tallies (a reader may run beside the writer).
            let count = count.load(Ordering::Relaxed);
            buffer[filled] = (base + sub, count);
            filled += usize::from(count > 0);
        }
        out.extend_from_slice(&buffer[..filled]);
    }
}

/// Counts of magnitudes outside the window, by full index (rare; behind a mutex).
#[derive(Default)]
struct Outliers {
    positive: BTreeMap<u32, u64>,
    negative: BTreeMap<u32, u64>,
}

/// Maps an `f64` to a `u64` whose unsigned order is the float's numeric order.
#[inline]
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

#[inline]
fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// A thread-safe, lock-free log-linear histogram of `f64` values.
pub(crate) struct AtomicSketch {
    // Allocated on first use: with per-thread blocks, most distributions only see folds.
    // `[POSITIVE]` and `[NEGATIVE]`, each allocated on first use (one pointer each, not a
    // `OnceLock`: idle distributions are many).
    sides: LazyBoxes<AtomicBuckets, 2>,
    // Allocated by the first value outside the window (rare), so reads skip the lock.
    outliers: LazyBoxes<Mutex<Outliers>, 1>,
    zeros: AtomicU64,
    dropped: AtomicU64,
    sum: AtomicF64,
    sum_squares: AtomicF64,
    // Order keys; 0 means "nothing recorded". `min_inverted` holds `!order_key(min)`.
    max_key: AtomicU64,
    min_inverted: AtomicU64,
}

impl AtomicSketch {
    pub(crate) fn new() -> Self {
        Self {
            sides: LazyBoxes::new(),
            outliers: LazyBoxes::new(),
            zeros: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            sum: AtomicF64::new(0.0),
            sum_squares: AtomicF64::new(0.0),
            max_key: AtomicU64::new(0),
            min_inverted: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, value: f64) {
        if !value.is_finite() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if value == 0.0 {
            self.zeros.fetch_add(1, Ordering::Relaxed);
        } else {
            let (side, abs) = if value > 0.0 {
                (POSITIVE, value)
            } else {
                (NEGATIVE, -value)
            };
            match window_index(abs) {
                Some(index) => self
                    .sides
                    .get_or_init(side, AtomicBuckets::new)
                    .add(index, 1),
                None => {
                    let mut outliers = self
                        .outliers
                        .get_or_init(0, Box::default)
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    let side = if value > 0.0 {
                        &mut outliers.positive
                    } else {
                        &mut outliers.negative
                    };
                    *side.entry(full_index(abs)).or_insert(0) += 1;
                }
            }
        }
        self.sum.add(value);
        self.sum_squares.add(value * value);
        let key = order_key(value);
        if self.max_key.load(Ordering::Relaxed) < key {
            self.max_key.fetch_max(key, Ordering::Relaxed);
        }
        if self.min_inverted.load(Ordering::Relaxed) < !key {
            self.min_inverted.fetch_max(!key, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> SketchSnapshot {
        self.snapshot_into(Vec::new(), Vec::new(), false)
    }

    /// A snapshot whose bucket lists are `positive` and `negative` (emptied first: buffers
    /// to reuse). `reuse` says they are scratch buffers that grow as needed; otherwise the
    /// lists are allocated once at their size, as a lasting snapshot's should be.
    fn snapshot_into(
        &self,
        mut positive: Vec<(u32, u64)>,
        mut negative: Vec<(u32, u64)>,
        reuse: bool,
    ) -> SketchSnapshot {
        positive.clear();
        negative.clear();
        for (side, out) in [(POSITIVE, &mut positive), (NEGATIVE, &mut negative)] {
            if let Some(buckets) = self.sides.get(side) {
                if reuse {
                    append_octaves(buckets.octaves.iter(), WINDOW_OFFSET, out);
                } else {
                    buckets.collect(out);
                }
            }
        }
        if let Some(outliers) = self.outliers.get(0) {
            let outliers = outliers.lock().unwrap_or_else(PoisonError::into_inner);
            let as_list =
                |map: &BTreeMap<u32, u64>| map.iter().map(|(&i, &c)| (i, c)).collect::<Vec<_>>();
            merge_buckets(&mut positive, &as_list(&outliers.positive), |a, b| a + b);
            merge_buckets(&mut negative, &as_list(&outliers.negative), |a, b| a + b);
        }
        let zeros = self.zeros.load(Ordering::Relaxed);
        let count = zeros
            + positive.iter().map(|&(_, c)| c).sum::<u64>()
            + negative.iter().map(|&(_, c)| c).sum::<u64>();
        let max_key = self.max_key.load(Ordering::Relaxed);
        let min_inverted = self.min_inverted.load(Ordering::Relaxed);
        let (min, max) = if count == 0 || max_key == 0 || min_inverted == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (from_order_key(!min_inverted), from_order_key(max_key))
        };
        SketchSnapshot {
            count,
            sum: self.sum.load(),
            sum_squares: self.sum_squares.load(),
            min,
            max,
            zeros,
            positive,
            negative,
            dropped: self.dropped.load(Ordering::Relaxed),
            percentiles: None,
        }
    }
}

/// Reusable bucket lists for summary reads ([`SketchDetail::Summary`]), one set per thread:
/// a summary keeps no buckets, so gathering them into the same buffers every time lets a
/// snapshot of many distributions allocate nothing for them.
#[derive(Default)]
pub(crate) struct SummaryBuffers {
    positive: Vec<(u32, u64)>,
    negative: Vec<(u32, u64)>,
    /// Per window octave, the total of every block read so far; all zeros between reads.
    octave_totals: Vec<u64>,
}

thread_local! {
    static SUMMARY_BUFFERS: std::cell::RefCell<SummaryBuffers> =
        std::cell::RefCell::new(SummaryBuffers::default());
}

/// Runs `f` with this thread's [`SummaryBuffers`] (fresh ones if they are in use or gone).
pub(crate) fn with_summary_buffers<R>(f: impl FnOnce(&mut SummaryBuffers) -> R) -> R {
    let mut f = Some(f);
    let done = SUMMARY_BUFFERS
        .try_with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => f.take().map(|f| f(&mut buffers)),
            Err(_) => None,
        })
        .ok()
        .flatten();
    match (done, f) {
        (Some(result), _) => result,
        (None, Some(f)) => f(&mut SummaryBuffers::default()),
        (None, None) => unreachable!("f runs at most once"),
    }
}

impl AtomicSketch {
    /// A summary ([`SketchDetail::Summary`]) of this shared sketch together with the
    /// per-thread `blocks` of the same stat (`blocks()` walks them; it is called more than
    /// once and must give the same blocks each time).
    ///
    /// Reads each block's octave totals first, finds the octaves the percentiles' ranks fall
    /// in, and reads the buckets of those octaves only (about 5 of a latency distribution's
    /// 12): the rest enter the walk as one count per octave. Without concurrent recording
    /// the result is exactly the summary of the full snapshot; with it, an octave whose
    /// buckets moved on between the two reads is counted as its total said.
    pub(crate) fn summarize_with<'a, I>(
        &self,
        blocks: impl Fn() -> I,
        buffers: &mut SummaryBuffers,
    ) -> SketchSnapshot
    where
        I: Iterator<Item = &'a LocalSketch>,
    {
        let mut snapshot = self.snapshot_into(
            std::mem::take(&mut buffers.positive),
            std::mem::take(&mut buffers.negative),
            true,
        );
        let totals = &mut buffers.octave_totals;
        totals.resize(OCTAVES, 0);
        let window = WINDOW_OFFSET..WINDOW_OFFSET + (OCTAVES * SUBS) as u32;
        let shared_start = snapshot
            .positive
            .partition_point(|&(i, _)| i < window.start);
        let shared_end = snapshot.positive.partition_point(|&(i, _)| i < window.end);
        // The octaves `lo..hi` hold every non-zero total.
        let (mut lo, mut hi) = (OCTAVES, 0);
        for &(index, count) in &snapshot.positive[shared_start..shared_end] {
            let octave = (index - WINDOW_OFFSET) as usize / SUBS;
            totals[octave] += count;
            (lo, hi) = (lo.min(octave), hi.max(octave + 1));
        }
        // The blocks with values; the one, when it is alone (the usual case).
        let (mut from_blocks, mut only_block) = (0, None);
        for block in blocks() {
            let range = block.octave_range();
            let mut count = 0;
            for octave in range.clone() {
                // Relaxed: see the type docs of `LocalSketch`.
                let total = block.octaves.companion(octave).load(Ordering::Relaxed);
                totals[octave] += total;
                count += total;
            }
            if count > 0 {
                (lo, hi) = (lo.min(range.start), hi.max(range.end));
                from_blocks += 1;
                only_block = Some(block);
                snapshot.merge(&block.header(count));
            }
        }
        if from_blocks == 0 {
            // Only the shared sketch, whose buckets are all here already.
            totals[lo.min(hi)..hi].fill(0);
            return snapshot.summarize_into(buffers);
        }

        // The walk of `values_at_ranks` over negative values, zeros, magnitudes below the
        // window, the window and magnitudes above it; an octave whose total holds no
        // pending rank is passed in one step, the others are read bucket by bucket (shared
        // and blocks added up).
        let (ranks, fractions) = percentile_ranks(snapshot.count);
        let mut walk = RankWalk::new(&ranks);
        snapshot.walk_below_positive(&mut walk);
        let shared = &snapshot.positive;
        for &(index, count) in &shared[..shared_start] {
            walk.add(count, || bucket_estimate(index));
        }
        // The octaves the ranks fall in, found by a copy of the walk over the totals alone:
        // their loads go out together, before the walk reads them.
        let mut ahead = walk.clone();
        for (octave, &total) in totals.iter().enumerate().take(hi).skip(lo) {
            if !ahead.passes(total) {
                for buckets in blocks().filter_map(|block| block.octaves.get(octave)) {
                    crate::cells::prefetch(buckets);
                }
            }
            ahead.add(total, || 0.0);
        }
        let mut shared_window = &shared[shared_start..shared_end];
        for (octave, total) in totals.iter_mut().enumerate().take(hi).skip(lo) {
            let total = std::mem::take(total);
            let base = WINDOW_OFFSET + (octave * SUBS) as u32;
            let mut shared_here: &[(u32, u64)] = &[];
            if !shared_window.is_empty() {
                let end = shared_window.partition_point(|&(i, _)| i < base + SUBS as u32);
                (shared_here, shared_window) = shared_window.split_at(end);
            }
            if walk.passes(total) {
                walk.add(total, || unreachable!("no pending rank in this octave"));
                continue;
            }
            match only_block.and_then(|block| block.octaves.get(octave)) {
                // One source: its buckets, read as the walk goes (Relaxed: see the type
                // docs of `LocalSketch`).
                Some(buckets) if from_blocks == 1 && shared_here.is_empty() => {
                    walk_octave(&mut walk, base, total, |sub| {
                        buckets[sub].load(Ordering::Relaxed)
                    });
                }
                _ => {
                    let mut counts = [0u64; SUBS];
                    for &(index, count) in shared_here {
                        counts[(index - base) as usize] += count;
                    }
                    for block in blocks() {
                        if let Some(buckets) = block.octaves.get(octave) {
                            for (sum, bucket) in counts.iter_mut().zip(buckets.iter()) {
                                *sum += bucket.load(Ordering::Relaxed);
                            }
                        }
                    }
                    walk_octave(&mut walk, base, total, |sub| counts[sub]);
                }
            }
        }
        for &(index, count) in &shared[shared_end..] {
            walk.add(count, || bucket_estimate(index));
        }
        let mut values = [0.0; 2 * PERCENTILE_KEYS.len()];
        walk.finish(&snapshot, &mut values);
        snapshot.percentiles = Some(snapshot.interpolate(&values, &fractions));
        buffers.positive = std::mem::take(&mut snapshot.positive);
        buffers.negative = std::mem::take(&mut snapshot.negative);
        snapshot
    }
}

/// Walks one window octave whose buckets hold `count(sub)` values and whose total is
/// `total`, from its lowest bucket up to the last one a pending rank falls in. The buckets
/// are made to add up to the total (they differ only when they were read after it and
/// recording went on in between): a bucket past it is cut, and what they lack goes to the
/// highest bucket with values.
///
/// Buckets are taken `GROUP` at a time: a group whose values hold no pending rank (and
/// fit in what is left of the total) is passed in one step, and only the groups a rank falls
/// in are walked bucket by bucket. The estimates are those of a walk bucket by bucket.
#[inline]
fn walk_octave(walk: &mut RankWalk<'_>, base: u32, total: u64, count: impl Fn(usize) -> u64) {
    /// Buckets summed before the walk decides whether it must look at them one by one.
    const GROUP: usize = 8;
    const _: () = assert!(SUBS.is_multiple_of(GROUP));
    let mut remaining = total;
    // The highest bucket with values so far, or the highest group with values passed in
    // one step (its bucket is found only if it is needed, below).
    let (mut highest, mut highest_in_group) = (SUBS / 2, false);
    'groups: for start in (0..SUBS).step_by(GROUP) {
        if walk.passes(remaining) {
            break;
        }
        let values: u64 = (start..start + GROUP).map(&count).sum();
        if values <= remaining && walk.passes(values) {
            if values > 0 {
                walk.add(values, || unreachable!("no pending rank in this group"));
                remaining -= values;
                (highest, highest_in_group) = (start, true);
            }
            continue;
        }
        for sub in start..start + GROUP {
            if walk.passes(remaining) {
                break 'groups;
            }
            let values = count(sub).min(remaining);
            if values > 0 {
                walk.add(values, || bucket_estimate(base + sub as u32));
                remaining -= values;
                (highest, highest_in_group) = (sub, false);
            }
        }
    }
    if highest_in_group && !walk.passes(remaining) {
        highest = (highest..highest + GROUP)
            .rev()
            .find(|&sub| count(sub) > 0)
            .unwrap_or(highest);
    }
    walk.add(remaining, || bucket_estimate(base + highest as u32));
}

/// A walk over a distribution's buckets in value order that gives each of up to 16 ranks
/// (in any order) the estimate of the bucket it falls in. It only adds counts until a rank
/// is reached; a bucket's estimate is computed only when a rank falls in it.
#[derive(Clone)]
struct RankWalk<'r> {
    ranks: &'r [u64],
    /// Indices into `ranks`, by increasing rank.
    order: [usize; 16],
    /// Position in `order` of the lowest rank still pending.
    next: usize,
    /// The values walked so far.
    seen: u64,
    /// The lowest rank still pending (`u64::MAX` when none is).
    target: u64,
    values: [f64; 16],
}

impl<'r> RankWalk<'r> {
    fn new(ranks: &'r [u64]) -> Self {
        assert!(ranks.len() <= 16);
        let mut order: [usize; 16] = std::array::from_fn(|i| i);
        order[..ranks.len()].sort_unstable_by_key(|&i| ranks[i]);
        let target = if ranks.is_empty() {
            u64::MAX
        } else {
            ranks[order[0]]
        };
        Self {
            ranks,
            order,
            next: 0,
            seen: 0,
            target,
            values: [0.0; 16],
        }
    }

    /// Whether every rank has its estimate.
    #[inline]
    fn done(&self) -> bool {
        self.target == u64::MAX
    }

    /// Whether the next `count` values hold no pending rank (then `add` will not estimate).
    #[inline]
    fn passes(&self, count: u64) -> bool {
        self.target >= self.seen + count
    }

    /// Walks a bucket of `count` values whose estimate is `estimate()`.
    #[inline]
    fn add(&mut self, count: u64, estimate: impl Fn() -> f64) {
        self.seen += count;
        if self.target < self.seen {
            let value = estimate();
            let ranks = self.ranks;
            while self.next < ranks.len() && ranks[self.order[self.next]] < self.seen {
                self.values[self.order[self.next]] = value;
                self.next += 1;
            }
            self.target = match self.order[..ranks.len()].get(self.next) {
                Some(&i) => ranks[i],
                None => u64::MAX,
            };
        }
    }

    /// Writes the estimates to `out` (one per rank), with ranks past the walk at the max,
    /// and the lowest and highest ranks at the exact min and max of `of`, when known.
    fn finish(self, of: &SketchSnapshot, out: &mut [f64]) {
        let ranks = self.ranks;
        assert_eq!(out.len(), ranks.len());
        out.copy_from_slice(&self.values[..ranks.len()]);
        for &i in &self.order[self.next..ranks.len()] {
            out[i] = of.max;
        }
        for (rank, value) in ranks.iter().zip(out.iter_mut()) {
            if *rank == 0 {
                if let Some(min) = of.min() {
                    *value = min;
                    continue;
                }
            }
            if rank + 1 >= of.count {
                if let Some(max) = of.max() {
                    *value = max;
                }
            }
        }
    }
}

/// The ranks [`SketchSnapshot::percentile_values`] reads for `count` values (the lower and
/// upper rank of each of the [`PERCENTILE_KEYS`]) and each one's interpolation fraction.
fn percentile_ranks(
    count: u64,
) -> (
    [u64; 2 * PERCENTILE_KEYS.len()],
    [f64; PERCENTILE_KEYS.len()],
) {
    let mut ranks = [0u64; 2 * PERCENTILE_KEYS.len()];
    let mut fractions = [0.0; PERCENTILE_KEYS.len()];
    let last = count.saturating_sub(1);
    for (k, &(_, q)) in PERCENTILE_KEYS.iter().enumerate() {
        let h = q * last as f64;
        let lower = h.floor();
        fractions[k] = h - lower;
        ranks[2 * k] = lower as u64;
        ranks[2 * k + 1] = (lower as u64 + 1).min(last);
    }
    (ranks, fractions)
}

/// One thread's part of a distribution: positive finite values only, single writer.
///
/// The owner thread updates it with plain `load` + `store` pairs (no locked instruction);
/// readers visit it concurrently under the arena lock ([`crate::cells`]) and fold it into
/// the stat's shared [`AtomicSketch`] when the thread exits. Memory: a 2 KiB table of
/// octave pointers and totals and 32 bytes of sums and extremes, plus 512 bytes per octave
/// (power of two) touched, so ≤ 17 KiB for values that span up to 29 octaves (a max/min
/// ratio of about 5 × 10⁸, e.g. 100 ns to 50 s).
pub(crate) struct LocalSketch {
    /// The octaves, each with its total (the sum of its buckets) beside its pointer, in
    /// the cache line a record loads anyway: a summary reads the totals to find the few
    /// octaves its percentiles fall in, and the buckets of those only.
    octaves: LazyBoxes<Octave, OCTAVES, AtomicU64>,
    /// Sums of the values and of their squares, as `f64` bits.
    sum: AtomicF64,
    sum_squares: AtomicF64,
    /// Bits of the largest value; 0 means "nothing recorded". Positive finite `f64`s order
    /// like their bit patterns.
    max_bits: AtomicU64,
    /// Bits of the smallest value; `u64::MAX` means "nothing recorded".
    min_bits: AtomicU64,
}

/// Adds `n` to a cell only this thread writes.
#[inline]
fn bump(cell: &AtomicU64, n: u64) {
    // Relaxed load + store: single writer; readers only need each cell's latest value.
    cell.store(cell.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl LocalSketch {
    /// The bucket of `value` if a [`LocalSketch`] can hold it: positive, finite and within
    /// the sketch's octaves. Zeros, negative, subnormal, huge and non-finite values get
    /// `None` (they go to the shared sketch) — all with one unsigned comparison, because their
    /// bit patterns fall outside the range.
    #[inline]
    pub(crate) fn bucket_of(value: f64) -> Option<usize> {
        // A negative value's sign bit puts its bit pattern far above the window.
        window_index(value)
    }

    /// Records `value`, whose bucket is `index` (from [`bucket_of`](Self::bucket_of)).
    #[inline]
    pub(crate) fn record(&self, index: usize, value: f64) {
        let octave_index = index / SUBS;
        let octave = self.octaves.get_or_init(octave_index, new_octave);
        bump(&octave[index % SUBS], 1);
        bump(self.octaves.companion(octave_index), 1);
        let bits = value.to_bits();
        self.sum.add_single_writer(value);
        self.sum_squares.add_single_writer(value * value);
        // Relaxed: single writer, as above.
        if self.max_bits.load(Ordering::Relaxed) < bits {
            self.max_bits.store(bits, Ordering::Relaxed);
        }
        if self.min_bits.load(Ordering::Relaxed) > bits {
            self.min_bits.store(bits, Ordering::Relaxed);
        }
    }

    /// `(sum, sum of squares)`.
    fn sums(&self) -> (f64, f64) {
        // Relaxed: see the type docs.
        (self.sum.load(), self.sum_squares.load())
    }

    /// `(min, max)`, or `None` before the first record has stored them.
    fn extremes(&self) -> Option<(f64, f64)> {
        // Relaxed: see the type docs.
        let (min, max) = (
            self.min_bits.load(Ordering::Relaxed),
            self.max_bits.load(Ordering::Relaxed),
        );
        (min != u64::MAX && max != 0).then(|| (f64::from_bits(min), f64::from_bits(max)))
    }

    /// The window octaves this block has recorded into, from its extremes (none before its
    /// first record has stored them).
    fn octave_range(&self) -> std::ops::Range<usize> {
        match self.extremes() {
            Some((min, max)) => match (window_index(min), window_index(max)) {
                (Some(low), Some(high)) => low / SUBS..high / SUBS + 1,
                _ => 0..OCTAVES,
            },
            None => 0..0,
        }
    }

    /// The block's allocated octaves, by window octave index.
    fn octaves(&self) -> impl Iterator<Item = (usize, &Octave)> + '_ {
        self.octaves.iter_range(self.octave_range())
    }

    /// This block's count, sums and extremes as a snapshot without buckets, to merge.
    fn header(&self, count: u64) -> SketchSnapshot {
        // A read racing with the first record may see a bucket before min/max: NaN merges
        // as "unknown" and the other threads' (or the next read's) extremes stand.
        let (min, max) = self.extremes().unwrap_or((f64::NAN, f64::NAN));
        let (sum, sum_squares) = self.sums();
        SketchSnapshot {
            count,
            sum,
            sum_squares,
            min,
            max,
            ..SketchSnapshot::default()
        }
    }

    /// Adds this block's values to `snapshot` (a reader's view, concurrent with the owner).
    pub(crate) fn merge_into(&self, snapshot: &mut SketchSnapshot) {
        let mut positive = Vec::new();
        collect_octaves(self.octaves(), WINDOW_OFFSET, &mut positive);
        let count = positive.iter().map(|&(_, c)| c).sum::<u64>();
        if count == 0 {
            return;
        }
        snapshot.merge(&self.header(count));
        // The common case, one thread's block alone: its buckets move in, uncopied.
        if snapshot.positive.is_empty() {
            snapshot.positive = positive;
        } else {
            merge_buckets(&mut snapshot.positive, &positive, |a, b| a + b);
        }
    }
}

impl crate::cells::Block for LocalSketch {
    type Sink = AtomicSketch;

    fn new() -> Self {
        Self {
            octaves: LazyBoxes::new(),
            sum: AtomicF64::new(0.0),
            sum_squares: AtomicF64::new(0.0),
            max_bits: AtomicU64::new(0),
            min_bits: AtomicU64::new(u64::MAX),
        }
    }

    fn fold_into(&self, sink: &AtomicSketch) {
        let positive = sink.sides.get_or_init(POSITIVE, AtomicBuckets::new);
        let mut buckets = Vec::new();
        collect_octaves(self.octaves(), 0, &mut buckets);
        for (index, count) in buckets {
            positive.add(index as usize, count);
        }
        let (sum, sum_squares) = self.sums();
        sink.sum.add(sum);
        sink.sum_squares.add(sum_squares);
        if let Some((min, max)) = self.extremes() {
            sink.max_key.fetch_max(order_key(max), Ordering::Relaxed);
            sink.min_inverted
                .fetch_max(!order_key(min), Ordering::Relaxed);
        }
    }
}

/// How much of each distribution a snapshot keeps
/// ([`SnapshotOptions::distributions`](crate::SnapshotOptions::distributions)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SketchDetail {
    /// Every bucket: quantiles at any rank, merges, interval deltas, drawn histograms and
    /// the JSON form with sketches. What [`Registry::snapshot`](crate::Registry::snapshot)
    /// takes.
    #[default]
    Buckets,
    /// Count, sum, extremes and the six summary percentiles ([`PERCENTILE_KEYS`]), computed
    /// while the snapshot is taken; no buckets. What the status server's JSON and
    /// Prometheus text show, at a fraction of the memory and time of [`Buckets`](Self::Buckets)
    /// on big trees (a bucket list per distribution is most of a snapshot's bytes).
    Summary,
}

/// An owned, immutable copy of a distribution: exact count, sum, min and max, and the
/// bucket counts from which quantiles are estimated.
///
/// Snapshots merge ([`merge`](Self::merge)) and subtract ([`delta_since`](Self::delta_since)),
/// which is how parents aggregate their children and how per-interval statistics are made.
///
/// A *summary* ([`SketchDetail::Summary`], [`has_buckets`](Self::has_buckets) false) holds
/// the six [`PERCENTILE_KEYS`] estimates in place of buckets: [`quantile`](Self::quantile)
/// answers only those six, and a merge or delta involving a summary keeps its exact count,
/// sum and extremes but cannot know its percentiles (NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct SketchSnapshot {
    count: u64,
    sum: f64,
    sum_squares: f64,
    min: f64,
    max: f64,
    zeros: u64,
    positive: Vec<(u32, u64)>,
    negative: Vec<(u32, u64)>,
    dropped: u64,
    /// A summary's percentiles (then the bucket lists are empty); `None` with buckets.
    percentiles: Option<[f64; PERCENTILE_KEYS.len()]>,
}

impl Default for SketchSnapshot {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            sum_squares: 0.0,
            min: f64::NAN,
            max: f64::NAN,
            zeros: 0,
            positive: Vec::new(),
            negative: Vec::new(),
            dropped: 0,
            percentiles: None,
        }
    }
}

/// The quantiles the original reports, with their JSON key names.
pub const PERCENTILE_KEYS: [(&str, f64); 6] = [
    ("median", 0.5),
    ("75percentile", 0.75),
    ("95percentile", 0.95),
    ("98percentile", 0.98),
    ("99percentile", 0.99),
    ("999percentile", 0.999),
];

impl SketchSnapshot {
    /// Builds a snapshot from values; mostly for tests and offline use.
    ///
    /// ```
    /// let s = scales::SketchSnapshot::from_values([1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(s.count(), 4);
    /// assert_eq!(s.min(), Some(1.0));
    /// assert!((s.quantile(0.5).unwrap() - 2.5).abs() < 0.01 * 2.5);
    /// ```
    pub fn from_values(values: impl IntoIterator<Item = f64>) -> Self {
        let sketch = AtomicSketch::new();
        for v in values {
            sketch.record(v);
        }
        sketch.snapshot()
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact sum of recorded values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Smallest recorded value (exact), if any.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0 && !self.min.is_nan()).then_some(self.min)
    }

    /// Largest recorded value (exact), if any.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0 && !self.max.is_nan()).then_some(self.max)
    }

    /// Arithmetic mean, if any value was recorded.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Sample standard deviation (divisor n − 1, as the original); 0 for a single value.
    pub fn stddev(&self) -> Option<f64> {
        match self.count {
            0 => None,
            1 => Some(0.0),
            // All values equal: exactly 0, where the sum-of-squares formula leaves rounding.
            _ if self.min() == self.max() && self.min().is_some() => Some(0.0),
            n => {
                let n = n as f64;
                let variance = (self.sum_squares - self.sum * self.sum / n) / (n - 1.0);
                Some(variance.max(0.0).sqrt())
            }
        }
    }

    /// NaN and infinite values that were offered and not recorded.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Estimates the `q`-quantile (`q` in `[0, 1]`) with linear interpolation between the
    /// values of rank `⌊h⌋` and `⌈h⌉`, `h = q · (count − 1)` (NumPy's default definition).
    /// The estimate lies within [`RELATIVE_ERROR`] of the interval those two values span;
    /// the lowest and highest ranks are the exact min and max.
    /// `None` when empty.
    ///
    /// A summary ([`has_buckets`](Self::has_buckets) false) answers only the six
    /// [`PERCENTILE_KEYS`] quantiles, and `None` for any other `q`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if let Some(values) = &self.percentiles {
            return PERCENTILE_KEYS
                .iter()
                .position(|&(_, key)| key == q)
                .map(|k| values[k]);
        }
        let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
        let h = q * (self.count - 1) as f64;
        let (lower, fraction) = (h.floor(), h - h.floor());
        let low = self.value_at_rank(lower as u64);
        let estimate = if fraction > 0.0 {
            let high = self.value_at_rank(lower as u64 + 1);
            low + fraction * (high - low)
        } else {
            low
        };
        let (min, max) = (
            self.min().unwrap_or(estimate),
            self.max().unwrap_or(estimate),
        );
        Some(estimate.clamp(min, max))
    }

    fn value_at_rank(&self, rank: u64) -> f64 {
        let mut value = [0.0];
        self.values_at_ranks(&[rank], &mut value);
        value[0]
    }

    /// The estimated value at each of `ranks` (at most 16, in any order), in one walk over
    /// the buckets. The lowest and highest ranks are the exact min and max, when known.
    fn values_at_ranks(&self, ranks: &[u64], out: &mut [f64]) {
        let mut walk = RankWalk::new(ranks);
        self.walk_below_positive(&mut walk);
        for &(index, count) in &self.positive {
            if walk.done() {
                break;
            }
            walk.add(count, || bucket_estimate(index));
        }
        walk.finish(self, out);
    }

    /// Walks the negative values, most negative first (largest magnitude index first), then
    /// the zeros: what comes before the positive buckets in value order.
    fn walk_below_positive(&self, walk: &mut RankWalk<'_>) {
        for &(index, count) in self.negative.iter().rev() {
            walk.add(count, || -bucket_estimate(index));
        }
        walk.add(self.zeros, || 0.0);
    }

    /// The original's summary quantiles ([`PERCENTILE_KEYS`]: median … 99.9th), estimated
    /// as [`quantile`](Self::quantile) does, in one walk over the buckets. `None` when empty.
    pub fn percentile_values(&self) -> Option<[f64; PERCENTILE_KEYS.len()]> {
        if self.count == 0 {
            return None;
        }
        if let Some(values) = self.percentiles {
            return Some(values);
        }
        let (ranks, fractions) = percentile_ranks(self.count);
        let mut values = [0.0; 2 * PERCENTILE_KEYS.len()];
        self.values_at_ranks(&ranks, &mut values);
        Some(self.interpolate(&values, &fractions))
    }

    /// The percentiles from the values at [`percentile_ranks`]: each interpolated between
    /// its two ranks and kept within the exact extremes.
    fn interpolate(
        &self,
        values: &[f64; 2 * PERCENTILE_KEYS.len()],
        fractions: &[f64; PERCENTILE_KEYS.len()],
    ) -> [f64; PERCENTILE_KEYS.len()] {
        let (min, max) = (self.min(), self.max());
        std::array::from_fn(|k| {
            let (low, high) = (values[2 * k], values[2 * k + 1]);
            let estimate = if fractions[k] > 0.0 {
                low + fractions[k] * (high - low)
            } else {
                low
            };
            estimate.clamp(min.unwrap_or(estimate), max.unwrap_or(estimate))
        })
    }

    /// The summary keys of the original (`median` … `999percentile`) with their estimates.
    pub fn percentiles(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        let values = self.percentile_values();
        PERCENTILE_KEYS
            .iter()
            .zip(values.into_iter().flatten())
            .map(|(&(key, _), v)| (key, v))
    }

    /// Whether this snapshot holds its buckets (taken with [`SketchDetail::Buckets`]) rather
    /// than only a summary.
    pub fn has_buckets(&self) -> bool {
        self.percentiles.is_none()
    }

    /// This distribution as a summary ([`SketchDetail::Summary`]): its percentiles computed,
    /// its bucket lists freed.
    pub fn summarize(&mut self) {
        if self.percentiles.is_none() {
            self.percentiles = Some(self.percentile_values().unwrap_or([f64::NAN; 6]));
            self.positive = Vec::new();
            self.negative = Vec::new();
        }
    }

    /// [`summarize`](Self::summarize), handing the bucket lists back to `buffers`.
    pub(crate) fn summarize_into(mut self, buffers: &mut SummaryBuffers) -> Self {
        self.percentiles = Some(self.percentile_values().unwrap_or([f64::NAN; 6]));
        buffers.positive = std::mem::take(&mut self.positive);
        buffers.negative = std::mem::take(&mut self.negative);
        self
    }

    /// Adds `other`'s values to this snapshot, as if both had been recorded into one sketch.
    /// With a summary on either side the result is a summary whose percentiles are unknown
    /// (NaN); count, sum and extremes stay exact.
    pub fn merge(&mut self, other: &SketchSnapshot) {
        if other.percentiles.is_some() && other.count > 0 || self.percentiles.is_some() {
            // Unknown percentiles: nothing to compute before the buckets go.
            self.percentiles = Some([f64::NAN; PERCENTILE_KEYS.len()]);
            self.positive = Vec::new();
            self.negative = Vec::new();
        }
        if other.count > 0 {
            self.min = min_ignoring_nan(self.min, other.min);
            self.max = max_ignoring_nan(self.max, other.max);
        }
        self.count += other.count;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        self.zeros += other.zeros;
        self.dropped += other.dropped;
        // A summary keeps no buckets, whatever `other` holds.
        if self.has_buckets() {
            merge_buckets(&mut self.positive, &other.positive, |a, b| a + b);
            merge_buckets(&mut self.negative, &other.negative, |a, b| a + b);
        }
    }

    /// The values recorded after `earlier` was taken (of the same stat): counts, sum and
    /// buckets are differences; min and max are estimated from the interval's buckets.
    ///
    /// With a summary on either side, the delta is a summary of exact count and sum whose
    /// percentiles and extremes are unknown (NaN).
    pub fn delta_since(&self, earlier: &SketchSnapshot) -> SketchSnapshot {
        if self.percentiles.is_some() || earlier.percentiles.is_some() {
            return SketchSnapshot {
                count: self.count.saturating_sub(earlier.count),
                sum: self.sum - earlier.sum,
                sum_squares: self.sum_squares - earlier.sum_squares,
                zeros: self.zeros.saturating_sub(earlier.zeros),
                dropped: self.dropped.saturating_sub(earlier.dropped),
                percentiles: Some([f64::NAN; PERCENTILE_KEYS.len()]),
                ..SketchSnapshot::default()
            };
        }
        let mut delta = SketchSnapshot {
            count: self.count.saturating_sub(earlier.count),
            sum: self.sum - earlier.sum,
            sum_squares: self.sum_squares - earlier.sum_squares,
            zeros: self.zeros.saturating_sub(earlier.zeros),
            dropped: self.dropped.saturating_sub(earlier.dropped),
            positive: self.positive.clone(),
            negative: self.negative.clone(),
            ..SketchSnapshot::default()
        };
        merge_buckets(&mut delta.positive, &earlier.positive, u64::saturating_sub);
        merge_buckets(&mut delta.negative, &earlier.negative, u64::saturating_sub);
        delta.positive.retain(|&(_, c)| c > 0);
        delta.negative.retain(|&(_, c)| c > 0);
        if delta.count > 0 {
            delta.min = delta.value_at_rank(0).clamp(self.min, self.max);
            delta.max = delta
                .value_at_rank(delta.count - 1)
                .clamp(self.min, self.max);
        }
        delta
    }
}

/// Everything a [`SketchSnapshot`] holds, as plain fields: what
/// [`SketchSnapshot::to_parts`] gives and [`SketchSnapshot::from_parts`] checks and rebuilds
/// from (the JSON form with sketches, `format::json`, is these fields).
///
/// Bucket lists are sparse `(index, count)` pairs in increasing index order; an index is the
/// bucket of a magnitude (its binary exponent and top [`SUB_BITS`] mantissa bits, one
/// number, between [`MIN_INDEX`] and [`MAX_INDEX`]). `positive` counts values above zero,
/// `negative` values below zero by their magnitude.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SketchParts {
    /// Values recorded: `zeros` plus every bucket count.
    pub count: u64,
    /// Sum of the values (NaN when it could not be carried, e.g. it overflowed).
    pub sum: f64,
    /// Sum of the squares of the values (for the standard deviation).
    pub sum_squares: f64,
    /// Smallest value recorded (exact); `None` when empty or not known.
    pub min: Option<f64>,
    /// Largest value recorded (exact); `None` when empty or not known.
    pub max: Option<f64>,
    /// Values equal to zero.
    pub zeros: u64,
    /// NaN and infinite values offered and not recorded.
    pub dropped: u64,
    /// Counts of positive values by bucket index, in increasing index order.
    pub positive: Vec<(u32, u64)>,
    /// Counts of negative values by the bucket index of their magnitude, in increasing order.
    pub negative: Vec<(u32, u64)>,
}

/// Why [`SketchSnapshot::from_parts`] refused a set of parts: they describe no sketch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SketchError {
    /// `count` is not `zeros` plus the bucket counts.
    #[error("count is {count}, but zeros and bucket counts add up to {buckets}")]
    CountMismatch {
        /// The `count` given.
        count: u64,
        /// `zeros` plus every bucket count (saturated at `u64::MAX`).
        buckets: u64,
    },
    /// The bucket counts add up past `u64::MAX`.
    #[error("zeros and bucket counts add up past the largest count")]
    CountOverflow,
    /// A bucket index outside [`MIN_INDEX`]`..=`[`MAX_INDEX`].
    #[error("bucket index {index} is outside {MIN_INDEX}..={MAX_INDEX}")]
    IndexOutOfRange {
        /// Which list: `"positive"` or `"negative"`.
        side: &'static str,
        /// Position in that list.
        position: usize,
        /// The index.
        index: u32,
    },
    /// A bucket index not above the one before it.
    #[error(
        "bucket index {index} does not follow the previous index {previous} in increasing order"
    )]
    NotIncreasing {
        /// Which list: `"positive"` or `"negative"`.
        side: &'static str,
        /// Position in that list.
        position: usize,
        /// The index.
        index: u32,
        /// The index before it.
        previous: u32,
    },
    /// `min` is above `max`.
    #[error("min {min} is above max {max}")]
    MinAboveMax {
        /// The `min` given.
        min: f64,
        /// The `max` given.
        max: f64,
    },
    /// `min` or `max` is given for an empty sketch.
    #[error("{field} is given but the sketch is empty (count 0)")]
    ExtremeOfEmpty {
        /// `"min"` or `"max"`.
        field: &'static str,
    },
    /// `min` or `max` is NaN or infinite.
    #[error("{field} is not a finite number")]
    NonFinite {
        /// `"min"` or `"max"`.
        field: &'static str,
    },
    /// The sum of squares is negative.
    #[error("sum_squares {0} is negative")]
    NegativeSumSquares(f64),
}

impl SketchError {
    /// The name of the field at fault (`"count"`, `"min"`, `"positive"`, ...), as
    /// [`SketchParts`] and the JSON form name it.
    pub fn field(&self) -> &'static str {
        match self {
            SketchError::CountMismatch { .. } | SketchError::CountOverflow => "count",
            SketchError::IndexOutOfRange { side, .. } | SketchError::NotIncreasing { side, .. } => {
                side
            }
            SketchError::MinAboveMax { .. } => "min",
            SketchError::ExtremeOfEmpty { field } | SketchError::NonFinite { field } => field,
            SketchError::NegativeSumSquares(_) => "sum_squares",
        }
    }
}

impl SketchSnapshot {
    /// Sum of the squares of the recorded values.
    pub fn sum_squares(&self) -> f64 {
        self.sum_squares
    }

    /// How many recorded values were zero.
    pub fn zeros(&self) -> u64 {
        self.zeros
    }

    /// Counts of the positive values, `(bucket index, count)` in increasing index order,
    /// empty buckets left out (see [`SketchParts`]). Empty for a summary.
    pub fn positive_buckets(&self) -> &[(u32, u64)] {
        &self.positive
    }

    /// Counts of the negative values by the bucket index of their magnitude, as
    /// [`positive_buckets`](Self::positive_buckets).
    pub fn negative_buckets(&self) -> &[(u32, u64)] {
        &self.negative
    }

    /// This snapshot's fields (a copy of its bucket lists). A summary has none to give:
    /// check [`has_buckets`](Self::has_buckets) first.
    pub fn to_parts(&self) -> SketchParts {
        SketchParts {
            count: self.count,
            sum: self.sum,
            sum_squares: self.sum_squares,
            min: self.min(),
            max: self.max(),
            zeros: self.zeros,
            dropped: self.dropped,
            positive: self.positive.clone(),
            negative: self.negative.clone(),
        }
    }

    /// Rebuilds a snapshot from its fields, checking that they describe one: indices in
    /// range and increasing, `count` equal to `zeros` plus the bucket counts, `min ≤ max`,
    /// both finite and only given when the sketch holds values. Buckets with a count of 0
    /// are dropped. `to_parts` then `from_parts` gives back an equal snapshot.
    ///
    /// ```
    /// let s = scales::SketchSnapshot::from_values([0.5, 2.0, -3.0, 0.0]);
    /// let back = scales::SketchSnapshot::from_parts(s.to_parts()).unwrap();
    /// assert_eq!(back, s);
    /// let mut parts = s.to_parts();
    /// parts.count += 1;
    /// assert!(scales::SketchSnapshot::from_parts(parts).is_err());
    /// ```
    ///
    /// # Errors
    /// A [`SketchError`] naming the first field at fault.
    pub fn from_parts(parts: SketchParts) -> Result<Self, SketchError> {
        let SketchParts {
            count,
            sum,
            sum_squares,
            min,
            max,
            zeros,
            dropped,
            mut positive,
            mut negative,
        } = parts;
        let mut total = zeros;
        for (side, buckets) in [("positive", &mut positive), ("negative", &mut negative)] {
            let mut previous: Option<u32> = None;
            for (position, &(index, n)) in buckets.iter().enumerate() {
                if !(MIN_INDEX..=MAX_INDEX).contains(&index) {
                    return Err(SketchError::IndexOutOfRange {
                        side,
                        position,
                        index,
                    });
                }
                if let Some(previous) = previous.filter(|&p| p >= index) {
                    return Err(SketchError::NotIncreasing {
                        side,
                        position,
                        index,
                        previous,
                    });
                }
                previous = Some(index);
                total = total.checked_add(n).ok_or(SketchError::CountOverflow)?;
            }
            buckets.retain(|&(_, n)| n > 0);
        }
        if total != count {
            return Err(SketchError::CountMismatch {
                count,
                buckets: total,
            });
        }
        for (field, value) in [("min", min), ("max", max)] {
            match value {
                Some(_) if count == 0 => return Err(SketchError::ExtremeOfEmpty { field }),
                Some(v) if !v.is_finite() => return Err(SketchError::NonFinite { field }),
                _ => {}
            }
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err(SketchError::MinAboveMax { min, max });
            }
        }
        if sum_squares < 0.0 {
            return Err(SketchError::NegativeSumSquares(sum_squares));
        }
        Ok(SketchSnapshot {
            count,
            sum,
            sum_squares,
            min: min.unwrap_or(f64::NAN),
            max: max.unwrap_or(f64::NAN),
            zeros,
            positive,
            negative,
            dropped,
            percentiles: None,
        })
    }
}

fn min_ignoring_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else {
        a.min(b)
    }
}

fn max_ignoring_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        b
    } else {
        a.max(b)
    }
}

/// Combines sorted sparse bucket lists in place with `op(mine, theirs)`.
fn merge_buckets(mine: &mut Vec<(u32, u64)>, theirs: &[(u32, u64)], op: fn(u64, u64) -> u64) {
    merge_buckets_using(mine, theirs, op, &mut Vec::new());
}

/// [`merge_buckets`] building the result in `scratch` (emptied first), which is left
/// holding `mine`'s old list to be reused.
fn merge_buckets_using(
    mine: &mut Vec<(u32, u64)>,
    theirs: &[(u32, u64)],
    op: fn(u64, u64) -> u64,
    scratch: &mut Vec<(u32, u64)>,
) {
    if theirs.is_empty() {
        return;
    }
    if mine.is_empty() {
        mine.extend(theirs.iter().map(|&(index, count)| (index, op(0, count))));
        return;
    }
    let merged = scratch;
    merged.clear();
    merged.reserve(mine.len() + theirs.len());
    let (mut i, mut j) = (0, 0);
    while i < mine.len() || j < theirs.len() {
        match (mine.get(i), theirs.get(j)) {
            (Some(&(a, ca)), Some(&(b, cb))) if a == b => {
                merged.push((a, op(ca, cb)));
                i += 1;
                j += 1;
            }
            (Some(&(a, ca)), Some(&(b, _))) if a < b => {
                merged.push((a, ca));
                i += 1;
            }
            (Some(_), Some(&(b, cb))) | (None, Some(&(b, cb))) => {
                merged.push((b, op(0, cb)));
                j += 1;
            }
            (Some(&(a, ca)), None) => {
                merged.push((a, ca));
                i += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    std::mem::swap(mine, merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_estimates_are_within_bound() {
        for &v in &[
            1e-9,
            0.004999995231628418,
            0.011,
            1.0,
            3.0,
            1234.5678,
            1e15,
            1e19,
            1e21,
            1e300,
            f64::MAX,
            1e-25,
            1e-300,
            f64::MIN_POSITIVE,
        ] {
            let est = bucket_estimate(full_index(v));
            assert!(
                (est - v).abs() / v <= RELATIVE_ERROR + 1e-12,
                "{v} -> {est}"
            );
        }
        // Subnormals: within the bound plus one subnormal step.
        for &v in &[5e-324, 1e-320, 3e-315, 2e-310] {
            let est = bucket_estimate(full_index(v));
            assert!(
                (est - v).abs() <= v * RELATIVE_ERROR + 5e-324,
                "{v} -> {est}"
            );
        }
    }

    #[test]
    fn index_range_is_the_finite_magnitudes() {
        assert_eq!(full_index(5e-324), MIN_INDEX);
        assert_eq!(full_index(f64::MAX), MAX_INDEX);
        assert!(bucket_estimate(MAX_INDEX).is_finite());
        assert!(bucket_estimate(MIN_INDEX) > 0.0);
    }

    #[test]
    fn parts_round_trip_and_impossible_parts_are_refused() {
        let s = SketchSnapshot::from_values([1e-300, -2.0, 0.0, 3.5, 1e300, f64::NAN]);
        assert_eq!(SketchSnapshot::from_parts(s.to_parts()).unwrap(), s);
        let empty = SketchSnapshot::default();
        let back = SketchSnapshot::from_parts(empty.to_parts()).unwrap();
        assert_eq!(back.count(), 0);
        assert_eq!(back.min(), None);
        let refuse = |change: fn(&mut SketchParts), field: &str| {
            let mut parts = s.to_parts();
            change(&mut parts);
            let error = SketchSnapshot::from_parts(parts).unwrap_err();
            assert_eq!(error.field(), field, "{error}");
        };
        refuse(|p| p.count += 1, "count");
        refuse(|p| p.positive[0].0 = MAX_INDEX + 1, "positive");
        refuse(|p| p.negative[0].0 = 3, "negative");
        refuse(|p| p.positive.swap(0, 1), "positive");
        refuse(|p| p.min = Some(1e301), "min");
        refuse(|p| p.max = Some(f64::INFINITY), "max");
        refuse(|p| p.sum_squares = -1.0, "sum_squares");
        refuse(
            |p| {
                p.zeros = u64::MAX;
            },
            "count",
        );
        let mut parts = empty.to_parts();
        parts.min = Some(1.0);
        assert_eq!(
            SketchSnapshot::from_parts(parts).unwrap_err().field(),
            "min"
        );
    }

    #[test]
    fn window_and_full_indices_agree() {
        for &v in &[6e-20, 1e-9, 1.0, 3.5, 1e18, 1.8e19] {
            let window = window_index(v).expect("inside the window");
            assert_eq!(window as u32 + WINDOW_OFFSET, full_index(v), "{v}");
        }
        for &v in &[5e-20, 1.9e19, 1e300, 5e-324] {
            assert_eq!(window_index(v), None, "{v}");
        }
    }

    #[test]
    fn magnitudes_outside_the_window_keep_the_bound() {
        for values in [
            vec![1e19, 2e19, 5e20, 1e21, 3e21],
            vec![1e300, 2e300, 3e300],
            vec![1e-25, 2e-25, 3e-25, 4e-25],
            vec![-1e21, -1e20, 1e20, 1e21],
            vec![1e-300, 1.0, 1e300],
        ] {
            let s = SketchSnapshot::from_values(values.iter().copied());
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for (rank, &exact) in sorted.iter().enumerate() {
                let q = rank as f64 / (sorted.len() - 1) as f64;
                let est = s.quantile(q).unwrap();
                assert!(
                    (est - exact).abs() <= exact.abs() * RELATIVE_ERROR * (1.0 + 1e-9),
                    "{values:?} q={q}: {est} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn order_keys_sort_like_floats() {
        let values = [-1e300, -2.5, -0.0, 0.0, 1e-300, 2.5, 1e300];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) <= order_key(pair[1]), "{pair:?}");
            assert_eq!(from_order_key(order_key(pair[0])), pair[0]);
        }
    }

    #[test]
    fn exact_summary_fields() {
        let s = SketchSnapshot::from_values([3.0, -1.0, 0.0, 10.0]);
        assert_eq!(s.count(), 4);
        assert_eq!(s.sum(), 12.0);
        assert_eq!(s.min(), Some(-1.0));
        assert_eq!(s.max(), Some(10.0));
        assert_eq!(s.quantile(0.0), Some(-1.0));
        assert_eq!(s.quantile(1.0), Some(10.0));
    }

    #[test]
    fn identical_values_have_zero_stddev() {
        let s = SketchSnapshot::from_values([0.004999995231628418; 3]);
        assert_eq!(s.stddev(), Some(0.0));
        let s = SketchSnapshot::from_values([1.0, 3.0]);
        assert!((s.stddev().unwrap() - std::f64::consts::SQRT_2).abs() < 1e-12);
    }

    #[test]
    fn non_finite_values_are_dropped_and_counted() {
        let s = SketchSnapshot::from_values([1.0, f64::NAN, f64::INFINITY]);
        assert_eq!(s.count(), 1);
        assert_eq!(s.dropped(), 2);
    }

    #[test]
    fn merge_equals_recording_together() {
        let a = [0.5, 1.0, 2.0, 40.0];
        let b = [-3.0, 0.0, 1.0, 9000.0];
        let mut merged = SketchSnapshot::from_values(a);
        merged.merge(&SketchSnapshot::from_values(b));
        let together = SketchSnapshot::from_values(a.into_iter().chain(b));
        assert_eq!(merged, together);
    }

    #[test]
    fn delta_isolates_interval() {
        let sketch = AtomicSketch::new();
        for v in [1.0, 2.0, 3.0] {
            sketch.record(v);
        }
        let before = sketch.snapshot();
        for v in [100.0, 200.0] {
            sketch.record(v);
        }
        let delta = sketch.snapshot().delta_since(&before);
        assert_eq!(delta.count(), 2);
        assert_eq!(delta.sum(), 300.0);
        let min = delta.min().unwrap();
        assert!((min - 100.0).abs() <= 100.0 * RELATIVE_ERROR, "{min}");
        assert_eq!(delta.max(), Some(200.0));
    }

    #[test]
    fn empty_has_no_estimates() {
        let s = SketchSnapshot::default();
        assert_eq!(s.quantile(0.5), None);
        assert_eq!(s.mean(), None);
        assert_eq!(s.min(), None);
    }

    #[test]
    fn one_walk_percentiles_equal_quantile_one_by_one() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut uniform = move || rng.random::<f64>();
        for n in [1usize, 2, 3, 4, 5, 10, 99, 1000, 5000] {
            for signed in [false, true] {
                let values: Vec<f64> = (0..n)
                    .map(|i| {
                        let v = (uniform() * 20.0 - 10.0).exp();
                        match (signed, i % 7) {
                            (true, 0) => 0.0,
                            (true, 1 | 2) => -v,
                            _ => v,
                        }
                    })
                    .collect();
                let s = SketchSnapshot::from_values(values);
                let together = s.percentile_values().expect("not empty");
                for ((_, q), value) in PERCENTILE_KEYS.iter().zip(together) {
                    assert_eq!(Some(value), s.quantile(*q), "n={n} signed={signed} q={q}");
                }
            }
        }
        assert_eq!(SketchSnapshot::default().percentile_values(), None);
    }
}
