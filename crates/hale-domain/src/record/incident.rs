//! Incidents (seed 003 `IncidentRecord`). Durable from the first alert: seed
//! 003 lost its incident chain by keeping incidents only in a cache with a
//! TTL.

use serde::{Deserialize, Serialize};

use super::wire_enum;
use crate::alert::AlertStatus;
use crate::convergence::Fingerprint;
use crate::ids::{ApprovalId, IncidentId, OperationId};
use crate::risk::Severity;
use crate::tenant::TenantId;
use crate::time::Timestamp;

wire_enum!(
    /// Incident status (seed 003).
    IncidentStatus {
        /// Open, being looked at.
        Investigating => "investigating",
        /// Healing in progress.
        Mitigating => "mitigating",
        /// The alert resolved.
        Resolved => "resolved",
        /// Closed by a human.
        Closed => "closed",
        /// Handed to humans after failed healing.
        Escalated => "escalated",
    }
);

impl IncidentStatus {
    /// Whether the incident still takes new signals.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IncidentStatus::Investigating | IncidentStatus::Mitigating | IncidentStatus::Escalated
        )
    }
}

/// Most signals kept per incident (a storm converges into one incident; its
/// hit count lives on the fingerprint).
pub const MAX_SIGNALS: usize = 50;

/// Most decision steps kept per incident: a long storm keeps its latest
/// steps; every step is also in the audit log.
pub const MAX_DECISION_STEPS: usize = 200;

/// One alert delivery attached to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Alert name.
    pub alertname: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The alert's fingerprint.
    pub fingerprint: Fingerprint,
    /// When received.
    pub received_at: Timestamp,
    /// The alert's summary annotation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// One step of the decision chain: what the engine decided and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionStep {
    /// When.
    pub at: Timestamp,
    /// The stage (`convergence`, `match`, `guard`, `coordination`, ...).
    pub stage: String,
    /// The decision (`started`, `deferred`, `blocked`, ...).
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// The result of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentOutcome {
    /// `healed`, `failed`, `resolved_without_action`, ...
    pub result: String,
    /// Details.
    pub summary: String,
    /// The operation involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<OperationId>,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-<yyyymmdd>-<six characters>`.
    pub id: IncidentId,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Status.
    pub status: IncidentStatus,
    /// Severity.
    pub severity: Severity,
    /// Title (alert name and target).
    pub title: String,
    /// The fingerprint the incident groups.
    pub fingerprint: Fingerprint,
    /// Alert signals, newest last, at most [`MAX_SIGNALS`].
    pub signals: Vec<Signal>,
    /// Affected services.
    pub affected_services: Vec<String>,
    /// What the engine decided, in order, at most [`MAX_DECISION_STEPS`].
    pub decision_chain: Vec<DecisionStep>,
    /// Approval requests raised.
    pub proposal_ids: Vec<ApprovalId>,
    /// Healing operations run.
    pub operation_ids: Vec<OperationId>,
    /// Outcome.
    pub outcome: Option<IncidentOutcome>,
    /// Working-memory TTL in days (seed: 7); the durable row is permanent.
    pub ttl_days: u32,
    /// Optimistic-concurrency revision; stores bump it on every update.
    #[serde(default)]
    pub revision: u64,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
}

impl Incident {
    /// Adds a signal, keeping at most [`MAX_SIGNALS`].
    pub fn push_signal(&mut self, s: Signal) {
        self.updated_at = self.updated_at.max(s.received_at);
        self.signals.push(s);
        let excess = self.signals.len().saturating_sub(MAX_SIGNALS);
        self.signals.drain(..excess);
    }

    /// Appends a decision step, keeping at most [`MAX_DECISION_STEPS`].
    pub fn push_decision(&mut self, step: DecisionStep) {
        self.updated_at = self.updated_at.max(step.at);
        self.decision_chain.push(step);
        let excess = self.decision_chain.len().saturating_sub(MAX_DECISION_STEPS);
        self.decision_chain.drain(..excess);
    }
}

/// Formats an incident id from a date and a unique suffix (its last six
/// alphanumeric characters are used).
pub fn incident_id(at: Timestamp, suffix: &str) -> IncidentId {
    let alnum: Vec<char> = suffix.chars().filter(char::is_ascii_alphanumeric).collect();
    let suffix: String = alnum[alnum.len().saturating_sub(6)..]
        .iter()
        .collect::<String>()
        .to_ascii_uppercase();
    IncidentId::new(format!(
        "INC-{}-{suffix}",
        at.to_datetime().format("%Y%m%d")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_bounded() {
        let t = Timestamp::from_unix_secs(0);
        let mut inc = Incident {
            id: IncidentId::new("i"),
            tenant: TenantId::new("t").unwrap(),
            status: IncidentStatus::Investigating,
            severity: Severity::P2,
            title: "x".into(),
            fingerprint: Fingerprint::from_hex("f"),
            signals: Vec::new(),
            affected_services: Vec::new(),
            decision_chain: Vec::new(),
            proposal_ids: Vec::new(),
            operation_ids: Vec::new(),
            outcome: None,
            ttl_days: 7,
            revision: 0,
            created_at: t,
            updated_at: t,
            resolved_at: None,
            closed_at: None,
        };
        for i in 0..(MAX_DECISION_STEPS + 10) {
            inc.push_decision(DecisionStep {
                at: t,
                stage: "s".into(),
                decision: "d".into(),
                reason: i.to_string(),
            });
        }
        assert_eq!(inc.decision_chain.len(), MAX_DECISION_STEPS);
        assert_eq!(inc.decision_chain[0].reason, "10", "the oldest go first");
    }

    #[test]
    fn id_format() {
        let t = Timestamp::parse_rfc3339("2026-03-22T10:00:00Z").unwrap();
        assert_eq!(incident_id(t, "a1b2c3d4").as_str(), "INC-20260322-B2C3D4");
        assert_eq!(
            "escalated".parse::<IncidentStatus>().unwrap(),
            IncidentStatus::Escalated
        );
    }
}
