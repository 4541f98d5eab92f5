//! Validation of stat paths (`/web/latency`) and stat names (`latency`).
//!
//! A path is a `/`-separated list of names. A name is any non-empty string without `/` and
//! without control characters. The leading `/` is optional and one trailing `/` is tolerated;
//! empty segments in the middle (`/web//latency`) are rejected. `""` and `"/"` name the root.

use std::fmt;

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

/// Splits and validates a path into its segments.
pub(crate) fn parse_path(path: &str) -> Result<Vec<String>, PathError> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed
        .split('/')
        .map(|segment| {
            if segment.is_empty() {
                return Err(PathError::EmptySegment {
                    path: path.to_owned(),
                });
            }
            validate_name(segment)?;
            Ok(segment.to_owned())
        })
        .collect()
}

/// Displays segments as an absolute path (`/web/latency`, or `/` for the root).
pub(crate) struct DisplayPath<'a>(pub(crate) &'a [String]);

impl fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for segment in self.0 {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(parse_path("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_path("/").unwrap(), Vec::<String>::new());
        assert_eq!(parse_path("/web").unwrap(), ["web"]);
        assert_eq!(parse_path("web/latency/").unwrap(), ["web", "latency"]);
        assert_eq!(parse_path("/a b/ü").unwrap(), ["a b", "ü"]);
    }

    #[test]
    fn rejects_bad_paths() {
        assert!(matches!(
            parse_path("/x//y"),
            Err(PathError::EmptySegment { .. })
        ));
        assert!(matches!(
            parse_path("///"),
            Err(PathError::EmptySegment { .. })
        ));
        assert!(matches!(
            parse_path("/x/\n"),
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
        assert_eq!(DisplayPath(&[]).to_string(), "/");
        assert_eq!(DisplayPath(&["a".into(), "b".into()]).to_string(), "/a/b");
    }
}
