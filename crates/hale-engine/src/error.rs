//! Engine errors, as embedders and the HTTP edge see them.
//!
//! Errors that come from a domain rule or a port keep their typed source
//! (an embedder can match on [`ApprovalError::AlreadySigned`] or
//! [`StoreError::Unavailable`]); [`EngineError::kind`] sorts every error
//! into the few classes a caller acts on (not found, invalid, conflict,
//! unavailable).

use hale_domain::approval::ApprovalError;
use hale_domain::breaker::ResetError;
use hale_domain::dormancy::ResumeError;
use hale_domain::safety::SwitchError;

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
    /// An approval decision was refused (already signed, not pending,
    /// expired, no reason).
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// A resume was refused (not dormant, no reason).
    #[error(transparent)]
    Resume(#[from] ResumeError),
    /// A breaker reset was refused (no reason).
    #[error(transparent)]
    BreakerReset(#[from] ResetError),
    /// A switch change was refused (the configuration's floor).
    #[error(transparent)]
    Switch(#[from] SwitchError),
    /// A store call failed; `Unavailable` means nothing was recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lock call failed.
    #[error("lock backend: {0}")]
    Lock(#[from] LockError),
    /// The engine is shutting down and takes no new work.
    #[error("engine is shutting down")]
    ShuttingDown,
}

/// The class of an [`EngineError`]: what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The tenant or the thing asked for does not exist (HTTP 404).
    NotFound,
    /// The request cannot be carried out as given (HTTP 422).
    Invalid,
    /// The state changed or does not allow it; look again (HTTP 409).
    Conflict,
    /// A backend cannot be reached or the engine is stopping: nothing was
    /// recorded, retry later (HTTP 503).
    Unavailable,
}

impl EngineError {
    /// The error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::UnknownTenant(_) | EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::Invalid(_)
            | EngineError::BreakerReset(ResetError::ReasonRequired)
            | EngineError::Resume(ResumeError::ReasonRequired)
            | EngineError::Approval(ApprovalError::ReasonRequired) => ErrorKind::Invalid,
            EngineError::Conflict(_)
            | EngineError::Switch(SwitchError::ConfigFloor { .. })
            | EngineError::Resume(ResumeError::NotDormant)
            | EngineError::Approval(
                ApprovalError::AlreadySigned(_)
                | ApprovalError::NotPending(_)
                | ApprovalError::Expired(_),
            ) => ErrorKind::Conflict,
            EngineError::Store(e) => match e {
                StoreError::NotFound(_) => ErrorKind::NotFound,
                StoreError::Conflict(_) => ErrorKind::Conflict,
                StoreError::Invalid(_) => ErrorKind::Invalid,
                StoreError::Unavailable(_) => ErrorKind::Unavailable,
            },
            EngineError::Lock(e) => match e {
                LockError::Unavailable(_) => ErrorKind::Unavailable,
                LockError::NotHeld => ErrorKind::Conflict,
                LockError::Invalid(_) => ErrorKind::Invalid,
            },
            EngineError::ShuttingDown => ErrorKind::Unavailable,
        }
    }

    /// Whether the caller should retry later (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    /// The message without its class prefix, for answers that state the
    /// class separately (the HTTP edge's `error` field).
    pub fn detail(&self) -> String {
        match self {
            EngineError::NotFound(m) | EngineError::Invalid(m) | EngineError::Conflict(m) => {
                m.clone()
            }
            EngineError::Store(
                StoreError::NotFound(m) | StoreError::Conflict(m) | StoreError::Invalid(m),
            ) => m.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::approval::ApprovalStatus;
    use hale_domain::{Actor, Timestamp};

    use super::*;

    #[test]
    fn typed_sources_keep_their_class_and_text() {
        let cases = [
            (EngineError::UnknownTenant("x".into()), ErrorKind::NotFound),
            (
                EngineError::Store(StoreError::NotFound("op".into())),
                ErrorKind::NotFound,
            ),
            (ApprovalError::ReasonRequired.into(), ErrorKind::Invalid),
            (ResumeError::ReasonRequired.into(), ErrorKind::Invalid),
            (ResetError::ReasonRequired.into(), ErrorKind::Invalid),
            (LockError::Invalid("ttl".into()).into(), ErrorKind::Invalid),
            (
                ApprovalError::AlreadySigned(Actor::new("a")).into(),
                ErrorKind::Conflict,
            ),
            (
                ApprovalError::NotPending(ApprovalStatus::Rejected).into(),
                ErrorKind::Conflict,
            ),
            (
                ApprovalError::Expired(Timestamp::UNIX_EPOCH).into(),
                ErrorKind::Conflict,
            ),
            (ResumeError::NotDormant.into(), ErrorKind::Conflict),
            (LockError::NotHeld.into(), ErrorKind::Conflict),
            (
                StoreError::Conflict("rev".into()).into(),
                ErrorKind::Conflict,
            ),
            (
                StoreError::Invalid("long".into()).into(),
                ErrorKind::Invalid,
            ),
            (
                StoreError::Unavailable("down".into()).into(),
                ErrorKind::Unavailable,
            ),
            (
                LockError::Unavailable("frozen".into()).into(),
                ErrorKind::Unavailable,
            ),
            (EngineError::ShuttingDown, ErrorKind::Unavailable),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e:?}");
            assert_eq!(e.is_unavailable(), kind == ErrorKind::Unavailable);
        }
        let e = EngineError::from(ApprovalError::NotPending(ApprovalStatus::Rejected));
        assert_eq!(e.detail(), "approval is rejected, not pending");
        assert!(matches!(
            e,
            EngineError::Approval(ApprovalError::NotPending(ApprovalStatus::Rejected))
        ));
        let e = EngineError::from(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(e.to_string(), "store unavailable: pool timed out");
        assert_eq!(
            EngineError::NotFound("approval apr-1".into()).detail(),
            "approval apr-1"
        );
    }
}
