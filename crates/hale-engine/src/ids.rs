//! Id generation, injectable so replays and tests are deterministic.

use std::sync::atomic::{AtomicU64, Ordering};

/// Makes unique ids.
pub trait IdSource: Send + Sync {
    /// A new id with the given prefix (`op`, `apr`, `aud`, ...).
    fn next_id(&self, prefix: &str) -> String;
}

/// Random UUIDv4 ids (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
    }
}

/// Sequential ids (`op-000001`, ...), for replays and tests.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    /// Starts at 1.
    pub fn new() -> Self {
        SequentialIds::default()
    }
}

impl IdSource for SequentialIds {
    fn next_id(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}-{n:06}")
    }
}
