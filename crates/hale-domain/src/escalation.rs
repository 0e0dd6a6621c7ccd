//! Escalations: what Hale hands to a person because it will not or cannot
//! go on by itself (a failed healing, a dormant scope, a target unhealthy
//! again, an operation stopped mid-way, an ineffective chain, an exhausted
//! remediation budget).
//!
//! An escalation is recorded before anyone is told: its audit entry
//! ([`EscalationKind::audit_kind`]) is the record that carries its notice
//! ([`crate::notification::Notice::for_audit`]), so a person hears of it
//! exactly when the record exists. Which record that is, per kind:
//!
//! | kind | record (audit kind) | written with |
//! | --- | --- | --- |
//! | `healing_failed` | `healing.escalated` | the operation update that marks it escalated |
//! | `operation_interrupted` | `interruption.escalated` | the operation update that marks it escalated |
//! | `dormant` | `dormancy.entered` | the dormancy's own audit entry |
//! | `regression` | `regression.escalated` | the regression's timeline event |
//! | `ineffective_chain` | `ineffective_chain.escalated` | the knowledge entry that blocks the strategy |
//! | `budget_exhausted` | `budget.escalated` | the shared budget record's update that marks it sent |

use serde::{Deserialize, Serialize};

use crate::guard::Guard;
use crate::ids::{IncidentId, OperationId, StrategyId};
use crate::record::audit::{AuditEntry, AuditKind};
use crate::resource::ResourceRef;
use crate::risk::{Origin, Severity};
use crate::tenant::TenantId;
use crate::time::Timestamp;
use crate::wire::wire_enum;

wire_enum!(
    /// What escalated.
    EscalationKind {
        /// A healing operation failed (after its rollback).
        HealingFailed => "healing_failed",
        /// A tenant went dormant.
        Dormant => "dormant",
        /// A target healed recently is unhealthy again.
        Regression => "regression",
        /// An operation stopped mid-way: its process ended, or it lost its
        /// store or its lease while acting.
        OperationInterrupted => "operation_interrupted",
        /// A strategy was ineffective too often on one target and is
        /// blocked there.
        IneffectiveChain => "ineffective_chain",
        /// A remediation budget has no room (at most once per budget
        /// window).
        BudgetExhausted => "budget_exhausted",
    }
);

impl EscalationKind {
    /// How urgent: a target left in an unknown or failed state, or a scope
    /// that stopped healing, is P1; a target unhealthy again or a strategy
    /// blocked on it is P2; a budget that makes automatic healing wait is P3.
    pub fn severity(self) -> Severity {
        match self {
            EscalationKind::HealingFailed
            | EscalationKind::Dormant
            | EscalationKind::OperationInterrupted => Severity::P1,
            EscalationKind::Regression | EscalationKind::IneffectiveChain => Severity::P2,
            EscalationKind::BudgetExhausted => Severity::P3,
        }
    }

    /// The kind of the audit entry that records this escalation (and
    /// carries its notice).
    pub fn audit_kind(self) -> AuditKind {
        match self {
            EscalationKind::HealingFailed => AuditKind::HealingEscalated,
            EscalationKind::Dormant => AuditKind::DormancyEntered,
            EscalationKind::Regression => AuditKind::RegressionEscalated,
            EscalationKind::OperationInterrupted => AuditKind::InterruptionEscalated,
            EscalationKind::IneffectiveChain => AuditKind::IneffectiveChainEscalated,
            EscalationKind::BudgetExhausted => AuditKind::BudgetEscalated,
        }
    }

    /// The escalation an audit entry of `kind` records, if any.
    pub fn recorded_by(kind: AuditKind) -> Option<EscalationKind> {
        EscalationKind::ALL
            .iter()
            .copied()
            .find(|e| e.audit_kind() == kind)
    }
}

/// Something humans must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Owning tenant.
    pub tenant: TenantId,
    /// What escalated.
    pub kind: EscalationKind,
    /// One-line summary.
    pub summary: String,
    /// The target, if any.
    pub resource: Option<ResourceRef>,
    /// The strategy, if any.
    pub strategy_id: Option<StrategyId>,
    /// The operation, if any.
    pub operation_id: Option<OperationId>,
    /// The incident, if any.
    pub incident_id: Option<IncidentId>,
    /// The guard that stopped the run, when a guard did rather than the
    /// target (`dry_run_failed`: the target's dry run refused an action,
    /// which was not applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Severity ([`EscalationKind::severity`]).
    pub severity: Severity,
    /// When.
    pub at: Timestamp,
}

impl Escalation {
    /// The audit entry that records this escalation, with id `id`; its
    /// reason is the summary, and its notice follows from it.
    pub fn audit_entry(&self, id: String, origin: Origin) -> AuditEntry {
        let target = match &self.resource {
            Some(r) => r.key(),
            None => format!("tenant:{}", self.tenant),
        };
        let mut a = AuditEntry::new(
            id,
            self.tenant.clone(),
            self.kind.audit_kind(),
            target,
            origin,
            self.at,
        );
        a.success = false;
        a.reason = Some(self.summary.clone());
        a.operation_id.clone_from(&self.operation_id);
        a.incident_id.clone_from(&self.incident_id);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_escalation_has_its_own_audit_kind_and_back() {
        let kinds: std::collections::BTreeSet<_> =
            EscalationKind::ALL.iter().map(|e| e.audit_kind()).collect();
        assert_eq!(kinds.len(), EscalationKind::ALL.len());
        for &e in EscalationKind::ALL {
            assert_eq!(EscalationKind::recorded_by(e.audit_kind()), Some(e));
        }
        assert_eq!(
            EscalationKind::recorded_by(AuditKind::OperationInterrupted),
            None,
            "an interruption that yielded to a person escalates nothing"
        );
    }

    #[test]
    fn wire_names_and_severities() {
        use EscalationKind as K;
        for (k, name, sev) in [
            (K::HealingFailed, "healing_failed", Severity::P1),
            (K::Dormant, "dormant", Severity::P1),
            (K::Regression, "regression", Severity::P2),
            (
                K::OperationInterrupted,
                "operation_interrupted",
                Severity::P1,
            ),
            (K::IneffectiveChain, "ineffective_chain", Severity::P2),
            (K::BudgetExhausted, "budget_exhausted", Severity::P3),
        ] {
            crate::wire::assert_wire_name(k, k.as_str(), name);
            assert_eq!(k.severity(), sev, "{k}");
        }
    }
}
