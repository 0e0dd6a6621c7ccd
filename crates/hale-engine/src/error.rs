//! Engine errors, as embedders and the HTTP edge see them.

use crate::ports::{LockError, StoreError};

/// What went wrong in an engine call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The tenant has no policy.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// The thing asked for does not exist (for this tenant).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is invalid (reason, state, argument).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A concurrent change won; retry.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot be reached: nothing was recorded, retry later.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The engine is shutting down and takes no new work.
    #[error("engine is shutting down")]
    ShuttingDown,
}

impl EngineError {
    /// Whether the caller should retry later (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            EngineError::StoreUnavailable(_) | EngineError::ShuttingDown
        )
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => EngineError::NotFound(m),
            StoreError::Conflict(m) => EngineError::Conflict(m),
            StoreError::Invalid(m) => EngineError::Invalid(m),
            StoreError::Unavailable(m) => EngineError::StoreUnavailable(m),
        }
    }
}

impl From<LockError> for EngineError {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Unavailable(m) => {
                EngineError::StoreUnavailable(format!("lock backend: {m}"))
            }
            LockError::NotHeld => EngineError::Conflict("resource lock not held".into()),
            LockError::Invalid(m) => EngineError::Invalid(m),
        }
    }
}
