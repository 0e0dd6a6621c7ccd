//! Attempt budget per (strategy, target): cooldown between runs and a cap on
//! consecutive failed attempts (seed 004 `Cooldown`, `MaxAttempts`).
//!
//! Seed 004 keys cooldown by strategy alone; Hale keys it by strategy and
//! target so that healing one deployment does not hold back another.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What Hale remembers about runs of one strategy on one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLedger {
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Attempts ever started.
    pub total_attempts: u32,
    /// When the last attempt started.
    pub last_started_at: Option<Timestamp>,
}

/// The budget verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "budget")]
pub enum BudgetVerdict {
    /// Go ahead; this is attempt number `attempt_number` (1-based) of the
    /// current failure streak.
    Allowed {
        /// 1 + consecutive failures so far.
        attempt_number: u32,
    },
    /// Too soon after the last run.
    Cooldown {
        /// When the cooldown ends.
        until: Timestamp,
    },
    /// The failure streak reached `max_attempts`.
    MaxAttemptsReached {
        /// Failed attempts in a row.
        failures: u32,
    },
}

impl AttemptLedger {
    /// Checks the budget at `now`.
    pub fn check(&self, max_attempts: u32, cooldown: Duration, now: Timestamp) -> BudgetVerdict {
        if self.consecutive_failures >= max_attempts.max(1) {
            return BudgetVerdict::MaxAttemptsReached {
                failures: self.consecutive_failures,
            };
        }
        if let Some(last) = self.last_started_at {
            let until = last + cooldown;
            if now < until {
                return BudgetVerdict::Cooldown { until };
            }
        }
        BudgetVerdict::Allowed {
            attempt_number: self.consecutive_failures + 1,
        }
    }

    /// An attempt started.
    pub fn on_start(&mut self, now: Timestamp) {
        self.total_attempts = self.total_attempts.saturating_add(1);
        self.last_started_at = Some(now);
    }

    /// The attempt finished.
    pub fn on_finish(&mut self, success: bool) {
        if success {
            self.consecutive_failures = 0;
        } else {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        }
    }

    /// An operator cleared the streak.
    pub fn reset(&mut self) {
        self.consecutive_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Max attempts and cooldown are never exceeded: whatever the timing
        /// and outcomes, no two starts are closer than the cooldown, and no
        /// start happens after `max_attempts` failures in a row.
        #[test]
        fn prop_max_attempts_and_cooldown_never_exceeded(
            max in 1u32..6, cooldown_s in 0u64..600,
            events in prop::collection::vec((0u64..400, any::<bool>()), 1..100)
        ) {
            let cooldown = Duration::from_secs(cooldown_s);
            let mut ledger = AttemptLedger::default();
            let mut now = Timestamp::from_unix_secs(0);
            let mut last_start: Option<Timestamp> = None;
            let mut streak = 0u32;
            for (advance, success) in events {
                now = now + Duration::from_secs(advance);
                if let BudgetVerdict::Allowed { attempt_number } = ledger.check(max, cooldown, now) {
                    if let Some(prev) = last_start {
                        prop_assert!(now.saturating_duration_since(prev) >= cooldown);
                    }
                    prop_assert!(streak < max);
                    prop_assert_eq!(attempt_number, streak + 1);
                    ledger.on_start(now);
                    last_start = Some(now);
                    ledger.on_finish(success);
                    streak = if success { 0 } else { streak + 1 };
                }
            }
        }
    }

    #[test]
    fn boundaries_cooldown_ends_at_the_instant_and_max_is_at_least_one() {
        let t0 = Timestamp::from_unix_secs(100);
        let cooldown = Duration::from_secs(60);
        let mut l = AttemptLedger::default();
        l.on_start(t0);
        assert_eq!((l.total_attempts, l.last_started_at), (1, Some(t0)));
        let until = t0 + cooldown;
        assert_eq!(
            l.check(3, cooldown, until - Duration::from_micros(1)),
            BudgetVerdict::Cooldown { until }
        );
        assert_eq!(
            l.check(3, cooldown, until),
            BudgetVerdict::Allowed { attempt_number: 1 }
        );
        l.on_finish(false);
        l.on_finish(false);
        assert_eq!(
            l.check(3, cooldown, until),
            BudgetVerdict::Allowed { attempt_number: 3 }
        );
        l.on_finish(true);
        assert_eq!(l.consecutive_failures, 0);
        l.on_finish(false);
        assert_eq!(
            l.check(0, Duration::ZERO, t0),
            BudgetVerdict::MaxAttemptsReached { failures: 1 },
            "a maximum of zero means one"
        );
        assert_eq!(
            AttemptLedger::default().check(0, Duration::ZERO, t0),
            BudgetVerdict::Allowed { attempt_number: 1 }
        );
    }

    #[test]
    fn verdicts() {
        let mut l = AttemptLedger::default();
        let t0 = Timestamp::from_unix_secs(100);
        assert_eq!(
            l.check(2, Duration::from_secs(60), t0),
            BudgetVerdict::Allowed { attempt_number: 1 }
        );
        l.on_start(t0);
        l.on_finish(false);
        assert_eq!(
            l.check(2, Duration::from_secs(60), t0 + Duration::from_secs(59)),
            BudgetVerdict::Cooldown {
                until: t0 + Duration::from_secs(60)
            }
        );
        l.on_start(t0 + Duration::from_secs(60));
        l.on_finish(false);
        assert_eq!(
            l.check(2, Duration::from_secs(60), t0 + Duration::from_secs(1000)),
            BudgetVerdict::MaxAttemptsReached { failures: 2 }
        );
        l.reset();
        assert!(matches!(
            l.check(2, Duration::ZERO, t0 + Duration::from_secs(60)),
            BudgetVerdict::Allowed { attempt_number: 1 }
        ));
    }
}
