//! Human control: kill switches, dormancy, breaker and attempt resets. Every
//! act needs an actor, is audited with channel `manual`, and is one atomic
//! update of the shared safety state, in force on every replica within the
//! sync interval.
//! Acts on the global scope are audited in every configured tenant's log,
//! since each tenant is affected.

use hale_domain::breaker::{BreakerSnapshot, Transition};
use hale_domain::dormancy::{Dormancy, ResumeRecord};
use hale_domain::kill_switch::{Feature, GlobalSwitches, Switch, TenantSwitches};
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditKind;
use hale_domain::safety::LedgerKey;
pub use hale_domain::safety::TenantSwitchTarget;
use hale_domain::{Origin, ResourceRef, Scope, StrategyId, TenantId};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;
use crate::ports::Ledgers;

/// All switch layers as the control API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchesView {
    /// The effective global layer (flags and runtime combined).
    pub global_effective: GlobalSwitches,
    /// Global switches set through the API.
    pub global_runtime: GlobalSwitches,
    /// What the flag source (`FEATURE_*`) says; `None` if never read.
    pub flags: Option<GlobalSwitches>,
    /// The tenant's layers, when asked for a tenant.
    pub tenant: Option<TenantSwitches>,
}

/// A breaker as listed by the control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    /// The breaker's name (the executor's).
    pub name: String,
    /// Its state: this replica's breaker with the shared latch, failure
    /// count and last reset on top.
    pub snapshot: BreakerSnapshot,
}

impl Inner {
    pub(crate) async fn audit_control(
        &self,
        scope: &Scope,
        kind: AuditKind,
        target: &str,
        by: &Origin,
        reason: &str,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let tenants = match scope {
            Scope::Tenant(t) => vec![t.clone()],
            Scope::Global => {
                self.notify_platform(kind, target, by, reason, now).await?;
                self.tenant_ids()
            }
        };
        for t in tenants {
            let mut a = self.audit_entry(&t, kind, target, by.clone(), now);
            a.reason = Some(reason.to_owned());
            self.audit(a).await?;
        }
        Ok(())
    }
}

impl Inner {
    /// Records the platform-wide notice of an act on the global scope. It is
    /// written before the tenants' audit entries: the act has already taken
    /// effect, so a crash in between leaves a true notice, never a lost one.
    async fn notify_platform(
        &self,
        kind: AuditKind,
        target: &str,
        by: &Origin,
        reason: &str,
        now: hale_domain::Timestamp,
    ) -> Result<(), EngineError> {
        let id = self.ports.ids.next_id("ntc");
        let by = by.actor.to_string();
        if let Some(n) = Notice::for_global_act(id, kind, target, &by, reason, now) {
            self.ports.stores.outbox.enqueue_notices(&[n]).await?;
        }
        Ok(())
    }
}

pub(crate) fn need_reason(reason: &str) -> Result<(), EngineError> {
    if reason.trim().is_empty() {
        Err(EngineError::Invalid("a reason is required".into()))
    } else {
        Ok(())
    }
}

impl Engine {
    /// The switch layers (global, and the tenant's when given).
    pub async fn switches(&self, tenant: Option<&TenantId>) -> Result<SwitchesView, EngineError> {
        let inner = &self.inner;
        let tenant = match tenant {
            Some(t) => Some(inner.runtime(t).await?.safety().effective_switches()),
            None => None,
        };
        Ok(SwitchesView {
            global_effective: inner.global_switches(),
            global_runtime: inner.platform().switches.clone(),
            flags: inner.flags(),
            tenant,
        })
    }

    /// Sets (or with `None` unsets) a global feature switch.
    pub async fn set_global_switch(
        &self,
        feature: Feature,
        switch: Option<Switch>,
        by: impl Into<Origin>,
        reason: &str,
    ) -> Result<(), EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        let flags = inner.flags().unwrap_or_default();
        inner
            .update_platform_safety(|p| p.set_switch(feature, switch, &flags))
            .await??;
        let target = format!("switch:global:{feature}");
        let what = switch.map_or("unset", |s| if s == Switch::On { "on" } else { "off" });
        inner
            .audit_control(
                &Scope::Global,
                AuditKind::SwitchSet,
                &target,
                &by,
                &format!("{what}: {reason}"),
            )
            .await
    }

    /// Sets (or unsets) a tenant-level switch.
    pub async fn set_tenant_switch(
        &self,
        tenant: &TenantId,
        target: TenantSwitchTarget,
        switch: Option<Switch>,
        by: impl Into<Origin>,
        reason: &str,
    ) -> Result<(), EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        inner
            .update_tenant_safety(&rt, Ledgers::None, |_, s| s.set_switch(&target, switch))
            .await??;
        let label = target.to_string();
        let what = switch.map_or("unset", |s| if s == Switch::On { "on" } else { "off" });
        inner
            .audit_control(
                &Scope::Tenant(tenant.clone()),
                AuditKind::SwitchSet,
                &label,
                &by,
                &format!("{what}: {reason}"),
            )
            .await
    }

    /// Wakes a dormant scope: the only way out of dormant mode. Also clears
    /// the backoff and the failure streaks, so healing starts afresh.
    pub async fn resume(
        &self,
        scope: &Scope,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<ResumeRecord, EngineError> {
        let by = by.into();
        let actor = &by.actor;
        let inner = &self.inner;
        let now = inner.now();
        let record = match scope {
            Scope::Global => {
                inner
                    .update_platform_safety(|p| p.dormancy.resume(reason, actor, now).cloned())
                    .await??
            }
            Scope::Tenant(t) => {
                let rt = inner.runtime(t).await?;
                inner
                    .update_tenant_safety(&rt, Ledgers::All, |_, s| s.resume(reason, actor, now))
                    .await??
            }
        };
        inner
            .audit_control(
                scope,
                AuditKind::DormancyResumed,
                &format!("dormancy:{scope}"),
                &by,
                reason.trim(),
            )
            .await?;
        Ok(record)
    }

    /// Puts a scope to sleep by hand.
    pub async fn enter_dormant(
        &self,
        scope: &Scope,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<bool, EngineError> {
        let by = by.into();
        let actor = &by.actor;
        need_reason(reason)?;
        let inner = &self.inner;
        let now = inner.now();
        let entered = match scope {
            Scope::Global => {
                inner
                    .update_platform_safety(|p| p.dormancy.enter_manual(reason, actor, now))
                    .await?
            }
            Scope::Tenant(t) => {
                let rt = inner.runtime(t).await?;
                inner
                    .update_tenant_safety(&rt, Ledgers::None, |_, s| {
                        s.dormancy.enter_manual(reason, actor, now)
                    })
                    .await?
            }
        };
        if entered {
            inner
                .audit_control(
                    scope,
                    AuditKind::DormancyEntered,
                    &format!("dormancy:{scope}"),
                    &by,
                    reason,
                )
                .await?;
        }
        Ok(entered)
    }

    /// The dormancy of a scope.
    pub async fn dormancy(&self, scope: &Scope) -> Result<Dormancy, EngineError> {
        let inner = &self.inner;
        Ok(match scope {
            Scope::Global => inner.platform().dormancy.clone(),
            Scope::Tenant(t) => inner.runtime(t).await?.safety().dormancy.clone(),
        })
    }

    /// A tenant's breakers.
    pub async fn breakers(&self, tenant: &TenantId) -> Result<Vec<BreakerView>, EngineError> {
        let rt = self.inner.runtime(tenant).await?;
        Ok(rt
            .breaker_snapshots()
            .into_iter()
            .map(|(name, snapshot)| BreakerView { name, snapshot })
            .collect())
    }

    /// Resets a breaker with a reason (the only way out of PERMANENT_OPEN).
    pub async fn reset_breaker(
        &self,
        tenant: &TenantId,
        name: &str,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<Option<Transition>, EngineError> {
        let by = by.into();
        let actor = &by.actor;
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        if !rt.breakers().contains_key(name) {
            return Err(EngineError::NotFound(format!("breaker {name:?}")));
        }
        let now = inner.now();
        // The shared record's reset reaches every replica; this one's own
        // breaker is reset with it when the copy merges the new record.
        let local = rt.breaker(name);
        let before = local.state();
        inner
            .update_tenant_safety(&rt, Ledgers::None, |_, s| {
                s.reset_breaker(name, reason, actor, now)
            })
            .await??;
        let t = (before != local.state()).then(|| Transition {
            from: before,
            to: local.state(),
            at: now,
            cause: hale_domain::breaker::TransitionCause::ManualReset,
        });
        inner
            .audit_control(
                &Scope::Tenant(tenant.clone()),
                AuditKind::BreakerReset,
                &format!("breaker:{name}"),
                &by,
                reason.trim(),
            )
            .await?;
        if let Some(tr) = t {
            inner
                .metrics
                .inc(crate::metrics::family::BREAKER_TRANSITIONS, tr.to.as_str());
        }
        Ok(t)
    }

    /// Clears a strategy's failure streak on a target (after max attempts).
    pub async fn reset_attempts(
        &self,
        tenant: &TenantId,
        strategy: &StrategyId,
        resource: &ResourceRef,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<(), EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        let rt = inner.runtime(tenant).await?;
        let key = LedgerKey::new(strategy, resource);
        let existed = inner
            .update_tenant_safety(&rt, Ledgers::Only(std::slice::from_ref(&key)), |_, s| {
                s.reset_attempts(&key)
            })
            .await?;
        if !existed {
            return Err(EngineError::NotFound(format!(
                "no attempts of {strategy} on {resource}"
            )));
        }
        inner
            .audit_control(
                &Scope::Tenant(tenant.clone()),
                AuditKind::AttemptsReset,
                &resource.key(),
                &by,
                &format!("{strategy}: {}", reason.trim()),
            )
            .await
    }
}
