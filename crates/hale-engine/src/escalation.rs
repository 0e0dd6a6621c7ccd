//! Escalations ([`hale_domain::escalation`]): recorded first, then told.
//! The record is the audit entry of the escalation's kind, written with the
//! operation update that marks a run's operation escalated, or on its own
//! when the escalation has no operation to update; the store writes its
//! notice to the outbox in the same transaction. The `Notifier` port (the
//! log line) is called afterwards, best effort.

use hale_domain::Origin;
use hale_domain::escalation::Escalation;
use hale_domain::guard::Block;

use crate::engine::Inner;
use crate::runner::Run;

impl Inner {
    /// Records an escalation that has no operation update of its own
    /// (a regression, an ineffective chain, an exhausted budget), then
    /// tells the notifier. A record that cannot be written is logged; the
    /// notifier is told anyway.
    pub(crate) async fn escalate_recorded(&self, e: Escalation, origin: Origin) {
        let entry = e.audit_entry(self.ports.ids.next_id("aud"), origin);
        if let Err(err) = self.audit(entry).await {
            tracing::warn!(tenant = %e.tenant, kind = %e.kind, error = %err, "could not record an escalation; its notice is lost");
        }
        self.escalate(e).await;
    }

    /// Escalates a run's operation: the update that marks it escalated
    /// carries the escalation's audit entry (with `reason`, and the refusal
    /// in its dry-run fields when a refused dry run stopped the run), then
    /// the notifier is told.
    pub(crate) async fn escalate_run(
        &self,
        run: &mut Run,
        e: Escalation,
        reason: String,
        refused: Option<&Block>,
    ) {
        run.op.escalated = true;
        let _ = self
            .save_escalated(run, e.kind.audit_kind(), reason, refused)
            .await;
        self.escalate(e).await;
    }
}
