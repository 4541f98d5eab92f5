//! [`Collection`]: a struct of stats declared once, in a `static`, for the whole program —
//! the Rust form of the original's module-level `STATS = scales.collection('/web', ...)`.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use crate::registry::{registry, Registry, Stats};
use crate::Error;

/// A global collection of stats, declared in a `static` and usable from any function or
/// thread: the stats are declared in the global registry on first use and stay in the tree
/// for the life of the program.
///
/// ```
/// use scales::Stats;
///
/// #[derive(Stats)]
/// struct WebStats {
///     errors: scales::IntStat,
///     success: scales::IntStat,
/// }
///
/// static STATS: scales::Collection<WebStats> = scales::Collection::new("/doc/web");
///
/// fn handle_request() {
///     STATS.success.inc();
/// }
///
/// handle_request();
/// std::thread::spawn(handle_request).join().unwrap();
/// let snapshot = scales::snapshot();
/// assert_eq!(snapshot.stat("/doc/web/success").unwrap().value, scales::StatValue::Int(2));
/// ```
///
/// The path is checked when the program compiles: `Collection::new("/web//x")` (an empty
/// segment) or a control character in it is a compile-time error in a `static`.
///
/// If declaring fails at run time — another part of the program already declared one of
/// these names as another kind of stat — recording still works, into stats that are not in
/// the tree; the error is logged once (`log::error!`) and [`declare_error`](Self::declare_error)
/// returns it.
pub struct Collection<T> {
    path: &'static str,
    declared: OnceLock<Declared<T>>,
}

struct Declared<T> {
    stats: T,
    error: Option<Error>,
}

impl<T> Collection<T> {
    /// A collection of the stats `T` at `path` in the global registry, declared on first use.
    ///
    /// # Panics
    /// When `path` is not a valid path (an empty segment, or a control character); in a
    /// `static` that is a compile-time error.
    pub const fn new(path: &'static str) -> Self {
        assert!(
            valid_path(path.as_bytes()),
            "invalid stat path: empty segment or control character"
        );
        Self {
            path,
            declared: OnceLock::new(),
        }
    }

    /// The collection's path, as given.
    pub const fn path(&self) -> &'static str {
        self.path
    }
}

impl<T: Stats> Collection<T> {
    fn declared(&self) -> &Declared<T> {
        self.declared
            .get_or_init(|| match registry().collection(self.path) {
                Ok(scope) => match T::declare_in(&scope) {
                    Ok(stats) => Declared { stats, error: None },
                    Err(error) => self.detached(error),
                },
                Err(error) => self.detached(error),
            })
    }

    /// Stats in a registry of their own, when the global tree refused them.
    fn detached(&self, error: Error) -> Declared<T> {
        log::error!(
            "scales: the collection at {} could not be declared ({error}); its stats record but are not in the tree",
            self.path
        );
        let stats = Registry::new()
            .collection(self.path)
            .and_then(|scope| T::declare_in(&scope))
            .expect("a fresh registry accepts any valid stat set");
        Declared {
            stats,
            error: Some(error),
        }
    }

    /// The stats, declared now if this is the first use.
    pub fn get(&self) -> &T {
        &self.declared().stats
    }

    /// Why the stats are not in the global tree, if declaring them failed.
    pub fn declare_error(&self) -> Option<&Error> {
        self.declared().error.as_ref()
    }
}

impl<T: Stats> Deref for Collection<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T> fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collection")
            .field("path", &self.path)
            .field("declared", &self.declared.get().is_some())
            .finish()
    }
}

/// The rules of [`crate::path`], in a form the compiler can evaluate for a `static`: no
/// empty segment between slashes and no control character (C0, DEL, or C1 as UTF-8).
const fn valid_path(bytes: &[u8]) -> bool {
    let mut start = 0;
    if !bytes.is_empty() && bytes[0] == b'/' {
        start = 1;
    }
    let mut end = bytes.len();
    if end > start && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let mut i = start;
    let mut segment_len = 0;
    while i < end {
        let b = bytes[i];
        if b == b'/' {
            if segment_len == 0 {
                return false;
            }
            segment_len = 0;
        } else {
            if b < 0x20 || b == 0x7f {
                return false;
            }
            if b == 0xc2 && i + 1 < end && bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x9f {
                return false;
            }
            segment_len += 1;
        }
        i += 1;
    }
    // `/x/` ends in a trailing slash, trimmed above; `/x//` leaves an empty last segment.
    !(end > start && segment_len == 0)
}

#[cfg(test)]
mod tests {
    use super::valid_path;
    use crate::path::StatPath;

    #[test]
    fn const_check_agrees_with_the_parser() {
        for path in [
            "",
            "/",
            "/web",
            "web",
            "/web/",
            "/a/b/c",
            "//",
            "/a//b",
            "/a//",
            "a\nb",
            "/x\u{7f}",
            "/x\u{85}y",
            "/ü/ß",
            "/a b",
            "///",
            "/a/b//",
            "\u{9f}",
        ] {
            assert_eq!(
                valid_path(path.as_bytes()),
                StatPath::parse(path).is_ok(),
                "{path:?}"
            );
        }
    }
}
