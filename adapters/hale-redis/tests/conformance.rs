//! The shared lock contract suite against a real Redis
//! (`HALE_TEST_REDIS_URL`, started by `scripts/services.sh`).

use std::sync::Arc;

use hale_redis::{RedisLocks, RedisLocksConfig};

/// A fresh client (its own pool) of the shared test Redis, or `None` to skip.
async fn redis_locks() -> Option<Arc<RedisLocks>> {
    let url = hale_testkit::services::redis_url("hale-redis lock conformance")?;
    let locks = RedisLocks::new(RedisLocksConfig::new(url)).expect("valid redis config");
    Some(Arc::new(locks))
}

hale_testkit::lock_conformance_tests!(redis_locks);
