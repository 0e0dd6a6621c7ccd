//! This replica's view of the shared safety state (docs/reliability.md,
//! "What replicas share").
//!
//! The store holds the records ([`crate::ports::SafetyStore`]); each replica
//! keeps a copy per scope for the hot path (intake's guards read it without
//! a round trip) and keeps it fresh three ways:
//!
//! * every update this replica makes comes back with the records it saw and
//!   wrote, which replace the copy's;
//! * the `safety-sync` job polls the scopes' epochs (one cheap query) every
//!   `safety_sync_interval` (250 ms by default) and loads only the records
//!   written since the copy's epoch, so a change made on any replica is in
//!   force here within that interval plus a round trip;
//! * a run confirms its scope against the store before it starts (the start
//!   is itself an update, which re-runs the guard on the current records)
//!   and at every checkpoint (an epoch read), so no action runs on a copy
//!   older than its checkpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::Timestamp;
use hale_domain::budget::AttemptLedger;
use hale_domain::guard::{self, HealingPath, ScopeState, Verdict};
use hale_domain::safety::{LedgerKey, PlatformSafety, SafetyKey, SafetyValue, TenantSafety};
use hale_domain::strategy::Strategy;

use crate::engine::Inner;
use crate::error::EngineError;
use crate::ports::{Ledgers, SafetyChange, SafetyRecords, SafetyScope, SafetyTrail, SafetyView};
use crate::tenant::TenantRuntime;

/// One scope's records as this replica last saw them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeView {
    records: BTreeMap<SafetyKey, (u64, SafetyValue)>,
    /// The scope's epoch the copy is complete up to.
    epoch: u64,
    /// When the copy was last confirmed against the store (wall time).
    confirmed_at: Option<Timestamp>,
}

impl ScopeView {
    /// Takes newer records (a record's version only grows) and the epoch
    /// they were read at. Returns whether any record changed.
    pub(crate) fn merge(&mut self, recs: &SafetyRecords, now: Timestamp) -> bool {
        let mut changed = false;
        for r in &recs.records {
            let newer = self
                .records
                .get(&r.key)
                .is_none_or(|(version, _)| *version < r.version);
            if newer {
                self.records
                    .insert(r.key.clone(), (r.version, r.value.clone()));
                changed = true;
            }
        }
        self.epoch = self.epoch.max(recs.epoch);
        self.confirmed_at = Some(now);
        changed
    }

    /// The copy was confirmed current at `now` (the scope's epoch had not
    /// moved).
    pub(crate) fn confirm(&mut self, now: Timestamp) {
        self.confirmed_at = Some(now);
    }

    /// The records as (key, value) pairs.
    pub(crate) fn values(&self) -> impl Iterator<Item = (SafetyKey, SafetyValue)> + '_ {
        self.records
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The attempt ledgers in the copy, with their versions.
    pub(crate) fn ledgers(&self) -> impl Iterator<Item = (&LedgerKey, u64, &AttemptLedger)> + '_ {
        self.records
            .iter()
            .filter_map(|(k, (version, v))| match (k, v) {
                (SafetyKey::Ledger(key), SafetyValue::Ledger(l)) => Some((key, *version, l)),
                _ => None,
            })
    }

    /// Drops pruned ledgers from the copy, each only if the copy still holds
    /// the version pruned (a newer one it took meanwhile stays). Returns the
    /// keys dropped.
    pub(crate) fn forget_ledgers(&mut self, pruned: &[(LedgerKey, u64)]) -> Vec<LedgerKey> {
        let mut dropped = Vec::new();
        for (key, version) in pruned {
            let record = SafetyKey::Ledger(key.clone());
            if self.records.get(&record).is_some_and(|(v, _)| v == version) {
                self.records.remove(&record);
                dropped.push(key.clone());
            }
        }
        dropped
    }

    pub(crate) fn confirmed_at(&self) -> Option<Timestamp> {
        self.confirmed_at
    }
}

/// How current a scope's copy is, for the status page and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViewAge {
    pub epoch: u64,
    pub confirmed_at: Option<Timestamp>,
}

impl Inner {
    /// Brings every loaded scope's copy up to the store's epochs: one epoch
    /// query, then the records written since each stale copy's epoch.
    pub(crate) async fn sync_safety(&self) -> Result<(), EngineError> {
        let epochs: BTreeMap<SafetyScope, u64> = self
            .ports
            .stores
            .safety
            .safety_epochs()
            .await?
            .into_iter()
            .collect();
        let now = self.now();
        let stored = |scope: &SafetyScope| epochs.get(scope).copied().unwrap_or(0);
        let platform_epoch = self.platform_view().epoch();
        if stored(&SafetyScope::Platform) > platform_epoch {
            let recs = self
                .ports
                .stores
                .safety
                .safety_records(&SafetyScope::Platform, platform_epoch)
                .await?;
            self.merge_platform(&recs, now);
        } else {
            self.platform_view().confirm(now);
        }
        for rt in self.tenants.all() {
            let scope = SafetyScope::Tenant(rt.tenant().clone());
            let seen = rt.view().epoch();
            if stored(&scope) > seen {
                let recs = self
                    .ports
                    .stores
                    .safety
                    .safety_records(&scope, seen)
                    .await?;
                let synced = rt.merge(&recs, now);
                tracing::debug!(tenant = %rt.tenant(), breakers = synced.len(), "took safety changes made elsewhere");
            } else {
                rt.view().confirm(now);
            }
        }
        Ok(())
    }

    /// Brings one tenant's copy and the platform's up to date (a run's
    /// checkpoint): the epoch query, then only what changed.
    pub(crate) async fn sync_tenant_safety(&self, rt: &TenantRuntime) -> Result<(), EngineError> {
        let epochs: BTreeMap<SafetyScope, u64> = self
            .ports
            .stores
            .safety
            .safety_epochs()
            .await?
            .into_iter()
            .collect();
        let now = self.now();
        let platform_seen = self.platform_view().epoch();
        let tenant_seen = rt.view().epoch();
        for (scope, seen) in [
            (SafetyScope::Platform, platform_seen),
            (SafetyScope::Tenant(rt.tenant().clone()), tenant_seen),
        ] {
            if epochs.get(&scope).copied().unwrap_or(0) <= seen {
                match scope {
                    SafetyScope::Platform => self.platform_view().confirm(now),
                    SafetyScope::Tenant(_) => rt.view().confirm(now),
                }
                continue;
            }
            let recs = self
                .ports
                .stores
                .safety
                .safety_records(&scope, seen)
                .await?;
            match scope {
                SafetyScope::Platform => self.merge_platform(&recs, now),
                SafetyScope::Tenant(_) => {
                    rt.merge(&recs, now);
                }
            }
        }
        Ok(())
    }

    /// Takes platform records into the copy and rebuilds the platform state.
    pub(crate) fn merge_platform(&self, recs: &SafetyRecords, now: Timestamp) {
        let mut view = self.platform_view();
        if view.merge(recs, now) {
            let rebuilt =
                PlatformSafety::from_records(self.config.global_dormancy_threshold, view.values());
            drop(view);
            *self.platform() = rebuilt;
        }
    }

    /// Runs `f` on the tenant's current records (and the platform's) as one
    /// atomic update in the store, writes what it changed, and updates this
    /// replica's copies. `ledgers` says which attempt ledgers `f` needs.
    pub(crate) async fn update_tenant_safety<R, F>(
        &self,
        rt: &TenantRuntime,
        ledgers: Ledgers<'_>,
        f: F,
    ) -> Result<R, EngineError>
    where
        F: FnMut(&PlatformSafety, &mut TenantSafety) -> R + Send,
        R: Send,
    {
        self.record_tenant_safety(rt, ledgers, f, |_| SafetyTrail::default())
            .await
    }

    /// As [`Inner::update_tenant_safety`], and writes the audit entries and
    /// notices `trail` makes of `f`'s outcome in the same transaction, so
    /// the change is never without its record (issue 17).
    pub(crate) async fn record_tenant_safety<R, F, T>(
        &self,
        rt: &TenantRuntime,
        ledgers: Ledgers<'_>,
        mut f: F,
        mut trail: T,
    ) -> Result<R, EngineError>
    where
        F: FnMut(&PlatformSafety, &mut TenantSafety) -> R + Send,
        T: FnMut(&R) -> SafetyTrail + Send,
        R: Send,
    {
        let settings = rt.policy.safety_settings();
        let threshold = self.config.global_dormancy_threshold;
        let mut out = None;
        let mut update = |view: SafetyView<'_>| {
            let platform = PlatformSafety::from_records(threshold, view.platform.values());
            let tenant = view.tenant.map(SafetyRecords::values).into_iter().flatten();
            // The policy was validated when the engine was built, so its
            // backoff policy is valid and this cannot fail.
            let Ok(mut safety) = TenantSafety::from_records(&settings, tenant) else {
                return SafetyChange::default();
            };
            let before = safety.clone();
            let r = f(&platform, &mut safety);
            let change = SafetyChange {
                records: safety.changes_since(&before),
                trail: trail(&r),
            };
            out = Some(r);
            change
        };
        let scope = SafetyScope::Tenant(rt.tenant().clone());
        let updated = self
            .ports
            .stores
            .safety
            .update_safety_audited(&scope, ledgers, &mut update)
            .await?;
        let now = self.now();
        self.merge_platform(&updated.platform, now);
        let mut seen = updated.tenant.clone();
        seen.records.extend(updated.written.iter().cloned());
        seen.epoch = seen.epoch.max(updated.epoch);
        rt.merge(&seen, now);
        out.ok_or_else(|| EngineError::Invalid("the tenant's backoff policy is invalid".into()))
    }

    /// Runs `f` on the platform's current records as one atomic update, and
    /// writes the audit entries and notices `trail` makes of its outcome in
    /// the same transaction.
    pub(crate) async fn record_platform_safety<R, F, T>(
        &self,
        mut f: F,
        mut trail: T,
    ) -> Result<R, EngineError>
    where
        F: FnMut(&mut PlatformSafety) -> R + Send,
        T: FnMut(&R) -> SafetyTrail + Send,
        R: Send,
    {
        let threshold = self.config.global_dormancy_threshold;
        let mut out = None;
        let mut update = |view: SafetyView<'_>| {
            let mut platform = PlatformSafety::from_records(threshold, view.platform.values());
            let before = platform.clone();
            let r = f(&mut platform);
            let change = SafetyChange {
                records: platform.changes_since(&before),
                trail: trail(&r),
            };
            out = Some(r);
            change
        };
        let updated = self
            .ports
            .stores
            .safety
            .update_safety_audited(&SafetyScope::Platform, Ledgers::None, &mut update)
            .await?;
        let mut seen = updated.platform.clone();
        seen.records.extend(updated.written.iter().cloned());
        seen.epoch = seen.epoch.max(updated.epoch);
        self.merge_platform(&seen, self.now());
        out.ok_or_else(|| EngineError::Invalid("the platform update did not run".into()))
    }

    /// Confirms that a run may go on acting: its scopes' copies are brought
    /// up to the store (fail closed: a store that cannot answer stops the
    /// run), then the switches and dormancy that apply to its path are
    /// checked. Returns why not, if not.
    pub(crate) async fn confirm_run(
        &self,
        rt: &Arc<TenantRuntime>,
        path: HealingPath,
        strategy: &Strategy,
    ) -> Option<String> {
        if let Err(e) = self.sync_tenant_safety(rt).await {
            return Some(format!(
                "the safety state could not be confirmed ({e}); stopping (fail closed)"
            ));
        }
        let global = self.global_switches();
        let platform_dormant = self.platform().dormancy.record().cloned();
        let safety = rt.safety();
        let switches = safety.effective_switches();
        let kinds = strategy.action_kinds();
        let verdict = guard::run_verdict(
            path,
            &ScopeState {
                global: &global,
                tenant: &switches,
                platform_dormant: platform_dormant.as_ref(),
                tenant_dormant: safety.dormancy.record(),
            },
            &strategy.id,
            &kinds,
        );
        match verdict {
            Verdict::Allow => None,
            Verdict::Block(b) => Some(format!("{}: {b}", b.guard())),
        }
    }

    /// The platform copy's epoch and age.
    pub(crate) fn platform_view_age(&self) -> ViewAge {
        let v = self.platform_view();
        ViewAge {
            epoch: v.epoch(),
            confirmed_at: v.confirmed_at(),
        }
    }
}
