//! Dormant mode (seed 002, layer 6): after repeated failure the engine, or one
//! tenant, stops healing altogether until a human resumes it.
//!
//! Entry: `max_consecutive_failures` healing failures in a row (default 10),
//! a breaker latching PERMANENT_OPEN, or a manual request. Exit: only
//! [`Dormancy::resume`] with a reason and an actor. Nothing time-based ever
//! wakes a dormant scope.

use serde::{Deserialize, Serialize};

use crate::ids::Actor;
use crate::time::Timestamp;

/// What put the scope to sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DormantTrigger {
    /// Too many consecutive healing failures.
    Automatic,
    /// A circuit breaker latched PERMANENT_OPEN.
    CircuitBreaker,
    /// An operator asked for it.
    Manual,
}

/// Why and since when a scope is dormant (seed 002 `DormantModeConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DormantRecord {
    /// Human-readable reason.
    pub reason: String,
    /// When it went dormant.
    pub since: Timestamp,
    /// What triggered it.
    pub triggered_by: DormantTrigger,
    /// What an operator should check before resuming.
    pub resume_conditions: Vec<String>,
    /// Always true: dormancy is only ever lifted by hand.
    pub manual_reset_required: bool,
    /// Who asked, for manual entries.
    pub actor: Option<Actor>,
}

/// The last resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRecord {
    /// Who resumed.
    pub actor: Actor,
    /// Why they judged it safe.
    pub reason: String,
    /// When.
    pub at: Timestamp,
    /// The dormancy that ended.
    pub ended: DormantRecord,
}

/// A resume was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// Not dormant; nothing to resume.
    #[error("not dormant")]
    NotDormant,
    /// A resume must say why.
    #[error("resuming from dormant mode needs a non-empty reason")]
    ReasonRequired,
}

/// Dormancy state of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dormancy {
    max_consecutive_failures: u32,
    consecutive_failures: u32,
    dormant: Option<DormantRecord>,
    last_resume: Option<ResumeRecord>,
}

impl Default for Dormancy {
    /// Seed default: dormant after 10 consecutive failures.
    fn default() -> Self {
        Dormancy::new(10)
    }
}

impl Dormancy {
    /// Awake, going dormant after `max_consecutive_failures` failures in a row
    /// (at least 1).
    pub fn new(max_consecutive_failures: u32) -> Self {
        Dormancy {
            max_consecutive_failures: max_consecutive_failures.max(1),
            consecutive_failures: 0,
            dormant: None,
            last_resume: None,
        }
    }

    /// Changes the threshold (a reloaded policy), keeping the state.
    pub fn set_max_consecutive_failures(&mut self, max: u32) {
        self.max_consecutive_failures = max.max(1);
    }

    /// Whether healing is suspended.
    pub fn is_dormant(&self) -> bool {
        self.dormant.is_some()
    }

    /// The current dormancy, if any.
    pub fn record(&self) -> Option<&DormantRecord> {
        self.dormant.as_ref()
    }

    /// The most recent resume, if any.
    pub fn last_resume(&self) -> Option<&ResumeRecord> {
        self.last_resume.as_ref()
    }

    /// Consecutive healing failures since the last success or resume.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The configured threshold.
    pub fn max_consecutive_failures(&self) -> u32 {
        self.max_consecutive_failures
    }

    /// Records a failed healing. Returns the record when this failure put the
    /// scope to sleep.
    pub fn on_healing_failure(&mut self, now: Timestamp) -> Option<&DormantRecord> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.dormant.is_none() && self.consecutive_failures >= self.max_consecutive_failures {
            self.dormant = Some(DormantRecord {
                reason: format!(
                    "exceeded max consecutive healing failures ({})",
                    self.max_consecutive_failures
                ),
                since: now,
                triggered_by: DormantTrigger::Automatic,
                resume_conditions: vec![
                    "find and fix why healing keeps failing (see the audit log)".to_owned(),
                    "check executor credentials and target health".to_owned(),
                ],
                manual_reset_required: true,
                actor: None,
            });
            return self.dormant.as_ref();
        }
        None
    }

    /// Records a successful healing. Does not wake a dormant scope.
    pub fn on_healing_success(&mut self) {
        self.consecutive_failures = 0;
    }

    /// A breaker latched PERMANENT_OPEN: go dormant (if not already).
    pub fn on_breaker_permanent_open(
        &mut self,
        breaker: &str,
        why: &str,
        now: Timestamp,
    ) -> Option<&DormantRecord> {
        if self.dormant.is_some() {
            return None;
        }
        self.dormant = Some(DormantRecord {
            reason: format!("circuit breaker {breaker:?} is PERMANENT_OPEN: {why}"),
            since: now,
            triggered_by: DormantTrigger::CircuitBreaker,
            resume_conditions: vec![
                format!("fix the cause of {why:?}"),
                format!("reset breaker {breaker:?} with a reason"),
            ],
            manual_reset_required: true,
            actor: None,
        });
        self.dormant.as_ref()
    }

    /// A failed strategy asks for safe mode (seed 004 `enter_safe_mode`).
    /// Returns false if already dormant.
    pub fn enter_safe_mode(&mut self, reason: &str, now: Timestamp) -> bool {
        if self.dormant.is_some() {
            return false;
        }
        self.dormant = Some(DormantRecord {
            reason: reason.to_owned(),
            since: now,
            triggered_by: DormantTrigger::Automatic,
            resume_conditions: vec!["verify the target by hand before resuming".to_owned()],
            manual_reset_required: true,
            actor: None,
        });
        true
    }

    /// An operator puts the scope to sleep. Returns false if already dormant
    /// (the existing record is kept).
    pub fn enter_manual(&mut self, reason: &str, actor: &Actor, now: Timestamp) -> bool {
        if self.dormant.is_some() {
            return false;
        }
        self.dormant = Some(DormantRecord {
            reason: reason.to_owned(),
            since: now,
            triggered_by: DormantTrigger::Manual,
            resume_conditions: vec!["the operator who paused healing agrees".to_owned()],
            manual_reset_required: true,
            actor: Some(actor.clone()),
        });
        true
    }

    /// The only way out of dormant mode.
    pub fn resume(
        &mut self,
        reason: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<&ResumeRecord, ResumeError> {
        if reason.trim().is_empty() {
            return Err(ResumeError::ReasonRequired);
        }
        let ended = self.dormant.take().ok_or(ResumeError::NotDormant)?;
        self.consecutive_failures = 0;
        Ok(self.last_resume.insert(ResumeRecord {
            actor: actor.clone(),
            reason: reason.trim().to_owned(),
            at: now,
            ended,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    #[test]
    fn ten_failures_put_it_to_sleep_and_only_resume_wakes_it() {
        let mut d = Dormancy::default();
        for i in 0..9 {
            assert!(d.on_healing_failure(t(i)).is_none());
        }
        let rec = d.on_healing_failure(t(9)).unwrap().clone();
        assert_eq!(rec.triggered_by, DormantTrigger::Automatic);
        assert!(rec.manual_reset_required);
        d.on_healing_success();
        assert!(d.is_dormant(), "a success does not wake it");
        assert_eq!(
            d.resume("", &Actor::new("bob"), t(20)),
            Err(ResumeError::ReasonRequired)
        );
        let resumed = d
            .resume("Valid API keys added", &Actor::new("bob"), t(20))
            .unwrap();
        assert_eq!(resumed.ended.since, t(9));
        assert!(!d.is_dormant());
        assert_eq!(d.consecutive_failures(), 0);
        assert_eq!(
            d.resume("again", &Actor::new("bob"), t(21)),
            Err(ResumeError::NotDormant)
        );
    }

    #[test]
    fn breaker_and_manual_triggers() {
        let mut d = Dormancy::default();
        let rec = d
            .on_breaker_permanent_open("kubernetes", "fatal failure class: fatal", t(1))
            .unwrap();
        assert_eq!(rec.triggered_by, DormantTrigger::CircuitBreaker);
        assert!(!d.enter_manual("maintenance", &Actor::new("a"), t(2)));
        d.resume("fixed", &Actor::new("a"), t(3)).unwrap();
        assert!(d.enter_manual("maintenance", &Actor::new("a"), t(4)));
        assert_eq!(d.record().unwrap().triggered_by, DormantTrigger::Manual);
    }

    #[test]
    fn a_success_resets_the_failure_streak() {
        let mut d = Dormancy::new(3);
        assert!(d.on_healing_failure(t(0)).is_none());
        assert!(d.on_healing_failure(t(1)).is_none());
        assert_eq!(d.consecutive_failures(), 2);
        d.on_healing_success();
        assert_eq!(d.consecutive_failures(), 0);
        assert!(d.on_healing_failure(t(2)).is_none());
        assert!(d.on_healing_failure(t(3)).is_none());
        assert!(
            !d.is_dormant(),
            "two failures after a success are not three in a row"
        );
        let rec = d.on_healing_failure(t(4)).unwrap();
        assert_eq!(rec.since, t(4));
        assert_eq!(rec.reason, "exceeded max consecutive healing failures (3)");
        assert!(d.is_dormant());
        assert_eq!(d.record().unwrap().since, t(4));
        assert!(
            d.on_healing_failure(t(5)).is_none(),
            "already dormant: no second record"
        );
        assert_eq!(d.record().unwrap().since, t(4));
    }

    #[test]
    fn the_threshold_is_at_least_one_and_can_change_keeping_the_state() {
        assert_eq!(Dormancy::new(0).max_consecutive_failures(), 1);
        assert_eq!(Dormancy::default().max_consecutive_failures(), 10);
        let mut d = Dormancy::new(5);
        d.on_healing_failure(t(0));
        d.on_healing_failure(t(1));
        d.set_max_consecutive_failures(0);
        assert_eq!(d.max_consecutive_failures(), 1);
        d.set_max_consecutive_failures(3);
        assert_eq!(d.max_consecutive_failures(), 3);
        assert_eq!(d.consecutive_failures(), 2);
        assert!(
            d.on_healing_failure(t(2)).is_some(),
            "the new threshold applies"
        );
    }

    #[test]
    fn safe_mode_and_manual_entries_only_from_awake() {
        let mut d = Dormancy::default();
        assert!(d.record().is_none());
        assert!(d.last_resume().is_none());
        assert!(d.enter_safe_mode("verification failed", t(1)));
        let rec = d.record().unwrap().clone();
        assert_eq!(
            (rec.reason.as_str(), rec.since, rec.triggered_by),
            ("verification failed", t(1), DormantTrigger::Automatic)
        );
        assert!(rec.manual_reset_required);
        assert!(!d.enter_safe_mode("again", t(2)));
        assert!(d.on_breaker_permanent_open("k", "x", t(2)).is_none());
        assert_eq!(d.record().unwrap().since, t(1), "the first record is kept");
        let resumed = d.resume(" checked ", &Actor::new("ann"), t(3)).unwrap();
        assert_eq!(resumed.reason, "checked");
        assert_eq!(resumed.ended, rec);
        assert_eq!(d.last_resume().unwrap().at, t(3));
        assert!(d.enter_manual("maintenance", &Actor::new("ann"), t(4)));
        assert_eq!(d.record().unwrap().actor, Some(Actor::new("ann")));
        assert!(!d.enter_safe_mode("later", t(5)));
    }

    #[derive(Debug, Clone)]
    enum Ev {
        Fail,
        Succeed,
        Breaker,
        Manual,
        Resume,
    }

    proptest! {
        /// Dormancy is left only by resume(reason, actor).
        #[test]
        fn prop_dormancy_only_left_by_manual_resume(
            max in 1u32..15,
            evs in prop::collection::vec(prop_oneof![
                6 => Just(Ev::Fail), 3 => Just(Ev::Succeed), 1 => Just(Ev::Breaker),
                1 => Just(Ev::Manual), 1 => Just(Ev::Resume)
            ], 0..100)
        ) {
            let mut d = Dormancy::new(max);
            let actor = Actor::new("op");
            let mut fails_in_a_row = 0u32;
            for (i, ev) in evs.into_iter().enumerate() {
                let now = t(i64::try_from(i).unwrap());
                let was = d.is_dormant();
                let resuming = matches!(ev, Ev::Resume);
                match ev {
                    Ev::Fail => { fails_in_a_row += 1; d.on_healing_failure(now); }
                    Ev::Succeed => { fails_in_a_row = 0; d.on_healing_success(); }
                    Ev::Breaker => { d.on_breaker_permanent_open("b", "x", now); }
                    Ev::Manual => { d.enter_manual("m", &actor, now); }
                    Ev::Resume => { fails_in_a_row = 0; let _ = d.resume("fixed", &actor, now); }
                }
                if was && !resuming {
                    prop_assert!(d.is_dormant());
                }
                if fails_in_a_row >= max {
                    prop_assert!(d.is_dormant());
                }
            }
        }
    }
}
