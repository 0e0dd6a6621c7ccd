//! Sending given-up notifications again (issue 17): after a channel's
//! outage outlasted the retries, a person makes its given-up deliveries
//! pending again, with a reason, and the delivery task sends them.

use hale_domain::record::audit::AuditKind;
use hale_domain::{Origin, TenantId};

use crate::control::need_reason;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ports::RedriveFilter;

impl Engine {
    /// Makes the given-up deliveries of `filter`'s channel in `scope` (a
    /// tenant, or the platform with `None`) pending again, attempts from
    /// zero and due now, in one store write; returns how many. Audited as
    /// `notifications.redriven` (who and why) in the tenant's log, or for
    /// the platform in every configured tenant's log, like a global act.
    pub async fn redrive_notifications(
        &self,
        scope: Option<&TenantId>,
        filter: &RedriveFilter,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<u32, EngineError> {
        let by = by.into();
        need_reason(reason)?;
        if filter.channel.trim().is_empty() {
            return Err(EngineError::Invalid("a channel is required".into()));
        }
        let inner = &self.inner;
        let tenants = match scope {
            Some(t) => {
                inner.runtime(t).await?;
                vec![t.clone()]
            }
            None => inner.tenant_ids(),
        };
        let now = inner.now();
        let redriven = inner
            .ports
            .stores
            .outbox
            .redrive_deliveries(scope, filter, now)
            .await?;
        let mut narrowed = String::new();
        if let Some(id) = &filter.notice_id {
            narrowed.push_str(&format!(", notice {id}"));
        }
        if let Some(kind) = filter.kind {
            narrowed.push_str(&format!(", kind {}", kind.as_str()));
        }
        let scope_name = scope.map_or_else(|| "the platform".to_owned(), |t| format!("tenant {t}"));
        for t in &tenants {
            let mut a = inner.audit_entry(
                t,
                AuditKind::NotificationsRedriven,
                &format!("notifications:{}", filter.channel),
                by.clone(),
                now,
            );
            a.reason = Some(format!(
                "{} ({redriven} given-up deliveries of {scope_name}{narrowed})",
                reason.trim()
            ));
            inner.audit(a).await?;
        }
        Ok(redriven)
    }
}
