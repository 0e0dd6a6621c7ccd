//! Redis failures against a private `redis-server` per test: a frozen server
//! (SIGSTOP), a killed and restarted one, and one that is down when Hale
//! starts. Every call must fail closed with `Unavailable` promptly and the
//! client must recover on its own.

mod support;

use std::future::Future;
use std::time::Duration;

use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{Acquire, IdempotencyKeys, Lease, LockError, LockRequest, ResourceLocks};
use hale_redis::{RedisLocks, RedisLocksConfig};
use support::PrivateRedis;
use tokio::time::Instant;

/// Far above the 250 ms + 250 ms worst case, far below "hangs".
const PROMPT: Duration = Duration::from_secs(2);

/// How long a recovered server may take to be used again.
const RECOVERY: Duration = Duration::from_secs(10);

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn request(name: &str, ttl: Duration) -> LockRequest {
    LockRequest {
        tenant: tenant(),
        resource: ResourceRef::new("prod", "deployment", name).unwrap(),
        priority: LockPriority::Automatic,
        holder: "failure-test".into(),
        ttl,
    }
}

async fn take(locks: &RedisLocks, name: &str) -> Lease {
    match locks.acquire(&request(name, Duration::from_secs(60))).await {
        Ok(Acquire::Acquired(lease)) => lease,
        other => panic!("expected Acquired for {name}, got {other:?}"),
    }
}

/// Runs `op` and asserts it fails with `Unavailable` within [`PROMPT`].
async fn fails_closed<T: std::fmt::Debug>(
    what: &str,
    op: impl Future<Output = Result<T, LockError>>,
) {
    let started = Instant::now();
    let got = op.await;
    let took = started.elapsed();
    assert!(
        matches!(got, Err(LockError::Unavailable(_))),
        "{what}: expected Unavailable, got {got:?}"
    );
    assert!(took < PROMPT, "{what}: took {took:?}");
}

/// Polls `ping` until the backend answers, failing after [`RECOVERY`].
async fn until_answering(locks: &RedisLocks) {
    let deadline = Instant::now() + RECOVERY;
    while locks.ping().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the client did not recover within {RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn frozen_redis_fails_closed_and_the_pool_recovers() {
    let Some(redis) = PrivateRedis::start("frozen_redis_fails_closed_and_the_pool_recovers").await
    else {
        return;
    };
    let locks = RedisLocks::new(RedisLocksConfig::new(redis.url())).unwrap();
    let held = take(&locks, "api").await;
    assert!(
        locks
            .claim(&tenant(), "delivery-1", Duration::from_secs(60))
            .await
            .unwrap()
    );

    redis.freeze();
    fails_closed(
        "acquire",
        locks.acquire(&request("web", Duration::from_secs(60))),
    )
    .await;
    fails_closed("ping", locks.ping()).await;
    fails_closed("inspect", locks.inspect(&held.tenant, &held.resource)).await;
    fails_closed("preemption_requested", locks.preemption_requested(&held)).await;
    fails_closed(
        "claim",
        locks.claim(&tenant(), "delivery-2", Duration::from_secs(60)),
    )
    .await;
    // Many callers at once: none waits on another's stuck connection.
    let burst: Vec<_> = (0..40)
        .map(|i| {
            let locks = &locks;
            async move {
                let req = request(&format!("burst-{i}"), Duration::from_secs(5));
                fails_closed("acquire in a burst", locks.acquire(&req)).await;
            }
        })
        .collect();
    futures::future::join_all(burst).await;

    redis.thaw();
    until_answering(&locks).await;
    // The frozen server kept its data: the lease taken before is intact and
    // only its token can release it.
    let holder = locks.inspect(&held.tenant, &held.resource).await.unwrap();
    assert_eq!(holder.map(|h| h.token), Some(held.token));
    assert!(
        !locks
            .claim(&tenant(), "delivery-1", Duration::from_secs(60))
            .await
            .unwrap()
    );
    locks.release(&held).await.unwrap();
    let next = take(&locks, "api").await;
    assert!(next.token > held.token);
}

#[tokio::test]
async fn restarted_redis_is_survived_and_tokens_keep_increasing() {
    let Some(mut redis) =
        PrivateRedis::start("restarted_redis_is_survived_and_tokens_keep_increasing").await
    else {
        return;
    };
    let locks = RedisLocks::new(RedisLocksConfig::new(redis.url())).unwrap();
    let before = take(&locks, "api").await;

    redis.kill();
    fails_closed(
        "acquire while down",
        locks.acquire(&request("api", Duration::from_secs(60))),
    )
    .await;
    fails_closed("release while down", locks.release(&before)).await;
    fails_closed(
        "claim while down",
        locks.claim(&tenant(), "d", Duration::from_secs(60)),
    )
    .await;

    redis.restart().await;
    until_answering(&locks).await;
    // The restarted server is empty (no persistence): the lock is free, the
    // old lease is void, and the re-seeded counter still issues a greater
    // token, so a holder paused across the restart stays fenced off.
    let after = take(&locks, "api").await;
    assert!(
        after.token > before.token,
        "token {} after restart, was {}",
        after.token,
        before.token
    );
    assert_eq!(locks.release(&before).await, Err(LockError::NotHeld));
    locks.release(&after).await.unwrap();
}

#[tokio::test]
async fn redis_down_at_startup_is_not_fatal() {
    let Some(mut redis) = PrivateRedis::start("redis_down_at_startup_is_not_fatal").await else {
        return;
    };
    redis.kill();
    // Hale starts while Redis is down: construction succeeds, every call
    // fails closed, and the same client works once Redis comes up.
    let locks = RedisLocks::new(RedisLocksConfig::new(redis.url())).unwrap();
    fails_closed("ping", locks.ping()).await;
    fails_closed(
        "acquire",
        locks.acquire(&request("api", Duration::from_secs(60))),
    )
    .await;
    redis.restart().await;
    until_answering(&locks).await;
    let lease = take(&locks, "api").await;
    locks.release(&lease).await.unwrap();
}

/// The platform's lock-backend notice kinds an engine wrote, oldest first.
async fn lock_notices(kit: &hale_testkit::Kit) -> Vec<hale_domain::notification::NoticeKind> {
    use hale_engine::ports::{NotificationOutbox, PageRequest};
    let page = PageRequest {
        offset: 0,
        limit: 100,
    };
    let mut kinds: Vec<_> = kit
        .store
        .list_notices(None, page)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.kind)
        .collect();
    kinds.reverse();
    kinds
}

/// An engine on a real Redis: its lock probe (`ResourceLocks::ping`) finds
/// the server frozen while no alert asks for a lock and says so once,
/// however many probes fail, then says it is back once it answers.
#[tokio::test]
async fn the_engine_probe_announces_a_frozen_redis_once_and_its_return() {
    use hale_domain::notification::NoticeKind;
    let Some(redis) =
        PrivateRedis::start("the_engine_probe_announces_a_frozen_redis_once_and_its_return").await
    else {
        return;
    };
    let kit = hale_testkit::Kit::new();
    let mut ports = kit.ports();
    ports.locks = std::sync::Arc::new(RedisLocks::new(RedisLocksConfig::new(redis.url())).unwrap());
    let config = hale_engine::EngineConfig {
        lock_probe_interval: Duration::from_millis(100),
        replica: "redis-test".to_owned(),
        ..hale_engine::EngineConfig::default()
    };
    let engine = hale_engine::Engine::builder(ports)
        .config(config)
        .build()
        .await
        .unwrap();
    engine.start_background_tasks().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        lock_notices(&kit).await.is_empty(),
        "a Redis that answers is no news"
    );

    redis.freeze();
    let deadline = Instant::now() + RECOVERY;
    while lock_notices(&kit).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the frozen Redis was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Several more probes fail (each within its 250 ms bound).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        lock_notices(&kit).await,
        vec![NoticeKind::LockBackendUnavailable],
        "one notice however many probes failed"
    );

    redis.thaw();
    let deadline = Instant::now() + RECOVERY;
    while lock_notices(&kit).await.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the thawed Redis was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lock_notices(&kit).await,
        vec![
            NoticeKind::LockBackendUnavailable,
            NoticeKind::LockBackendRecovered
        ]
    );
    engine.shutdown().await;
}
