//! Fenced resource locks with priority classes, and delivery idempotency
//! keys (seed 000, ADR-043).
//!
//! The decision path and the failure watcher must never act on the same
//! resource at once. Every holder gets a [`FencingToken`] that strictly
//! increases per resource across holders and restarts, so a holder that lost
//! its lock (expiry, pause) cannot be confused with the current one.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use serde::{Deserialize, Serialize};

/// A fencing token: strictly increasing per (tenant, resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub u64);

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A request for a resource lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// Owning tenant (part of the key: tenants never contend).
    pub tenant: TenantId,
    /// The resource.
    pub resource: ResourceRef,
    /// The requester's priority class.
    pub priority: LockPriority,
    /// Who holds it (an operation or approval id); informational.
    pub holder: String,
    /// How long the lock lives unless extended.
    pub ttl: Duration,
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Owning tenant.
    pub tenant: TenantId,
    /// The resource.
    pub resource: ResourceRef,
    /// The holder's priority.
    pub priority: LockPriority,
    /// The holder.
    pub holder: String,
    /// The fencing token of this holding.
    pub token: FencingToken,
}

/// Who holds a lock, as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holder's priority.
    pub priority: LockPriority,
    /// The holder.
    pub holder: String,
    /// Its fencing token.
    pub token: FencingToken,
    /// Whether a decision-path request asked it to yield.
    pub preemption_requested: bool,
}

/// The result of an acquire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The lock is ours.
    Acquired(Lease),
    /// Someone else holds it. When a `Decision` request meets an `Automatic`
    /// holder, the holder's `preemption_requested` is now set.
    Held(LockHolder),
}

/// Lock errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The backend could not be reached or did not answer within its
    /// timeout. The engine treats this as "automation stands still": it skips
    /// automatic repair and records the deferral (fail closed).
    #[error("lock backend unavailable: {0}")]
    Unavailable(String),
    /// The lease is no longer the current holding (expired, released, or a
    /// newer token exists). The holder must stop acting on the resource.
    #[error("lock not held (expired, released, or superseded)")]
    NotHeld,
    /// The request itself is malformed (zero TTL, ...).
    #[error("invalid lock request: {0}")]
    Invalid(String),
}

/// Distributed resource locks.
///
/// Contract, checked by `hale_testkit::conformance::locks`:
/// * `acquire` on a free resource returns `Acquired` with a token strictly
///   greater than every token previously issued for that (tenant,
///   resource), including across restarts of the backend client;
/// * at most one lease per (tenant, resource) is current at any time;
/// * a `Decision` request never takes a lock held at `Automatic` priority:
///   it returns `Held` and records a pre-emption request that the holder sees
///   through `preemption_requested`; an `Automatic` request never takes any
///   held lock;
/// * `extend`, `release` and `preemption_requested` succeed only for the
///   current token and return `NotHeld` otherwise; `release` of a lease that
///   already expired returns `NotHeld` and changes nothing;
/// * a lock whose TTL elapsed is free;
/// * every backend failure or timeout (bounded; adapters default to at most
///   250 ms per command) MUST surface as `Unavailable`, never as a hang.
#[async_trait]
pub trait ResourceLocks: Send + Sync {
    /// Tries to take the lock; never waits for it.
    async fn acquire(&self, req: &LockRequest) -> Result<Acquire, LockError>;

    /// Extends a held lock's TTL.
    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<(), LockError>;

    /// Releases a held lock.
    async fn release(&self, lease: &Lease) -> Result<(), LockError>;

    /// Who holds the resource, if anyone.
    async fn inspect(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<LockHolder>, LockError>;

    /// Whether the decision path asked this holder to yield (the automatic
    /// run's checkpoint between actions).
    async fn preemption_requested(&self, lease: &Lease) -> Result<bool, LockError>;

    /// Checks the backend answers (readiness).
    async fn ping(&self) -> Result<(), LockError>;
}

/// Idempotency keys for alert deliveries, so a second replica receiving the
/// same delivery does nothing.
///
/// Contract: `claim` returns `Ok(true)` exactly once per (tenant, key) within
/// `ttl`, `Ok(false)` for every later claim in that time, and `Unavailable`
/// on any backend failure (the engine then proceeds: exactly-once healing is
/// still guaranteed by the fingerprint store's episode claim). `release`
/// deletes a claim so that a delivery whose processing failed is not
/// mistaken for a duplicate when the sender retries it; releasing an absent
/// key is `Ok`.
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    /// Claims a key for `ttl`.
    async fn claim(&self, tenant: &TenantId, key: &str, ttl: Duration) -> Result<bool, LockError>;

    /// Releases a claim (processing failed; let a retry through).
    async fn release_claim(&self, tenant: &TenantId, key: &str) -> Result<(), LockError>;

    /// Claims every key of one delivery for `ttl`, in one round trip where
    /// the backend can: one answer per key, in order, each what [`claim`]
    /// would answer (so a key repeated in `keys` is `true` at most once).
    /// `Unavailable` covers the whole batch: a backend that fails part-way
    /// may have claimed some keys, which the engine then treats as not
    /// claimed (it proceeds, as for a failed single claim). The default
    /// claims one key after another.
    ///
    /// [`claim`]: IdempotencyKeys::claim
    async fn claim_all(
        &self,
        tenant: &TenantId,
        keys: &[String],
        ttl: Duration,
    ) -> Result<Vec<bool>, LockError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.claim(tenant, key, ttl).await?);
        }
        Ok(out)
    }
}
