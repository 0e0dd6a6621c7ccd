//! The decision path after a request: signatures, rejection and expiry
//! (seed 003). Executing an approved request is [`crate::approved`].
//!
//! Signing and rejecting share one loop ([`Inner::decide_approval`]): read
//! the request, let the domain rule change it, store it with its timeline
//! event under the revision compare-and-set (retrying a lost race), then
//! audit. A decision that finds the request expired stores the expiry.

use hale_domain::approval::{ApprovalError, ApprovalRequest, ApprovalStatus, SignOutcome};
use hale_domain::coordination::LockPriority;
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType, TimelineStatus};
use hale_domain::{Actor, ApprovalId, OperationId, Origin, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::ports::{FencingToken, Lease, StoreError};

/// What an approval decision led to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalResult {
    /// The request after the decision.
    pub approval: ApprovalRequest,
    /// The operation started, when the request became approved and the
    /// resource was free.
    pub operation_id: Option<OperationId>,
    /// Why an approved request has not started yet (waiting for an
    /// automatic run to yield, lock backend down, switched off, ...).
    pub pending_reason: Option<String>,
}

/// How often a decision retries a lost revision race.
const CAS_RETRIES: usize = 5;

/// What a human's decision on a request writes, besides the request.
struct DecisionRecord {
    kind: AuditKind,
    reason: String,
    timeline: (TimelineStatus, String),
    /// A rejection frees the resource at once.
    releases_lock: bool,
    /// The step for the request's incident.
    step: Option<(StepDecision, String)>,
}

impl Engine {
    /// Signs an approval request as `by` (an [`Actor`] means the API's
    /// `manual` channel; pass an [`Origin`] for another, e.g. the console's
    /// `web`). When the signature completes the request, its strategy
    /// starts at decision priority.
    pub async fn approve(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
        by: impl Into<Origin>,
        comment: Option<String>,
    ) -> Result<ApprovalResult, EngineError> {
        let by = by.into();
        let identity = &by.actor;
        let inner = &self.inner;
        if inner.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let a = inner
            .decide_approval(tenant, id, &by, |a, now| {
                let outcome = a.sign(identity, comment.clone(), now)?;
                let title = match outcome {
                    SignOutcome::Approved => format!("Approved by {identity}"),
                    SignOutcome::NeedsMore { remaining } => {
                        format!("Signed by {identity}; {remaining} more signature(s) needed")
                    }
                };
                Ok(DecisionRecord {
                    kind: AuditKind::ApprovalSigned,
                    reason: format!(
                        "{}/{} signatures",
                        a.current_signatures(),
                        a.required_signatures
                    ),
                    timeline: (TimelineStatus::Success, title),
                    releases_lock: false,
                    step: None,
                })
            })
            .await?;
        if a.status != ApprovalStatus::Approved {
            return Ok(ApprovalResult {
                approval: a,
                operation_id: None,
                pending_reason: Some("more signatures needed".into()),
            });
        }
        let (operation_id, pending_reason) = inner.execute_approved(&a, identity).await?;
        Ok(ApprovalResult {
            approval: a,
            operation_id,
            pending_reason,
        })
    }

    /// Rejects an approval request with a reason (as `by`, see
    /// [`Engine::approve`]).
    pub async fn reject(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
        by: impl Into<Origin>,
        reason: &str,
    ) -> Result<ApprovalRequest, EngineError> {
        let by = by.into();
        let identity = &by.actor;
        let reason = reason.trim();
        self.inner
            .decide_approval(tenant, id, &by, |a, now| {
                a.reject(identity, reason, now)?;
                Ok(DecisionRecord {
                    kind: AuditKind::ApprovalRejected,
                    reason: reason.to_owned(),
                    timeline: (
                        TimelineStatus::Error,
                        format!("Rejected by {identity}: {reason}"),
                    ),
                    releases_lock: true,
                    step: Some((
                        StepDecision::Rejected,
                        format!("{} by {identity}: {reason}", a.id),
                    )),
                })
            })
            .await
    }

    /// Expires a tenant's overdue approval requests; returns how many.
    pub async fn expire_approvals(&self, tenant: &TenantId) -> Result<usize, EngineError> {
        let inner = &self.inner;
        let now = inner.now();
        let due = inner
            .ports
            .stores
            .approvals
            .approvals_due_for_expiry(tenant, now, 100)
            .await?;
        let mut n = 0;
        for a in due {
            if inner.store_expiry(&a, now).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Inner {
    /// The one loop of a human decision on a request: `decide` applies the
    /// domain rule to a fresh copy and says what to record; the request and
    /// its timeline event are stored together under the revision check, a
    /// lost race is retried, then the decision is audited with `by`'s
    /// channel.
    async fn decide_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
        by: &Origin,
        decide: impl Fn(&mut ApprovalRequest, Timestamp) -> Result<DecisionRecord, ApprovalError>,
    ) -> Result<ApprovalRequest, EngineError> {
        self.policy(tenant)?;
        for _ in 0..CAS_RETRIES {
            let loaded = self.load_approval(tenant, id).await?;
            let now = self.now();
            let mut a = loaded.clone();
            let record = match decide(&mut a, now) {
                Ok(r) => r,
                Err(e @ ApprovalError::Expired(_)) => {
                    self.store_expiry(&loaded, now).await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            let (status, title) = record.timeline;
            let ev = self.approval_event(&a, status, title, &by.actor, now);
            match self
                .ports
                .stores
                .approvals
                .update_approval(&a, Some(&ev))
                .await
            {
                Ok(rev) => a.revision = rev,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let mut audit =
                self.audit_entry(tenant, record.kind, &a.resource.key(), by.clone(), now);
            audit.approval_id = Some(a.id.clone());
            audit.incident_id.clone_from(&a.incident_id);
            audit.reason = Some(record.reason);
            audit.success = true;
            self.audit(audit).await?;
            if record.releases_lock {
                self.release_approval_lock(&a).await;
            }
            if let (Some(inc), Some((decision, why))) = (&a.incident_id, record.step) {
                let step = DecisionStep::new(now, Stage::Decision, decision, why);
                self.incident_step(tenant, inc, step).await?;
            }
            return Ok(a);
        }
        Err(EngineError::Conflict(format!(
            "approval {id} kept changing; retry"
        )))
    }

    pub(crate) async fn load_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<ApprovalRequest, EngineError> {
        self.ports
            .stores
            .approvals
            .get_approval(tenant, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("approval {id}")))
    }

    fn approval_event(
        &self,
        a: &ApprovalRequest,
        status: TimelineStatus,
        title: String,
        actor: &Actor,
        now: Timestamp,
    ) -> TimelineEvent {
        let mut ev = self.timeline_event(&a.tenant, TimelineEventType::Human, status, title, now);
        ev.approval_id = Some(a.id.clone());
        ev.incident_id.clone_from(&a.incident_id);
        ev.actor = Some(actor.clone());
        ev.risk_level = Some(a.risk_level);
        ev
    }

    /// Marks a request expired (with its timeline event), audits it and
    /// frees its lock. Returns whether it changed.
    async fn store_expiry(&self, a: &ApprovalRequest, now: Timestamp) -> Result<bool, EngineError> {
        let mut a = a.clone();
        if !a.expire(now) {
            return Ok(false);
        }
        let system = Actor::new("hale:approval_sweeper");
        let ev = self.approval_event(
            &a,
            TimelineStatus::Warning,
            "Approval expired unanswered".into(),
            &system,
            now,
        );
        match self
            .ports
            .stores
            .approvals
            .update_approval(&a, Some(&ev))
            .await
        {
            Ok(_) => {}
            // Someone decided meanwhile; their decision stands.
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let mut audit = self.audit_entry(
            &a.tenant,
            AuditKind::ApprovalExpired,
            &a.resource.key(),
            Origin::decision_manager(),
            now,
        );
        audit.approval_id = Some(a.id.clone());
        audit.incident_id.clone_from(&a.incident_id);
        audit.success = false;
        audit.reason = Some(format!("no decision before {}", a.expires_at));
        self.audit(audit).await?;
        self.release_approval_lock(&a).await;
        Ok(true)
    }

    /// The lease a request took when it was raised, if it took one.
    pub(crate) fn approval_lease(a: &ApprovalRequest) -> Option<Lease> {
        let token = a.metadata.get("lock_token")?.as_u64()?;
        Some(Lease {
            tenant: a.tenant.clone(),
            resource: a.resource.clone(),
            priority: LockPriority::Decision,
            holder: a.id.to_string(),
            token: FencingToken(token),
        })
    }

    async fn release_approval_lock(&self, a: &ApprovalRequest) {
        if let Some(lease) = Self::approval_lease(a) {
            self.release_lock(&lease).await;
        }
    }
}
