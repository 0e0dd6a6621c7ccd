//! The tenant registry (seed 001): per-tenant runtime state created on first
//! use and evicted after an idle period. State that must survive eviction or
//! a restart (breakers, dormancy, backoff, ledgers, switches, counters) is
//! persisted through [`crate::ports::TenantStateStore`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use hale_domain::alert::Alert;
use hale_domain::breaker::CircuitBreaker;
use hale_domain::convergence::Fingerprint;
use hale_domain::reason::NotActed;
use hale_domain::safety::{SafetySettings, TenantSafety};
use hale_domain::{TenantId, Timestamp};

use crate::config::TenantPolicy;
use crate::error::EngineError;
use crate::ports::{StoreError, TenantStateSnapshot, TenantStateStore};

/// An alert whose healing was deferred or blocked for a reason that may
/// pass; the detection job re-evaluates it.
#[derive(Debug, Clone)]
pub(crate) struct DeferredAlert {
    pub alert: Alert,
    pub reason: NotActed,
}

/// One tenant's runtime.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub policy: Arc<TenantPolicy>,
    safety: Mutex<TenantSafety>,
    breakers: Mutex<BTreeMap<String, Arc<CircuitBreaker>>>,
    breaker_snapshots: Mutex<BTreeMap<String, hale_domain::breaker::BreakerSnapshot>>,
    deferred: Mutex<(HashMap<Fingerprint, DeferredAlert>, VecDeque<Fingerprint>)>,
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
        }
    }
}

impl TenantRuntime {
    fn new(
        policy: Arc<TenantPolicy>,
        snap: Option<TenantStateSnapshot>,
        now: Timestamp,
    ) -> Result<Self, EngineError> {
        let settings = policy.safety_settings();
        let (safety, breakers) = match snap {
            Some(s) => (TenantSafety::restore(&settings, s.safety), s.breakers),
            None => (TenantSafety::new(&settings), BTreeMap::new()),
        };
        let safety = safety.map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(TenantRuntime {
            policy,
            safety: Mutex::new(safety),
            breakers: Mutex::new(BTreeMap::new()),
            breaker_snapshots: Mutex::new(breakers),
            deferred: Mutex::new((HashMap::new(), VecDeque::new())),
            last_used: Mutex::new(now),
        })
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.policy.tenant
    }

    /// The tenant's safety state, behind a short-lived lock (never held
    /// across an await).
    pub(crate) fn safety(&self) -> MutexGuard<'_, TenantSafety> {
        self.safety.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The breaker for an executor, created (or restored) on first use.
    pub(crate) fn breaker(&self, name: &str) -> Arc<CircuitBreaker> {
        let mut map = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(name) {
            return b.clone();
        }
        let restored = self
            .breaker_snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        let cfg = self.policy.breaker.clone();
        // The policy was validated at build time, so construction succeeds;
        // fall back to the seed defaults rather than panic if it did not.
        let breaker = Arc::new(
            match restored {
                Some(snap) => CircuitBreaker::restore(cfg, snap),
                None => CircuitBreaker::new(cfg),
            }
            .unwrap_or_default(),
        );
        map.insert(name.to_owned(), breaker.clone());
        breaker
    }

    /// Whether the executor's breaker would admit a call at `now`, without
    /// taking a probe slot. A breaker that was never created admits (it
    /// would start closed); asking does not create it.
    pub(crate) fn would_admit(
        &self,
        name: &str,
        now: Timestamp,
    ) -> Result<(), hale_domain::breaker::Rejection> {
        let exists = self
            .breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name)
            || self
                .breaker_snapshots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(name);
        if exists {
            self.breaker(name).would_admit(now)
        } else {
            Ok(())
        }
    }

    /// Every breaker that exists (created or persisted), by name.
    pub(crate) fn breakers(&self) -> BTreeMap<String, Arc<CircuitBreaker>> {
        let names: Vec<String> = self
            .breaker_snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for n in names {
            self.breaker(&n);
        }
        self.breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn touch(&self, now: Timestamp) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = now;
    }

    pub(crate) fn last_used(&self) -> Timestamp {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a deferred alert (bounded; the oldest is forgotten first).
    pub(crate) fn remember_deferred(
        &self,
        fp: Fingerprint,
        alert: Alert,
        reason: NotActed,
        max: usize,
    ) {
        let mut guard = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map
            .insert(fp.clone(), DeferredAlert { alert, reason })
            .is_none()
        {
            order.push_back(fp);
        }
        while map.len() > max.max(1) {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(crate) fn forget_deferred(&self, fp: &Fingerprint) {
        let mut guard = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map.remove(fp).is_some() {
            order.retain(|f| f != fp);
        }
    }

    /// Takes every deferred alert, oldest first (the detection job
    /// re-evaluates them; the ones still deferred are remembered again).
    /// The order is the order they were deferred in, never the map's: the
    /// longest-waiting alert goes first, and a replay on simulated time
    /// decides the same way every run.
    pub(crate) fn take_deferred(&self) -> Vec<(Fingerprint, DeferredAlert)> {
        let mut guard = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        let out = order
            .drain(..)
            .filter_map(|fp| map.remove(&fp).map(|d| (fp, d)))
            .collect();
        map.clear();
        out
    }

    pub(crate) fn deferred_count(&self) -> usize {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .len()
    }

    pub(crate) fn snapshot(&self, now: Timestamp) -> TenantStateSnapshot {
        let mut breakers: BTreeMap<String, _> = self
            .breaker_snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (name, b) in self
            .breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            breakers.insert(name.clone(), b.snapshot());
        }
        TenantStateSnapshot {
            breakers,
            safety: self.safety().snapshot(),
            saved_at: now,
        }
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

    /// The tenant's runtime, loading persisted state on first use.
    pub(crate) async fn get_or_load(
        &self,
        policy: Arc<TenantPolicy>,
        store: &dyn TenantStateStore,
        now: Timestamp,
    ) -> Result<Arc<TenantRuntime>, EngineError> {
        if let Some(rt) = self.loaded(&policy.tenant) {
            rt.touch(now);
            return Ok(rt);
        }
        let snap = store
            .load_tenant_state(&policy.tenant)
            .await
            .map_err(EngineError::from)?;
        let tenant = policy.tenant.clone();
        let fresh = Arc::new(TenantRuntime::new(policy, snap, now)?);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Another task may have loaded it meanwhile; the first one wins.
        Ok(map.entry(tenant).or_insert(fresh).clone())
    }

    /// Replaces the policy of a loaded tenant by dropping its runtime (after
    /// the caller persisted it); the next use reloads with the new policy.
    pub(crate) fn unload(&self, tenant: &TenantId) -> Option<Arc<TenantRuntime>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant)
    }

    /// Runtimes idle since before `cutoff` and not in use by a running
    /// operation; removed from the registry and returned for persisting.
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

/// Persists a runtime's state.
pub(crate) async fn persist(
    rt: &TenantRuntime,
    store: &dyn TenantStateStore,
    now: Timestamp,
) -> Result<(), StoreError> {
    store
        .save_tenant_state(rt.tenant(), &rt.snapshot(now))
        .await
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
        let rt = TenantRuntime::new(policy, None, Timestamp::UNIX_EPOCH).unwrap();
        let names: Vec<String> = (0..50).map(|i| format!("{:064x}", 1000 - i)).collect();
        for n in &names {
            let alert = Alert::firing([("alertname", n.as_str())]);
            rt.remember_deferred(Fingerprint::from_hex(n.clone()), alert, BACKOFF, 100);
        }
        // Re-remembering keeps the first position; forgetting removes it.
        rt.remember_deferred(
            Fingerprint::from_hex(names[0].clone()),
            Alert::firing([("alertname", "again")]),
            BACKOFF,
            100,
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
