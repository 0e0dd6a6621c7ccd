//! The tenant registry (seed 001): per-tenant runtime state created on first
//! use and evicted after an idle period. State that must survive eviction or
//! a restart (breakers, dormancy, backoff, ledgers, switches, counters) is
//! persisted through [`crate::ports::TenantStateStore`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use hale_domain::alert::Alert;
use hale_domain::backoff::Backoff;
use hale_domain::breaker::CircuitBreaker;
use hale_domain::budget::AttemptLedger;
use hale_domain::convergence::Fingerprint;
use hale_domain::dormancy::Dormancy;
use hale_domain::kill_switch::TenantSwitches;
use hale_domain::{ResourceRef, StrategyId, TenantId, Timestamp};

use crate::config::TenantPolicy;
use crate::error::EngineError;
use crate::ports::{HealingCounters, StoreError, TenantStateSnapshot, TenantStateStore};

/// Mutable per-tenant state, guarded by one short-lived mutex (never held
/// across an await).
#[derive(Debug)]
pub(crate) struct TenantState {
    pub dormancy: Dormancy,
    pub backoff: Backoff,
    pub next_healing_at: Option<Timestamp>,
    pub ledgers: BTreeMap<String, AttemptLedger>,
    pub switches: TenantSwitches,
    pub counters: HealingCounters,
    pub last_failure_at: Option<Timestamp>,
}

/// An alert whose healing was deferred or blocked for a reason that may
/// pass; the detection job re-evaluates it.
#[derive(Debug, Clone)]
pub(crate) struct DeferredAlert {
    pub alert: Alert,
    pub reason: String,
}

/// One tenant's runtime.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub policy: Arc<TenantPolicy>,
    state: Mutex<TenantState>,
    breakers: Mutex<BTreeMap<String, Arc<CircuitBreaker>>>,
    breaker_snapshots: Mutex<BTreeMap<String, hale_domain::breaker::BreakerSnapshot>>,
    deferred: Mutex<(HashMap<Fingerprint, DeferredAlert>, VecDeque<Fingerprint>)>,
    last_used: Mutex<Timestamp>,
}

pub(crate) fn ledger_key(strategy: &StrategyId, resource: &ResourceRef) -> String {
    format!("{strategy}|{}", resource.key())
}

impl TenantRuntime {
    fn new(
        policy: Arc<TenantPolicy>,
        snap: Option<TenantStateSnapshot>,
        now: Timestamp,
    ) -> Result<Self, EngineError> {
        let fresh_backoff = || {
            Backoff::new(policy.backoff.clone(), seed_of(&policy.tenant))
                .map_err(|e| EngineError::Invalid(e.to_string()))
        };
        let (state, breakers) = match snap {
            Some(s) => {
                // The configured policy wins over the persisted one; the
                // failure count carries over.
                let mut backoff = fresh_backoff()?;
                for _ in 0..s.backoff.failures() {
                    backoff.on_failure();
                }
                let mut dormancy = s.dormancy;
                dormancy.set_max_consecutive_failures(policy.dormancy_threshold);
                let mut switches = policy.switches.clone();
                switches.tenant = s.switches.tenant.or(switches.tenant);
                switches.strategies.extend(s.switches.strategies);
                switches.action_kinds.extend(s.switches.action_kinds);
                (
                    TenantState {
                        dormancy,
                        backoff,
                        next_healing_at: s.next_healing_at,
                        ledgers: s.ledgers,
                        switches,
                        counters: s.counters,
                        last_failure_at: None,
                    },
                    s.breakers,
                )
            }
            None => (
                TenantState {
                    dormancy: Dormancy::new(policy.dormancy_threshold),
                    backoff: fresh_backoff()?,
                    next_healing_at: None,
                    ledgers: BTreeMap::new(),
                    switches: policy.switches.clone(),
                    counters: HealingCounters::default(),
                    last_failure_at: None,
                },
                BTreeMap::new(),
            ),
        };
        Ok(TenantRuntime {
            policy,
            state: Mutex::new(state),
            breakers: Mutex::new(BTreeMap::new()),
            breaker_snapshots: Mutex::new(breakers),
            deferred: Mutex::new((HashMap::new(), VecDeque::new())),
            last_used: Mutex::new(now),
        })
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        &self.policy.tenant
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, TenantState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
        reason: &str,
        max: usize,
    ) {
        let mut guard = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map
            .insert(
                fp.clone(),
                DeferredAlert {
                    alert,
                    reason: reason.to_owned(),
                },
            )
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
        let s = self.state();
        TenantStateSnapshot {
            breakers,
            dormancy: s.dormancy.clone(),
            backoff: s.backoff.clone(),
            next_healing_at: s.next_healing_at,
            ledgers: s.ledgers.clone(),
            switches: s.switches.clone(),
            counters: s.counters,
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

    use super::*;

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
            rt.remember_deferred(Fingerprint::from_hex(n.clone()), alert, "backoff", 100);
        }
        // Re-remembering keeps the first position; forgetting removes it.
        rt.remember_deferred(
            Fingerprint::from_hex(names[0].clone()),
            Alert::firing([("alertname", "again")]),
            "backoff",
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
