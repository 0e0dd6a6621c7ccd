//! Redis over TLS: the shared test Redis's `tls-port`
//! (`HALE_TEST_REDIS_TLS_URL`, certificate signed by the CA at
//! `HALE_TEST_TLS_CA_FILE`, both made by `scripts/services.sh`). Under
//! `HALE_REQUIRE_SERVICES=1` a missing TLS service fails these tests.

use std::sync::Arc;
use std::time::Duration;

use hale_domain::coordination::LockPriority;
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{Acquire, IdempotencyKeys, LockError, LockRequest, ResourceLocks};
use hale_redis::{RedisConfigError, RedisLocks, RedisLocksConfig};

fn tls_service(test: &str) -> Option<(String, String)> {
    let url = hale_testkit::services::redis_tls_url(test)?;
    let ca = hale_testkit::services::tls_ca_file(test)?;
    Some((url, ca))
}

/// Generous bounds: the TLS handshake is slower than a plain connect on a
/// busy 2-core machine, and these tests are about TLS, not latency.
fn config(url: &str) -> RedisLocksConfig {
    RedisLocksConfig::new(url)
        .with_connect_timeout(Duration::from_secs(5))
        .with_command_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn rediss_with_the_ca_file_locks_and_claims_keys() {
    let Some((url, ca)) = tls_service("rediss_with_the_ca_file_locks_and_claims_keys") else {
        return;
    };
    assert!(url.starts_with("rediss://"), "{url}");
    let locks = Arc::new(RedisLocks::new(config(&url).with_ca_file(&ca)).unwrap());
    locks.ping().await.expect("PING over TLS");
    let tenant = TenantId::new(format!("tls-{}", std::process::id())).unwrap();
    let req = LockRequest {
        tenant: tenant.clone(),
        resource: ResourceRef::parse("prod:deployment/api").unwrap(),
        priority: LockPriority::Automatic,
        holder: "op-tls".into(),
        ttl: Duration::from_secs(30),
    };
    let Acquire::Acquired(lease) = locks.acquire(&req).await.unwrap() else {
        panic!("the lock was free");
    };
    locks.release(&lease).await.unwrap();
    let key = format!("delivery-{}", uuid_like());
    assert!(
        locks
            .claim(&tenant, &key, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !locks
            .claim(&tenant, &key, Duration::from_secs(30))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let Some((url, _ca)) = tls_service("a_server_certificate_from_an_unknown_ca_is_refused") else {
        return;
    };
    // Without the CA file the system's roots are used, and they do not know
    // the test CA: every call is Unavailable, never a connection.
    let locks = RedisLocks::new(config(&url)).unwrap();
    match locks.ping().await {
        Err(LockError::Unavailable(m)) => assert!(!m.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_ca_file_needs_a_rediss_url_and_a_readable_file() {
    let Some((url, ca)) = tls_service("a_ca_file_needs_a_rediss_url_and_a_readable_file") else {
        return;
    };
    let plain = url.replacen("rediss://", "redis://", 1);
    match RedisLocks::new(config(&plain).with_ca_file(&ca)) {
        Err(RedisConfigError::Tls(m)) => assert!(m.contains("rediss://"), "{m}"),
        other => panic!("expected a TLS config error, got {other:?}"),
    }
    match RedisLocks::new(config(&url).with_ca_file("/nonexistent/ca.pem")) {
        Err(RedisConfigError::Tls(m)) => assert!(m.contains("/nonexistent/ca.pem"), "{m}"),
        other => panic!("expected a TLS config error, got {other:?}"),
    }
}

/// A key no other run uses (pid and a counter of this process).
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
