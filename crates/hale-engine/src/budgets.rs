//! Remediation budgets around a run ([`hale_domain::remediation`]): the
//! escalation of an exhausted budget (once per window, shared by every
//! replica) and freeing the slot of a run the recovery sweep interrupted.
//! Taking a slot happens where a start is confirmed
//! ([`Inner::begin_confirmed`]), freeing it where a run ends
//! (`aftermath.rs`), each in the update that records the rest.

use hale_domain::remediation::BudgetExhausted;
use hale_domain::{OperationId, Origin, ResourceRef, TenantId, Timestamp};

use crate::engine::Inner;
use crate::ports::{Escalation, EscalationKind, Ledgers, SafetyTrail};
use crate::tenant::TenantRuntime;

impl Inner {
    /// A budget was found exhausted: escalate, at most once per scope and
    /// window across replicas (the mark is in the shared usage record; this
    /// replica's copy answers first, so a storm of blocks costs no store
    /// update once the escalation went out). Never a failure.
    pub(crate) async fn on_budget_exhausted(
        &self,
        rt: &TenantRuntime,
        exhausted: &BudgetExhausted,
        resource: Option<&ResourceRef>,
        now: Timestamp,
    ) {
        if !rt.safety().remediation.would_escalate(exhausted, now) {
            return;
        }
        let e = Escalation {
            tenant: rt.tenant().clone(),
            kind: EscalationKind::BudgetExhausted,
            summary: format!(
                "{exhausted}; automatic healing waits (the next escalation of this budget comes after its window)"
            ),
            resource: resource.cloned(),
            strategy_id: None,
            operation_id: None,
            incident_id: None,
            guard: None,
            severity: EscalationKind::BudgetExhausted.severity(),
            at: now,
        };
        // The mark that the escalation went out and its record (the audit
        // entry that carries its notice) are one write: a crash between
        // them would silence the budget for the rest of its window.
        let due = self
            .record_tenant_safety(
                rt,
                Ledgers::None,
                |_, s| s.remediation.escalation_due(exhausted, now),
                |due| SafetyTrail {
                    audit: due
                        .then(|| {
                            e.audit_entry(self.ports.ids.next_id("aud"), Origin::failure_watcher())
                        })
                        .into_iter()
                        .collect(),
                    notices: Vec::new(),
                },
            )
            .await;
        match due {
            Ok(true) => self.escalate(e).await,
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(tenant = %rt.tenant(), error = %err, "could not record a budget escalation; not escalating");
            }
        }
    }

    /// The recovery sweep interrupted an operation: its in-flight slot is
    /// freed (best effort; a slot never freed stops counting after the
    /// budgets' `stale_after`).
    pub(crate) async fn free_budget_slot(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        now: Timestamp,
    ) {
        let Ok(rt) = self.runtime(tenant).await else {
            return;
        };
        let budgets = &rt.policy.remediation;
        if budgets.is_empty() {
            return;
        }
        let freed = self
            .update_tenant_safety(&rt, Ledgers::None, |_, s| {
                s.remediation.finish(budgets, operation, now)
            })
            .await;
        if let Err(e) = freed {
            tracing::warn!(tenant = %tenant, error = %e, "could not free an interrupted run's budget slot; it stops counting after stale_after");
        }
    }
}
