//! What humans must hear about (issue 17): notices derived from durable
//! records, and where each one goes ([`routing`]).
//!
//! A notice is never composed by hand at the place something happened. It
//! is a pure function of the record that says it happened: an approval
//! request as created or decided ([`Notice::for_approval`]), an incident of
//! severity P0 or P1 as opened or resolved ([`Notice::for_incident`]), an
//! audit entry of an escalation (every [`crate::escalation::EscalationKind`]
//! has one), a dormancy, a latched or reset breaker or a
//! switch change ([`Notice::for_audit`]). Every store calls these functions
//! inside the transaction that writes the record and appends what they
//! return to its outbox, so a notice exists exactly when its record does.
//! Events with no record of their own (an approval about to expire, the
//! lock backend lost or back) are built here too and appended on their own.
//!
//! Ids are stable: the same record yields the same notice id, so a second
//! write (an incident updated again after it resolved) adds nothing, and
//! receivers drop duplicate deliveries by id.

pub mod routing;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::approval::{ApprovalRequest, ApprovalStatus};
use crate::backoff::BackoffPolicy;
use crate::breaker::BreakerState;
use crate::escalation::EscalationKind;
use crate::ids::{ApprovalId, IncidentId, OperationId};
use crate::record::audit::{AuditEntry, AuditKind};
use crate::record::incident::{Incident, IncidentStatus};
use crate::risk::{RiskLevel, Severity};
use crate::tenant::TenantId;
use crate::time::Timestamp;
use crate::wire::wire_enum;

wire_enum!(
    /// What a notice is about (its `kind` on the wire).
    NoticeKind {
        /// An approval request waits for signatures.
        ApprovalRequested => "approval_requested",
        /// A pending approval request expires soon.
        ApprovalExpiringSoon => "approval_expiring_soon",
        /// An approval request got its signatures.
        ApprovalApproved => "approval_approved",
        /// An approval request was rejected.
        ApprovalRejected => "approval_rejected",
        /// An approval request expired unanswered.
        ApprovalExpired => "approval_expired",
        /// A failed healing was handed to humans (with its rollback result).
        HealingEscalated => "healing_escalated",
        /// A scope went dormant.
        DormancyEntered => "dormancy_entered",
        /// A scope was resumed.
        DormancyResumed => "dormancy_resumed",
        /// A breaker latched PERMANENT_OPEN.
        BreakerPermanentOpen => "breaker_permanent_open",
        /// A breaker was reset by hand.
        BreakerReset => "breaker_reset",
        /// A kill switch was set or unset.
        KillSwitchChanged => "kill_switch_changed",
        /// The lock backend stopped answering: no automatic healing starts.
        LockBackendUnavailable => "lock_backend_unavailable",
        /// The lock backend answers again.
        LockBackendRecovered => "lock_backend_recovered",
        /// An incident of severity P0 or P1 opened.
        IncidentOpened => "incident_opened",
        /// An incident of severity P0 or P1 resolved.
        IncidentResolved => "incident_resolved",
    }
);

impl NoticeKind {
    /// Whether this kind ends a condition an earlier notice began (a
    /// receiver that pages resolves rather than triggers): a decided
    /// approval, a resumed scope, a reset breaker, a lock backend back, a
    /// resolved incident.
    pub fn resolves(self) -> bool {
        matches!(
            self,
            NoticeKind::ApprovalApproved
                | NoticeKind::ApprovalRejected
                | NoticeKind::ApprovalExpired
                | NoticeKind::IncidentResolved
                | NoticeKind::DormancyResumed
                | NoticeKind::BreakerReset
                | NoticeKind::LockBackendRecovered
        )
    }
}

/// What a notice is about: the records a person opens to act on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeSubject {
    /// The target or control object (`prod:deployment/checkout`,
    /// `breaker:kubernetes`, `switch:global:auto_healing`).
    pub resource: Option<String>,
    /// The healing operation.
    pub operation_id: Option<OperationId>,
    /// The approval request.
    pub approval_id: Option<ApprovalId>,
    /// The incident.
    pub incident_id: Option<IncidentId>,
}

/// One event people must hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable id: receivers drop a second delivery with the same id.
    pub id: String,
    /// Owning tenant; `None` for a platform-wide event.
    pub tenant: Option<TenantId>,
    /// What happened.
    pub kind: NoticeKind,
    /// How urgent (P0 is the worst).
    pub severity: Severity,
    /// What it is about.
    pub subject: NoticeSubject,
    /// One human sentence.
    pub summary: String,
    /// When it happened.
    pub at: Timestamp,
}

/// The severity of an approval notice: how much harm the action can do.
fn approval_severity(risk: RiskLevel) -> Severity {
    match risk {
        RiskLevel::Critical => Severity::P0,
        RiskLevel::High => Severity::P1,
        RiskLevel::Medium => Severity::P2,
        RiskLevel::Low => Severity::P3,
    }
}

impl Notice {
    fn new(
        id: String,
        tenant: Option<TenantId>,
        kind: NoticeKind,
        severity: Severity,
        subject: NoticeSubject,
        summary: String,
        at: Timestamp,
    ) -> Notice {
        Notice {
            id,
            tenant,
            kind,
            severity,
            subject,
            summary,
            at,
        }
    }

    fn of_approval(
        a: &ApprovalRequest,
        kind: NoticeKind,
        summary: String,
        at: Timestamp,
    ) -> Notice {
        Notice::new(
            format!("{}.{kind}", a.id),
            Some(a.tenant.clone()),
            kind,
            approval_severity(a.risk_level),
            NoticeSubject {
                resource: Some(a.resource.to_string()),
                approval_id: Some(a.id.clone()),
                incident_id: a.incident_id.clone(),
                operation_id: None,
            },
            summary,
            at,
        )
    }

    /// The notice an approval request's write carries: requested when it
    /// is new and pending, else approved, rejected or expired by its status.
    pub fn for_approval(a: &ApprovalRequest, created: bool) -> Option<Notice> {
        let what = format!("{} on {}", a.action, a.resource);
        let (kind, summary, at) = match a.status {
            ApprovalStatus::Pending if created => (
                NoticeKind::ApprovalRequested,
                format!(
                    "approval needed ({} risk, {} signature(s)): {what}",
                    a.risk_level, a.required_signatures
                ),
                a.created_at,
            ),
            ApprovalStatus::Pending => return None,
            ApprovalStatus::Approved => (
                NoticeKind::ApprovalApproved,
                format!("approved: {what}"),
                a.resolved_at.unwrap_or(a.updated_at),
            ),
            ApprovalStatus::Rejected => (
                NoticeKind::ApprovalRejected,
                format!(
                    "rejected: {what}: {}",
                    a.rejection_reason.as_deref().unwrap_or("no reason given")
                ),
                a.resolved_at.unwrap_or(a.updated_at),
            ),
            ApprovalStatus::Expired => (
                NoticeKind::ApprovalExpired,
                format!("expired unanswered: {what}"),
                a.resolved_at.unwrap_or(a.updated_at),
            ),
        };
        Some(Notice::of_approval(a, kind, summary, at))
    }

    /// A reminder that a pending request expires at its `expires_at`.
    pub fn approval_expiring_soon(a: &ApprovalRequest, now: Timestamp) -> Option<Notice> {
        (a.status == ApprovalStatus::Pending).then(|| {
            let summary = format!(
                "approval expires at {} unless signed: {} on {}",
                a.expires_at, a.action, a.resource
            );
            Notice::of_approval(a, NoticeKind::ApprovalExpiringSoon, summary, now)
        })
    }

    /// The notice an incident's write carries: opened or resolved, for
    /// severities P0 and P1 only.
    pub fn for_incident(i: &Incident) -> Option<Notice> {
        if i.severity > Severity::P1 {
            return None;
        }
        let (kind, summary, at) = match i.status {
            IncidentStatus::Resolved | IncidentStatus::Closed => (
                NoticeKind::IncidentResolved,
                format!("{} incident resolved: {}", i.severity, i.title),
                i.resolved_at.or(i.closed_at).unwrap_or(i.updated_at),
            ),
            IncidentStatus::Investigating
            | IncidentStatus::Mitigating
            | IncidentStatus::Escalated => (
                NoticeKind::IncidentOpened,
                format!("{} incident opened: {}", i.severity, i.title),
                i.created_at,
            ),
        };
        Some(Notice::new(
            format!("{}.{kind}", i.id),
            Some(i.tenant.clone()),
            kind,
            i.severity,
            NoticeSubject {
                incident_id: Some(i.id.clone()),
                ..NoticeSubject::default()
            },
            summary,
            at,
        ))
    }

    /// The notice an audit entry carries, for the kinds people must hear
    /// about; its id is the entry's.
    pub fn for_audit(a: &AuditEntry) -> Option<Notice> {
        let kind: AuditKind = a.operation_type.parse().ok()?;
        let reason = a.reason.as_deref().unwrap_or("");
        let by = a.executed_by.to_string();
        let (kind, severity, summary) = describe_act(kind, &a.target_resource, &by, reason)?;
        Some(Notice::new(
            a.id.clone(),
            Some(a.tenant.clone()),
            kind,
            severity,
            NoticeSubject {
                resource: Some(a.target_resource.clone()),
                operation_id: a.operation_id.clone(),
                approval_id: a.approval_id.clone(),
                incident_id: a.incident_id.clone(),
            },
            summary,
            a.created_at,
        ))
    }

    /// The platform-wide notice of a human act on the global scope (a
    /// global kill switch, global dormancy entered or resumed): the same
    /// kinds and words as [`Notice::for_audit`], owned by no tenant, so
    /// platform routes hear it once however many tenants audit it.
    pub fn for_global_act(
        id: String,
        kind: AuditKind,
        target: &str,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Option<Notice> {
        let (kind, severity, summary) = describe_act(kind, target, by, reason)?;
        Some(Notice::new(
            id,
            None,
            kind,
            severity,
            NoticeSubject {
                resource: Some(target.to_owned()),
                ..NoticeSubject::default()
            },
            summary,
            at,
        ))
    }

    /// The lock backend stopped answering (`available == false`) or answers
    /// again, as one process (`observer`) saw it.
    pub fn lock_backend(
        id: String,
        observer: &str,
        available: bool,
        detail: &str,
        at: Timestamp,
    ) -> Notice {
        let (kind, severity, summary) = if available {
            (
                NoticeKind::LockBackendRecovered,
                Severity::P3,
                format!("the lock backend answers again ({observer}); automatic healing may start"),
            )
        } else {
            (
                NoticeKind::LockBackendUnavailable,
                Severity::P1,
                format!(
                    "the lock backend does not answer ({observer}): {detail}; no automatic healing starts"
                ),
            )
        };
        Notice::new(
            id,
            None,
            kind,
            severity,
            NoticeSubject {
                resource: Some("locks".to_owned()),
                ..NoticeSubject::default()
            },
            summary,
            at,
        )
    }
}

/// The notice kind, severity and sentence of an audited act, for the kinds
/// people must hear about.
fn describe_act(
    kind: AuditKind,
    target: &str,
    by: &str,
    reason: &str,
) -> Option<(NoticeKind, Severity, String)> {
    Some(match kind {
        AuditKind::HealingEscalated => (
            NoticeKind::HealingEscalated,
            EscalationKind::HealingFailed.severity(),
            format!("healing of {target} failed and needs a person: {reason}"),
        ),
        AuditKind::DormancyEntered => (
            NoticeKind::DormancyEntered,
            Severity::P1,
            format!("healing went dormant ({target}): {reason}; resume with a reason once fixed"),
        ),
        AuditKind::DormancyResumed => (
            NoticeKind::DormancyResumed,
            Severity::P3,
            format!("healing resumed ({target}) by {by}: {reason}"),
        ),
        AuditKind::BreakerTransition
            if transition_target(reason) == Some(BreakerState::PermanentOpen) =>
        {
            (
                NoticeKind::BreakerPermanentOpen,
                Severity::P1,
                format!(
                    "{target} latched PERMANENT_OPEN ({reason}); only a reset with a reason reopens it"
                ),
            )
        }
        AuditKind::BreakerReset => (
            NoticeKind::BreakerReset,
            Severity::P3,
            format!("{target} reset by {by}: {reason}"),
        ),
        AuditKind::SwitchSet => (
            NoticeKind::KillSwitchChanged,
            Severity::P2,
            format!("{target} set {reason} by {by}"),
        ),
        // Every other escalation's record: its reason is the escalation's
        // own sentence (dormancy has its own kind above).
        other => match EscalationKind::recorded_by(other) {
            Some(e) if e != EscalationKind::Dormant => (
                NoticeKind::HealingEscalated,
                e.severity(),
                format!("{e}: {reason}"),
            ),
            _ => return None,
        },
    })
}

/// How a delivery that failed is retried: exponential backoff (seed 002's
/// policy unless configured), and given up once its retries span
/// `give_up_after` (or after `max_attempts`, when set), so a channel that
/// never answers does not keep work forever, yet a weekend's outage loses
/// nothing (Standard Webhooks senders such as Svix retry for days too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryPolicy {
    /// Delay after the n-th failed attempt.
    pub backoff: BackoffPolicy,
    /// No retry is scheduled later than this after the first failed
    /// attempt, counting the backoff's delays (default 72 h: about 440
    /// attempts at the default backoff). A redrive starts the count again.
    #[serde(with = "crate::time::duration")]
    pub give_up_after: Duration,
    /// Attempts before giving up, whichever of the two comes first (`None`:
    /// only `give_up_after`; `Some(0)` acts as 1).
    pub max_attempts: Option<u32>,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            backoff: BackoffPolicy::default(),
            give_up_after: Duration::from_secs(72 * 3600),
            max_attempts: None,
        }
    }
}

impl DeliveryPolicy {
    /// When to try again after `failed_attempts` attempts that all failed
    /// (counting the one that just did), or `None` to give up.
    pub fn retry_at(&self, failed_attempts: u32, now: Timestamp) -> Option<Timestamp> {
        if self
            .max_attempts
            .is_some_and(|max| failed_attempts >= max.max(1))
        {
            return None;
        }
        (self.retry_span(failed_attempts) <= self.give_up_after)
            .then(|| now + self.backoff.ceiling(failed_attempts))
    }

    /// The backoff's delays after failures `1..=failed` added up: how long
    /// after the first failed attempt the next one is due (attempt times
    /// aside). Once the delay stops growing (at the cap) the rest is one
    /// multiplication, so a long give-up costs no long loop.
    fn retry_span(&self, failed: u32) -> Duration {
        let mut span = Duration::ZERO;
        let mut last = Duration::ZERO;
        for k in 1..=failed {
            let d = self.backoff.ceiling(k);
            if d == last {
                return span.saturating_add(d.saturating_mul(failed - k + 1));
            }
            span = span.saturating_add(d);
            last = d;
        }
        span
    }
}

/// The state a breaker transition's audit reason (`FROM -> TO (cause)`)
/// names as its target.
fn transition_target(reason: &str) -> Option<BreakerState> {
    let to = reason.split_once(" -> ")?.1;
    let to = to.split_whitespace().next()?;
    [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::PermanentOpen,
    ]
    .into_iter()
    .find(|s| s.as_str() == to)
}

#[cfg(test)]
mod tests;
