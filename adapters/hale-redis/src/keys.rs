//! The Redis key layout. Every key Hale writes carries the tenant prefix
//! (seed 001), so tenants never share state and one tenant's keys can be
//! listed or removed with a single `SCAN MATCH hale:{tenant}:*`.
//!
//! | key | type | lifetime |
//! | --- | --- | --- |
//! | `hale:{tenant}:lock:{namespace}:{kind}/{name}` | hash: `token`, `priority`, `holder`, `preempt` | the lock's TTL |
//! | `hale:{tenant}:fence:{namespace}:{kind}/{name}` | integer: last fencing token | never expires |
//! | `hale:{tenant}:idem:{key}` | string `1` | the claim's TTL |

use hale_domain::{ResourceRef, TenantId};

/// The fixed prefix of every key.
pub const PREFIX: &str = "hale";

/// The lock hash of a resource.
pub fn lock_key(tenant: &TenantId, resource: &ResourceRef) -> String {
    format!("{PREFIX}:{tenant}:lock:{}", resource.key())
}

/// The fencing counter of a resource. It outlives every lock on the
/// resource, so tokens keep increasing across holders and Hale restarts.
pub fn fence_key(tenant: &TenantId, resource: &ResourceRef) -> String {
    format!("{PREFIX}:{tenant}:fence:{}", resource.key())
}

/// An idempotency key of a tenant.
pub fn idempotency_key(tenant: &TenantId, key: &str) -> String {
    format!("{PREFIX}:{tenant}:idem:{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_starts_with_the_tenant_prefix() {
        let t = TenantId::new("acme").unwrap();
        let r = ResourceRef::parse("prod:Deployment/api").unwrap();
        assert_eq!(lock_key(&t, &r), "hale:acme:lock:prod:deployment/api");
        assert_eq!(fence_key(&t, &r), "hale:acme:fence:prod:deployment/api");
        assert_eq!(idempotency_key(&t, "ab12"), "hale:acme:idem:ab12");
    }
}
