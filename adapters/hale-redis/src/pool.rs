//! The connection pool: deadpool over Redis multiplexed connections, with a
//! health check only for connections that sat idle.
//!
//! deadpool-redis's own manager checks every connection with an `UNWATCH`
//! and `PING` round trip at each checkout, which doubles the cost of the
//! one-command operations this crate performs (an idempotency claim is a
//! single `SET NX`). [`Manager`] skips that check for a connection checked
//! out within the last [`FRESH_FOR`] and delegates to deadpool-redis
//! otherwise.
//!
//! Skipping is safe for correctness: a connection that broke since its last
//! use fails its command, [`RedisLocks`](crate::RedisLocks) discards it
//! and reports `Unavailable` (the engine fails closed for that one call),
//! and the next checkout opens a new one. The price is that after a Redis
//! restart up to `pool_size` calls may fail once instead of being retried
//! on a fresh connection by the pool.
//!
//! The inner manager is built from the connection info of a
//! [`redis::Client`] made by [`RedisLocks::new`](crate::RedisLocks::new):
//! for a `rediss://` URL with a private CA
//! ([`RedisLocksConfig::ca_file`](crate::RedisLocksConfig)) that info
//! carries the CA, so every pooled connection speaks TLS (rustls) and
//! verifies the server against it.

use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleResult};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

/// A connection used this recently is handed out without a `PING`.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// deadpool's manager for [`Pool`]: deadpool-redis's, with the idle-only
/// health check.
pub struct Manager {
    inner: deadpool_redis::Manager,
    fresh_for: Duration,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection info holds the password: never printed.
        f.debug_struct("Manager")
            .field("fresh_for", &self.fresh_for)
            .finish_non_exhaustive()
    }
}

impl Manager {
    pub(crate) fn new(client: &Client, config: AsyncConnectionConfig) -> Result<Self, RedisError> {
        // The connection info keeps the TLS parameters (CA) the client was
        // built with.
        let inner =
            deadpool_redis::Manager::new_with_config(client.get_connection_info().clone(), config)?;
        Ok(Manager {
            inner,
            fresh_for: FRESH_FOR,
        })
    }
}

impl managed::Manager for Manager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        managed::Manager::create(&self.inner).await
    }

    async fn recycle(
        &self,
        conn: &mut MultiplexedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        if metrics.last_used() < self.fresh_for {
            return Ok(());
        }
        managed::Manager::recycle(&self.inner, conn, metrics).await
    }
}

/// The pool of multiplexed connections.
pub type Pool = managed::Pool<Manager>;

/// A connection checked out of [`Pool`].
pub type Connection = managed::Object<Manager>;
