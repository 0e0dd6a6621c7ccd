//! Crash recovery: operations found unfinished are never resumed blindly
//! (actions are not idempotent: a second rollout restart is a second
//! outage). An operation whose resource lock is no longer held by it, and
//! which is not running in this process, is marked INTERRUPTED, audited,
//! escalated, and its lock released.

use hale_domain::coordination::LockPriority;
use hale_domain::healing::HealingState;
use hale_domain::record::audit::AuditKind;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::{Origin, SourceSystem, TenantId};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::ports::{Escalation, EscalationKind, FencingToken, Lease};

impl Engine {
    /// Marks unfinished operations of every tenant interrupted (see the
    /// module docs). Returns how many were marked.
    pub async fn recover_interrupted(&self) -> Result<usize, EngineError> {
        let mut n = 0;
        for t in self.inner.tenant_ids() {
            n += self.inner.recover_tenant(&t).await?;
        }
        Ok(n)
    }
}

impl Inner {
    async fn recover_tenant(&self, tenant: &TenantId) -> Result<usize, EngineError> {
        let ops = self
            .ports
            .stores
            .operations
            .unfinished_operations(tenant)
            .await?;
        let mut marked = 0;
        for mut op in ops {
            if self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&op.id)
            {
                continue;
            }
            // A live run elsewhere keeps extending its lock; leave it alone.
            match self.ports.locks.inspect(tenant, &op.resource).await {
                Ok(Some(h))
                    if h.holder == op.id.as_str() && Some(h.token.0) == op.fencing_token =>
                {
                    continue;
                }
                Ok(_) => {}
                // Without the lock backend we cannot tell; try again later.
                Err(_) => continue,
            }
            let now = self.now();
            let was = op.state;
            if op.transition(HealingState::Interrupted, now).is_err() {
                continue;
            }
            op.error = Some(format!(
                "the process running this operation ended while it was {was}; it was not resumed because actions are not idempotent"
            ));
            let origin = match op.source_system {
                SourceSystem::FailureWatcher => Origin::failure_watcher(),
                _ => Origin::decision_manager(),
            };
            let mut a = self.audit_entry(
                tenant,
                AuditKind::OperationInterrupted,
                &op.resource.key(),
                origin.clone(),
                now,
            );
            a.operation_id = Some(op.id.clone());
            a.incident_id.clone_from(&op.incident_id);
            a.approval_id.clone_from(&op.approval_id);
            a.success = false;
            a.reason = op.error.clone();
            // The interruption and its escalation are one write: the update
            // that marks the operation interrupted also marks it escalated
            // and carries both entries (and so the escalation's notice).
            let kind = EscalationKind::OperationInterrupted;
            let e = Escalation {
                tenant: tenant.clone(),
                kind,
                summary: format!(
                    "operation {} on {} was interrupted while {was}; check the target by hand",
                    op.id, op.resource
                ),
                resource: Some(op.resource.clone()),
                strategy_id: Some(op.strategy_id.clone()),
                operation_id: Some(op.id.clone()),
                incident_id: op.incident_id.clone(),
                guard: None,
                severity: kind.severity(),
                at: now,
            };
            op.escalated = true;
            let mut rec = e.audit_entry(self.ports.ids.next_id("aud"), origin);
            rec.approval_id.clone_from(&op.approval_id);
            match self
                .ports
                .stores
                .operations
                .update_operation(&op, &[a, rec])
                .await
            {
                Ok(rev) => op.revision = rev,
                // Someone else finished or recovered it meanwhile.
                Err(crate::ports::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            marked += 1;
            self.free_budget_slot(tenant, &op.id, now).await;
            self.metrics.inc(
                crate::metrics::family::OPERATIONS,
                HealingState::Interrupted.as_str(),
            );
            if let Some(token) = op.fencing_token {
                let priority = match op.source_system {
                    SourceSystem::FailureWatcher => LockPriority::Automatic,
                    _ => LockPriority::Decision,
                };
                self.release_lock(&Lease {
                    tenant: tenant.clone(),
                    resource: op.resource.clone(),
                    priority,
                    holder: op.id.to_string(),
                    token: FencingToken(token),
                })
                .await;
            }
            let mut tl = self.timeline_event(
                tenant,
                TimelineEventType::System,
                TimelineStatus::Warning,
                format!("Operation {} interrupted by a restart while {was}", op.id),
                now,
            );
            tl.operation_id = Some(op.id.clone());
            tl.incident_id.clone_from(&op.incident_id);
            // The escalation is recorded; a timeline that does not take the
            // event does not stop the notifier or the rest of the sweep.
            if let Err(err) = self.timeline(tl).await {
                tracing::warn!(op = %op.id, error = %err, "could not add an interrupted operation to the timeline");
            }
            self.escalate(e).await;
        }
        Ok(marked)
    }
}
