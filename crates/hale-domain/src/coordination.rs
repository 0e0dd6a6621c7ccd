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

    #[test]
    fn lock_priority_wire_names_and_sources_are_exact() {
        for (priority, name) in [
            (LockPriority::Automatic, "automatic"),
            (LockPriority::Decision, "decision"),
        ] {
            assert_eq!(priority.as_str(), name);
            assert_eq!(
                serde_json::to_value(priority).unwrap(),
                serde_json::json!(name)
            );
        }
        assert_eq!(
            LockPriority::of(SourceSystem::FailureWatcher),
            LockPriority::Automatic
        );
        assert_eq!(
            LockPriority::of(SourceSystem::DecisionManager),
            LockPriority::Decision
        );
        assert_eq!(LockPriority::of(SourceSystem::Api), LockPriority::Decision);
        assert!(
            LockPriority::Decision > LockPriority::Automatic,
            "the decision path outranks"
        );
    }

    const LOCKS: [LockObservation; 4] = [
        LockObservation::Free,
        LockObservation::Held {
            priority: LockPriority::Automatic,
        },
        LockObservation::Held {
            priority: LockPriority::Decision,
        },
        LockObservation::BackendUnavailable,
    ];

    /// ADR-043 written out as a table, row by row, independent of the
    /// rule's code: the failure watcher (LOW risk only) and the decision
    /// path (any risk) against every lock observation, with and without a
    /// pending approval.
    fn expected(input: CoordinationInput) -> CoordinationDecision {
        use CoordinationDecision::*;
        use LockObservation::*;
        use LockPriority::{Automatic, Decision};
        let watcher = input.source == SourceSystem::FailureWatcher;
        let low = input.risk == RiskLevel::Low;
        let pending = input.pending_approval;
        match (watcher, low, input.lock, pending) {
            (true, false, _, _) => Skip(SkipReason::RiskTooHighForAutoRepair),
            (_, _, BackendUnavailable, _) => Skip(SkipReason::LockBackendUnavailable),
            (true, true, Held { priority: Decision }, _) => {
                Deferred(DeferralReason::DeferredToDecisionManager)
            }
            (
                true,
                true,
                Held {
                    priority: Automatic,
                },
                _,
            ) => Deferred(DeferralReason::ResourceBusy),
            (true, true, Free, true) => AwaitExistingApproval,
            (true, true, Free, false) => Proceed,
            (false, _, _, true) => AwaitExistingApproval,
            (
                false,
                _,
                Held {
                    priority: Automatic,
                },
                false,
            ) => Preempt,
            (false, _, Held { priority: Decision }, false) => {
                Deferred(DeferralReason::ResourceBusy)
            }
            (false, _, Free, false) => Proceed,
        }
    }

    /// Every input (3 sources x 4 risks x 4 lock observations x pending or
    /// not): the rule agrees with the table, and `reason()` names the
    /// decision's reason (none for Proceed and Preempt).
    #[test]
    fn decide_matches_the_adr_043_table_for_every_input() {
        let sources = [
            SourceSystem::FailureWatcher,
            SourceSystem::DecisionManager,
            SourceSystem::Api,
        ];
        let risks = [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ];
        let mut seen = 0;
        for source in sources {
            for risk in risks {
                for lock in LOCKS {
                    for pending_approval in [false, true] {
                        let input = CoordinationInput {
                            source,
                            risk,
                            lock,
                            pending_approval,
                        };
                        let d = decide(input);
                        assert_eq!(d, expected(input), "{input:?}");
                        let reason = match d {
                            CoordinationDecision::Proceed | CoordinationDecision::Preempt => None,
                            CoordinationDecision::Deferred(r) => Some(NotActed::Deferred(r)),
                            CoordinationDecision::Skip(r) => Some(NotActed::Skipped(r)),
                            CoordinationDecision::AwaitExistingApproval => {
                                Some(NotActed::Deferred(DeferralReason::AwaitingExistingApproval))
                            }
                        };
                        assert_eq!(d.reason(), reason, "{input:?}");
                        seen += 1;
                    }
                }
            }
        }
        assert_eq!(seen, 3 * 4 * 4 * 2);
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
