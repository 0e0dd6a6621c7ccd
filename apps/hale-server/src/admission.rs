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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hale_domain::TenantId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The permits of one admitted delivery; dropping it frees them.
#[derive(Debug)]
pub struct Permit {
    _tenant: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
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
}

impl Admission {
    /// At most `global` deliveries in flight, and `per_tenant` of one
    /// tenant (both at least 1).
    pub fn new(global: usize, per_tenant: usize) -> Admission {
        let global = global.max(1);
        Admission {
            global: Arc::new(Semaphore::new(global)),
            global_limit: global,
            per_tenant: per_tenant.max(1),
            tenants: Mutex::new(HashMap::new()),
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TenantId {
        TenantId::new(id).unwrap()
    }

    #[test]
    fn a_flooding_tenant_is_refused_at_its_own_limit_and_others_still_get_in() {
        let a = Admission::new(4, 2);
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
        let a = Admission::new(3, 2);
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
    }
}
