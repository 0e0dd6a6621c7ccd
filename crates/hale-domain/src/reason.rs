//! Why an alert was not acted on: the reasons the engine records for a
//! deferral or a skip. Guard blocks carry a [`crate::guard::Guard`].
//!
//! Each reason is an enum whose serde name is its wire name, so the API,
//! the audit log's `reason` field, the metrics labels and the replay output
//! keep their names while the code gets exhaustive matches.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::guard::Guard;
use crate::wire::wire_enum;

wire_enum!(
    /// Why healing waits for a later delivery (seed 000, ADR-043's names).
    DeferralReason {
        /// The decision path holds the resource.
        DeferredToDecisionManager => "deferred_to_decision_manager",
        /// Another run of the same priority holds the resource.
        ResourceBusy => "resource_busy",
        /// An approval for the resource is pending; its flow decides.
        AwaitingExistingApproval => "awaiting_existing_approval",
    }
);

wire_enum!(
    /// Why nothing was done at all.
    SkipReason {
        /// The lock backend cannot be reached: automation stands still (fail
        /// closed).
        LockBackendUnavailable => "lock_backend_unavailable",
        /// The failure watcher acts on LOW risk only.
        RiskTooHighForAutoRepair => "risk_too_high_for_auto_repair",
        /// The strategy's target could not be resolved from the alert.
        TargetUnresolved => "target_unresolved",
    }
);

/// Why an alert was not acted on, whatever the stage that said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NotActed {
    /// A guard blocked it.
    Blocked(Guard),
    /// Coordination deferred it.
    Deferred(DeferralReason),
    /// It was skipped.
    Skipped(SkipReason),
}

impl NotActed {
    /// The wire name of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            NotActed::Blocked(g) => g.as_str(),
            NotActed::Deferred(r) => r.as_str(),
            NotActed::Skipped(r) => r.as_str(),
        }
    }
}

impl fmt::Display for NotActed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Wire names are the seed's and today's: the API, the audit log and the
    /// replay's golden files depend on them.
    #[test]
    fn wire_names_are_stable_and_distinct() {
        let names: Vec<&str> = DeferralReason::ALL
            .iter()
            .map(|r| r.as_str())
            .chain(SkipReason::ALL.iter().map(|r| r.as_str()))
            .chain(Guard::ALL.iter().map(|g| g.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                "deferred_to_decision_manager",
                "resource_busy",
                "awaiting_existing_approval",
                "lock_backend_unavailable",
                "risk_too_high_for_auto_repair",
                "target_unresolved",
                "out_of_scope",
                "kill_switch",
                "no_executor",
                "dormant",
                "circuit_open",
                "backoff",
                "cooldown",
                "max_attempts",
                "anti_pattern",
                "ineffective_chain",
                "budget_exhausted",
                "maintenance_window",
                "silenced",
                "silence_check_unavailable",
                "gitops_managed",
                "dry_run_failed",
            ]
        );
        assert_eq!(
            names.iter().collect::<BTreeSet<_>>().len(),
            names.len(),
            "every reason has its own wire name"
        );
        for r in DeferralReason::ALL {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
            assert_eq!(r.to_string(), r.as_str());
        }
        for r in SkipReason::ALL {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
        let n = NotActed::Skipped(SkipReason::TargetUnresolved);
        assert_eq!(serde_json::to_value(n).unwrap(), "target_unresolved");
        assert_eq!(
            serde_json::from_value::<NotActed>(serde_json::json!("cooldown")).unwrap(),
            NotActed::Blocked(Guard::Cooldown)
        );
        assert_eq!(
            NotActed::Deferred(DeferralReason::ResourceBusy).to_string(),
            "resource_busy"
        );
    }
}
