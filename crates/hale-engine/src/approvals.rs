//! The decision path after a request: signatures, rejection, expiry, and
//! execution of approved requests (which outrank automatic repair).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::alert::Alert;
use hale_domain::approval::{ApprovalError, ApprovalRequest, ApprovalStatus, SignOutcome};
use hale_domain::coordination::LockPriority;
use hale_domain::healing::{HealingOperation, NewOperation};
use hale_domain::kill_switch::{self, Feature, GlobalSwitches, SwitchVerdict};
use hale_domain::record::incident::{DecisionStep, IncidentStatus};
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType, TimelineStatus};
use hale_domain::{Actor, ApprovalId, OperationId, Origin, TenantId};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::ports::{Acquire, FencingToken, Lease, LockError, LockRequest, StoreError};
use crate::runner::Run;
use crate::tenant::{TenantRuntime, ledger_key};

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

/// State conflicts (already signed, no longer pending) are 409s at the edge;
/// a missing reason is invalid input (422).
fn approval_error(e: ApprovalError) -> EngineError {
    match e {
        ApprovalError::AlreadySigned(_)
        | ApprovalError::NotPending(_)
        | ApprovalError::Expired(_) => EngineError::Conflict(e.to_string()),
        ApprovalError::ReasonRequired => EngineError::Invalid(e.to_string()),
    }
}

const CAS_RETRIES: usize = 5;

impl Engine {
    /// Signs an approval request as `identity`. When the signature completes
    /// the request, its strategy starts at decision priority.
    pub async fn approve(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
        identity: &Actor,
        comment: Option<String>,
    ) -> Result<ApprovalResult, EngineError> {
        let inner = &self.inner;
        if inner.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        inner.policy(tenant)?;
        for _ in 0..CAS_RETRIES {
            let mut a = inner.load_approval(tenant, id).await?;
            let now = inner.now();
            let outcome = match a.sign(identity, comment.clone(), now) {
                Ok(o) => o,
                Err(ApprovalError::Expired(at)) => {
                    inner.store_expiry(&a, now).await?;
                    return Err(EngineError::Conflict(format!("approval expired at {at}")));
                }
                Err(e) => return Err(approval_error(e)),
            };
            let title = match outcome {
                SignOutcome::Approved => format!("Approved by {identity}"),
                SignOutcome::NeedsMore { remaining } => {
                    format!("Signed by {identity}; {remaining} more signature(s) needed")
                }
            };
            let ev = inner.approval_event(&a, TimelineStatus::Success, title, identity, now);
            match inner
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
            let mut audit = inner.audit_entry(
                tenant,
                "approval.signed",
                &a.resource.key(),
                Origin::manual(identity.clone()),
                now,
            );
            audit.approval_id = Some(a.id.clone());
            audit.incident_id.clone_from(&a.incident_id);
            audit.reason = Some(format!(
                "{}/{} signatures",
                a.current_signatures(),
                a.required_signatures
            ));
            inner.audit(audit).await?;
            if a.status != ApprovalStatus::Approved {
                return Ok(ApprovalResult {
                    approval: a,
                    operation_id: None,
                    pending_reason: Some("more signatures needed".into()),
                });
            }
            let (operation_id, pending_reason) = inner.execute_approved(&a, identity).await?;
            return Ok(ApprovalResult {
                approval: a,
                operation_id,
                pending_reason,
            });
        }
        Err(EngineError::Conflict(format!(
            "approval {id} kept changing; retry"
        )))
    }

    /// Rejects an approval request with a reason.
    pub async fn reject(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
        identity: &Actor,
        reason: &str,
    ) -> Result<ApprovalRequest, EngineError> {
        let inner = &self.inner;
        inner.policy(tenant)?;
        for _ in 0..CAS_RETRIES {
            let mut a = inner.load_approval(tenant, id).await?;
            let now = inner.now();
            a.reject(identity, reason, now).map_err(approval_error)?;
            let ev = inner.approval_event(
                &a,
                TimelineStatus::Error,
                format!("Rejected by {identity}: {}", reason.trim()),
                identity,
                now,
            );
            match inner
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
            let mut audit = inner.audit_entry(
                tenant,
                "approval.rejected",
                &a.resource.key(),
                Origin::manual(identity.clone()),
                now,
            );
            audit.approval_id = Some(a.id.clone());
            audit.incident_id.clone_from(&a.incident_id);
            audit.reason = Some(reason.trim().to_owned());
            audit.success = true;
            inner.audit(audit).await?;
            inner.release_approval_lock(&a).await;
            if let Some(inc) = &a.incident_id {
                inner
                    .incident_step(
                        tenant,
                        inc,
                        "decision",
                        "rejected",
                        &format!("{} by {identity}: {}", a.id, reason.trim()),
                        now,
                    )
                    .await?;
            }
            return Ok(a);
        }
        Err(EngineError::Conflict(format!(
            "approval {id} kept changing; retry"
        )))
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
    async fn load_approval(
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
        now: hale_domain::Timestamp,
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
    async fn store_expiry(
        &self,
        a: &ApprovalRequest,
        now: hale_domain::Timestamp,
    ) -> Result<bool, EngineError> {
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
            "approval.expired",
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

    fn approval_lease(a: &ApprovalRequest) -> Option<Lease> {
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

    /// Starts an approved request: at decision priority, after the
    /// kill-switch and breaker checks (dormancy stops automation, not a human
    /// decision). Waits in the background if an automatic run must yield.
    async fn execute_approved(
        self: &Arc<Self>,
        a: &ApprovalRequest,
        approver: &Actor,
    ) -> Result<(Option<OperationId>, Option<String>), EngineError> {
        let rt = self.runtime(&a.tenant).await?;
        if let Some(reason) = self.approved_blocker(&rt, a) {
            self.record_execution_problem(a, &reason).await?;
            return Ok((None, Some(reason)));
        }
        match self.lease_for_approved(a).await {
            Ok(Some(lease)) => {
                let op = self.start_approved(&rt, a, approver, lease).await?;
                Ok((Some(op), None))
            }
            Ok(None) | Err(_) => {
                let this = self.clone();
                let (a2, approver2) = (a.clone(), approver.clone());
                let rt2 = rt.clone();
                self.runs
                    .spawn(async move { this.wait_and_start(rt2, a2, approver2).await });
                Ok((None, Some("waiting for the resource: an automatic run is yielding or the lock backend is unavailable".into())))
            }
        }
    }

    fn approved_blocker(&self, rt: &TenantRuntime, a: &ApprovalRequest) -> Option<String> {
        let Some(strategy) = rt.policy.strategies.iter().find(|s| s.id == a.strategy_id) else {
            return Some(format!(
                "strategy {} is no longer configured",
                a.strategy_id
            ));
        };
        let kinds = strategy.action_kinds();
        let verdict = kill_switch::evaluate(
            &GlobalSwitches::default(),
            &rt.state().switches,
            Feature::AutoHealing,
            Some(&strategy.id),
            &kinds,
        );
        if let SwitchVerdict::Disabled { by } = verdict {
            return Some(format!("kill switch off at {by}"));
        }
        let now = self.now();
        for kind in &kinds {
            let Some(exec) = self.ports.executor_for(kind) else {
                return Some(format!("no executor runs {kind}"));
            };
            if let Err(r) = rt.breaker(exec.name()).would_admit(now) {
                return Some(format!("breaker {}: {r}", exec.name()));
            }
        }
        None
    }

    async fn record_execution_problem(
        &self,
        a: &ApprovalRequest,
        reason: &str,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let mut audit = self.audit_entry(
            &a.tenant,
            "approval.execution_blocked",
            &a.resource.key(),
            Origin::decision_manager(),
            now,
        );
        audit.approval_id = Some(a.id.clone());
        audit.incident_id.clone_from(&a.incident_id);
        audit.success = false;
        audit.reason = Some(reason.to_owned());
        self.audit(audit).await
    }

    /// The approval's own lease if still current, else a fresh one; `None`
    /// when an automatic run still holds the resource.
    async fn lease_for_approved(&self, a: &ApprovalRequest) -> Result<Option<Lease>, LockError> {
        let ttl = self.config.automatic_lock_ttl;
        if let Some(lease) = Self::approval_lease(a) {
            match self.ports.locks.extend(&lease, ttl).await {
                Ok(()) => return Ok(Some(lease)),
                Err(LockError::NotHeld) => {}
                Err(e) => return Err(e),
            }
        }
        let req = LockRequest {
            tenant: a.tenant.clone(),
            resource: a.resource.clone(),
            priority: LockPriority::Decision,
            holder: a.id.to_string(),
            ttl,
        };
        match self.acquire_lock(&req).await? {
            Acquire::Acquired(l) => Ok(Some(l)),
            Acquire::Held(h) if h.holder == a.id.as_str() => Ok(None),
            Acquire::Held(_) => Ok(None),
        }
    }

    async fn wait_and_start(
        self: Arc<Self>,
        rt: Arc<TenantRuntime>,
        a: ApprovalRequest,
        approver: Actor,
    ) {
        let deadline = tokio::time::Instant::now() + self.config.preemption_wait;
        while tokio::time::Instant::now() < deadline && !self.is_stopping() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(lease)) = self.lease_for_approved(&a).await {
                if let Err(e) = self.start_approved(&rt, &a, &approver, lease).await {
                    tracing::warn!(approval = %a.id, error = %e, "approved execution could not start");
                }
                return;
            }
        }
        let reason = format!(
            "the resource did not become free within {}",
            hale_domain::time::duration::format(self.config.preemption_wait)
        );
        if let Err(e) = self.record_execution_problem(&a, &reason).await {
            tracing::warn!(error = %e, "could not record an approved execution that never started");
        }
    }

    async fn start_approved(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        a: &ApprovalRequest,
        approver: &Actor,
        lease: Lease,
    ) -> Result<OperationId, EngineError> {
        let Some(strategy) = rt
            .policy
            .strategies
            .iter()
            .find(|s| s.id == a.strategy_id)
            .cloned()
        else {
            self.release_lock(&lease).await;
            return Err(EngineError::Invalid(format!(
                "strategy {} is no longer configured",
                a.strategy_id
            )));
        };
        let now = self.now();
        let attempt_number = {
            let mut st = rt.state();
            let ledger = st
                .ledgers
                .entry(ledger_key(&strategy.id, &a.resource))
                .or_default();
            let n = ledger.consecutive_failures + 1;
            ledger.on_start(now);
            st.counters.total_attempts += 1;
            n
        };
        let origin = Origin {
            actor: approver.clone(),
            ..Origin::decision_manager()
        };
        let op_id = OperationId::new(self.ports.ids.next_id("op"));
        let mut op = HealingOperation::new(
            NewOperation {
                id: op_id.clone(),
                tenant: a.tenant.clone(),
                strategy_id: strategy.id.clone(),
                resource: a.resource.clone(),
                source_system: origin.source_system,
                authorization_channel: origin.channel,
                risk: strategy.risk,
                attempt_number,
            },
            now,
        );
        op.fingerprint.clone_from(&a.fingerprint);
        op.incident_id.clone_from(&a.incident_id);
        op.approval_id = Some(a.id.clone());
        op.fencing_token = Some(lease.token.0);
        let mut audit = self.audit_entry(
            &a.tenant,
            "healing.started",
            &a.resource.key(),
            origin.clone(),
            now,
        );
        audit.operation_id = Some(op_id.clone());
        audit.approval_id = Some(a.id.clone());
        audit.source_approval_id = Some(a.id.clone());
        audit.incident_id.clone_from(&a.incident_id);
        audit.reason = Some(format!(
            "approved by {}",
            a.signatures
                .iter()
                .map(|s| s.identity.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Err(e) = self
            .ports
            .stores
            .operations
            .create_operation(&op, &audit)
            .await
        {
            self.release_lock(&lease).await;
            return Err(e.into());
        }
        if let Some(inc) = &a.incident_id {
            let op_for_incident = op_id.clone();
            self.update_incident(&a.tenant, inc, |i| {
                i.status = IncidentStatus::Mitigating;
                if !i.operation_ids.contains(&op_for_incident) {
                    i.operation_ids.push(op_for_incident.clone());
                }
                i.push_decision(DecisionStep {
                    at: now,
                    stage: "decision".into(),
                    decision: "approved_execution_started".into(),
                    reason: format!("approval {} -> operation {}", a.id, op_for_incident),
                });
            })
            .await?;
        }
        self.spawn_run(Run {
            rt: rt.clone(),
            op,
            lease,
            strategy,
            alert: alert_of(a),
            origin,
            yields_to_decisions: false,
        });
        Ok(op_id)
    }
}

/// The alert an approval was raised for, rebuilt from its metadata (for
/// diagnosis and anti-pattern hashing).
fn alert_of(a: &ApprovalRequest) -> Alert {
    let labels: BTreeMap<String, String> = a
        .metadata
        .get("alert_labels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| {
            let mut m = BTreeMap::new();
            if let Some(name) = a.metadata.get("alertname").and_then(|v| v.as_str()) {
                m.insert("alertname".to_owned(), name.to_owned());
            }
            m.insert("namespace".to_owned(), a.resource.namespace.clone());
            m
        });
    Alert::firing(labels)
}
