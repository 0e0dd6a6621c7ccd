//! Coordination between the decision path and the failure watcher (seed 000,
//! ADR-043).
//!
//! The decision path (alert -> proposal -> approval -> execution) outranks the
//! failure watcher (automatic repair, LOW risk only). Before the watcher acts
//! on a resource, the resource lock must be free and no approval may be
//! pending for it; if the lock backend cannot answer, automation stands still
//! (fail closed) and the skip is recorded.

use serde::{Deserialize, Serialize};

use crate::reason::{DeferralReason, NotActed, SkipReason};
use crate::risk::{RiskLevel, SourceSystem};

/// Lock priority classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPriority {
    /// The failure watcher's automatic runs.
    Automatic,
    /// The decision path (and manual API actions); outranks `Automatic`.
    Decision,
}

impl LockPriority {
    /// The priority a source acts with.
    pub fn of(source: SourceSystem) -> LockPriority {
        match source {
            SourceSystem::FailureWatcher => LockPriority::Automatic,
            SourceSystem::DecisionManager | SourceSystem::Api => LockPriority::Decision,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LockPriority::Automatic => "automatic",
            LockPriority::Decision => "decision",
        }
    }
}

/// What the lock backend says about the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "lock")]
pub enum LockObservation {
    /// Nobody holds it.
    Free,
    /// Held.
    Held {
        /// The holder's priority.
        priority: LockPriority,
    },
    /// The backend did not answer (error or timeout).
    BackendUnavailable,
}

/// Inputs to the coordination rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoordinationInput {
    /// Who wants to act.
    pub source: SourceSystem,
    /// The action's risk.
    pub risk: RiskLevel,
    /// The resource lock as observed.
    pub lock: LockObservation,
    /// Whether an approval is pending for the resource.
    pub pending_approval: bool,
}

/// The coordination verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision", content = "reason")]
pub enum CoordinationDecision {
    /// Go ahead: take the lock at the source's priority.
    Proceed,
    /// The decision path wants a resource an automatic run holds: ask the
    /// run to yield (it checks between actions) and retry later.
    Preempt,
    /// Not now; the detection job retries (the alert is remembered).
    Deferred(DeferralReason),
    /// An approval is already pending; its flow decides (nothing to retry).
    AwaitExistingApproval,
    /// Do nothing and record why (fail closed).
    Skip(SkipReason),
}

impl CoordinationDecision {
    /// The reason, when the decision is not to proceed.
    pub fn reason(self) -> Option<NotActed> {
        match self {
            CoordinationDecision::Proceed | CoordinationDecision::Preempt => None,
            CoordinationDecision::Deferred(r) => Some(NotActed::Deferred(r)),
            CoordinationDecision::Skip(r) => Some(NotActed::Skipped(r)),
            CoordinationDecision::AwaitExistingApproval => {
                Some(NotActed::Deferred(DeferralReason::AwaitingExistingApproval))
            }
        }
    }
}

/// The rule.
pub fn decide(input: CoordinationInput) -> CoordinationDecision {
    use CoordinationDecision::*;
    use DeferralReason::*;
    use SkipReason::*;
    match input.source {
        SourceSystem::FailureWatcher => {
            if input.risk != RiskLevel::Low {
                return Skip(RiskTooHighForAutoRepair);
            }
            match input.lock {
                LockObservation::BackendUnavailable => Skip(LockBackendUnavailable),
                LockObservation::Held {
                    priority: LockPriority::Decision,
                } => Deferred(DeferredToDecisionManager),
                LockObservation::Held {
                    priority: LockPriority::Automatic,
                } => Deferred(ResourceBusy),
                LockObservation::Free if input.pending_approval => AwaitExistingApproval,
                LockObservation::Free => Proceed,
            }
        }
        SourceSystem::DecisionManager | SourceSystem::Api => match input.lock {
            LockObservation::BackendUnavailable => Skip(LockBackendUnavailable),
            _ if input.pending_approval => AwaitExistingApproval,
            LockObservation::Held {
                priority: LockPriority::Automatic,
            } => Preempt,
            LockObservation::Held {
                priority: LockPriority::Decision,
            } => Deferred(ResourceBusy),
            LockObservation::Free => Proceed,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lock() -> impl Strategy<Value = LockObservation> {
        prop_oneof![
            Just(LockObservation::Free),
            Just(LockObservation::Held {
                priority: LockPriority::Automatic
            }),
            Just(LockObservation::Held {
                priority: LockPriority::Decision
            }),
            Just(LockObservation::BackendUnavailable),
        ]
    }

    fn risk() -> impl Strategy<Value = RiskLevel> {
        prop_oneof![
            Just(RiskLevel::Low),
            Just(RiskLevel::Medium),
            Just(RiskLevel::High),
            Just(RiskLevel::Critical)
        ]
    }

    fn source() -> impl Strategy<Value = SourceSystem> {
        prop_oneof![
            Just(SourceSystem::FailureWatcher),
            Just(SourceSystem::DecisionManager),
            Just(SourceSystem::Api)
        ]
    }

    #[test]
    fn adr_043_flows() {
        let watcher = |lock, pending| {
            decide(CoordinationInput {
                source: SourceSystem::FailureWatcher,
                risk: RiskLevel::Low,
                lock,
                pending_approval: pending,
            })
        };
        assert_eq!(
            watcher(LockObservation::Free, false),
            CoordinationDecision::Proceed
        );
        assert_eq!(
            watcher(
                LockObservation::Held {
                    priority: LockPriority::Decision
                },
                false
            ),
            CoordinationDecision::Deferred(DeferralReason::DeferredToDecisionManager)
        );
        assert_eq!(
            watcher(LockObservation::Free, true),
            CoordinationDecision::AwaitExistingApproval
        );
        assert_eq!(
            watcher(LockObservation::BackendUnavailable, false),
            CoordinationDecision::Skip(SkipReason::LockBackendUnavailable)
        );
        let decision = decide(CoordinationInput {
            source: SourceSystem::DecisionManager,
            risk: RiskLevel::High,
            lock: LockObservation::Held {
                priority: LockPriority::Automatic,
            },
            pending_approval: false,
        });
        assert_eq!(decision, CoordinationDecision::Preempt);
        assert_eq!(
            DeferralReason::DeferredToDecisionManager.as_str(),
            "deferred_to_decision_manager"
        );
    }

    proptest! {
        /// The failure watcher never proceeds while a lock or a pending
        /// approval exists, while the lock backend is unavailable, or for
        /// anything above LOW risk.
        #[test]
        fn prop_failure_watcher_never_proceeds_unless_free_and_low(
            lock in lock(), pending in any::<bool>(), risk in risk()
        ) {
            let d = decide(CoordinationInput { source: SourceSystem::FailureWatcher, risk, lock, pending_approval: pending });
            let may = lock == LockObservation::Free && !pending && risk == RiskLevel::Low;
            prop_assert_eq!(d == CoordinationDecision::Proceed, may);
            prop_assert!(d != CoordinationDecision::Preempt, "the watcher never pre-empts");
        }

        /// Nobody proceeds when the lock backend is unavailable (fail closed).
        #[test]
        fn prop_lock_backend_unavailable_always_skips(source in source(), risk in risk(), pending in any::<bool>()) {
            let d = decide(CoordinationInput { source, risk, lock: LockObservation::BackendUnavailable, pending_approval: pending });
            prop_assert!(matches!(d, CoordinationDecision::Skip(_)));
        }

        /// The decision path outranks the watcher: it never defers to an
        /// automatic holder.
        #[test]
        fn prop_decision_path_outranks_failure_watcher(risk in risk()) {
            let d = decide(CoordinationInput {
                source: SourceSystem::DecisionManager, risk,
                lock: LockObservation::Held { priority: LockPriority::Automatic }, pending_approval: false,
            });
            prop_assert_eq!(d, CoordinationDecision::Preempt);
        }
    }
}
