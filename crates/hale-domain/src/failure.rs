//! Failure classification: what kind of failure an action or call had, and
//! what that means for the circuit breaker.
//!
//! Executors classify their own errors (a Kubernetes 401 is [`FailureClass::Fatal`]
//! without any string matching). Errors that arrive only as text are classified
//! by a [`FailureClassifier`], a pluggable rule; the seed's patterns
//! ("no active api keys", "unauthorized") are the default [`PatternClassifier`].

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// the request was invalid): the breaker ignores it.
    Ignore,
}

impl FailureClass {
    /// How the breaker treats this class.
    pub fn breaker_impact(self) -> BreakerImpact {
        match self {
            FailureClass::Fatal => BreakerImpact::Latch,
            FailureClass::TargetGone | FailureClass::InvalidAction => BreakerImpact::Ignore,
            FailureClass::Transient
            | FailureClass::Timeout
            | FailureClass::Conflict
            | FailureClass::BudgetBlocked => BreakerImpact::Count,
        }
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
}
