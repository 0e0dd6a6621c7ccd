//! Human control: kill switches, dormancy, breaker and attempt resets. Every
//! act needs an actor, is audited with channel `manual`, and is one atomic
//! update of the shared safety state, in force on every replica within the
//! sync interval; its audit entries and notices are written in that
//! update's transaction (`safety_trail.rs`).
//! Acts on the global scope are audited in every configured tenant's log,
//! since each tenant is affected, and make one platform-wide notice.

use hale_domain::breaker::{BreakerSnapshot, Transition};
use hale_domain::dormancy::{Dormancy, ResumeRecord};
use hale_domain::kill_switch::{Feature, GlobalSwitches, Switch, TenantSwitches};
use hale_domain::record::audit::AuditKind;
use hale_domain::safety::LedgerKey;
pub use hale_domain::safety::TenantSwitchTarget;
use hale_domain::{Origin, ResourceRef, Scope, StrategyId, TenantId};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::ports::Ledgers;
use crate::safety_trail::Act;

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
        let what = switch.map_or("unset", |s| if s == Switch::On { "on" } else { "off" });
        let act = Act {
            scope: &Scope::Global,
            kind: AuditKind::SwitchSet,
            target: format!("switch:global:{feature}"),
            by: &by,
            reason: format!("{what}: {reason}"),
            at: inner.now(),
        };
        inner
            .record_platform_safety(
                |p| p.set_switch(feature, switch, &flags),
                |r| inner.act_trail(&act, r.is_ok()),
            )
            .await??;
        Ok(())
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
        let what = switch.map_or("unset", |s| if s == Switch::On { "on" } else { "off" });
        let act = Act {
            scope: &Scope::Tenant(tenant.clone()),
            kind: AuditKind::SwitchSet,
            target: target.to_string(),
            by: &by,
            reason: format!("{what}: {reason}"),
            at: inner.now(),
        };
        inner
            .record_tenant_safety(
                &rt,
                Ledgers::None,
                |_, s| s.set_switch(&target, switch),
                |r| inner.act_trail(&act, r.is_ok()),
            )
            .await??;
        Ok(())
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
        let act = Act {
            scope,
            kind: AuditKind::DormancyResumed,
            target: format!("dormancy:{scope}"),
            by: &by,
            reason: reason.trim().to_owned(),
            at: now,
        };
        let record = match scope {
            Scope::Global => {
                inner
                    .record_platform_safety(
                        |p| p.dormancy.resume(reason, actor, now).cloned(),
                        |r| inner.act_trail(&act, r.is_ok()),
                    )
                    .await??
            }
            Scope::Tenant(t) => {
                let rt = inner.runtime(t).await?;
                inner
                    .record_tenant_safety(
                        &rt,
                        Ledgers::All,
                        |_, s| s.resume(reason, actor, now),
                        |r| inner.act_trail(&act, r.is_ok()),
                    )
                    .await??
            }
        };
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
        let act = Act {
            scope,
            kind: AuditKind::DormancyEntered,
            target: format!("dormancy:{scope}"),
            by: &by,
            reason: reason.to_owned(),
            at: now,
        };
        let entered = match scope {
            Scope::Global => {
                inner
                    .record_platform_safety(
                        |p| p.dormancy.enter_manual(reason, actor, now),
                        |entered| inner.act_trail(&act, *entered),
                    )
                    .await?
            }
            Scope::Tenant(t) => {
                let rt = inner.runtime(t).await?;
                inner
                    .record_tenant_safety(
                        &rt,
                        Ledgers::None,
                        |_, s| s.dormancy.enter_manual(reason, actor, now),
                        |entered| inner.act_trail(&act, *entered),
                    )
                    .await?
            }
        };
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
        let act = Act {
            scope: &Scope::Tenant(tenant.clone()),
            kind: AuditKind::BreakerReset,
            target: format!("breaker:{name}"),
            by: &by,
            reason: reason.trim().to_owned(),
            at: now,
        };
        inner
            .record_tenant_safety(
                &rt,
                Ledgers::None,
                |_, s| s.reset_breaker(name, reason, actor, now),
                |r| inner.act_trail(&act, r.is_ok()),
            )
            .await??;
        let t = (before != local.state()).then(|| Transition {
            from: before,
            to: local.state(),
            at: now,
            cause: hale_domain::breaker::TransitionCause::ManualReset,
        });
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
        let act = Act {
            scope: &Scope::Tenant(tenant.clone()),
            kind: AuditKind::AttemptsReset,
            target: resource.key(),
            by: &by,
            reason: format!("{strategy}: {}", reason.trim()),
            at: inner.now(),
        };
        let existed = inner
            .record_tenant_safety(
                &rt,
                Ledgers::Only(std::slice::from_ref(&key)),
                |_, s| s.reset_attempts(&key),
                |existed| inner.act_trail(&act, *existed),
            )
            .await?;
        if !existed {
            return Err(EngineError::NotFound(format!(
                "no attempts of {strategy} on {resource}"
            )));
        }
        Ok(())
    }
}
