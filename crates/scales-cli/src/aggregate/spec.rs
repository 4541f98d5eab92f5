//! The aggregation spec: which aggregator combines the values found at each path in the
//! sources that carry no sketch (the original's dumps), as the original's `aggregation.py`
//! spec does, in a small line-based text form.
//!
//! ```text
//! # PATTERN            AGGREGATOR... [approximate]
//! web/*/99percentile   average approximate
//! version              inverse
//! uptime               highest lowest
//! **                   sum
//! ```
//!
//! A pattern is a path (the leading `/` optional) whose segments may hold `*`, `?` and
//! `[...]` globs within a segment, and `**` for any number of segments. The first line
//! whose pattern matches a value's path decides; the user's lines come before
//! [`DEFAULT_SPEC`].

use std::fmt;

/// The spec used when none is given, and after the user's lines: numbers add up; the
/// fields of a distribution's summary that cannot be merged without its sketch are
/// count-weighted averages, marked approximate; the exact ones (count, min, max, mean)
/// stay exact.
pub(crate) const DEFAULT_SPEC: &str = include_str!("default.spec");

/// How the values of one path are combined (the original's aggregators, and a few more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregator {
    /// The total of the numbers (the original's `Sum`).
    Sum,
    /// Their mean, weighted by the `count` beside them when there is one (`Average`).
    Average,
    /// The smallest number.
    Min,
    /// The largest number.
    Max,
    /// The largest number and the source it came from (`Highlight` with `new > old`).
    Highest,
    /// The smallest number and its source (`Highlight` with `new < old`).
    Lowest,
    /// Each distinct value with the sources that have it (`InverseMap`).
    Inverse,
    /// Every source's value, `[source, value]` pairs sorted by value (`Sorted`).
    Sorted,
    /// The first source's value.
    First,
    /// Left out of the result.
    Skip,
}

impl Aggregator {
    const ALL: [(&'static str, Aggregator); 10] = [
        ("sum", Aggregator::Sum),
        ("average", Aggregator::Average),
        ("min", Aggregator::Min),
        ("max", Aggregator::Max),
        ("highest", Aggregator::Highest),
        ("lowest", Aggregator::Lowest),
        ("inverse", Aggregator::Inverse),
        ("sorted", Aggregator::Sorted),
        ("first", Aggregator::First),
        ("skip", Aggregator::Skip),
    ];

    /// The name in a spec and in the result (`"average"`).
    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(name, _)| name)
    }

    fn parse(word: &str) -> Option<Aggregator> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == word)
            .map(|&(_, a)| a)
    }

    /// Whether it only takes numbers (other values are then shown as an inverse map).
    pub(crate) fn numeric(self) -> bool {
        matches!(
            self,
            Aggregator::Sum
                | Aggregator::Average
                | Aggregator::Min
                | Aggregator::Max
                | Aggregator::Highest
                | Aggregator::Lowest
        )
    }
}

/// One line of a spec.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pattern: glob::Pattern,
    /// The aggregators, in the order written (at least one).
    pub(crate) aggregators: Vec<Aggregator>,
    /// Whether the results are approximations of the fleet-wide value (listed as such).
    pub(crate) approximate: bool,
}

/// A parsed spec: its rules in order, first match wins.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    rules: Vec<Rule>,
}

/// A spec line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecError {
    origin: String,
    line: usize,
    message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, line {}: {}", self.origin, self.line, self.message)
    }
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Spec {
    /// Parses spec text (`origin` names it in errors): one rule a line, `#` comments.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
        let mut rules = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let error = |message: String| SpecError {
                origin: origin.to_owned(),
                line: number + 1,
                message,
            };
            let line = line.split_once('#').map_or(line, |(before, _)| before);
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else {
                continue;
            };
            let pattern = glob::Pattern::new(pattern.trim_start_matches('/'))
                .map_err(|e| error(format!("bad pattern {pattern:?}: {e}")))?;
            let mut rule = Rule {
                pattern,
                aggregators: Vec::new(),
                approximate: false,
            };
            for word in words {
                if word == "approximate" {
                    rule.approximate = true;
                } else if let Some(aggregator) = Aggregator::parse(word) {
                    if rule.aggregators.contains(&aggregator) {
                        return Err(error(format!("{word} given twice")));
                    }
                    rule.aggregators.push(aggregator);
                } else {
                    let names: Vec<_> = Aggregator::ALL.iter().map(|(n, _)| *n).collect();
                    return Err(error(format!(
                        "unknown aggregator {word:?}: use {} (and `approximate`)",
                        names.join(", ")
                    )));
                }
            }
            if rule.aggregators.is_empty() {
                return Err(error("a pattern needs at least one aggregator".to_owned()));
            }
            if rule.aggregators.contains(&Aggregator::Skip) && rule.aggregators.len() > 1 {
                return Err(error("skip goes alone".to_owned()));
            }
            rules.push(rule);
        }
        Ok(Spec { rules })
    }

    /// The default spec ([`DEFAULT_SPEC`]).
    pub(crate) fn default_spec() -> Spec {
        Spec::parse(DEFAULT_SPEC, "the default spec").expect("the default spec parses")
    }

    /// This spec's rules, then `other`'s.
    pub(crate) fn then(mut self, other: Spec) -> Spec {
        self.rules.extend(other.rules);
        self
    }

    /// The rule for `path` (`web/latency/median`, no leading `/`): the first that matches;
    /// `None` when none does (the caller sums).
    pub(crate) fn rule_for(&self, path: &str) -> Option<usize> {
        self.rules
            .iter()
            .position(|rule| rule.pattern.matches_with(path, OPTIONS))
    }

    /// Rule number `index` (from [`rule_for`](Self::rule_for)).
    pub(crate) fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_match_by_field_name_at_any_depth() {
        let spec = Spec::default_spec();
        let aggregators = |path: &str| {
            let rule = spec.rule(spec.rule_for(path).unwrap());
            (rule.aggregators.clone(), rule.approximate)
        };
        assert_eq!(
            aggregators("web/latency/99percentile"),
            (vec![Aggregator::Average], true)
        );
        assert_eq!(aggregators("median"), (vec![Aggregator::Average], true));
        assert_eq!(
            aggregators("a/b/c/d/mean"),
            (vec![Aggregator::Average], false)
        );
        assert_eq!(
            aggregators("web/latency/count"),
            (vec![Aggregator::Sum], false)
        );
        assert_eq!(aggregators("web/success"), (vec![Aggregator::Sum], false));
        assert_eq!(aggregators("web/maximum"), (vec![Aggregator::Sum], false));
    }

    #[test]
    fn user_lines_come_first_and_bad_lines_say_where() {
        let user = Spec::parse(
            "# versions\n/version inverse\nuptime  highest lowest\n",
            "spec.txt",
        )
        .unwrap();
        let spec = user.then(Spec::default_spec());
        let rule = spec.rule(spec.rule_for("uptime").unwrap());
        assert_eq!(rule.aggregators, [Aggregator::Highest, Aggregator::Lowest]);
        assert_eq!(
            spec.rule(spec.rule_for("version").unwrap()).aggregators,
            [Aggregator::Inverse]
        );
        let error = Spec::parse("a sum\nb avg\n", "spec.txt").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(
            error.to_string().contains("unknown aggregator \"avg\""),
            "{error}"
        );
        assert!(Spec::parse("a\n", "s").is_err());
        assert!(Spec::parse("a[ sum\n", "s").is_err());
        assert!(Spec::parse("a skip sum\n", "s").is_err());
    }
}
