//! Timeline events (seed 003 `TimelineEvent`): the human-readable story of an
//! incident or operation.

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::ids::{Actor, ApprovalId, IncidentId, OperationId};
use crate::risk::RiskLevel;
use crate::tenant::TenantId;
use crate::time::Timestamp;

wire_enum!(
    /// Who or what the event is about (seed 003).
    TimelineEventType {
        /// Alert received, system decision.
        System => "system",
        /// Automated analysis (diagnosis).
        Agent => "agent",
        /// A guard blocked something.
        Security => "security",
        /// A human acted.
        Human => "human",
        /// An execution finished.
        Exec => "exec",
    }
);

wire_enum!(
    /// Tone of the event (seed 003).
    TimelineStatus {
        /// Neutral.
        Info => "info",
        /// Good news.
        Success => "success",
        /// Needs attention.
        Warning => "warning",
        /// Something failed.
        Error => "error",
    }
);

/// One timeline event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Type.
    pub event_type: TimelineEventType,
    /// Tone.
    pub status: TimelineStatus,
    /// Title.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Who acted.
    pub actor: Option<Actor>,
    /// The actor's role (`viewer`, `operator`, `admin`, `system`).
    pub actor_role: Option<String>,
    /// Risk of the thing described.
    pub risk_level: Option<RiskLevel>,
    /// Related approval.
    pub approval_id: Option<ApprovalId>,
    /// Related operation.
    pub operation_id: Option<OperationId>,
    /// Related incident.
    pub incident_id: Option<IncidentId>,
    /// When.
    pub created_at: Timestamp,
}
