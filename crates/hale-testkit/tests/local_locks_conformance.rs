//! The lock contract suite against the embedded default, `LocalLocks`, on
//! real time (the same checks run against Redis in `hale-redis`).

use std::sync::Arc;

use hale_engine::local_locks::LocalLocks;

/// Every call is a fresh process as far as `LocalLocks` is concerned: the
/// restart check relies on the wall-clock seed of its fencing tokens.
async fn local_locks() -> Option<Arc<LocalLocks>> {
    Some(Arc::new(LocalLocks::default()))
}

hale_testkit::lock_conformance_tests!(local_locks);
