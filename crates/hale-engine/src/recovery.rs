//! Crash recovery: operations found unfinished are never resumed blindly
//! (actions are not idempotent: a second rollout restart is a second
//! outage). An operation whose resource lock is no longer held by it, and
//! which is not running in this process, is marked INTERRUPTED, audited,
//! escalated, and its lock released.
//!
//! A failed run's escalation is written after its rollback (it carries the
//! rollback's result), so a replica that dies during the rollback leaves a
//! FAILED operation that nobody was told of. The same sweep finds such
//! operations (FAILED, not escalated, no longer holding their lock, not
//! running here) and escalates them, saying the rollback's result is
//! unknown; the operation's revision compare-and-set makes that happen
//! once across replicas.

use hale_domain::coordination::LockPriority;
use std::time::Duration;

use hale_domain::healing::{HealingOperation, HealingState};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::{Origin, SourceSystem, TenantId};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::ports::{Escalation, EscalationKind, FencingToken, Lease, OperationFilter, PageRequest};

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

/// Who a sweep acts as for `op`: the automation that started it.
fn origin_of(op: &HealingOperation) -> Origin {
    match op.source_system {
        SourceSystem::FailureWatcher => Origin::failure_watcher(),
        _ => Origin::decision_manager(),
    }
}

/// The escalation of `op` (of `kind`, with `summary`) a sweep sends.
fn op_escalation(
    op: &HealingOperation,
    kind: EscalationKind,
    summary: String,
    now: hale_domain::Timestamp,
) -> Escalation {
    Escalation {
        tenant: op.tenant.clone(),
        kind,
        summary,
        resource: Some(op.resource.clone()),
        strategy_id: Some(op.strategy_id.clone()),
        operation_id: Some(op.id.clone()),
        incident_id: op.incident_id.clone(),
        guard: None,
        severity: kind.severity(),
        at: now,
    }
}

/// How far back the sweep looks for a failed run a dead replica never
/// escalated (by the operation's start).
const ORPHANED_FAILURE_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Inner {
    /// Whether `op` is still in the hands of a live run: this process runs
    /// it, or its lock is held by it (a live run elsewhere keeps extending
    /// it). Without the lock backend nobody can tell, so it counts as live.
    async fn still_running(&self, tenant: &TenantId, op: &HealingOperation) -> bool {
        if self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&op.id)
        {
            return true;
        }
        match self.ports.locks.inspect(tenant, &op.resource).await {
            Ok(Some(h)) => h.holder == op.id.as_str() && Some(h.token.0) == op.fencing_token,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Escalates the failed runs of `tenant` whose replica died between
    /// recording the failure and escalating it (see the module docs).
    /// Returns how many it escalated.
    async fn escalate_orphaned_failures(&self, tenant: &TenantId) -> Result<usize, EngineError> {
        let now = self.now();
        let filter = OperationFilter {
            state: Some(HealingState::Failed),
            since: Some(now.saturating_sub(ORPHANED_FAILURE_WINDOW)),
            page: PageRequest::new(PageRequest::MAX_LIMIT, 0),
            ..OperationFilter::default()
        };
        let failed = self
            .ports
            .stores
            .operations
            .list_operations(tenant, &filter)
            .await?;
        let mut escalated = 0;
        for mut op in failed.items.into_iter().filter(|op| !op.escalated) {
            if self.still_running(tenant, &op).await {
                continue;
            }
            let summary = format!(
                "healing {} of {} failed: {}; the replica running its aftermath stopped before it escalated, so whether its rollback ran is unknown; check the target by hand",
                op.strategy_id,
                op.resource,
                op.error.as_deref().unwrap_or("no error recorded")
            );
            let e = op_escalation(&op, EscalationKind::HealingFailed, summary, now);
            op.escalated = true;
            let mut rec = e.audit_entry(self.ports.ids.next_id("aud"), origin_of(&op));
            rec.approval_id.clone_from(&op.approval_id);
            match self
                .ports
                .stores
                .operations
                .update_operation(&op, std::slice::from_ref(&rec))
                .await
            {
                Ok(_) => escalated += 1,
                // Its own replica, or another sweep, escalated it meanwhile.
                Err(crate::ports::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            self.escalate(e).await;
        }
        Ok(escalated)
    }

    async fn recover_tenant(&self, tenant: &TenantId) -> Result<usize, EngineError> {
        let marked = self.mark_interrupted(tenant).await?;
        self.escalate_orphaned_failures(tenant).await?;
        Ok(marked)
    }

    async fn mark_interrupted(&self, tenant: &TenantId) -> Result<usize, EngineError> {
        let ops = self
            .ports
            .stores
            .operations
            .unfinished_operations(tenant)
            .await?;
        let mut marked = 0;
        for mut op in ops {
            // A live run (here, or elsewhere extending its lock) is left
            // alone; without the lock backend, try again later.
            if self.still_running(tenant, &op).await {
                continue;
            }
            let now = self.now();
            let was = op.state;
            if op.transition(HealingState::Interrupted, now).is_err() {
                continue;
            }
            op.error = Some(format!(
                "the process running this operation ended while it was {was}; it was not resumed because actions are not idempotent"
            ));
            let origin = origin_of(&op);
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
            let summary = format!(
                "operation {} on {} was interrupted while {was}; check the target by hand",
                op.id, op.resource
            );
            let e = op_escalation(&op, EscalationKind::OperationInterrupted, summary, now);
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
