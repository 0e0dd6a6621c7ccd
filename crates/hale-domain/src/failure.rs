//! Failure classification: what kind of failure an action or call had, and
//! what that means for the circuit breaker.
//!
//! Executors classify their own errors (a Kubernetes 401 is [`FailureClass::Fatal`]
//! without any string matching). A failure the executor could only call
//! transient may be made fatal by a [`PatternClassifier`] rule (the seed's
//! "no active api keys", "unauthorized"), matched only against what the
//! target itself said and never against the alert's own values: see
//! [`classify`].

use std::fmt;

use serde::{Deserialize, Serialize};

mod classify;

pub use classify::{ErrorReport, classify};

/// The class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Might succeed on retry (5xx, connection reset, ...).
    Transient,
    /// Did not finish within its timeout.
    Timeout,
    /// Concurrent modification; retry soon (HTTP 409).
    Conflict,
    /// A disruption budget refused (eviction 429); back off.
    BudgetBlocked,
    /// The target no longer exists (HTTP 404); retrying is pointless.
    TargetGone,
    /// The action itself is malformed or not allowed (bad params, selector
    /// guard, namespace not allowed). A policy bug, not a system failure.
    InvalidAction,
    /// Retrying cannot help until a human fixes something (401/403, no API
    /// keys). Latches the breaker PERMANENT_OPEN at once.
    Fatal,
    /// The action was refused because its lock was lost: the target already
    /// carries a higher fencing token (a newer holder acted on it), or the
    /// lease could not be confirmed right before acting. Nothing was done.
    /// Says nothing about the target's health, so the breaker ignores it,
    /// and this operation must not retry: the newer holder owns the target.
    Fenced,
}

/// What a failure does to a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerImpact {
    /// Counts as a consecutive failure.
    Count,
    /// Latches PERMANENT_OPEN immediately.
    Latch,
    /// Says nothing about the protected system's health (the target is gone,
    /// the request was invalid, a newer lock holder fenced the action off):
    /// the breaker ignores it.
    Ignore,
}

impl FailureClass {
    /// Every class, in declaration order (for the stores' CHECK constraints,
    /// command-line help and tests that must cover each one).
    pub const ALL: [FailureClass; 8] = [
        FailureClass::Transient,
        FailureClass::Timeout,
        FailureClass::Conflict,
        FailureClass::BudgetBlocked,
        FailureClass::TargetGone,
        FailureClass::InvalidAction,
        FailureClass::Fatal,
        FailureClass::Fenced,
    ];

    /// How the breaker treats this class.
    pub fn breaker_impact(self) -> BreakerImpact {
        match self {
            FailureClass::Fatal => BreakerImpact::Latch,
            FailureClass::TargetGone | FailureClass::InvalidAction | FailureClass::Fenced => {
                BreakerImpact::Ignore
            }
            FailureClass::Transient
            | FailureClass::Timeout
            | FailureClass::Conflict
            | FailureClass::BudgetBlocked => BreakerImpact::Count,
        }
    }

    /// Whether the failure says nothing about the health of the system
    /// acted on: the target is gone, the action was invalid for it (a
    /// policy or alert problem), or a newer lock holder fenced it off. Such
    /// failures feed no breaker, backoff or dormancy: otherwise an alert
    /// naming bad targets could switch a tenant's fail-safes on.
    pub fn says_nothing_about_health(self) -> bool {
        self.breaker_impact() == BreakerImpact::Ignore
    }

    /// Whether retrying the same action later can help.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureClass::Transient
                | FailureClass::Timeout
                | FailureClass::Conflict
                | FailureClass::BudgetBlocked
        )
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Timeout => "timeout",
            FailureClass::Conflict => "conflict",
            FailureClass::BudgetBlocked => "budget_blocked",
            FailureClass::TargetGone => "target_gone",
            FailureClass::InvalidAction => "invalid_action",
            FailureClass::Fatal => "fatal",
            FailureClass::Fenced => "fenced",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule that classifies an error known only by its message.
pub trait FailureClassifier: Send + Sync {
    /// Classifies `message`, or returns `None` to leave the caller's default.
    fn classify(&self, message: &str) -> Option<FailureClass>;
}

/// Case-insensitive substring patterns mapped to classes; the first match
/// wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternClassifier {
    rules: Vec<(String, FailureClass)>,
}

impl PatternClassifier {
    /// A classifier with no rules.
    pub fn empty() -> Self {
        PatternClassifier { rules: Vec::new() }
    }

    /// Adds a rule; patterns are matched case-insensitively.
    pub fn with_rule(mut self, pattern: impl Into<String>, class: FailureClass) -> Self {
        self.rules.push((pattern.into().to_lowercase(), class));
        self
    }

    /// The rules, in match order.
    pub fn rules(&self) -> &[(String, FailureClass)] {
        &self.rules
    }
}

impl Default for PatternClassifier {
    /// Seed 002's permanent-open conditions.
    fn default() -> Self {
        PatternClassifier::empty()
            .with_rule("no active api keys", FailureClass::Fatal)
            .with_rule("unauthorized", FailureClass::Fatal)
    }
}

impl FailureClassifier for PatternClassifier {
    fn classify(&self, message: &str) -> Option<FailureClass> {
        let lower = message.to_lowercase();
        self.rules
            .iter()
            .find(|(pattern, _)| lower.contains(pattern.as_str()))
            .map(|(_, class)| *class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_patterns_are_fatal_and_others_are_left_alone() {
        let c = PatternClassifier::default();
        assert_eq!(
            c.classify("Error: No active API keys configured"),
            Some(FailureClass::Fatal)
        );
        assert_eq!(c.classify("401 Unauthorized"), Some(FailureClass::Fatal));
        assert_eq!(c.classify("connection reset by peer"), None);
    }

    #[test]
    fn impacts() {
        assert_eq!(FailureClass::Fatal.breaker_impact(), BreakerImpact::Latch);
        assert_eq!(
            FailureClass::TargetGone.breaker_impact(),
            BreakerImpact::Ignore
        );
        assert_eq!(FailureClass::Timeout.breaker_impact(), BreakerImpact::Count);
        assert!(!FailureClass::TargetGone.is_retryable());
    }

    #[test]
    fn fenced_counts_as_no_failure_of_the_target_and_is_not_retried() {
        assert_eq!(FailureClass::Fenced.breaker_impact(), BreakerImpact::Ignore);
        assert!(!FailureClass::Fenced.is_retryable());
        assert_eq!(FailureClass::Fenced.as_str(), "fenced");
    }

    #[test]
    fn all_lists_every_class_once_in_declaration_order() {
        // Exhaustive: a new class does not compile here until it gets a
        // position, which is the reminder to add it to `ALL` (and to the
        // stores' CHECK constraints, through a migration).
        fn position(class: FailureClass) -> usize {
            match class {
                FailureClass::Transient => 0,
                FailureClass::Timeout => 1,
                FailureClass::Conflict => 2,
                FailureClass::BudgetBlocked => 3,
                FailureClass::TargetGone => 4,
                FailureClass::InvalidAction => 5,
                FailureClass::Fatal => 6,
                FailureClass::Fenced => 7,
            }
        }
        for (i, class) in FailureClass::ALL.into_iter().enumerate() {
            assert_eq!(position(class), i, "{class:?}");
        }
    }

    /// Each class's wire name, its Display, its breaker impact and whether it
    /// is retried, written out for every class.
    #[test]
    fn every_class_has_its_exact_wire_name_impact_and_retry_rule() {
        use BreakerImpact::{Count, Ignore, Latch};
        let table = [
            (FailureClass::Transient, "transient", Count, true),
            (FailureClass::Timeout, "timeout", Count, true),
            (FailureClass::Conflict, "conflict", Count, true),
            (FailureClass::BudgetBlocked, "budget_blocked", Count, true),
            (FailureClass::TargetGone, "target_gone", Ignore, false),
            (FailureClass::InvalidAction, "invalid_action", Ignore, false),
            (FailureClass::Fatal, "fatal", Latch, false),
            (FailureClass::Fenced, "fenced", Ignore, false),
        ];
        assert_eq!(table.map(|row| row.0), FailureClass::ALL);
        for (class, name, impact, retryable) in table {
            crate::wire::assert_wire_name(class, class.as_str(), name);
            assert_eq!(class.breaker_impact(), impact, "{class}");
            assert_eq!(class.is_retryable(), retryable, "{class}");
        }
    }

    #[test]
    fn the_first_matching_rule_wins_and_rules_keep_their_order() {
        let c = PatternClassifier::empty()
            .with_rule("Gone", FailureClass::TargetGone)
            .with_rule("gone for good", FailureClass::Fatal);
        assert_eq!(
            c.rules(),
            [
                ("gone".to_owned(), FailureClass::TargetGone),
                ("gone for good".to_owned(), FailureClass::Fatal),
            ]
        );
        assert_eq!(c.classify("GONE FOR GOOD"), Some(FailureClass::TargetGone));
        assert_eq!(PatternClassifier::empty().classify("unauthorized"), None);
        assert_eq!(PatternClassifier::empty().rules(), []);
    }

    #[test]
    fn wire_names_match_serde_for_every_class() {
        for class in FailureClass::ALL {
            assert_eq!(
                serde_json::to_value(class).unwrap(),
                serde_json::Value::String(class.as_str().to_owned()),
                "{class:?}"
            );
            let back: FailureClass =
                serde_json::from_value(serde_json::Value::String(class.as_str().to_owned()))
                    .unwrap();
            assert_eq!(back, class);
        }
    }
}
