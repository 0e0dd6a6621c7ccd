//! Escalations ([`hale_domain::escalation`]): recorded first, then told.
//! The record is the audit entry of the escalation's kind, written in the
//! transaction of the record that caused it: the operation update that
//! marks a run's operation escalated, the anti-pattern entry that blocks an
//! ineffective chain, the timeline event of a regression, the shared budget
//! record. The store writes its notice to the outbox in the same
//! transaction. The `Notifier` port (the log line) is called afterwards,
//! best effort.

use hale_domain::Origin;
use hale_domain::escalation::Escalation;
use hale_domain::guard::Block;
use hale_domain::record::audit::AuditEntry;

use crate::engine::Inner;
use crate::runner::Run;

impl Inner {
    /// The audit entry that records an escalation with no operation update
    /// of its own (a regression, an ineffective chain): the caller writes
    /// it with the record that caused the escalation, in that record's
    /// transaction, and tells the notifier once it committed.
    pub(crate) fn escalation_entry(&self, e: &Escalation, origin: Origin) -> AuditEntry {
        e.audit_entry(self.ports.ids.next_id("aud"), origin)
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
