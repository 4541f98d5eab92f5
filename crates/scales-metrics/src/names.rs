//! Metric names to stat paths, and label sets to the keys of keyed stats.

use std::borrow::Cow;

use metrics::Key;
use scales::{PathError, StatPath};

/// What replaces an empty segment, and each character a segment may not hold.
const REPLACEMENT: char = '_';

/// The path of the stat that the metric `name` records into, below `prefix`, and whether the
/// name had to be sanitised.
///
/// A name that starts with `/` is a scales path (`/web/errors`) and is read as
/// [`StatPath::parse`] reads it; any other name is split at its dots (`http.requests` →
/// `/http/requests`). A name that is neither gets each offending segment repaired: an empty
/// segment becomes `_`, and a `/` or a control character in a segment becomes `_`.
///
/// # Errors
/// Only if the core refuses a repaired name, which it does not for any rule it has today.
pub(crate) fn path_of(prefix: &StatPath, name: &str) -> Result<(StatPath, bool), PathError> {
    let mut path = prefix.clone();
    if name.starts_with('/') {
        if let Ok(parsed) = StatPath::parse(name) {
            if !parsed.is_root() {
                path.extend(&parsed);
                return Ok((path, false));
            }
        }
    }
    let (body, separator) = match name.strip_prefix('/') {
        Some(rest) => (rest, '/'),
        None => (name, '.'),
    };
    let mut sanitised = false;
    for segment in body.split(separator) {
        let segment = sanitise(segment);
        sanitised |= matches!(segment, Cow::Owned(_));
        path.push(&segment)?;
    }
    Ok((path, sanitised))
}

/// `segment` as a valid stat name: unchanged when it is one.
fn sanitise(segment: &str) -> Cow<'_, str> {
    if segment.is_empty() {
        return Cow::Owned(REPLACEMENT.to_string());
    }
    let invalid = |c: char| c == '/' || c.is_control();
    if !segment.contains(invalid) {
        return Cow::Borrowed(segment);
    }
    Cow::Owned(segment.replace(invalid, &REPLACEMENT.to_string()))
}

/// The key that `key`'s labels select in its keyed stat, or `None` without labels.
///
/// One label gives its value (`{path="/a"}` → `/a`). Several give `name=value` pairs joined
/// by `,`, **sorted by label name** (`{path="/a", method="GET"}` → `method=GET,path=/a`):
/// `metrics` treats label sets in any order as the same metric, so the order of the first
/// call site to register it must not decide the key. In pairs, `\`, `,` and `=` are escaped
/// with a `\`, so two different label sets never share a key.
pub(crate) fn label_key(key: &Key) -> Option<String> {
    let mut labels: Vec<_> = key.labels().collect();
    match labels.as_slice() {
        [] => None,
        [label] => Some(label.value().to_owned()),
        _ => {
            // Stable: repeated label names keep their order.
            labels.sort_by(|a, b| a.key().cmp(b.key()));
            let mut out = String::new();
            for (i, label) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escape_into(&mut out, label.key());
                out.push('=');
                escape_into(&mut out, label.value());
            }
            Some(out)
        }
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(prefix: &str, name: &str) -> (String, bool) {
        let prefix = StatPath::parse(prefix).unwrap();
        let (path, sanitised) = path_of(&prefix, name).unwrap();
        (path.to_string(), sanitised)
    }

    #[test]
    fn dotted_names_become_paths() {
        assert_eq!(path("", "http.requests"), ("/http/requests".into(), false));
        assert_eq!(path("", "requests"), ("/requests".into(), false));
        assert_eq!(
            path("/app", "http.requests"),
            ("/app/http/requests".into(), false)
        );
        assert_eq!(path("/app/v1", "a"), ("/app/v1/a".into(), false));
    }

    #[test]
    fn scales_paths_are_kept() {
        assert_eq!(path("", "/web/errors"), ("/web/errors".into(), false));
        // Dots inside a path's names are the names' own.
        assert_eq!(
            path("", "/web/latency.p99"),
            ("/web/latency.p99".into(), false)
        );
        assert_eq!(
            path("/app", "/web/errors/"),
            ("/app/web/errors".into(), false)
        );
    }

    #[test]
    fn invalid_names_are_sanitised() {
        assert_eq!(path("", ""), ("/_".into(), true));
        assert_eq!(path("", "a..b"), ("/a/_/b".into(), true));
        assert_eq!(path("", ".a."), ("/_/a/_".into(), true));
        assert_eq!(path("", "a/b.c"), ("/a_b/c".into(), true));
        assert_eq!(path("", "x\ny.z\u{0}"), ("/x_y/z_".into(), true));
        assert_eq!(path("", "/"), ("/_".into(), true));
        assert_eq!(path("", "/web//errors"), ("/web/_/errors".into(), true));
        assert_eq!(path("", "/web/a\tb"), ("/web/a_b".into(), true));
        assert_eq!(path("/app", "é.ü"), ("/app/é/ü".into(), false));
    }

    fn key_of(labels: &[(&'static str, &'static str)]) -> Option<String> {
        let labels: Vec<metrics::Label> = labels
            .iter()
            .map(|&(k, v)| metrics::Label::new(k, v))
            .collect();
        label_key(&Key::from_parts("m", labels))
    }

    #[test]
    fn labels_become_keys() {
        assert_eq!(key_of(&[]), None);
        assert_eq!(key_of(&[("path", "/a")]).as_deref(), Some("/a"));
        assert_eq!(key_of(&[("path", "a,b=c")]).as_deref(), Some("a,b=c"));
        assert_eq!(
            key_of(&[("path", "/a"), ("method", "GET")]).as_deref(),
            Some("method=GET,path=/a")
        );
        assert_eq!(
            key_of(&[("method", "GET"), ("path", "/a")]),
            key_of(&[("path", "/a"), ("method", "GET")])
        );
        assert_eq!(
            key_of(&[("a", "1,b=2"), ("c", "x\\")]).as_deref(),
            Some("a=1\\,b\\=2,c=x\\\\")
        );
        assert_ne!(key_of(&[("a", "1,b=2")]), key_of(&[("a", "1"), ("b", "2")]));
    }
}
