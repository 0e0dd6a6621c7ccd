//! `ResourceLocks` and `IdempotencyKeys` on Redis.

use std::time::Duration;

use async_trait::async_trait;
use deadpool::Runtime;
use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{
    Acquire, FencingToken, IdempotencyKeys, Lease, LockError, LockHolder, LockRequest,
    ResourceLocks,
};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult, Script, Value};
use tokio::time::timeout;

use crate::config::{RedisConfigError, RedisLocksConfig};
use crate::pool::{Connection, Manager, Pool};
use crate::{keys, scripts};

/// The longest TTL accepted, in milliseconds (about 285 years). Redis
/// rejects expiries that overflow its clock; refusing far earlier turns a
/// nonsensical TTL into `Invalid` instead of a server error.
const MAX_TTL_MS: u64 = 1 << 53;

/// Fenced resource locks and idempotency keys in Redis, shared by every Hale
/// replica that points at the same server.
///
/// Construction never talks to Redis: a Hale that starts while Redis is down
/// starts, reports `Unavailable` from every call (automation stands still),
/// and recovers by itself once Redis answers again. [`ping`] is the
/// readiness check.
///
/// Every operation checks a connection out of the pool within
/// `connect_timeout` and runs one command or script within
/// `command_timeout`; anything else (an error, a timeout, a reply of the
/// wrong shape) is `LockError::Unavailable`. A connection that failed or
/// timed out is discarded rather than returned to the pool, so a reply that
/// arrives late can never be read by the next caller.
///
/// An operation that timed out may still have run on the server (a frozen
/// Redis resumes and executes what it had buffered). That is safe: the
/// caller saw `Unavailable` and did not act, and a lock taken that way simply
/// expires with its TTL.
///
/// [`ping`]: ResourceLocks::ping
pub struct RedisLocks {
    pool: Pool,
    config: RedisLocksConfig,
    acquire: Script,
    extend: Script,
    release: Script,
}

impl std::fmt::Debug for RedisLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLocks")
            .field("config", &self.config)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// The driver's client for the URL: TLS (rustls) for `rediss://`, verified
/// against `ca_file` when it is set, else against the system's roots.
fn client(config: &RedisLocksConfig) -> Result<redis::Client, RedisConfigError> {
    let url_error = |e: redis::RedisError| RedisConfigError::Url {
        url: config.redacted_url(),
        reason: e.to_string(),
    };
    let Some(path) = &config.ca_file else {
        return redis::Client::open(config.url.as_str()).map_err(url_error);
    };
    if !config.url.starts_with("rediss://") {
        return Err(RedisConfigError::Tls(format!(
            "ca_file {} is set but {} is not a rediss:// URL; use rediss:// to connect over TLS",
            path.display(),
            config.redacted_url()
        )));
    }
    let pem = std::fs::read(path).map_err(|e| {
        RedisConfigError::Tls(format!("cannot read ca_file {}: {e}", path.display()))
    })?;
    redis::Client::build_with_tls(
        config.url.as_str(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        },
    )
    .map_err(|e| RedisConfigError::Tls(format!("ca_file {}: {e}", path.display())))
}

impl RedisLocks {
    /// Builds the client and its pool. Does not connect: Redis may be down.
    pub fn new(config: RedisLocksConfig) -> Result<Self, RedisConfigError> {
        config.validate()?;
        // The driver's own timeouts back up the ones this type applies, so a
        // connection never waits on a dead server longer than we would.
        let conn_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout));
        let manager = Manager::new(&client(&config)?, conn_config)
            .map_err(|e| RedisConfigError::Pool(e.to_string()))?;
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.command_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| RedisConfigError::Pool(e.to_string()))?;
        Ok(RedisLocks {
            pool,
            config,
            acquire: Script::new(scripts::ACQUIRE),
            extend: Script::new(scripts::EXTEND),
            release: Script::new(scripts::RELEASE),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RedisLocksConfig {
        &self.config
    }

    /// The connection pool, for benchmarks that compare raw commands on the
    /// very same connections, and for diagnostics.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Checks a connection out of the pool within `connect_timeout`.
    ///
    /// The pool's own wait/create/recycle timeouts bound each step, but a
    /// checkout may health-check several stale connections in a row (one
    /// recycle timeout each) after a freeze, so the whole checkout is bounded
    /// here too.
    async fn connection(&self, op: &'static str) -> Result<Connection, LockError> {
        match timeout(self.config.connect_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(unavailable(op, format!("no connection: {e}"))),
            Err(_) => Err(unavailable(
                op,
                format!("no connection within {:?}", self.config.connect_timeout),
            )),
        }
    }

    /// Runs one command on a pooled connection within `command_timeout`.
    async fn run<T, F>(&self, op: &'static str, command: F) -> Result<T, LockError>
    where
        F: AsyncFnOnce(&mut MultiplexedConnection) -> RedisResult<T>,
    {
        let mut conn = self.connection(op).await?;
        let outcome = timeout(self.config.command_timeout, command(&mut *conn)).await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                discard(conn);
                Err(unavailable(op, e.to_string()))
            }
            Err(_) => {
                discard(conn);
                Err(unavailable(
                    op,
                    format!("no reply within {:?}", self.config.command_timeout),
                ))
            }
        }
    }
}

/// Takes a connection out of the pool for good: after an error or a timeout
/// its state (a pending reply, a dead socket) is unknown.
fn discard(conn: Connection) {
    drop(Connection::take(conn));
}

fn unavailable(op: &'static str, why: String) -> LockError {
    tracing::warn!(op, error = %why, "redis lock backend unavailable");
    LockError::Unavailable(format!("redis {op}: {why}"))
}

/// A TTL in whole milliseconds, rounded up so a sub-millisecond TTL does not
/// become "no expiry" or zero.
fn ttl_ms(ttl: Duration) -> Result<u64, LockError> {
    if ttl.is_zero() {
        return Err(LockError::Invalid("ttl must be greater than zero".into()));
    }
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms <= MAX_TTL_MS)
        .ok_or_else(|| LockError::Invalid(format!("ttl {ttl:?} is too large")))
}

fn parse_priority(op: &'static str, s: &str) -> Result<LockPriority, LockError> {
    match s {
        "automatic" => Ok(LockPriority::Automatic),
        "decision" => Ok(LockPriority::Decision),
        // Someone else wrote this key. Refusing to guess keeps automation
        // standing still rather than acting on a lock it cannot read.
        other => Err(unavailable(
            op,
            format!("unreadable lock priority {other:?}"),
        )),
    }
}

fn parse_token(op: &'static str, s: &str) -> Result<FencingToken, LockError> {
    s.parse()
        .map(FencingToken)
        .map_err(|_| unavailable(op, format!("unreadable fencing token {s:?}")))
}

/// The `HMGET token priority holder preempt` reply as a holder, if held.
fn holder_from_fields(
    op: &'static str,
    fields: [Option<String>; 4],
) -> Result<Option<LockHolder>, LockError> {
    let [token, priority, holder, preempt] = fields;
    let Some(token) = token else {
        return Ok(None);
    };
    Ok(Some(LockHolder {
        priority: parse_priority(op, priority.as_deref().unwrap_or_default())?,
        holder: holder.unwrap_or_default(),
        token: parse_token(op, &token)?,
        preemption_requested: preempt.as_deref() == Some("1"),
    }))
}

impl RedisLocks {
    async fn read_holder(
        &self,
        op: &'static str,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<LockHolder>, LockError> {
        let key = keys::lock_key(tenant, resource);
        // A single HMGET is atomic on the server; no script is needed to
        // read a consistent holding.
        let fields: (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = self
            .run(op, async |conn| {
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("token")
                    .arg("priority")
                    .arg("holder")
                    .arg("preempt")
                    .query_async(conn)
                    .await
            })
            .await?;
        holder_from_fields(op, [fields.0, fields.1, fields.2, fields.3])
    }

    /// Runs a compare-on-token script (`EXTEND`, `RELEASE`) for `lease`:
    /// `NotHeld` unless the script found the lease's token current.
    async fn fenced(
        &self,
        op: &'static str,
        script: &Script,
        lease: &Lease,
        ttl_ms: Option<u64>,
    ) -> Result<(), LockError> {
        let lock = keys::lock_key(&lease.tenant, &lease.resource);
        let done: i64 = self
            .run(op, async |conn| {
                let mut call = script.key(&lock);
                call.arg(lease.token.0);
                if let Some(ttl) = ttl_ms {
                    call.arg(ttl);
                }
                call.invoke_async(conn).await
            })
            .await?;
        if done == 1 {
            Ok(())
        } else {
            Err(LockError::NotHeld)
        }
    }
}

#[async_trait]
impl ResourceLocks for RedisLocks {
    async fn acquire(&self, req: &LockRequest) -> Result<Acquire, LockError> {
        let ttl = ttl_ms(req.ttl)?;
        let lock = keys::lock_key(&req.tenant, &req.resource);
        let fence = keys::fence_key(&req.tenant, &req.resource);
        let (acquired, token, priority, holder, preempt): (i64, String, String, String, String) =
            self.run("acquire", async |conn| {
                self.acquire
                    .key(&lock)
                    .key(&fence)
                    .arg(req.priority.as_str())
                    .arg(&req.holder)
                    .arg(ttl)
                    .invoke_async(conn)
                    .await
            })
            .await?;
        let token = parse_token("acquire", &token)?;
        if acquired == 1 {
            return Ok(Acquire::Acquired(Lease {
                tenant: req.tenant.clone(),
                resource: req.resource.clone(),
                priority: req.priority,
                holder: req.holder.clone(),
                token,
            }));
        }
        Ok(Acquire::Held(LockHolder {
            priority: parse_priority("acquire", &priority)?,
            holder,
            token,
            preemption_requested: preempt == "1",
        }))
    }

    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<(), LockError> {
        let ttl = ttl_ms(ttl)?;
        self.fenced("extend", &self.extend, lease, Some(ttl)).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), LockError> {
        self.fenced("release", &self.release, lease, None).await
    }

    async fn inspect(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<LockHolder>, LockError> {
        self.read_holder("inspect", tenant, resource).await
    }

    async fn preemption_requested(&self, lease: &Lease) -> Result<bool, LockError> {
        match self
            .read_holder("preemption_requested", &lease.tenant, &lease.resource)
            .await?
        {
            Some(h) if h.token == lease.token => Ok(h.preemption_requested),
            _ => Err(LockError::NotHeld),
        }
    }

    async fn ping(&self) -> Result<(), LockError> {
        let reply: String = self
            .run("ping", async |conn| {
                redis::cmd("PING").query_async(conn).await
            })
            .await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(unavailable("ping", format!("unexpected reply {reply:?}")))
        }
    }
}

#[async_trait]
impl IdempotencyKeys for RedisLocks {
    async fn claim(&self, tenant: &TenantId, key: &str, ttl: Duration) -> Result<bool, LockError> {
        let ttl = ttl_ms(ttl)?;
        let key = keys::idempotency_key(tenant, key);
        let reply: Value = self
            .run("claim", async |conn| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(conn)
                    .await
            })
            .await?;
        // SET NX answers OK when it wrote the key and nil when it existed.
        Ok(!matches!(reply, Value::Nil))
    }

    /// One pipeline of `SET NX PX`, one per key: one round trip for the
    /// whole delivery. Redis runs a connection's commands in order, so a
    /// repeated key is claimed by its first occurrence only.
    async fn claim_all(
        &self,
        tenant: &TenantId,
        claims: &[String],
        ttl: Duration,
    ) -> Result<Vec<bool>, LockError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let ttl = ttl_ms(ttl)?;
        let mut pipe = redis::pipe();
        for key in claims {
            pipe.cmd("SET")
                .arg(keys::idempotency_key(tenant, key))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl);
        }
        let replies: Vec<Value> = self
            .run("claim_all", async |conn| pipe.query_async(conn).await)
            .await?;
        if replies.len() != claims.len() {
            return Err(unavailable(
                "claim_all",
                format!("{} replies to {} claims", replies.len(), claims.len()),
            ));
        }
        Ok(replies.iter().map(|r| !matches!(r, Value::Nil)).collect())
    }

    async fn release_claim(&self, tenant: &TenantId, key: &str) -> Result<(), LockError> {
        let key = keys::idempotency_key(tenant, key);
        let _deleted: i64 = self
            .run("release_claim", async |conn| {
                redis::cmd("DEL").arg(&key).query_async(conn).await
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_ms(Duration::from_micros(1)), Ok(1));
        assert_eq!(ttl_ms(Duration::from_millis(250)), Ok(250));
        assert_eq!(ttl_ms(Duration::from_micros(250_001)), Ok(251));
        assert!(matches!(ttl_ms(Duration::ZERO), Err(LockError::Invalid(_))));
        assert!(matches!(ttl_ms(Duration::MAX), Err(LockError::Invalid(_))));
    }

    #[test]
    fn holders_are_read_strictly() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(holder_from_fields("t", [None, None, None, None]), Ok(None));
        let held = holder_from_fields("t", [s("17"), s("automatic"), s("run-1"), s("1")]);
        assert_eq!(
            held,
            Ok(Some(LockHolder {
                priority: LockPriority::Automatic,
                holder: "run-1".into(),
                token: FencingToken(17),
                preemption_requested: true,
            }))
        );
        for bad in [
            [s("x"), s("automatic"), None, None],
            [s("1"), s("urgent"), None, None],
            [s("1"), None, None, None],
        ] {
            assert!(matches!(
                holder_from_fields("t", bad),
                Err(LockError::Unavailable(_))
            ));
        }
    }

    #[tokio::test]
    async fn construction_needs_no_server() {
        // Port 1 on loopback: nothing listens there.
        let locks = RedisLocks::new(RedisLocksConfig::new("redis://127.0.0.1:1")).unwrap();
        assert!(matches!(locks.ping().await, Err(LockError::Unavailable(_))));
        let bad = RedisLocks::new(RedisLocksConfig::new("http://nowhere"));
        assert!(matches!(bad, Err(RedisConfigError::Url { .. })), "{bad:?}");
    }
}
