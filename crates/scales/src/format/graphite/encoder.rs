//! [`Encoder`]: Graphite lines of one tree, push after push, with only the values (and the
//! timestamp) written anew.
//!
//! Between two pushes the tree rarely changes, so every line's name is the same; building
//! it (joining and sanitising the path segments, checking the rules) is about a third of a
//! render's work on the benchmark tree. The encoder keeps the names of its last full
//! render, what became of each numeric leaf (sent, skipped as NaN or infinite, or left out
//! by the rules), and the tree's *shape*: everything the lines depend on other than the numbers (names, keys, value
//! types, which distribution fields exist). A snapshot of the same shape whose leaves are
//! finite where they were, and only there, is written as the kept names with its own
//! numbers: the lines a full render would give, byte for byte.

use std::io;

use super::leaves::{walk, Leaf, Number, Recording};
use super::{render_to_string, suffix, Options, Rendered};
use crate::append;
use crate::format::shape::{Compare, Reuse};
use crate::number::{push_debug_float, push_int};
use crate::snapshot::Snapshot;

/// Renders snapshots as Graphite lines like [`to_string`](super::to_string) and
/// [`write`](super::write), faster when the tree has not changed shape since the last one.
///
/// A pusher keeps one (the `scales-graphite` pushers do). While stats, keys and names stay
/// as they were, a render writes only the numbers and the timestamp, and copies each
/// line's name from the last render. Any other change (a stat or key added or removed, a
/// distribution that became empty, a value that became NaN or stopped being one) is found
/// before anything is written to the output, and the lines are rendered in full and kept
/// for the next time. The output is always the one of [`write`](super::write).
///
/// The rules are assumed to answer the same for the same path. Glob and prefix rules do;
/// with any `_fn` rule ([`Rules::allow_fn`](super::Rules::allow_fn) and the like) every
/// render is a full one.
///
/// The cost is memory: every line's name once more and 8 bytes per numeric leaf; names
/// longer than [`keep_at_most`](Self::keep_at_most) in all (64 MiB unless set) are not
/// kept. After `n` renders in a row that could not reuse the last one, the next `2ⁿ⁻¹ - 1`
/// (at most 15) are plain, then one is kept again.
///
/// ```
/// use scales::format::graphite::{to_string, Encoder, Options};
///
/// let reg = scales::Registry::new();
/// let web = reg.scope("/web")?;
/// let errors = web.int_stat("errors")?;
/// let options = Options::with_prefix("my.server");
/// let mut encoder = Encoder::new(options.clone());
/// for n in 1..=3 {
///     errors.add(1);
///     let snapshot = reg.snapshot();
///     let text = encoder.to_string(&snapshot, 1_400_000_000 + n);
///     assert_eq!(text, format!("my.server.web.errors {n} {}\n", 1_400_000_000 + n));
///     assert_eq!(text, to_string(&snapshot, &options, 1_400_000_000 + n));
/// }
/// assert_eq!((encoder.renders(), encoder.reused()), (3, 2));
/// # Ok::<(), scales::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder {
    options: Options,
    /// Whether the rules are pure functions of the path (else no render is kept).
    pure_rules: bool,
    kept: Option<Kept>,
    reuse: Reuse,
}

/// The last full render, for the next snapshot of the same shape.
#[derive(Debug)]
struct Kept {
    /// Every sent line's name, tags and the space before its value, one after the other.
    names: String,
    /// Each numeric leaf, in walk order.
    leaves: Vec<Leaf>,
    /// The shape of the tree the lines are of (see [`walk`]).
    shape: Vec<u8>,
    rendered: Rendered,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

impl Encoder {
    /// An encoder rendering with `options`.
    pub fn new(options: Options) -> Self {
        Self {
            pure_rules: options.rules.is_pure(),
            options,
            kept: None,
            reuse: Reuse::default(),
        }
    }

    /// Keeps a render's names only when they are at most `bytes` long in all (default
    /// 64 MiB); longer ones are always rendered in full.
    #[must_use]
    pub fn keep_at_most(mut self, bytes: usize) -> Self {
        self.reuse.keep_at_most = bytes;
        self
    }

    /// The options it renders with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// How many snapshots it has rendered.
    pub fn renders(&self) -> u64 {
        self.reuse.renders
    }

    /// How many of those it wrote from the kept names (the others were rendered in full).
    pub fn reused(&self) -> u64 {
        self.reuse.reused
    }

    /// The lines for `snapshot`, every one with `timestamp`, as
    /// [`to_string`](super::to_string) gives them.
    pub fn to_string(&mut self, snapshot: &Snapshot, timestamp: u64) -> String {
        self.lines(snapshot, timestamp).0
    }

    /// Writes the lines for `snapshot` into `out`, as [`write`](super::write) does, but
    /// from one piece of text made whole in memory first.
    ///
    /// # Errors
    /// The error of `out`, if any.
    pub fn write<W: io::Write>(
        &mut self,
        snapshot: &Snapshot,
        timestamp: u64,
        out: &mut W,
    ) -> io::Result<Rendered> {
        let (text, rendered) = self.lines(snapshot, timestamp);
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(rendered)
    }

    /// The lines for `snapshot`, every one with `timestamp`, and what was rendered: the
    /// text [`to_string`](Self::to_string) gives and the counts [`write`](Self::write)
    /// gives, without copying the text into a writer.
    pub fn lines(&mut self, snapshot: &Snapshot, timestamp: u64) -> (String, Rendered) {
        if let Some(kept) = &self.kept {
            if let Some(text) = replay(kept, snapshot, timestamp) {
                self.reuse.hit();
                return (text, kept.rendered);
            }
            self.kept = None;
            self.reuse.miss();
        }
        // Counted as a render either way; with impure rules never kept.
        if self.reuse.keeps() && self.pure_rules {
            return self.render_and_keep(snapshot, timestamp);
        }
        render_to_string(snapshot, &self.options, timestamp, None)
    }

    /// Renders the snapshot in full, and keeps its names for the next one.
    fn render_and_keep(&mut self, snapshot: &Snapshot, timestamp: u64) -> (String, Rendered) {
        let stats = snapshot.root().count_stats();
        let mut record = Recording {
            names: String::with_capacity(stats.max(512) * 48),
            leaves: Vec::with_capacity(stats * 2),
        };
        let (text, rendered) =
            render_to_string(snapshot, &self.options, timestamp, Some(&mut record));
        let mut kept = Kept {
            names: record.names,
            leaves: record.leaves,
            shape: Vec::new(),
            rendered,
        };
        let mut walked = 0;
        walk(snapshot, &mut kept.shape, &mut |_| walked += 1);
        let fits_u32 = u32::try_from(kept.names.len()).is_ok();
        // The walk and the render see the same leaves; were they to differ, nothing is kept.
        debug_assert_eq!(kept.leaves.len(), walked, "leaves walked");
        if kept.names.len() <= self.reuse.keep_at_most && fits_u32 && kept.leaves.len() == walked {
            kept.names.shrink_to_fit();
            kept.leaves.shrink_to_fit();
            kept.shape.shrink_to_fit();
            self.kept = Some(kept);
        } else {
            self.reuse.too_long();
        }
        (text, rendered)
    }
}

/// The lines of `snapshot` from the kept names, written as the snapshot is compared with
/// the kept shape; `None` as soon as it differs, or if a leaf sent is no longer finite or
/// one skipped as NaN or infinite now is (leaves the rules leave out may be anything).
fn replay(kept: &Kept, snapshot: &Snapshot, timestamp: u64) -> Option<String> {
    let (_, tail) = suffix(&[], timestamp);
    let mut text = String::with_capacity(kept.names.len() + kept.leaves.len() * 32);
    let mut compare = Compare::new(&kept.shape);
    let (mut next, mut at, mut fits) = (0, 0, true);
    walk(snapshot, &mut compare, &mut |number| {
        if !fits {
            return;
        }
        let Some(&leaf) = kept.leaves.get(next) else {
            fits = false;
            return;
        };
        next += 1;
        match leaf {
            Leaf::Sent(end) if number.is_finite() => {
                let end = end as usize;
                append::push(&mut text, &kept.names[at..end]);
                at = end;
                match number {
                    Number::Int(i) => push_int(&mut text, i),
                    Number::Float(f) => push_debug_float(&mut text, f),
                }
                append::push(&mut text, &tail);
            }
            Leaf::NonFinite if !number.is_finite() => {}
            Leaf::Unsent => {}
            Leaf::Sent(_) | Leaf::NonFinite => fits = false,
        }
    });
    (fits && next == kept.leaves.len() && compare.is_whole()).then_some(text)
}
