//! The store conformance suite against [`MemoryStore`]: the in-memory store
//! keeps the same contract as the durable adapters.

use std::sync::Arc;

use hale_testkit::MemoryStore;

hale_testkit::store_conformance_tests!(async { Arc::new(MemoryStore::new()) });
