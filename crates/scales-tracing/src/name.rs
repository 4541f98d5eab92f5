//! Span names and targets as stat names, and the target filter.

use std::borrow::Cow;

/// `raw` as a valid stat name (see [`scales::validate_name`]): `/` and control characters
/// become `_`, and the empty string becomes `_`. Anything else, `::` included, is kept, so
/// `my_crate::db` stays one readable path segment.
pub(crate) fn sanitize(raw: &str) -> Cow<'_, str> {
    let bad = |c: char| c == '/' || c.is_control();
    if raw.is_empty() {
        Cow::Borrowed("_")
    } else if raw.contains(bad) {
        Cow::Owned(raw.replace(bad, "_"))
    } else {
        Cow::Borrowed(raw)
    }
}

/// Which targets the layer records: all of them, or those equal to a listed target or
/// inside it as a module (`my_crate` takes `my_crate` and `my_crate::db`, not
/// `my_crate_extra`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetFilter {
    /// `None`: every target.
    targets: Option<Vec<String>>,
}

impl TargetFilter {
    pub(crate) fn only(targets: Vec<String>) -> Self {
        Self {
            targets: Some(targets),
        }
    }

    pub(crate) fn matches(&self, target: &str) -> bool {
        let Some(targets) = &self.targets else {
            return true;
        };
        targets.iter().any(|prefix| {
            target
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    /// The listed targets; `None` for every target.
    pub(crate) fn targets(&self) -> Option<&[String]> {
        self.targets.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_known_cases() {
        for (raw, want) in [
            ("my_crate::db", "my_crate::db"),
            ("GET /users", "GET _users"),
            ("a/b/c", "a_b_c"),
            ("", "_"),
            ("line\nbreak", "line_break"),
            ("tab\there", "tab_here"),
            ("nul\0", "nul_"),
            ("héllo wörld", "héllo wörld"),
            ("/", "_"),
        ] {
            assert_eq!(sanitize(raw), want, "input: {raw:?}");
        }
    }

    #[test]
    fn sanitized_names_are_valid_stat_names() {
        let pieces = [
            "", "a", "/", "::", "\n", "\u{7f}", "\u{85}", " ", "é", "\u{2028}", "x/y",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let raw = format!("{a}{b}{c}");
                    let name = sanitize(&raw);
                    assert!(
                        scales::validate_name(&name).is_ok(),
                        "{raw:?} became {name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn sanitize_borrows_valid_names() {
        assert!(matches!(sanitize("my_crate::db"), Cow::Borrowed(_)));
    }

    #[test]
    fn filter_matches_modules_not_string_prefixes() {
        let filter = TargetFilter::only(vec!["my_crate".into(), "tower_http".into()]);
        for (target, want) in [
            ("my_crate", true),
            ("my_crate::db", true),
            ("my_crate::db::pool", true),
            ("tower_http::trace", true),
            ("my_crate_extra", false),
            ("my_crat", false),
            ("other", false),
            ("", false),
            ("my_crate:", false),
        ] {
            assert_eq!(filter.matches(target), want, "target: {target:?}");
        }
        assert!(TargetFilter::default().matches("anything"));
        assert!(!TargetFilter::only(Vec::new()).matches("anything"));
    }
}
