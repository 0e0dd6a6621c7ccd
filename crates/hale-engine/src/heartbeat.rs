//! The lease heartbeat: a run acts only while it provably holds its lock.
//!
//! A lock's TTL can lapse in the middle of a long action, a verification
//! or a rollback, and another replica may then take the resource. So while
//! a run waits on anything that acts or judges its action (an executor
//! call, a health probe), its lock is extended in the background every
//! third of its TTL ([`heartbeat_period`]). If an extension reports the
//! lock lost, or the lock backend cannot confirm it, the awaited future is
//! dropped at once (an executor's contract: dropping it stops the work; a
//! command's process group is killed) and the run ends INTERRUPTED with
//! the reason, without a rollback: a rollback is an action too, and the
//! lease is gone.
//!
//! The same extension is the proof of life the recovery sweep reads: a
//! lock still held by an operation belongs to a live run, and the sweep
//! leaves it alone (`recovery`).

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use crate::engine::Inner;
use crate::ports::{Lease, LeaseCheck, LockError, ResourceLocks};

/// How often a lease of `ttl` is extended while its run acts: a third of
/// the TTL, so two extensions in a row may fail before the lease lapses.
pub fn heartbeat_period(ttl: Duration) -> Duration {
    ttl / 3
}

/// The run's lease is gone; why, for the operation's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseLost(pub String);

impl LeaseLost {
    fn from_lock_error(e: &LockError) -> LeaseLost {
        LeaseLost(match e {
            LockError::NotHeld => "the resource lock was lost (expired or taken over)".to_owned(),
            LockError::Unavailable(m) => {
                format!("the lock backend could not confirm the lease ({m})")
            }
            LockError::Invalid(m) => format!("the lease could not be extended ({m})"),
        })
    }
}

impl Inner {
    /// Awaits `work` while extending `lease` every [`heartbeat_period`];
    /// drops `work` and answers [`LeaseLost`] as soon as an extension
    /// fails.
    pub(crate) async fn under_lease<F: Future>(
        &self,
        lease: &Lease,
        work: F,
    ) -> Result<F::Output, LeaseLost> {
        let ttl = self.config.automatic_lock_ttl;
        let period = heartbeat_period(ttl);
        let locks = self.ports.locks.as_ref();
        let beat = async {
            loop {
                tokio::time::sleep(period).await;
                if let Err(e) = locks.extend(lease, ttl).await {
                    return LeaseLost::from_lock_error(&e);
                }
            }
        };
        tokio::select! {
            biased;
            lost = beat => Err(lost),
            out = work => Ok(out),
        }
    }
}

/// [`LeaseCheck`] over a run's lease: confirming extends the lock, which
/// also gives the act that follows a full TTL.
pub(crate) struct ConfirmLease<'a> {
    pub locks: &'a dyn ResourceLocks,
    pub lease: &'a Lease,
    pub ttl: Duration,
}

#[async_trait]
impl LeaseCheck for ConfirmLease<'_> {
    async fn confirm(&self) -> Result<(), LockError> {
        self.locks.extend(self.lease, self.ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_beats_three_times_per_ttl() {
        assert_eq!(
            heartbeat_period(Duration::from_secs(300)),
            Duration::from_secs(100)
        );
        assert_eq!(
            heartbeat_period(Duration::from_secs(3)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn lost_leases_say_why() {
        assert!(
            LeaseLost::from_lock_error(&LockError::NotHeld)
                .0
                .contains("lost")
        );
        let down = LeaseLost::from_lock_error(&LockError::Unavailable("timed out".into()));
        assert!(down.0.contains("could not confirm") && down.0.contains("timed out"));
    }
}
