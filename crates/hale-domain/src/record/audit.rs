//! The audit log (seed 003 `AuditLog` with the Phase 18 fields). Every
//! action, skip, deferral and human act is an entry, tagged with who or what
//! acted (source system, authorization channel, actor) and why.

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::failure::FailureClass;
use crate::ids::{Actor, ApprovalId, IncidentId, OperationId};
use crate::risk::{AuthorizationChannel, Origin, SourceSystem};
use crate::tenant::TenantId;
use crate::time::Timestamp;

wire_enum!(
    /// What an audit entry records (its `operation_type`).
    AuditKind {
        /// A healing action ran and succeeded.
        ActionExecuted => "action.executed",
        /// A healing action failed.
        ActionFailed => "action.failed",
        /// An approved request could not start (switched off, no executor,
        /// breaker open, resource never freed).
        ApprovalExecutionBlocked => "approval.execution_blocked",
        /// An approval request expired unanswered.
        ApprovalExpired => "approval.expired",
        /// An approval request was rejected.
        ApprovalRejected => "approval.rejected",
        /// An approval request was raised.
        ApprovalRequested => "approval.requested",
        /// An approval request was signed.
        ApprovalSigned => "approval.signed",
        /// A strategy's failure streak on a target was cleared by hand.
        AttemptsReset => "attempts.reset",
        /// A breaker was reset by hand.
        BreakerReset => "breaker.reset",
        /// A breaker changed state.
        BreakerTransition => "breaker.transition",
        /// A scope went dormant.
        DormancyEntered => "dormancy.entered",
        /// A scope was resumed from dormancy.
        DormancyResumed => "dormancy.resumed",
        /// A person closed an incident, with a reason.
        IncidentClosed => "incident.closed",
        /// A person archived a knowledge entry (an archived anti-pattern
        /// no longer blocks its strategy).
        KnowledgeArchived => "knowledge.archived",
        /// A person wrote a knowledge entry (a runbook).
        KnowledgeCreated => "knowledge.created",
        /// A person sent given-up notification deliveries of a channel
        /// again (after the channel's outage), with a reason.
        NotificationsRedriven => "notifications.redriven",
        /// A guard blocked healing.
        HealingBlocked => "healing.blocked",
        /// Coordination deferred healing.
        HealingDeferred => "healing.deferred",
        /// A failed healing was handed to humans.
        HealingEscalated => "healing.escalated",
        /// Healing was skipped.
        HealingSkipped => "healing.skipped",
        /// An operation stopped mid-way (its process ended, or it lost its
        /// store or lease) was handed to humans.
        InterruptionEscalated => "interruption.escalated",
        /// A target healed recently is unhealthy again; handed to humans.
        RegressionEscalated => "regression.escalated",
        /// A strategy was ineffective too often on a target and is blocked
        /// there; handed to humans.
        IneffectiveChainEscalated => "ineffective_chain.escalated",
        /// A remediation budget had no room (once per window); handed to
        /// humans.
        BudgetEscalated => "budget.escalated",
        /// The tenant's Alertmanager did not answer the silence check and
        /// `on_unreachable = "allow"` let the automatic run go on.
        SilenceCheckUnanswered => "silence_check.unanswered",
        /// A healing operation started.
        HealingStarted => "healing.started",
        /// An operation completed (healed and verified).
        OperationCompleted => "operation.completed",
        /// A completed operation's effectiveness was settled (success:
        /// effective).
        OperationEffectiveness => "operation.effectiveness",
        /// An operation failed.
        OperationFailed => "operation.failed",
        /// An operation was interrupted.
        OperationInterrupted => "operation.interrupted",
        /// An operation changed state.
        OperationTransition => "operation.transition",
        /// A rollback action ran and succeeded.
        RollbackExecuted => "rollback.executed",
        /// A rollback action failed.
        RollbackFailed => "rollback.failed",
        /// A kill switch was set or unset.
        SwitchSet => "switch.set",
        /// A maintenance window was opened through the API.
        WindowOpened => "maintenance_window.opened",
        /// A maintenance window was ended early through the API.
        WindowEnded => "maintenance_window.ended",
    }
);

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// What happened ([`AuditKind`]'s wire name): `action.executed`,
    /// `healing.deferred`, `approval.signed`, `breaker.reset`,
    /// `dormancy.resumed`, ... Stored as text, so entries written by another
    /// version read back whatever their kind.
    pub operation_type: String,
    /// The target (`namespace:kind/name`), or the control object
    /// (`breaker:kubernetes`, `switch:global:auto_healing`).
    pub target_resource: String,
    /// Whether it succeeded (for skips: false).
    pub success: bool,
    /// Why (deferral reason, rejection reason, resume reason, ...).
    pub reason: Option<String>,
    /// Error text on failure.
    pub error_message: Option<String>,
    /// The executor's response (e.g. the Kubernetes object), if any.
    pub response: Option<serde_json::Value>,
    /// Who acted.
    pub executed_by: Actor,
    /// How long it took.
    pub execution_duration_ms: Option<u64>,
    /// Whether the dry run passed (true when none ran).
    pub dry_run_passed: bool,
    /// The dry run's message.
    pub dry_run_message: Option<String>,
    /// Authorization channel (Phase 18).
    pub authorization_channel: AuthorizationChannel,
    /// Source system (ADR-043).
    pub source_system: SourceSystem,
    /// Retries made (Phase 18).
    pub retry_count: u32,
    /// Failure class (Phase 18).
    pub failure_classification: Option<FailureClass>,
    /// The approval this entry belongs to.
    pub approval_id: Option<ApprovalId>,
    /// The original approval when this is a repair attempt (Phase 18).
    pub source_approval_id: Option<ApprovalId>,
    /// The operation this entry belongs to.
    pub operation_id: Option<OperationId>,
    /// The incident this entry belongs to.
    pub incident_id: Option<IncidentId>,
    /// Whether automatic repair was attempted (Phase 18).
    pub auto_repair_attempted: bool,
    /// Automatic repair outcome (Phase 18).
    pub auto_repair_result: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

impl AuditEntry {
    /// A minimal entry; set the optional fields with struct update syntax.
    pub fn new(
        id: impl Into<String>,
        tenant: TenantId,
        kind: AuditKind,
        target_resource: impl Into<String>,
        origin: Origin,
        at: Timestamp,
    ) -> AuditEntry {
        let Origin {
            actor: executed_by,
            source_system,
            channel: authorization_channel,
        } = origin;
        AuditEntry {
            id: id.into(),
            tenant,
            operation_type: kind.as_str().to_owned(),
            target_resource: target_resource.into(),
            success: true,
            reason: None,
            error_message: None,
            response: None,
            executed_by,
            execution_duration_ms: None,
            dry_run_passed: true,
            dry_run_message: None,
            authorization_channel,
            source_system,
            retry_count: 0,
            failure_classification: None,
            approval_id: None,
            source_approval_id: None,
            operation_id: None,
            incident_id: None,
            auto_repair_attempted: false,
            auto_repair_result: None,
            created_at: at,
        }
    }
}
