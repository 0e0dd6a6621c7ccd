//! Acquire + release through `RedisLocks` against the raw pair a hand-rolled
//! Redis lock would use (`SET key token NX PX ttl`, then a Lua
//! compare-and-delete), on the very same deadpool connection pool, in one
//! run. The adapter's extra work (fencing counter, priority fields, holder
//! hash, timeouts, error mapping) should cost at most 1.2x the raw pair.
//!
//! Needs `HALE_TEST_REDIS_URL`; without it the bench prints a notice and
//! measures nothing. Run:
//!
//! ```text
//! source scripts/services.sh start
//! cargo bench -p hale-redis --bench locks
//! ```

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{Acquire, LockRequest, ResourceLocks};
use hale_redis::pool::Pool;
use hale_redis::{RedisLocks, RedisLocksConfig};
use redis::Script;
use tokio::runtime::Runtime;
use tokio::time::Instant;

/// The classic single-key release: delete only if the value is ours.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

const TTL: Duration = Duration::from_secs(30);

struct Subjects {
    rt: Runtime,
    locks: RedisLocks,
    pool: Pool,
    cad: Script,
    request: LockRequest,
    raw_key: String,
}

impl Subjects {
    async fn adapter_pair(&self) {
        let lease = match self.locks.acquire(&self.request).await {
            Ok(Acquire::Acquired(lease)) => lease,
            other => panic!("bench acquire: {other:?}"),
        };
        self.locks.release(&lease).await.expect("bench release");
    }

    async fn raw_pair(&self, token: u64) {
        let mut conn = self.pool.get().await.expect("raw: connection");
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.raw_key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(TTL.as_millis() as u64)
            .query_async(&mut *conn)
            .await
            .expect("raw: SET NX PX");
        assert!(set.is_some(), "raw: lock was not free");
        drop(conn);
        let mut conn = self.pool.get().await.expect("raw: connection");
        let deleted: i64 = self
            .cad
            .key(&self.raw_key)
            .arg(token)
            .invoke_async(&mut *conn)
            .await
            .expect("raw: compare-and-delete");
        assert_eq!(deleted, 1, "raw: lock was not ours");
    }

    /// Runs `iters` pairs of one kind and returns the time taken.
    fn time(&self, adapter: bool, iters: u64) -> Duration {
        self.rt.block_on(async {
            let started = Instant::now();
            for i in 0..iters {
                if adapter {
                    self.adapter_pair().await;
                } else {
                    self.raw_pair(i).await;
                }
            }
            started.elapsed()
        })
    }
}

fn subjects() -> Option<Subjects> {
    let url = std::env::var("HALE_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let Some(url) = url else {
        #[allow(clippy::print_stderr)] // the skip notice is the point
        {
            eprintln!("SKIPPED redis lock bench: HALE_TEST_REDIS_URL is not set");
        }
        return None;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let locks = RedisLocks::new(RedisLocksConfig::new(url)).expect("redis config");
    let pool = locks.pool().clone();
    let tenant = TenantId::new("bench").expect("tenant");
    let request = LockRequest {
        tenant: tenant.clone(),
        resource: ResourceRef::new("prod", "deployment", "bench").expect("resource"),
        priority: LockPriority::Automatic,
        holder: "bench".into(),
        ttl: TTL,
    };
    let s = Subjects {
        rt,
        locks,
        pool,
        cad: Script::new(COMPARE_AND_DELETE),
        request,
        raw_key: format!("hale:{tenant}:bench:raw-lock"),
    };
    // Connect, load both scripts and fail early if the server is unusable.
    s.rt.block_on(s.locks.ping()).expect("redis answers ping");
    s.time(true, 10);
    s.time(false, 10);
    Some(s)
}

fn acquire_release(c: &mut Criterion) {
    let Some(s) = subjects() else { return };
    let mut group = c.benchmark_group("redis_lock_acquire_release");
    group.bench_function("adapter", |b| b.iter_custom(|iters| s.time(true, iters)));
    group.bench_function("raw_set_nx_px_lua_del", |b| {
        b.iter_custom(|iters| s.time(false, iters))
    });
    group.finish();

    // Criterion measures the two one after the other; alternate short
    // rounds as well so drift on a shared machine hits both alike, and
    // print the ratio the goal is stated in.
    let (mut adapter, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        adapter.push(s.time(true, 200));
        raw.push(s.time(false, 200));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2] / 200
    };
    let (a, r) = (median(&mut adapter), median(&mut raw));
    #[allow(clippy::print_stderr)] // the summary line is the bench's output
    {
        eprintln!(
            "redis locks: adapter {a:?} vs raw {r:?} per acquire+release (interleaved medians): {:.2}x",
            a.as_secs_f64() / r.as_secs_f64()
        );
    }
}

criterion_group!(benches, acquire_release);
criterion_main!(benches);
