//! Validation of stat paths (`/web/latency`) and stat names (`latency`).
//!
//! A path is a `/`-separated list of names. A name is any non-empty string without `/` and
//! without control characters. The leading `/` is optional and one trailing `/` is tolerated;
//! empty segments in the middle (`/web//latency`) are rejected. `""` and `"/"` name the root.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use smol_str::SmolStr;

/// Why a path or name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A stat or child name was empty.
    #[error("stat name is empty")]
    EmptyName,
    /// A name contained `/`; use a path (or a child scope) for nesting.
    #[error("stat name `{name}` contains `/`; declare it in a child scope instead")]
    SlashInName {
        /// The offending name.
        name: String,
    },
    /// A name contained a control character such as a newline or NUL.
    #[error("stat name {name:?} contains a control character")]
    ControlCharacter {
        /// The offending name.
        name: String,
    },
    /// A path had an empty segment, as in `/web//latency`.
    #[error("path `{path}` has an empty segment")]
    EmptySegment {
        /// The offending path.
        path: String,
    },
}

/// Checks one stat or child name.
///
/// ```
/// assert!(scales::validate_name("latency").is_ok());
/// assert!(scales::validate_name("a/b").is_err());
/// assert!(scales::validate_name("").is_err());
/// ```
pub fn validate_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptyName);
    }
    if name.contains('/') {
        return Err(PathError::SlashInName {
            name: name.to_owned(),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A path in the stat tree: the names from the root down, shown as `/web/latency` (`/` for
/// the root). Every name is valid (see [`validate_name`]); parse one with
/// [`StatPath::parse`] or `"/web".parse()`. It dereferences to its names.
///
/// ```
/// let path: scales::StatPath = "/web/latency".parse()?;
/// assert_eq!(path.len(), 2);
/// assert_eq!(path, "/web/latency");
/// assert_eq!(path.to_string(), "/web/latency");
/// assert_eq!(path.parent().unwrap(), "/web");
/// assert!(path.starts_with(&"/web".parse()?));
/// assert_eq!(path.join("p99")?, "/web/latency/p99");
/// assert!(scales::StatPath::parse("/web//latency").is_err());
/// # Ok::<(), scales::PathError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatPath {
    names: Vec<Name>,
}

impl StatPath {
    /// The root of the tree (`/`).
    pub const fn root() -> Self {
        Self { names: Vec::new() }
    }

    /// Splits and validates a path. The leading `/` is optional and one trailing `/` is
    /// tolerated; `""` and `"/"` are the root.
    ///
    /// # Errors
    /// An empty segment in the middle (`/web//latency`) or an invalid name.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let names = trimmed
            .split('/')
            .map(|segment| {
                if segment.is_empty() {
                    return Err(PathError::EmptySegment {
                        path: path.to_owned(),
                    });
                }
                validate_name(segment)?;
                Ok(Name::from(segment))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { names })
    }

    /// A path of the given names, each validated.
    ///
    /// # Errors
    /// The first invalid name.
    pub fn from_names<I>(names: I) -> Result<Self, PathError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut path = Self::root();
        for name in names {
            path.push(name.as_ref())?;
        }
        Ok(path)
    }

    /// The names, from the root down.
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// Whether this is the root (no names).
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// The path one level up; `None` at the root.
    pub fn parent(&self) -> Option<StatPath> {
        let (_, parent) = self.names.split_last()?;
        Some(Self {
            names: parent.to_vec(),
        })
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &StatPath) -> bool {
        self.names.starts_with(&prefix.names)
    }

    /// This path with `name` appended.
    ///
    /// # Errors
    /// When `name` is invalid.
    pub fn join(&self, name: &str) -> Result<StatPath, PathError> {
        let mut path = self.clone();
        path.push(name)?;
        Ok(path)
    }

    /// Appends `name`.
    ///
    /// # Errors
    /// When `name` is invalid; the path is left as it was.
    pub fn push(&mut self, name: &str) -> Result<(), PathError> {
        validate_name(name)?;
        self.names.push(Name::from(name));
        Ok(())
    }

    /// Removes and returns the last name.
    pub fn pop(&mut self) -> Option<Name> {
        self.names.pop()
    }

    /// Appends every name of `other`.
    pub fn extend(&mut self, other: &StatPath) {
        self.names.extend_from_slice(&other.names);
    }

    /// Appends a name known to be valid (copied from a tree, whose names were validated).
    pub(crate) fn push_trusted(&mut self, name: Name) {
        self.names.push(name);
    }
}

impl Deref for StatPath {
    type Target = [Name];

    fn deref(&self) -> &[Name] {
        &self.names
    }
}

impl<'a> IntoIterator for &'a StatPath {
    type Item = &'a Name;
    type IntoIter = std::slice::Iter<'a, Name>;

    fn into_iter(self) -> Self::IntoIter {
        self.names.iter()
    }
}

impl FromStr for StatPath {
    type Err = PathError;

    fn from_str(path: &str) -> Result<Self, PathError> {
        Self::parse(path)
    }
}

impl TryFrom<&str> for StatPath {
    type Error = PathError;

    fn try_from(path: &str) -> Result<Self, PathError> {
        Self::parse(path)
    }
}

impl fmt::Display for StatPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DisplayPath(&self.names).fmt(f)
    }
}

/// Displays names as an absolute path (`/web/latency`, or `/` for the root).
pub(crate) struct DisplayPath<'a>(pub(crate) &'a [Name]);

impl fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for name in self.0 {
            write!(f, "/{name}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StatPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatPath(\"{self}\")")
    }
}

/// Compares with a path's text form: `"/web/latency"` (the leading `/` optional, as in
/// [`StatPath::parse`]).
impl PartialEq<str> for StatPath {
    fn eq(&self, other: &str) -> bool {
        let trimmed = other.strip_prefix('/').unwrap_or(other);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return self.names.is_empty();
        }
        let mut segments = trimmed.split('/');
        self.names
            .iter()
            .all(|name| segments.next() == Some(name.as_str()))
            && segments.next().is_none()
    }
}

impl PartialEq<&str> for StatPath {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// A name in the tree (one path segment). Up to 23 bytes live inline; longer names are
/// shared. So a snapshot copies a name without allocating, and a long name's bytes are
/// never copied at all.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Name(SmolStr);

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self(SmolStr::new(name))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self(SmolStr::from(name))
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Self {
        Self(SmolStr::new(name))
    }
}

impl From<Arc<str>> for Name {
    /// Inline when short; a long name keeps the `Arc` (its bytes are not copied).
    fn from(name: Arc<str>) -> Self {
        Self(SmolStr::from(name))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let names = |path: &str| -> Vec<String> {
            let path = StatPath::parse(path).unwrap();
            path.iter().map(|name| name.to_string()).collect()
        };
        assert_eq!(names(""), Vec::<String>::new());
        assert_eq!(names("/"), Vec::<String>::new());
        assert_eq!(names("/web"), ["web"]);
        assert_eq!(names("web/latency/"), ["web", "latency"]);
        assert_eq!(names("/a b/ü"), ["a b", "ü"]);
    }

    #[test]
    fn rejects_bad_paths() {
        assert!(matches!(
            StatPath::parse("/x//y"),
            Err(PathError::EmptySegment { .. })
        ));
        assert!(matches!(
            StatPath::parse("///"),
            Err(PathError::EmptySegment { .. })
        ));
        assert!(matches!(
            StatPath::parse("/x/\n"),
            Err(PathError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(validate_name(""), Err(PathError::EmptyName));
        assert!(matches!(
            validate_name("a/b"),
            Err(PathError::SlashInName { .. })
        ));
        assert!(matches!(
            validate_name("a\0"),
            Err(PathError::ControlCharacter { .. })
        ));
        assert!(validate_name("99percentile").is_ok());
    }

    #[test]
    fn displays_paths() {
        assert_eq!(StatPath::root().to_string(), "/");
        let path = StatPath::from_names(["a", "b"]).unwrap();
        assert_eq!(path.to_string(), "/a/b");
        assert_eq!(format!("{path:?}"), "StatPath(\"/a/b\")");
    }

    #[test]
    fn compares_with_text() {
        let path = StatPath::parse("/a/b").unwrap();
        for same in ["/a/b", "a/b", "/a/b/"] {
            assert_eq!(path, same);
        }
        for other in ["/a", "/a/b/c", "/a/bc", "/", ""] {
            assert_ne!(path, other);
        }
        assert_eq!(StatPath::root(), "/");
        assert_eq!(StatPath::root(), "");
        assert!(StatPath::from_names(["a/b"]).is_err());
    }
}
