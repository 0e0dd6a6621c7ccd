//! Escalation to humans.

use async_trait::async_trait;
pub use hale_domain::escalation::{Escalation, EscalationKind};

/// Notification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

/// Sends escalations.
///
/// Contract: best effort and bounded in time; a failure is returned, never
/// retried forever. The engine records every escalation in the audit log
/// (whose entry carries its durable notice through the outbox) before it
/// calls this, whether or not the call gets through.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one escalation.
    async fn escalate(&self, escalation: &Escalation) -> Result<(), NotifyError>;
}

/// Writes escalations to the log (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn escalate(&self, e: &Escalation) -> Result<(), NotifyError> {
        tracing::warn!(
            tenant = %e.tenant,
            kind = %e.kind,
            severity = %e.severity,
            resource = e.resource.as_ref().map(ToString::to_string),
            operation = e.operation_id.as_ref().map(ToString::to_string),
            "escalation: {}",
            e.summary
        );
        Ok(())
    }
}
