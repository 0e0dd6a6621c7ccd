//! Escalation to humans.

use async_trait::async_trait;
use hale_domain::{
    IncidentId, OperationId, ResourceRef, Severity, StrategyId, TenantId, Timestamp,
};
use serde::{Deserialize, Serialize};

/// What escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// A healing operation failed (after its rollback).
    HealingFailed,
    /// A tenant went dormant.
    Dormant,
    /// A target healed recently is unhealthy again.
    Regression,
    /// An operation was found unfinished after its process ended.
    OperationInterrupted,
    /// A strategy was ineffective too often on one target and is blocked
    /// there.
    IneffectiveChain,
    /// A remediation budget has no room (at most once per budget window).
    BudgetExhausted,
}

impl EscalationKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationKind::HealingFailed => "healing_failed",
            EscalationKind::Dormant => "dormant",
            EscalationKind::Regression => "regression",
            EscalationKind::OperationInterrupted => "operation_interrupted",
            EscalationKind::IneffectiveChain => "ineffective_chain",
            EscalationKind::BudgetExhausted => "budget_exhausted",
        }
    }
}

impl std::fmt::Display for EscalationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// Severity.
    pub severity: Severity,
    /// When.
    pub at: Timestamp,
}

/// Notification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

/// Sends escalations.
///
/// Contract: best effort and bounded in time; a failure is returned, never
/// retried forever. The engine records every escalation in the audit log
/// whether or not the notification got through.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one escalation.
    async fn escalate(&self, escalation: &Escalation) -> Result<(), NotifyError>;
}

/// Writes escalations to the log (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn escalate(&self, e: &Escalation) -> Result<(), NotifyError> {
        tracing::warn!(
            tenant = %e.tenant,
            kind = %e.kind,
            severity = %e.severity,
            resource = e.resource.as_ref().map(ToString::to_string),
            operation = e.operation_id.as_ref().map(ToString::to_string),
            "escalation: {}",
            e.summary
        );
        Ok(())
    }
}
