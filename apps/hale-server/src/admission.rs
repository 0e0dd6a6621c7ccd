//! Admission control at intake: how many deliveries may be in flight, in
//! all and per tenant.
//!
//! Without a bound, one tenant's flood holds every database connection
//! and every other tenant's alerts wait behind it; and a request that
//! outlives its timeout keeps running detached (on purpose: a batch cut
//! off after its idempotency key was claimed would be taken for a
//! duplicate on retry), so timed-out work could pile up. A delivery takes
//! a permit of its tenant and a global one before it is parsed into the
//! engine, and holds both until its work ends, detached or not. When
//! either is exhausted the delivery is refused with 503 and `Retry-After`
//! before anything is recorded; Alertmanager retries it. With the
//! per-tenant cap below the global one, a flooding tenant cannot take the
//! permits another tenant needs.
//!
//! Two more steps keep a flood from slowing the others down, not only from
//! shutting them out:
//! - an admitted delivery waits for a work slot ([`FairShare`]): few run at
//!   once, and a freed slot goes to the tenant running the fewest, so a
//!   quiet tenant's delivery is next rather than behind the flood's queue.
//!   The wait is bounded; a delivery that waited too long is refused like
//!   one over the limit, before anything is recorded.
//! - a refusal is answered after a short hold (at most [`REFUSAL_HOLD`], and
//!   only while fewer than [`MAX_HELD_REFUSALS`] are held): a client that
//!   ignores `Retry-After` and re-sends at once gets one refusal per
//!   connection per hold instead of thousands a second, whose reading and
//!   answering would take the cores everyone else needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_domain::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::fair_share::{FairShare, Slot};

/// The longest a refusal is held before it is answered.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(1);

/// Refusals held at once; beyond them a refusal is answered at once, so
/// holding costs bounded memory whatever the number of connections.
pub const MAX_HELD_REFUSALS: usize = 4096;

/// The permits of one admitted delivery; dropping it frees them.
#[derive(Debug)]
pub struct Permit {
    _tenant: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

/// An admitted delivery at work: its permits and its work slot.
#[derive(Debug)]
pub struct Entry {
    _slot: Slot,
    _permit: Permit,
}

/// Why a delivery was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The tenant has its maximum of deliveries in flight.
    #[error(
        "tenant {tenant} has {limit} deliveries in flight, its limit ([limits] \
         intake_in_flight_per_tenant); nothing was recorded, retry later"
    )]
    Tenant {
        /// The tenant.
        tenant: TenantId,
        /// Its limit.
        limit: usize,
    },
    /// The delivery was admitted but waited longer than its bound for a
    /// work slot.
    #[error(
        "waited {waited_ms} ms for one of the {slots} work slots ([limits] \
         intake_concurrency); nothing was recorded, retry later"
    )]
    Busy {
        /// How long it waited.
        waited_ms: u128,
        /// The slots.
        slots: usize,
    },
    /// The server has its maximum of deliveries in flight.
    #[error(
        "the server has {limit} deliveries in flight, its limit ([limits] intake_in_flight); \
         nothing was recorded, retry later"
    )]
    Global {
        /// The limit.
        limit: usize,
    },
}

/// The in-flight limits and the permits taken.
#[derive(Debug)]
pub struct Admission {
    global: Arc<Semaphore>,
    global_limit: usize,
    per_tenant: usize,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
    work: FairShare,
    held_refusals: Arc<Semaphore>,
}

impl Admission {
    /// At most `global` deliveries in flight, and `per_tenant` of one
    /// tenant; `concurrency` of them at work at once (all at least 1).
    pub fn new(global: usize, per_tenant: usize, concurrency: usize) -> Admission {
        let global = global.max(1);
        Admission {
            global: Arc::new(Semaphore::new(global)),
            global_limit: global,
            per_tenant: per_tenant.max(1),
            tenants: Mutex::new(HashMap::new()),
            work: FairShare::new(concurrency),
            held_refusals: Arc::new(Semaphore::new(MAX_HELD_REFUSALS)),
        }
    }

    /// Admits a delivery of `tenant` and waits, at most `max_wait`, for its
    /// work slot in fair order. A refusal is held for `hold` (at most
    /// [`REFUSAL_HOLD`]; see the module) before it is returned.
    pub async fn enter(
        &self,
        tenant: &TenantId,
        max_wait: Duration,
        hold: Duration,
    ) -> Result<Entry, Refusal> {
        let refusal = match self.admit(tenant) {
            Ok(permit) => {
                let started = tokio::time::Instant::now();
                match tokio::time::timeout(max_wait, self.work.acquire(tenant)).await {
                    Ok(slot) => {
                        return Ok(Entry {
                            _slot: slot,
                            _permit: permit,
                        });
                    }
                    Err(_) => Refusal::Busy {
                        waited_ms: started.elapsed().as_millis(),
                        slots: self.work.slots(),
                    },
                }
            }
            Err(refusal) => refusal,
        };
        if let Ok(_held) = self.held_refusals.try_acquire() {
            tokio::time::sleep(hold.min(REFUSAL_HOLD)).await;
        }
        Err(refusal)
    }

    /// Admits a delivery of `tenant`, or says which limit refused it.
    /// Never waits: a full server answers at once.
    pub fn admit(&self, tenant: &TenantId) -> Result<Permit, Refusal> {
        let own = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            tenants
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        let tenant_permit = own.try_acquire_owned().map_err(|_| Refusal::Tenant {
            tenant: tenant.clone(),
            limit: self.per_tenant,
        })?;
        let global_permit =
            self.global
                .clone()
                .try_acquire_owned()
                .map_err(|_| Refusal::Global {
                    limit: self.global_limit,
                })?;
        Ok(Permit {
            _tenant: tenant_permit,
            _global: global_permit,
        })
    }

    /// Deliveries in flight now, in all.
    pub fn in_flight(&self) -> usize {
        self.global_limit - self.global.available_permits()
    }

    /// Admitted deliveries waiting for a work slot now.
    pub fn waiting(&self) -> usize {
        self.work.waiting()
    }

    /// Admitted deliveries of `tenant` waiting for a work slot now.
    pub fn waiting_for(&self, tenant: &TenantId) -> usize {
        self.work.waiting_for(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    #[test]
    fn a_flooding_tenant_is_refused_at_its_own_limit_and_others_still_get_in() {
        let a = Admission::new(4, 2, 4);
        let held: Vec<Permit> = (0..2).map(|_| a.admit(&t("a")).unwrap()).collect();
        assert_eq!(
            a.admit(&t("a")).unwrap_err(),
            Refusal::Tenant {
                tenant: t("a"),
                limit: 2
            }
        );
        let b = a.admit(&t("b")).unwrap();
        assert_eq!(a.in_flight(), 3);
        drop(held);
        assert_eq!(a.in_flight(), 1);
        a.admit(&t("a")).unwrap();
        drop(b);
    }

    #[test]
    fn the_global_limit_holds_across_tenants_and_a_refusal_takes_nothing() {
        let a = Admission::new(3, 2, 3);
        let _p: Vec<Permit> = ["a", "b", "c"]
            .iter()
            .map(|id| a.admit(&t(id)).unwrap())
            .collect();
        assert_eq!(a.admit(&t("d")).unwrap_err(), Refusal::Global { limit: 3 });
        // The refused delivery gave its tenant permit back.
        assert_eq!(a.admit(&t("d")).unwrap_err(), Refusal::Global { limit: 3 });
        assert_eq!(a.in_flight(), 3);
    }

    #[test]
    fn refusals_name_the_limit_to_raise() {
        let e = Refusal::Tenant {
            tenant: t("a"),
            limit: 16,
        };
        assert!(e.to_string().contains("intake_in_flight_per_tenant"));
        assert!(e.to_string().contains("nothing was recorded"));
        let e = Refusal::Global { limit: 64 };
        assert!(e.to_string().contains("[limits] intake_in_flight)"));
        let e = Refusal::Busy {
            waited_ms: 5000,
            slots: 4,
        };
        assert!(e.to_string().contains("intake_concurrency"));
        assert!(e.to_string().contains("nothing was recorded"));
    }

    /// An admitted delivery that cannot get a work slot in time is refused
    /// (after the hold) and gives its permits back; one that can, holds
    /// permit and slot until it is dropped.
    #[tokio::test(start_paused = true)]
    async fn a_delivery_waits_its_turn_for_a_bounded_time_and_refusals_are_held() {
        let a = Admission::new(8, 4, 1);
        let wait = Duration::from_secs(5);
        let first = a.enter(&t("a"), wait, REFUSAL_HOLD).await.unwrap();
        assert_eq!(a.in_flight(), 1);
        let t0 = tokio::time::Instant::now();
        let busy = a.enter(&t("b"), wait, REFUSAL_HOLD).await.unwrap_err();
        assert!(matches!(busy, Refusal::Busy { slots: 1, .. }), "{busy:?}");
        assert_eq!(t0.elapsed(), wait + REFUSAL_HOLD);
        assert_eq!(
            a.in_flight(),
            1,
            "the refused delivery gave its permit back"
        );
        assert_eq!(a.waiting(), 0);
        drop(first);
        let _second = a.enter(&t("b"), wait, REFUSAL_HOLD).await.unwrap();
        // Over the tenant limit: refused after the hold, not at once.
        let a = Admission::new(8, 1, 8);
        let _held = a.enter(&t("a"), wait, REFUSAL_HOLD).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let over = a.enter(&t("a"), wait, REFUSAL_HOLD).await.unwrap_err();
        assert!(matches!(over, Refusal::Tenant { .. }), "{over:?}");
        assert_eq!(t0.elapsed(), REFUSAL_HOLD);
    }
}
