//! The tenant registry (seed 001): per-tenant runtime state created on first
//! use and evicted after an idle period. The safety state is not kept here
//! but shared through the store ([`crate::safety_view`]); a runtime holds this
//! replica's copy of it, its local breakers (each executor's transient
//! health as this replica sees it) and the alerts waiting for the detection
//! job.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use hale_domain::alert::Alert;
use hale_domain::breaker::{
    BreakerConfig, BreakerSnapshot, BreakerState, CircuitBreaker, Transition,
};
use hale_domain::convergence::Fingerprint;
use hale_domain::reason::NotActed;
use hale_domain::safety::{LedgerKey, SafetySettings, TenantSafety};
use hale_domain::{TenantId, Timestamp};

use crate::config::TenantPolicy;
use crate::deferred::DeferredQueue;
use crate::error::EngineError;
use crate::ports::{SafetyRecords, SafetyScope, SafetyStore};
use crate::safety_view::{ScopeView, ViewAge};

pub(crate) use crate::deferred::DeferredAlert;

/// This replica's breaker for an executor and how many of the shared
/// record's manual resets it has applied.
#[derive(Debug)]
struct LocalBreaker {
    breaker: Arc<CircuitBreaker>,
    resets_applied: u64,
}

/// One tenant's runtime.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub policy: Arc<TenantPolicy>,
    view: Mutex<ScopeView>,
    safety: Mutex<TenantSafety>,
    breakers: Mutex<BTreeMap<String, LocalBreaker>>,
    deferred: Mutex<DeferredQueue>,
    last_used: Mutex<Timestamp>,
}

impl TenantPolicy {
    /// The configured part of the tenant's safety policy.
    pub(crate) fn safety_settings(&self) -> SafetySettings {
        SafetySettings {
            dormancy_threshold: self.dormancy_threshold,
            backoff: self.backoff.clone(),
            jitter_seed: seed_of(&self.tenant),
            switches: self.switches.clone(),
            permanent_open_threshold: self.breaker.permanent_open_threshold,
        }
    }

    /// The configuration of this replica's local breakers: the short
    /// open/half-open cycle only. PERMANENT_OPEN after N failures is the
    /// cluster's count, kept in the shared record
    /// ([`hale_domain::breaker::shared::SharedBreaker`]); a fatal failure
    /// still latches the local breaker at once (and the shared one with it).
    fn local_breaker_config(&self) -> BreakerConfig {
        BreakerConfig {
            permanent_open_threshold: u32::MAX,
            ..self.breaker.clone()
        }
    }
}

impl TenantRuntime {
    fn new(
        policy: Arc<TenantPolicy>,
        records: &SafetyRecords,
        now: Timestamp,
    ) -> Result<Self, EngineError> {
        let safety = TenantSafety::new(&policy.safety_settings())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let rt = TenantRuntime {
            policy,
            view: Mutex::new(ScopeView::default()),
            safety: Mutex::new(safety),
            breakers: Mutex::new(BTreeMap::new()),
            deferred: Mutex::new(DeferredQueue::default()),
            last_used: Mutex::new(now),
        };
        rt.merge(records, now);
        Ok(rt)
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.policy.tenant
    }

    /// This replica's copy of the tenant's safety state, behind a
    /// short-lived lock (never held across an await).
    pub(crate) fn safety(&self) -> MutexGuard<'_, TenantSafety> {
        self.safety.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn view(&self) -> MutexGuard<'_, ScopeView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How current the copy is.
    pub(crate) fn view_age(&self) -> ViewAge {
        let v = self.view();
        ViewAge {
            epoch: v.epoch(),
            confirmed_at: v.confirmed_at(),
        }
    }

    /// Drops ledgers the store pruned from the copy and from the safety
    /// state built from it (only where the copy still holds the pruned
    /// version). The view stays locked while the state changes, so a merge
    /// cannot bring a newer ledger in between.
    pub(crate) fn forget_ledgers(&self, pruned: &[(LedgerKey, u64)]) -> usize {
        let mut view = self.view();
        let dropped = view.forget_ledgers(pruned);
        let mut safety = self.safety();
        for key in &dropped {
            safety.ledgers.remove(key);
        }
        dropped.len()
    }

    /// Attempt ledgers held in memory (the copy's records and the state
    /// built from them; the larger count, should they ever differ).
    pub(crate) fn cached_ledgers(&self) -> usize {
        let in_view = self.view().ledgers().count();
        in_view.max(self.safety().ledgers.len())
    }

    /// Takes records read from the store into the copy; when anything
    /// changed, rebuilds the safety state and brings the local breakers in
    /// line with the shared records (a latch or a reset made anywhere).
    /// Returns the local breaker transitions that caused.
    pub(crate) fn merge(&self, recs: &SafetyRecords, now: Timestamp) -> Vec<(String, Transition)> {
        let mut view = self.view();
        if !view.merge(recs, now) {
            return Vec::new();
        }
        let rebuilt = TenantSafety::from_records(&self.policy.safety_settings(), view.values());
        drop(view);
        let Ok(rebuilt) = rebuilt else {
            return Vec::new();
        };
        let shared = rebuilt.breakers.clone();
        *self.safety() = rebuilt;
        let mut transitions = Vec::new();
        for (name, record) in shared {
            let local = self.local_breaker(&name);
            let mut map = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
            let Some(entry) = map.get_mut(&name) else {
                continue;
            };
            if record.resets > entry.resets_applied {
                entry.resets_applied = record.resets;
                if let Some(r) = &record.last_reset
                    && let Ok(Some(t)) = local.manual_reset(&r.reason, &r.actor, r.at)
                {
                    transitions.push((name.clone(), t));
                }
            }
            if let Some(p) = &record.permanent
                && local.state() != BreakerState::PermanentOpen
                && let Some(t) = local.latch(p.clone(), now)
            {
                transitions.push((name.clone(), t));
            }
        }
        transitions
    }

    fn local_breaker(&self, name: &str) -> Arc<CircuitBreaker> {
        let mut map = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_owned())
            .or_insert_with(|| LocalBreaker {
                // The policy was validated at build time, so construction
                // succeeds; fall back to the seed defaults rather than panic.
                breaker: Arc::new(
                    CircuitBreaker::new(self.policy.local_breaker_config()).unwrap_or_default(),
                ),
                resets_applied: 0,
            })
            .breaker
            .clone()
    }

    /// This replica's breaker for an executor, created on first use.
    pub(crate) fn breaker(&self, name: &str) -> Arc<CircuitBreaker> {
        self.local_breaker(name)
    }

    /// Whether this replica's breaker for the executor admits a call at
    /// `now`, without taking a probe slot (the shared record's latch is
    /// [`TenantSafety::breaker_admission`]). Asking creates nothing.
    pub(crate) fn local_would_admit(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<(), hale_domain::breaker::Rejection> {
        let local = self
            .breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map(|l| l.breaker.clone());
        match local {
            Some(b) => b.would_admit(now),
            None => Ok(()),
        }
    }

    /// Every breaker as the status page and the API show it: this replica's
    /// breaker with the shared record on top (a latch, the cluster's
    /// failure count and the last reset are the cluster's).
    pub(crate) fn breaker_snapshots(&self) -> BTreeMap<String, BreakerSnapshot> {
        let shared = self.safety().breakers.clone();
        self.breakers()
            .into_iter()
            .map(|(name, local)| {
                let mut snap = local.snapshot();
                if let Some(s) = shared.get(&name) {
                    if let Some(p) = &s.permanent {
                        snap.state = BreakerState::PermanentOpen;
                        snap.permanent = Some(p.clone());
                    }
                    snap.consecutive_failures =
                        snap.consecutive_failures.max(s.consecutive_failures);
                    snap.last_failure_at = snap.last_failure_at.max(s.last_failure_at);
                    snap.last_reset.clone_from(&s.last_reset);
                }
                (name, snap)
            })
            .collect()
    }

    /// Every breaker this replica has or the cluster shares, by name.
    pub(crate) fn breakers(&self) -> BTreeMap<String, Arc<CircuitBreaker>> {
        let shared: Vec<String> = self.safety().breakers.keys().cloned().collect();
        for name in shared {
            self.local_breaker(&name);
        }
        self.breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, l)| (n.clone(), l.breaker.clone()))
            .collect()
    }

    pub(crate) fn touch(&self, now: Timestamp) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    pub(crate) fn last_used(&self) -> Timestamp {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a deferred alert (bounded; the oldest is forgotten first).
    /// Remembers a deferred alert for the detection job, within the caps
    /// (count and bytes, the oldest dropped first).
    pub(crate) fn remember_deferred(
        &self,
        fp: Fingerprint,
        alert: Alert,
        reason: NotActed,
        max_count: usize,
        max_bytes: usize,
    ) {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remember(fp, DeferredAlert { alert, reason }, max_count, max_bytes);
    }

    pub(crate) fn forget_deferred(&self, fp: &Fingerprint) {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget(fp);
    }

    /// Takes every deferred alert, oldest first (the detection job
    /// re-evaluates them; the ones still deferred are remembered again).
    /// The order is the order they were deferred in, never the map's: the
    /// longest-waiting alert goes first, and a replay on simulated time
    /// decides the same way every run.
    pub(crate) fn take_deferred(&self) -> Vec<(Fingerprint, DeferredAlert)> {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub(crate) fn deferred_count(&self) -> usize {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// A per-tenant jitter seed, so tenants do not back off in lockstep.
fn seed_of(tenant: &TenantId) -> u64 {
    tenant
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// Runtimes by tenant.
#[derive(Debug, Default)]
pub(crate) struct TenantRegistry {
    map: Mutex<HashMap<TenantId, Arc<TenantRuntime>>>,
}

impl TenantRegistry {
    pub(crate) fn loaded(&self, tenant: &TenantId) -> Option<Arc<TenantRuntime>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
    }

    /// Every loaded tenant, in tenant id order (periodic jobs walk them in
    /// a stable order, so runs on simulated time are reproducible).
    pub(crate) fn all(&self) -> Vec<Arc<TenantRuntime>> {
        let mut all: Vec<Arc<TenantRuntime>> = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.tenant().cmp(b.tenant()));
        all
    }

    /// The tenant's runtime, loading its safety records on first use.
    pub(crate) async fn get_or_load(
        &self,
        policy: Arc<TenantPolicy>,
        store: &dyn SafetyStore,
        now: Timestamp,
    ) -> Result<Arc<TenantRuntime>, EngineError> {
        if let Some(rt) = self.loaded(&policy.tenant) {
            rt.touch(now);
            return Ok(rt);
        }
        let scope = SafetyScope::Tenant(policy.tenant.clone());
        let records = store.safety_records(&scope, 0).await?;
        let tenant = policy.tenant.clone();
        let fresh = Arc::new(TenantRuntime::new(policy, &records, now)?);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Another task may have loaded it meanwhile; the first one wins.
        Ok(map.entry(tenant).or_insert(fresh).clone())
    }

    /// Replaces the policy of a loaded tenant by dropping its runtime; the
    /// next use reloads its records with the new policy.
    pub(crate) fn unload(&self, tenant: &TenantId) -> Option<Arc<TenantRuntime>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant)
    }

    /// Runtimes idle since before `cutoff` and not in use by a running
    /// operation; removed from the registry (their state is in the store).
    pub(crate) fn evict_idle(&self, cutoff: Timestamp) -> Vec<Arc<TenantRuntime>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let idle: Vec<TenantId> = map
            .iter()
            .filter(|(_, rt)| rt.last_used() < cutoff && Arc::strong_count(rt) == 1)
            .map(|(t, _)| t.clone())
            .collect();
        idle.iter().filter_map(|t| map.remove(t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::alert::Alert;
    use hale_domain::guard::Guard;

    use super::*;

    const BACKOFF: NotActed = NotActed::Blocked(Guard::Backoff);

    #[test]
    fn deferred_alerts_come_back_oldest_first() {
        let policy = Arc::new(TenantPolicy::new(
            TenantId::new("team-a").unwrap(),
            Vec::new(),
        ));
        let rt =
            TenantRuntime::new(policy, &SafetyRecords::default(), Timestamp::UNIX_EPOCH).unwrap();
        let names: Vec<String> = (0..50).map(|i| format!("{:064x}", 1000 - i)).collect();
        for n in &names {
            let alert = Alert::firing([("alertname", n.as_str())]);
            rt.remember_deferred(
                Fingerprint::from_hex(n.clone()),
                alert,
                BACKOFF,
                100,
                1 << 20,
            );
        }
        // Re-remembering keeps the first position; forgetting removes it.
        rt.remember_deferred(
            Fingerprint::from_hex(names[0].clone()),
            Alert::firing([("alertname", "again")]),
            BACKOFF,
            100,
            1 << 20,
        );
        rt.forget_deferred(&Fingerprint::from_hex(names[1].clone()));
        let taken: Vec<String> = rt
            .take_deferred()
            .into_iter()
            .map(|(fp, _)| fp.as_str().to_owned())
            .collect();
        let mut expected = names.clone();
        expected.remove(1);
        assert_eq!(taken, expected);
        assert_eq!(rt.deferred_count(), 0);
        assert!(rt.take_deferred().is_empty());
    }
}
