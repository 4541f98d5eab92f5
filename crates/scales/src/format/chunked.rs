//! Where the formats that build text with `push_str` (HTML, Prometheus, Graphite) write it: into a
//! `String` in memory, or through a buffer handed to an [`io::Write`] in pieces.

use std::io;
use std::ops::{Deref, DerefMut};

/// How much text is gathered before it is handed to the sink.
const PIECE: usize = 64 * 1024;

/// Text being written: a `String` to append to, told when an item (a stat, a group) is done
/// so that a streaming output can hand over what it has.
pub(crate) trait TextOut: DerefMut<Target = String> {
    /// An item is complete: a good moment to hand text over.
    fn item_done(&mut self);

    /// Whether the output has failed, so that the rest can be skipped.
    fn failed(&self) -> bool {
        false
    }
}

/// All the text in one `String`.
pub(crate) struct InMemory<'a>(pub(crate) &'a mut String);

impl Deref for InMemory<'_> {
    type Target = String;

    fn deref(&self) -> &String {
        self.0
    }
}

impl DerefMut for InMemory<'_> {
    fn deref_mut(&mut self) -> &mut String {
        self.0
    }
}

impl TextOut for InMemory<'_> {
    #[inline]
    fn item_done(&mut self) {}
}

impl TextOut for Chunked<'_> {
    #[inline]
    fn item_done(&mut self) {
        self.maybe_flush();
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// A `String` that a writer appends to and [`maybe_flush`](Self::maybe_flush)es into its
/// sink between items, so the text in memory stays near [`PIECE`] bytes whatever the
/// snapshot's size. After the sink's first error nothing more is written; [`finish`]
/// returns that error.
///
/// [`finish`]: Self::finish
pub(crate) struct Chunked<'a> {
    text: String,
    sink: &'a mut dyn io::Write,
    error: Option<io::Error>,
}

impl<'a> Chunked<'a> {
    pub(crate) fn new(sink: &'a mut dyn io::Write) -> Self {
        Self {
            text: String::with_capacity(PIECE + PIECE / 4),
            sink,
            error: None,
        }
    }

    /// Hands the text to the sink once a piece is gathered.
    #[inline]
    pub(crate) fn maybe_flush(&mut self) {
        if self.text.len() >= PIECE {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(error) = self.sink.write_all(self.text.as_bytes()) {
                self.error = Some(error);
            }
        }
        self.text.clear();
    }

    /// Writes what is left; the first error of the sink, if any.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.flush();
        match self.error.take() {
            Some(error) => Err(error),
            None => self.sink.flush(),
        }
    }
}

impl Deref for Chunked<'_> {
    type Target = String;

    fn deref(&self) -> &String {
        &self.text
    }
}

impl DerefMut for Chunked<'_> {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_pieces_and_the_rest() {
        let mut sink = Vec::new();
        let mut out = Chunked::new(&mut sink);
        let items = 3 * PIECE / 10;
        for _ in 0..items {
            out.push_str("0123456789");
            out.maybe_flush();
            assert!(out.len() <= PIECE);
        }
        out.push_str("end");
        out.finish().unwrap();
        assert_eq!(sink.len(), items * 10 + 3);
        assert!(sink.ends_with(b"89end"));
    }

    struct Failing(usize);

    impl io::Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            let _ = buf;
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn stops_at_the_first_error() {
        let mut sink = Failing(0);
        let mut out = Chunked::new(&mut sink);
        for _ in 0..3 * PIECE {
            out.push('x');
            out.maybe_flush();
        }
        assert!(out.failed());
        let error = out.finish().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(sink.0, 1, "one write attempt, then nothing");
    }
}
