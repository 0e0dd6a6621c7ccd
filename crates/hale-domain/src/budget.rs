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

    /// Whether the ledger is spent at `now` under `cooldown`: it carries no
    /// failure streak and its cooldown has passed (or it never started).
    ///
    /// A spent ledger decides what an empty one decides, at `now` and at
    /// every later time, for every maximum and every later event
    /// (`prop_spent_ledger_decides_like_an_empty_one`), so it can be
    /// forgotten: that is how ledgers are pruned. A ledger with a failure
    /// streak is never spent (it may carry a max-attempts block) until a
    /// success, a reset or a resume clears the streak.
    pub fn is_spent(&self, cooldown: Duration, now: Timestamp) -> bool {
        self.consecutive_failures == 0
            && self
                .last_started_at
                .is_none_or(|last| last + cooldown <= now)
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

    /// The events a ledger sees after the pruning decision.
    #[derive(Debug, Clone)]
    enum Later {
        Start,
        Finish(bool),
        Reset,
    }

    fn later() -> impl Strategy<Value = Later> {
        prop_oneof![
            Just(Later::Start),
            any::<bool>().prop_map(Later::Finish),
            Just(Later::Reset),
        ]
    }

    fn any_ledger() -> impl Strategy<Value = AttemptLedger> {
        (0u32..4, 0u32..50, proptest::option::of(0i64..2_000)).prop_map(
            |(consecutive_failures, total_attempts, last)| AttemptLedger {
                consecutive_failures,
                total_attempts,
                last_started_at: last.map(Timestamp::from_unix_secs),
            },
        )
    }

    proptest! {
        /// Pruning forgets nothing that decides: a ledger spent at `now`
        /// decides exactly what an empty ledger decides at every later time,
        /// for every maximum, and keeps doing so through any later events
        /// applied to both. And only spent ledgers do: a ledger that is not
        /// spent decides differently from an empty one at `now` for some
        /// maximum.
        #[test]
        fn prop_spent_ledger_decides_like_an_empty_one(
            ledger in any_ledger(), cooldown_s in 0u64..600, now_s in 0i64..2_500,
            steps in prop::collection::vec((0u64..700, later(), 1u32..6), 0..40),
        ) {
            let cooldown = Duration::from_secs(cooldown_s);
            let now = Timestamp::from_unix_secs(now_s);
            if !ledger.is_spent(cooldown, now) {
                let max = ledger.consecutive_failures.max(1);
                prop_assert_ne!(
                    ledger.check(max, cooldown, now),
                    AttemptLedger::default().check(max, cooldown, now),
                    "a ledger that is not spent must differ from an empty one"
                );
                return Ok(());
            }
            let (mut spent, mut empty) = (ledger, AttemptLedger::default());
            let mut at = now;
            for (advance, event, max) in steps {
                at = at + Duration::from_secs(advance);
                prop_assert_eq!(spent.check(max, cooldown, at), empty.check(max, cooldown, at));
                for l in [&mut spent, &mut empty] {
                    match event {
                        Later::Start => l.on_start(at),
                        Later::Finish(ok) => l.on_finish(ok),
                        Later::Reset => l.reset(),
                    }
                }
            }
            prop_assert_eq!(spent.check(1, cooldown, at), empty.check(1, cooldown, at));
        }
    }

    #[test]
    fn spent_needs_no_streak_and_a_passed_cooldown() {
        let t0 = Timestamp::from_unix_secs(100);
        let cooldown = Duration::from_secs(60);
        let mut l = AttemptLedger::default();
        assert!(l.is_spent(cooldown, t0), "a ledger never started is spent");
        l.on_start(t0);
        assert!(!l.is_spent(cooldown, t0 + cooldown - Duration::from_micros(1)));
        assert!(
            l.is_spent(cooldown, t0 + cooldown),
            "the cooldown ends at the instant"
        );
        l.on_finish(false);
        assert!(
            !l.is_spent(cooldown, t0 + Duration::from_secs(1_000_000)),
            "a failure streak keeps the ledger"
        );
        l.reset();
        assert!(l.is_spent(cooldown, t0 + cooldown));
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
