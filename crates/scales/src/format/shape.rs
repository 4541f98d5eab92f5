//! What the formats' encoders ([`prometheus::Encoder`](super::prometheus::Encoder),
//! [`graphite::Encoder`](super::graphite::Encoder)) share: a tree's *shape* written as
//! bytes or compared with a kept one as it is made, and when to keep a render at all.

use crate::snapshot::{Group, Keyed, Node};

/// Where a tree's shape goes: kept, or compared with one kept.
pub(crate) trait ShapeOut {
    fn put(&mut self, bytes: &[u8]);

    /// False once a difference is found (a comparison can stop there).
    fn same(&self) -> bool {
        true
    }
}

impl ShapeOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A shape compared with a kept one as it is made.
pub(crate) struct Compare<'k> {
    /// The kept shape not yet compared.
    rest: &'k [u8],
    same: bool,
}

impl<'k> Compare<'k> {
    pub(crate) fn new(kept: &'k [u8]) -> Self {
        Self {
            rest: kept,
            same: true,
        }
    }

    /// Whether the shape made so far is the whole kept one.
    pub(crate) fn is_whole(&self) -> bool {
        self.same && self.rest.is_empty()
    }
}

impl ShapeOut for Compare<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        match self.rest.split_at_checked(bytes.len()) {
            Some((head, rest)) if head == bytes => self.rest = rest,
            _ => {
                self.same = false;
                self.rest = &[];
            }
        }
    }

    fn same(&self) -> bool {
        self.same
    }
}

/// Counts and lengths below this take one byte of a shape; others `1 + 8`.
const SHORT: usize = u8::MAX as usize;

pub(crate) fn put_count(out: &mut impl ShapeOut, n: usize) {
    match u8::try_from(n) {
        Ok(short) if n < SHORT => out.put(&[short]),
        _ => {
            out.put(&[u8::MAX]);
            out.put(&n.to_le_bytes());
        }
    }
}

pub(crate) fn put_text(out: &mut impl ShapeOut, text: &str) {
    put_count(out, text.len());
    out.put(text.as_bytes());
}

/// Puts a group's mark, size and entry names, each name followed by what `child` puts for
/// the entry's node; stops at the first difference.
pub(crate) fn put_group<'g, O: ShapeOut>(
    out: &mut O,
    group: &'g Group,
    mut child: impl FnMut(&mut O, &'g Node),
) {
    out.put(b"G");
    put_count(out, group.entries.len());
    for entry in &group.entries {
        if !out.same() {
            return;
        }
        put_text(out, &entry.name);
        child(out, &entry.node);
    }
}

/// Puts a keyed stat's size and keys, each key followed by what `value` puts for its value.
pub(crate) fn put_keyed<O: ShapeOut, T>(
    out: &mut O,
    entries: &[Keyed<T>],
    mut value: impl FnMut(&mut O, &T),
) {
    put_count(out, entries.len());
    for entry in entries {
        put_text(out, &entry.key);
        value(out, &entry.value);
    }
}

/// How long an encoder goes without keeping, at most, after renders it could not reuse:
/// `2^MAX_BACKOFF - 1` renders.
const MAX_BACKOFF: u32 = 4;

/// An encoder's tally of renders, its bound on what it keeps, and its back-off: keeping
/// makes a full render dearer, so after `n` kept renders in a row that the next could not
/// reuse, the next `2ⁿ⁻¹ - 1` (at most 15) are plain, then one is kept again.
#[derive(Debug)]
pub(crate) struct Reuse {
    /// Kept renders in a row that the next render could not reuse.
    misses: u32,
    /// Renders still to do without keeping their text.
    plain: u32,
    pub(crate) renders: u64,
    pub(crate) reused: u64,
    /// The most bytes of text a render may keep (64 MiB unless set).
    pub(crate) keep_at_most: usize,
}

impl Default for Reuse {
    fn default() -> Self {
        Self {
            misses: 0,
            plain: 0,
            renders: 0,
            reused: 0,
            keep_at_most: 64 << 20,
        }
    }
}

impl Reuse {
    /// A render that reused the kept text.
    pub(crate) fn hit(&mut self) {
        self.renders += 1;
        self.reused += 1;
        self.misses = 0;
    }

    /// A render that could not reuse the kept text.
    pub(crate) fn miss(&mut self) {
        self.misses = self.misses.saturating_add(1);
        self.plain = (1 << (self.misses - 1).min(MAX_BACKOFF)) - 1;
    }

    /// A full render: whether it keeps its text (or is plain, backing off).
    pub(crate) fn keeps(&mut self) -> bool {
        self.renders += 1;
        if self.plain > 0 {
            self.plain -= 1;
            false
        } else {
            true
        }
    }

    /// The text was too long to keep: the next renders are plain, then one is tried again.
    pub(crate) fn too_long(&mut self) {
        self.plain = (1 << MAX_BACKOFF) - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(texts: &[&str]) -> Vec<u8> {
        let mut shape = Vec::new();
        for text in texts {
            put_text(&mut shape, text);
        }
        shape
    }

    fn same(kept: &[u8], texts: &[&str]) -> bool {
        let mut compare = Compare::new(kept);
        for text in texts {
            put_text(&mut compare, text);
        }
        compare.is_whole()
    }

    #[test]
    fn texts_of_every_length_compare_as_they_are() {
        let long: Vec<String> = [0, 1, 23, 254, 255, 256, 300, 70_000]
            .iter()
            .map(|&n| "é".repeat(n / 2) + &"x".repeat(n % 2))
            .collect();
        for (i, a) in long.iter().enumerate() {
            for (j, b) in long.iter().enumerate() {
                assert_eq!(
                    same(&kept(&[a, "k"]), &[b, "k"]),
                    i == j,
                    "{} {}",
                    a.len(),
                    b.len()
                );
            }
            // A text differing in its last byte only, and a shape cut short, differ.
            let mut changed = a.clone();
            if changed.pop().is_some() {
                changed.push('y');
                assert!(!same(&kept(&[a]), &[&changed]));
            }
            assert!(!same(&kept(&[a, "k"]), &[a]));
            assert!(!same(&kept(&[a]), &[a, ""]));
        }
        // A length byte is never read as text: "\u{1}a" then "" against "a" then "\u{0}".
        assert!(!same(&kept(&["\u{1}a", ""]), &["a", "\u{0}"]));
    }

    #[test]
    fn misses_in_a_row_back_off_longer_up_to_a_bound() {
        let mut reuse = Reuse::default();
        assert!(reuse.keeps(), "the first render is kept");
        let mut plain_runs = Vec::new();
        for _ in 0..7 {
            reuse.miss();
            let mut plain = 0;
            while !reuse.keeps() {
                plain += 1;
            }
            plain_runs.push(plain);
        }
        assert_eq!(plain_runs, [0, 1, 3, 7, 15, 15, 15]);
        reuse.hit();
        reuse.miss();
        assert!(reuse.keeps(), "a hit ends the run of misses");
        assert_eq!((reuse.renders, reuse.reused), (66, 1));
    }
}
