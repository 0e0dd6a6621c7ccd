//! A tenant's safety state as one aggregate: its kill-switch layers,
//! dormancy, backoff, attempt ledgers and counters, and what each event does
//! to them.
//!
//! The engine keeps one [`TenantSafety`] per tenant and never changes a field
//! itself: it calls the method for what happened (an attempt starts, a run
//! ends, a breaker latches, a human resumes or resets) and applies the value
//! the method returns (audit, escalate, persist). The rules:
//!
//! * **An attempt** ([`TenantSafety::begin_attempt`]) re-checks the attempt
//!   budget when the path is bound by it, then counts the start.
//! * **A run's aftermath** ([`TenantSafety::finish_run`]): an interrupted run
//!   counts for nothing (it did not fail the target). A healed run clears the
//!   target's failure streak, the backoff and the dormancy streak. A failed
//!   run extends the target's streak, backs off (the next automatic healing
//!   waits for the backoff delay) and counts toward dormancy.
//! * **A breaker latching PERMANENT_OPEN** puts the tenant to sleep
//!   ([`TenantSafety::on_breaker_transition`]).
//! * **A failed strategy asking for safe mode** puts the tenant to sleep
//!   ([`TenantSafety::enter_safe_mode`]).
//! * **A resume** ([`TenantSafety::resume`]) is the only way out of dormancy
//!   and starts healing afresh: the backoff and every target's failure streak
//!   are cleared with it.
//! * **A restore** ([`TenantSafety::restore`]) takes the persisted state with
//!   the configured policy: the configured thresholds win, the counts carry
//!   over.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::{Backoff, BackoffPolicy, BackoffPolicyError};
use crate::breaker::{BreakerState, Transition};
use crate::budget::{AttemptLedger, BudgetVerdict};
use crate::dormancy::{Dormancy, DormantRecord, ResumeError, ResumeRecord};
use crate::guard::Block;
use crate::ids::{Actor, StrategyId};
use crate::kill_switch::{Feature, GlobalSwitches, Switch, TenantSwitches};
use crate::resource::ResourceRef;
use crate::strategy::ActionKind;
use crate::time::Timestamp;

/// The attempt ledger key of a strategy on a target
/// (`strategy|namespace:kind/name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LedgerKey(String);

impl LedgerKey {
    /// The key of `strategy` on `resource`.
    pub fn new(strategy: &StrategyId, resource: &ResourceRef) -> LedgerKey {
        LedgerKey(format!("{strategy}|{}", resource.key()))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Healing counters (seed 002 `/status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealingCounters {
    /// Operations started.
    pub total_attempts: u64,
    /// Operations completed.
    pub successful_healings: u64,
    /// Operations failed.
    pub failed_healings: u64,
}

/// A tenant-level switch to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "layer", content = "key")]
pub enum TenantSwitchTarget {
    /// The tenant-wide switch.
    Tenant,
    /// One strategy.
    Strategy(StrategyId),
    /// One action kind.
    ActionKind(ActionKind),
}

impl fmt::Display for TenantSwitchTarget {
    /// The control object as the audit log names it (`switch:tenant`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantSwitchTarget::Tenant => f.write_str("switch:tenant"),
            TenantSwitchTarget::Strategy(s) => write!(f, "switch:strategy:{s}"),
            TenantSwitchTarget::ActionKind(k) => write!(f, "switch:action_kind:{k}"),
        }
    }
}

/// The configured part of a tenant's safety policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetySettings {
    /// Consecutive failed healings before dormancy.
    pub dormancy_threshold: u32,
    /// Backoff between failed healings.
    pub backoff: BackoffPolicy,
    /// The backoff's jitter seed (per tenant, so tenants do not back off in
    /// lockstep).
    pub jitter_seed: u64,
    /// Switches the configuration sets.
    pub switches: TenantSwitches,
}

/// The persisted form of [`TenantSafety`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetySnapshot {
    /// Dormancy.
    pub dormancy: Dormancy,
    /// Engine-level backoff between healing attempts.
    pub backoff: Backoff,
    /// No healing starts before this instant (backoff).
    pub next_healing_at: Option<Timestamp>,
    /// Attempt ledgers.
    pub ledgers: BTreeMap<LedgerKey, AttemptLedger>,
    /// Kill switches set at runtime.
    pub switches: TenantSwitches,
    /// Counters for the status page.
    pub counters: HealingCounters,
}

/// How a run ended, as far as the safety state cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Healed and verified.
    Healed,
    /// Not healed.
    Failed,
    /// Stopped before it could tell (shutdown, lock lost, yielded).
    Interrupted,
}

/// What a finished run did to the safety state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aftermath {
    /// Whether the run counted (an interrupted run does not).
    pub counted: bool,
    /// No automatic healing before this (set after a failure).
    pub next_healing_at: Option<Timestamp>,
    /// The dormancy this run's failure started, to audit and escalate.
    pub entered_dormancy: Option<DormantRecord>,
}

/// One tenant's safety state.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSafety {
    /// The tenant's kill-switch layers.
    pub switches: TenantSwitches,
    /// Dormancy.
    pub dormancy: Dormancy,
    /// Backoff between failed healings.
    pub backoff: Backoff,
    /// No automatic healing before this.
    pub next_healing_at: Option<Timestamp>,
    /// Attempt ledgers per strategy and target.
    pub ledgers: BTreeMap<LedgerKey, AttemptLedger>,
    /// Counters for the status page.
    pub counters: HealingCounters,
    /// When the last failed healing finished (this process's view).
    pub last_failure_at: Option<Timestamp>,
}

impl TenantSafety {
    /// A fresh state under `settings`.
    pub fn new(settings: &SafetySettings) -> Result<TenantSafety, BackoffPolicyError> {
        Ok(TenantSafety {
            switches: settings.switches.clone(),
            dormancy: Dormancy::new(settings.dormancy_threshold),
            backoff: Backoff::new(settings.backoff.clone(), settings.jitter_seed)?,
            next_healing_at: None,
            ledgers: BTreeMap::new(),
            counters: HealingCounters::default(),
            last_failure_at: None,
        })
    }

    /// The persisted state under the configured policy: the configured
    /// thresholds and backoff policy win, the counts carry over, switches
    /// set at run time override the configured ones.
    pub fn restore(
        settings: &SafetySettings,
        saved: SafetySnapshot,
    ) -> Result<TenantSafety, BackoffPolicyError> {
        let mut backoff = Backoff::new(settings.backoff.clone(), settings.jitter_seed)?;
        for _ in 0..saved.backoff.failures() {
            backoff.on_failure();
        }
        let mut dormancy = saved.dormancy;
        dormancy.set_max_consecutive_failures(settings.dormancy_threshold);
        let mut switches = settings.switches.clone();
        switches.tenant = saved.switches.tenant.or(switches.tenant);
        switches.strategies.extend(saved.switches.strategies);
        switches.action_kinds.extend(saved.switches.action_kinds);
        Ok(TenantSafety {
            switches,
            dormancy,
            backoff,
            next_healing_at: saved.next_healing_at,
            ledgers: saved.ledgers,
            counters: saved.counters,
            last_failure_at: None,
        })
    }

    /// The persisted form.
    pub fn snapshot(&self) -> SafetySnapshot {
        SafetySnapshot {
            dormancy: self.dormancy.clone(),
            backoff: self.backoff.clone(),
            next_healing_at: self.next_healing_at,
            ledgers: self.ledgers.clone(),
            switches: self.switches.clone(),
            counters: self.counters,
        }
    }

    /// The ledger of a strategy on a target (empty if it never ran).
    pub fn ledger(&self, key: &LedgerKey) -> AttemptLedger {
        self.ledgers.get(key).cloned().unwrap_or_default()
    }

    /// An attempt starts. With a budget (`max_attempts`, `cooldown`), the
    /// budget is checked first and a block is returned instead of counting
    /// the start; without one (a run humans approved) the start is counted
    /// as is. Returns the attempt's number in the target's failure streak
    /// (1-based).
    pub fn begin_attempt(
        &mut self,
        key: LedgerKey,
        budget: Option<(u32, Duration)>,
        now: Timestamp,
    ) -> Result<u32, Block> {
        let ledger = self.ledgers.entry(key).or_default();
        if let Some((max_attempts, cooldown)) = budget {
            let verdict = ledger.check(max_attempts, cooldown, now);
            if let Some(block) = Block::of_budget(verdict, max_attempts) {
                return Err(block);
            }
            debug_assert!(matches!(verdict, BudgetVerdict::Allowed { .. }));
        }
        let attempt_number = ledger.consecutive_failures.saturating_add(1);
        ledger.on_start(now);
        self.counters.total_attempts = self.counters.total_attempts.saturating_add(1);
        Ok(attempt_number)
    }

    /// A run of the strategy on the target (`key`) ended with `outcome`.
    pub fn finish_run(&mut self, key: LedgerKey, outcome: RunOutcome, now: Timestamp) -> Aftermath {
        match outcome {
            RunOutcome::Interrupted => Aftermath {
                counted: false,
                next_healing_at: self.next_healing_at,
                entered_dormancy: None,
            },
            RunOutcome::Healed => {
                self.ledgers.entry(key).or_default().on_finish(true);
                self.backoff.reset();
                self.next_healing_at = None;
                self.dormancy.on_healing_success();
                self.counters.successful_healings =
                    self.counters.successful_healings.saturating_add(1);
                Aftermath {
                    counted: true,
                    next_healing_at: None,
                    entered_dormancy: None,
                }
            }
            RunOutcome::Failed => {
                self.ledgers.entry(key).or_default().on_finish(false);
                let delay = self.backoff.on_failure();
                self.next_healing_at = Some(now + delay);
                self.counters.failed_healings = self.counters.failed_healings.saturating_add(1);
                self.last_failure_at = Some(now);
                Aftermath {
                    counted: true,
                    next_healing_at: self.next_healing_at,
                    entered_dormancy: self.dormancy.on_healing_failure(now).cloned(),
                }
            }
        }
    }

    /// A breaker changed state: latching PERMANENT_OPEN puts the tenant to
    /// sleep. Returns the dormancy it started, if any.
    pub fn on_breaker_transition(
        &mut self,
        breaker: &str,
        t: &Transition,
    ) -> Option<DormantRecord> {
        if t.to != BreakerState::PermanentOpen {
            return None;
        }
        let why = format!("{:?}", t.cause);
        self.dormancy
            .on_breaker_permanent_open(breaker, &why, t.at)
            .cloned()
    }

    /// A failed strategy asks for safe mode (seed 004 `enter_safe_mode`).
    /// Returns the dormancy it started, if the tenant was awake.
    pub fn enter_safe_mode(
        &mut self,
        strategy: &StrategyId,
        error: &str,
        now: Timestamp,
    ) -> Option<DormantRecord> {
        let reason = format!("strategy {strategy} failed and asks for safe mode: {error}");
        if self.dormancy.enter_safe_mode(&reason, now) {
            self.dormancy.record().cloned()
        } else {
            None
        }
    }

    /// A human wakes the tenant: the only way out of dormancy. Healing starts
    /// afresh: the backoff and every target's failure streak are cleared.
    pub fn resume(
        &mut self,
        reason: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<ResumeRecord, ResumeError> {
        let record = self.dormancy.resume(reason, actor, now)?.clone();
        self.backoff.reset();
        self.next_healing_at = None;
        for ledger in self.ledgers.values_mut() {
            ledger.reset();
        }
        Ok(record)
    }

    /// A human clears a strategy's failure streak on a target (after max
    /// attempts). Returns false when the strategy never ran there.
    pub fn reset_attempts(&mut self, key: &LedgerKey) -> bool {
        match self.ledgers.get_mut(key) {
            Some(ledger) => {
                ledger.reset();
                true
            }
            None => false,
        }
    }

    /// Sets (or with `None` unsets) a tenant-level switch.
    pub fn set_switch(&mut self, target: &TenantSwitchTarget, switch: Option<Switch>) {
        let sw = &mut self.switches;
        match target {
            TenantSwitchTarget::Tenant => sw.tenant = switch,
            TenantSwitchTarget::Strategy(s) => set(&mut sw.strategies, s.clone(), switch),
            TenantSwitchTarget::ActionKind(k) => set(&mut sw.action_kinds, k.clone(), switch),
        }
    }
}

fn set<K: Ord>(map: &mut BTreeMap<K, Switch>, key: K, switch: Option<Switch>) {
    match switch {
        Some(s) => {
            map.insert(key, s);
        }
        None => {
            map.remove(&key);
        }
    }
}

/// The platform's safety state: the global switches set at run time and
/// global dormancy (manual only).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlatformSafety {
    /// Global switches set through the control API.
    pub switches: GlobalSwitches,
    /// Global dormancy.
    pub dormancy: Dormancy,
}

impl PlatformSafety {
    /// Sets (or with `None` unsets) a global feature switch.
    pub fn set_switch(&mut self, feature: Feature, switch: Option<Switch>) {
        set(&mut self.switches.features, feature, switch);
    }
}

#[cfg(test)]
mod tests;
