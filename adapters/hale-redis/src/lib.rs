//! # hale-redis
//!
//! Distributed fenced resource locks and delivery idempotency keys for Hale
//! replicas, on Redis through a `deadpool` connection pool (plain TCP, or
//! TLS with rustls for `rediss://` URLs, optionally against a private CA).
//!
//! [`RedisLocks`] implements the engine's `ResourceLocks` and
//! `IdempotencyKeys` ports and passes the same conformance suite as the
//! embedded `LocalLocks`
//! (`hale_testkit::conformance::locks`):
//!
//! * one lock per (tenant, namespace, kind, name): a hash at
//!   `hale:{tenant}:lock:{namespace}:{kind}/{name}` with the TTL of the lock;
//! * fencing tokens from a per-resource counter that never expires
//!   (`hale:{tenant}:fence:...`), so they strictly increase across holders
//!   and restarts of Hale; a counter lost with Redis's data is re-seeded
//!   from the server clock in microseconds so tokens still increase;
//! * acquire, extend and release are Lua scripts that compare on the token,
//!   so only the current holder can extend or release;
//! * priority classes: a decision-path request on a lock held by an
//!   automatic run is answered `Held` and sets the holding's `preempt` flag,
//!   which the run reads at its next checkpoint;
//! * idempotency keys are `SET hale:{tenant}:idem:{key} 1 NX PX ttl`;
//! * fail closed: every error and every timeout (250 ms per command and 250
//!   ms for a connection by default) is `LockError::Unavailable`, never a
//!   hang; construction never needs the server.
//!
//! The two keys of a lock are touched by one script, so they must live on
//! one server: use a standalone Redis or a Sentinel-managed primary, not
//! Redis Cluster.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_domain::coordination::LockPriority;
//! use hale_domain::{ResourceRef, TenantId};
//! use hale_engine::ports::{Acquire, LockRequest, ResourceLocks};
//! use hale_redis::{RedisLocks, RedisLocksConfig};
//!
//! let locks = RedisLocks::new(RedisLocksConfig::new("redis://127.0.0.1:6379"))?;
//! let req = LockRequest {
//!     tenant: TenantId::new("acme")?,
//!     resource: ResourceRef::parse("prod:deployment/api")?,
//!     priority: LockPriority::Automatic,
//!     holder: "op-42".into(),
//!     ttl: Duration::from_secs(60),
//! };
//! if let Acquire::Acquired(lease) = locks.acquire(&req).await? {
//!     // ... act, checking `locks.preemption_requested(&lease)` between steps ...
//!     locks.release(&lease).await?;
//! }
//! # Ok(())
//! # }
//! ```

mod config;
pub mod keys;
mod locks;
pub mod pool;
mod scripts;

pub use config::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, RedisConfigError,
    RedisLocksConfig,
};
pub use locks::RedisLocks;
