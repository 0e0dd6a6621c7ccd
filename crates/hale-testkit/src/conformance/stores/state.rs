//! Runtime state snapshot and readiness checks.

use std::sync::Arc;

use hale_engine::ports::{HealingCounters, StoreAdapter};

use super::support::{at, at_micros, ok, same};
use crate::fixtures::{self, unique_tenant};

/// Tenant snapshots round trip, a save replaces, and tenants are separate.
pub async fn tenant_state_round_trip<S: StoreAdapter>(store: Arc<S>) {
    let (ta, tb) = (unique_tenant(), unique_tenant());
    same(
        &ok(store.load_tenant_state(&ta).await, "load_tenant_state"),
        &None,
        "a tenant that never saved state loads None",
    );
    let first = fixtures::tenant_state(at_micros(17));
    ok(
        store.save_tenant_state(&ta, &first).await,
        "save_tenant_state",
    );
    same(
        &ok(store.load_tenant_state(&ta).await, "load_tenant_state"),
        &Some(first.clone()),
        "a tenant snapshot reads back equal (breakers, dormancy, backoff, ledgers, switches, counters, microseconds)",
    );
    let mut second = first.clone();
    second.breakers.clear();
    second.safety.next_healing_at = None;
    second.safety.counters = HealingCounters {
        total_attempts: 6,
        successful_healings: 4,
        failed_healings: 2,
    };
    second.saved_at = at(60);
    ok(
        store.save_tenant_state(&ta, &second).await,
        "save_tenant_state",
    );
    same(
        &ok(store.load_tenant_state(&ta).await, "load_tenant_state"),
        &Some(second.clone()),
        "save_tenant_state replaces the previous snapshot",
    );
    same(
        &ok(store.load_tenant_state(&tb).await, "load_tenant_state"),
        &None,
        "tenant B never loads tenant A's state",
    );
    let theirs = fixtures::tenant_state(at(5));
    ok(
        store.save_tenant_state(&tb, &theirs).await,
        "save_tenant_state",
    );
    same(
        &ok(store.load_tenant_state(&ta).await, "load_tenant_state"),
        &Some(second),
        "tenant B's save leaves tenant A's state unchanged",
    );
}

/// The platform snapshot round trips and a save replaces it.
///
/// This check writes the one platform row: do not run another writer of
/// platform state against the same store at the same time.
pub async fn platform_state_round_trip<S: StoreAdapter>(store: Arc<S>) {
    let first = fixtures::platform_state(at_micros(23));
    ok(
        store.save_platform_state(&first).await,
        "save_platform_state",
    );
    same(
        &ok(store.load_platform_state().await, "load_platform_state"),
        &Some(first.clone()),
        "the platform snapshot reads back equal",
    );
    let mut second = first;
    second.switches.features.clear();
    second.saved_at = at(90);
    ok(
        store.save_platform_state(&second).await,
        "save_platform_state",
    );
    same(
        &ok(store.load_platform_state().await, "load_platform_state"),
        &Some(second),
        "save_platform_state replaces the previous snapshot",
    );
}

/// A reachable store answers `ping` with `Ok`.
pub async fn ping_answers<S: StoreAdapter>(store: Arc<S>) {
    ok(
        store.ping().await,
        "ping answers Ok while the backend takes queries",
    );
}
