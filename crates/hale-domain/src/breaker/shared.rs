//! The part of a circuit breaker that every replica shares.
//!
//! The rule (docs/reliability.md, "What replicas share"): a breaker's short
//! cycle, CLOSED -> OPEN -> HALF_OPEN -> CLOSED after a few failures, is each
//! replica's own view of the executor's transient health, kept in its local
//! [`CircuitBreaker`](super::CircuitBreaker). What would stop healing until a
//! human acts is shared, in a record every replica reads:
//!
//! * the road to PERMANENT_OPEN: consecutive failures of the whole cluster
//!   (a success anywhere clears them), so `permanent_open_threshold`
//!   failures latch the breaker however the failures are spread;
//! * the latch itself: a fatal failure or the threshold, on any replica,
//!   latches the breaker on every replica;
//! * manual resets: a reset on any replica resets every replica's breaker
//!   (the reset count tells a replica it has one to apply).

use serde::{Deserialize, Serialize};

use super::{PermanentOpenRecord, Rejection, ResetError, ResetRecord};
use crate::failure::{BreakerImpact, FailureClass};
use crate::ids::Actor;
use crate::time::Timestamp;

/// A breaker's shared record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedBreaker {
    /// Consecutive counted failures across the cluster since the last
    /// success or reset.
    pub consecutive_failures: u32,
    /// Set while latched PERMANENT_OPEN.
    pub permanent: Option<PermanentOpenRecord>,
    /// When the last counted failure happened.
    pub last_failure_at: Option<Timestamp>,
    /// The last manual reset.
    pub last_reset: Option<ResetRecord>,
    /// How many manual resets there were; a replica that has applied fewer
    /// resets its local breaker.
    pub resets: u64,
}

impl SharedBreaker {
    /// Whether the breaker is latched.
    pub fn is_latched(&self) -> bool {
        self.permanent.is_some()
    }

    /// What the shared part says about a call: rejected while latched.
    pub fn admission(&self) -> Result<(), Rejection> {
        match &self.permanent {
            Some(p) => Err(Rejection::PermanentOpen {
                reason: p.reason.clone(),
                since: p.since,
            }),
            None => Ok(()),
        }
    }

    /// A call's outcome on any replica. Returns the latch when this outcome
    /// latched the breaker (a fatal failure, or the cluster's consecutive
    /// failures reaching `permanent_open_threshold`).
    pub fn on_outcome(
        &mut self,
        outcome: Result<(), FailureClass>,
        permanent_open_threshold: u32,
        now: Timestamp,
    ) -> Option<PermanentOpenRecord> {
        let class = match outcome {
            Ok(()) => {
                self.consecutive_failures = 0;
                return None;
            }
            Err(class) => class,
        };
        let impact = class.breaker_impact();
        if impact == BreakerImpact::Ignore {
            return None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure_at = Some(now);
        if self.permanent.is_some() {
            return None;
        }
        let reason = if impact == BreakerImpact::Latch {
            format!("fatal failure class: {class}")
        } else if self.consecutive_failures >= permanent_open_threshold.max(1) {
            format!("{} consecutive failures", self.consecutive_failures)
        } else {
            return None;
        };
        let record = PermanentOpenRecord { reason, since: now };
        self.permanent = Some(record.clone());
        Some(record)
    }

    /// A human resets the breaker on every replica: the latch and the count
    /// are cleared and the reset is counted. Returns whether it was latched.
    pub fn reset(
        &mut self,
        reason: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<bool, ResetError> {
        if reason.trim().is_empty() {
            return Err(ResetError::ReasonRequired);
        }
        let was_latched = self.permanent.take().is_some();
        self.consecutive_failures = 0;
        self.resets = self.resets.saturating_add(1);
        self.last_reset = Some(ResetRecord {
            actor: actor.clone(),
            reason: reason.trim().to_owned(),
            at: now,
        });
        Ok(was_latched)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn class() -> impl Strategy<Value = Result<(), FailureClass>> {
        prop_oneof![
            3 => Just(Ok(())),
            4 => Just(Err(FailureClass::Transient)),
            1 => Just(Err(FailureClass::Timeout)),
            1 => Just(Err(FailureClass::TargetGone)),
            1 => Just(Err(FailureClass::InvalidAction)),
            1 => Just(Err(FailureClass::Fatal)),
        ]
    }

    proptest! {
        /// The cluster's count latches at the threshold however the outcomes
        /// are spread over replicas (the record is the sum of them all); a
        /// fatal failure latches at once; only a reset leaves the latch.
        #[test]
        fn prop_shared_latch_counts_the_cluster_and_only_a_reset_lifts_it(
            threshold in 1u32..8,
            outcomes in prop::collection::vec((0usize..3, class(), any::<bool>()), 0..80),
        ) {
            let mut shared = SharedBreaker::default();
            let mut streak = 0u32;
            let mut latched = false;
            let mut resets = 0u64;
            for (i, (_replica, outcome, reset)) in outcomes.into_iter().enumerate() {
                let now = Timestamp::from_unix_secs(i64::try_from(i).unwrap());
                if reset {
                    let was = shared.reset("fixed", &Actor::new("op"), now).unwrap();
                    prop_assert_eq!(was, latched);
                    latched = false;
                    streak = 0;
                    resets += 1;
                    continue;
                }
                let latch = shared.on_outcome(outcome, threshold, now);
                let counted = outcome.is_err_and(|c| c.breaker_impact() != BreakerImpact::Ignore);
                match outcome {
                    Ok(()) => streak = 0,
                    Err(_) if counted => streak += 1,
                    Err(_) => {}
                }
                let fatal = outcome == Err(FailureClass::Fatal);
                let should_latch = !latched && counted && (fatal || streak >= threshold);
                prop_assert_eq!(latch.is_some(), should_latch);
                latched |= should_latch;
                prop_assert_eq!(shared.is_latched(), latched);
                prop_assert_eq!(shared.admission().is_err(), latched);
                prop_assert_eq!(shared.consecutive_failures, streak);
                prop_assert_eq!(shared.resets, resets);
            }
        }
    }

    #[test]
    fn a_reset_needs_a_reason() {
        let mut s = SharedBreaker::default();
        assert_eq!(
            s.reset(" ", &Actor::new("op"), Timestamp::UNIX_EPOCH),
            Err(ResetError::ReasonRequired)
        );
        assert_eq!(s.resets, 0);
    }
}
