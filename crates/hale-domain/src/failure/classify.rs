//! The class a failed action gets: what the executor knows, upgraded to
//! fatal only by text the target itself produced, never by the alert.
//!
//! An executor classifies its error from structured data (an HTTP status, an
//! error kind, an exit status). A tenant's fatal patterns (seed 002's "no
//! active api keys", "unauthorized") exist for targets that say "stop" only
//! in prose; they are matched against [`ErrorReport::target_said`], the
//! target's own words, and a match counts only if none of its bytes belongs
//! to a value the alert carried. Without that rule an alert labelled
//! `namespace="unauthorized"` whose refusal quotes its namespace latched the
//! breaker PERMANENT_OPEN and put its tenant to sleep: one crafted alert
//! switched a fail-safe on.
//!
//! Only [`FailureClass::Transient`] (the executor could not tell) may be
//! upgraded. A class the executor determined (the target is gone, the action
//! was invalid, the lock was lost, a timeout, a conflict, a disruption
//! budget) stays what it is, whatever the text says.

use super::{FailureClass, PatternClassifier};

/// What an executor reported about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReport<'a> {
    /// The class the executor decided from structured data.
    pub class: FailureClass,
    /// What the target itself said (an API server's status message, a
    /// program's standard error), if anything. It may quote the alert's
    /// values: the target echoes the names it was given.
    pub target_said: Option<&'a str>,
}

/// The class of a failure, from the executor's report, the tenant's
/// patterns, and every value the alert carried (label names and values,
/// annotation values, the target's namespace, kind and name).
pub fn classify(
    report: ErrorReport<'_>,
    alert_values: &[&str],
    patterns: &PatternClassifier,
) -> FailureClass {
    if report.class != FailureClass::Transient {
        return report.class;
    }
    let Some(text) = report.target_said else {
        return report.class;
    };
    let text = text.to_ascii_lowercase();
    let tainted = alert_bytes(&text, alert_values);
    patterns
        .rules()
        .iter()
        .find(|(pattern, _)| matches_untainted(&text, pattern, &tainted))
        .map_or(report.class, |(_, class)| *class)
}

/// Marks every byte of `text` covered by any occurrence (overlapping ones
/// included) of any alert value, compared ASCII case-insensitively.
fn alert_bytes(text: &str, alert_values: &[&str]) -> Vec<bool> {
    let mut tainted = vec![false; text.len()];
    for value in alert_values {
        let value = value.to_ascii_lowercase();
        for start in occurrences(text, &value) {
            tainted[start..start + value.len()].fill(true);
        }
    }
    tainted
}

/// Whether `pattern` occurs in `text` somewhere that touches no tainted byte.
fn matches_untainted(text: &str, pattern: &str, tainted: &[bool]) -> bool {
    occurrences(text, pattern).any(|start| !tainted[start..start + pattern.len()].contains(&true))
}

/// The start of every occurrence of `needle` in `haystack`, overlapping
/// ones included; none for an empty needle.
fn occurrences<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    let bytes = haystack.as_bytes();
    let needle = needle.as_bytes();
    let last = bytes
        .len()
        .checked_sub(needle.len())
        .filter(|_| !needle.is_empty());
    (0..last.map_or(0, |l| l + 1)).filter(move |&i| bytes[i..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn transient(text: &str) -> ErrorReport<'_> {
        ErrorReport {
            class: FailureClass::Transient,
            target_said: Some(text),
        }
    }

    #[test]
    fn the_targets_own_words_still_latch() {
        let p = PatternClassifier::default();
        assert_eq!(
            classify(transient("Error: No active API keys"), &["web"], &p),
            FailureClass::Fatal
        );
        assert_eq!(
            classify(transient("HTTP 401 Unauthorized"), &[], &p),
            FailureClass::Fatal
        );
    }

    #[test]
    fn a_pattern_inside_an_alert_value_does_not() {
        let p = PatternClassifier::default();
        let said = r#"namespace "unauthorized" is not allowed"#;
        assert_eq!(
            classify(transient(said), &["UNAUTHORIZED"], &p),
            FailureClass::Transient
        );
    }

    #[test]
    fn a_pattern_spanning_an_alert_value_and_the_targets_text_does_not() {
        let p = PatternClassifier::default();
        // The alert's value "unauth" next to the target's "orized".
        assert_eq!(
            classify(transient("unauthorized"), &["unauth"], &p),
            FailureClass::Transient
        );
    }

    #[test]
    fn the_same_words_outside_the_quoted_value_still_latch() {
        let p = PatternClassifier::default();
        let said = r#"pod "unauthorized-7f": 401 Unauthorized"#;
        assert_eq!(
            classify(transient(said), &["unauthorized-7f"], &p),
            FailureClass::Fatal
        );
    }

    #[test]
    fn determined_classes_are_never_upgraded() {
        let p = PatternClassifier::default();
        for class in FailureClass::ALL {
            if class == FailureClass::Transient {
                continue;
            }
            let report = ErrorReport {
                class,
                target_said: Some("unauthorized: no active api keys"),
            };
            assert_eq!(classify(report, &[], &p), class);
        }
    }

    #[test]
    fn without_the_targets_words_nothing_matches() {
        let report = ErrorReport {
            class: FailureClass::Transient,
            target_said: None,
        };
        assert_eq!(
            classify(report, &[], &PatternClassifier::default()),
            FailureClass::Transient
        );
    }

    #[test]
    fn empty_alert_values_taint_nothing() {
        let p = PatternClassifier::default();
        assert_eq!(
            classify(transient("unauthorized"), &[""], &p),
            FailureClass::Fatal
        );
    }

    #[test]
    fn occurrences_overlap() {
        assert_eq!(occurrences("aaaa", "aa").collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(occurrences("ab", "abc").count(), 0);
        assert_eq!(occurrences("ab", "").count(), 0);
        assert_eq!(occurrences("ab", "ab").collect::<Vec<_>>(), vec![0]);
    }

    /// Text the target produces around the values it echoes: no letters, so
    /// no pattern can come from the target's own words in this property.
    fn target_words() -> impl Strategy<Value = String> {
        "[0-9 :./\"=_-]{0,12}"
    }

    /// Alert values that carry the patterns, whole, split or in any case.
    fn alert_value(patterns: Vec<String>) -> impl Strategy<Value = String> {
        let chosen = proptest::sample::select(patterns);
        (
            chosen,
            "[a-zA-Z0-9 ]{0,6}",
            "[a-zA-Z0-9 ]{0,6}",
            any::<bool>(),
            0usize..12,
        )
            .prop_map(|(p, before, after, upper, cut)| {
                let p = if upper { p.to_ascii_uppercase() } else { p };
                let cut = cut.min(p.len());
                // Half the time a fragment of the pattern, so that patterns
                // may form across two neighbouring values.
                if cut % 2 == 0 {
                    format!("{before}{p}{after}")
                } else {
                    p[..cut].to_owned()
                }
            })
    }

    fn patterns() -> Vec<String> {
        let mut all: Vec<String> = PatternClassifier::default()
            .rules()
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        all.extend(["permission denied".to_owned(), "quota".to_owned()]);
        all
    }

    proptest! {
        /// An alert whose labels carry every fatal pattern never makes a
        /// failure fatal, however the target quotes its values.
        #[test]
        fn prop_alert_values_never_make_a_failure_fatal(
            values in proptest::collection::vec(alert_value(patterns()), 1..6),
            words in proptest::collection::vec(target_words(), 7),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let mut classifier = PatternClassifier::default();
            for p in patterns() {
                classifier = classifier.with_rule(p, FailureClass::Fatal);
            }
            // The target's text: its own words with the alert's values
            // quoted in any order, any number of times.
            let mut said = String::new();
            for (i, pick) in order.iter().enumerate() {
                said.push_str(&words[i % words.len()]);
                let value: &String = pick.get(&values);
                said.push_str(value);
            }
            said.push_str(&words[order.len() % words.len()]);
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(
                classify(transient(&said), &refs, &classifier),
                FailureClass::Transient
            );
        }

        /// The target's own words still latch when the alert's values sit
        /// around them.
        #[test]
        fn prop_the_targets_own_pattern_latches_among_alert_values(
            values in proptest::collection::vec("[a-z0-9-]{1,10}", 0..4),
            pattern in proptest::sample::select(patterns()),
        ) {
            let mut classifier = PatternClassifier::default();
            for p in patterns() {
                classifier = classifier.with_rule(p, FailureClass::Fatal);
            }
            let quoted = values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(" ");
            let said = format!("{quoted} | {pattern} |");
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            // A value that itself contains part of the pattern's bytes right
            // at the pattern cannot reach it: values are quoted apart here.
            prop_assume!(!refs.iter().any(|v| pattern.contains(v)));
            prop_assert_eq!(
                classify(transient(&said), &refs, &classifier),
                FailureClass::Fatal
            );
        }
    }
}
