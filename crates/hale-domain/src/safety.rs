//! A tenant's safety state as one aggregate: its kill-switch layers,
//! dormancy, backoff, attempt ledgers and shared breaker records, and what
//! each event does to them.
//!
//! The state is a set of records ([`SafetyKey`] -> [`SafetyValue`]) that
//! every replica shares through the store: the engine loads the records an
//! event needs, builds the aggregate ([`TenantSafety::from_records`]), calls
//! the method for what happened, and writes back the records that changed
//! ([`TenantSafety::records`]) in one atomic update. The rules:
//!
//! * **Switches** ([`TenantSafety::set_switch`]): the configuration's switches
//!   are a floor; the runtime layer may add an `off`, never lift one the
//!   configuration set ([`TenantSwitches::combine`]).
//! * **An attempt** ([`TenantSafety::begin_attempt`]) re-checks the attempt
//!   budget when the path is bound by it, then records the start.
//! * **A run's aftermath** ([`TenantSafety::finish_run`]): an interrupted run
//!   counts for nothing (it did not fail the target). A healed run clears the
//!   target's failure streak, the backoff and the dormancy streak. A failed
//!   run extends the target's streak, backs off (the next automatic healing
//!   waits for the backoff delay) and counts toward dormancy. Every count is
//!   the cluster's: the record is shared.
//! * **An action's outcome** ([`TenantSafety::on_action_outcome`]) feeds the
//!   executor's shared breaker ([`SharedBreaker`]); a latch puts the tenant
//!   to sleep.
//! * **A failed strategy asking for safe mode** puts the tenant to sleep
//!   ([`TenantSafety::enter_safe_mode`]).
//! * **A resume** ([`TenantSafety::resume`]) is the only way out of dormancy
//!   and starts healing afresh: the backoff and every target's failure streak
//!   are cleared with it.
//! * **Pruning** ([`ledger_prunable`]): a ledger without a failure streak
//!   whose cooldown has passed decides what an empty one decides, so it may
//!   be deleted; one with a streak is kept.
//! * **Records** come back with the configured policy: the configured
//!   thresholds and backoff policy win, the counts carry over.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::{Backoff, BackoffPolicy, BackoffPolicyError};
use crate::breaker::shared::SharedBreaker;
use crate::breaker::{PermanentOpenRecord, Rejection, ResetError};
use crate::budget::AttemptLedger;
use crate::dormancy::{Dormancy, DormantRecord, ResumeError, ResumeRecord};
use crate::failure::FailureClass;
use crate::guard::Block;
use crate::ids::{Actor, StrategyId};
use crate::kill_switch::{Feature, GlobalSwitches, Switch, SwitchLayer, TenantSwitches};
use crate::maintenance::{EndError, MaintenanceWindow};
use crate::remediation::RemediationUsage;
use crate::resource::ResourceRef;
use crate::strategy::ActionKind;
use crate::time::Timestamp;

mod pruning;
mod records;

pub use pruning::{ledger_cooldown, ledger_prunable};
pub use records::{BackoffRecord, SafetyKey, SafetyValue};

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

    /// A key as stored.
    pub fn from_stored(key: impl Into<String>) -> LedgerKey {
        LedgerKey(key.into())
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

/// A switch change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    /// The configuration (or the flag source) sets this switch off: the API
    /// can add an off, never lift one.
    #[error(
        "{layer} is switched off by the configuration; the API cannot lift it (change the configuration file or the FEATURE_* environment)"
    )]
    ConfigFloor {
        /// The layer that is off in the configuration.
        layer: SwitchLayer,
    },
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
    /// Switches the configuration sets: a floor for the runtime layer.
    pub switches: TenantSwitches,
    /// Consecutive failures across the cluster that latch an executor's
    /// breaker PERMANENT_OPEN.
    pub permanent_open_threshold: u32,
}

/// How a run ended, as far as the safety state cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Healed and verified.
    Healed,
    /// Not healed.
    Failed,
    /// Not healed, for a reason that says nothing about the system's
    /// health: the alert named a target that is gone or an action that
    /// cannot run, or a newer lock holder fenced the run off
    /// ([`FailureClass::says_nothing_about_health`]), or the target's
    /// dry run refused an automatic action, which then was not applied
    /// (`dry_run_failed`). The target's ledger
    /// records the failed attempt, so the strategy's maximum still stops
    /// retries on that target; the tenant's backoff and dormancy never count
    /// it, so no alert can put a tenant to sleep by naming bad targets.
    Refused,
    /// Stopped before it could tell (shutdown, lock lost, yielded, switched
    /// off).
    Interrupted,
}

impl RunOutcome {
    /// How a run that failed with `class` (`None`: no class known, e.g. a
    /// verification that never confirmed health) counts.
    pub fn of_failure(class: Option<FailureClass>) -> RunOutcome {
        match class {
            Some(c) if c.says_nothing_about_health() => RunOutcome::Refused,
            _ => RunOutcome::Failed,
        }
    }
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

/// What an action's outcome did to its executor's shared breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerLatched {
    /// The latch.
    pub latch: PermanentOpenRecord,
    /// The dormancy it started, if the tenant was awake.
    pub entered_dormancy: Option<DormantRecord>,
}

/// One tenant's safety state.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSafety {
    /// The configuration's switches (not a record: the floor).
    config: TenantSwitches,
    /// The breaker threshold (not a record: configuration).
    permanent_open_threshold: u32,
    /// The switches set at run time (the runtime layer).
    pub switches: TenantSwitches,
    /// Dormancy.
    pub dormancy: Dormancy,
    /// Backoff between failed healings.
    pub backoff: Backoff,
    /// No automatic healing before this.
    pub next_healing_at: Option<Timestamp>,
    /// Attempt ledgers per strategy and target (those loaded).
    pub ledgers: BTreeMap<LedgerKey, AttemptLedger>,
    /// The shared part of each executor's breaker.
    pub breakers: BTreeMap<String, SharedBreaker>,
    /// The use of the tenant's remediation budgets.
    pub remediation: RemediationUsage,
    /// Maintenance windows created through the API (the configured ones
    /// are policy, not records).
    pub windows: Vec<MaintenanceWindow>,
}

impl TenantSafety {
    /// A fresh state under `settings`.
    pub fn new(settings: &SafetySettings) -> Result<TenantSafety, BackoffPolicyError> {
        Self::from_records(settings, [])
    }

    /// The state the records describe, under the configured policy. Absent
    /// records are fresh (awake, no backoff, empty ledgers and breakers).
    pub fn from_records(
        settings: &SafetySettings,
        records: impl IntoIterator<Item = (SafetyKey, SafetyValue)>,
    ) -> Result<TenantSafety, BackoffPolicyError> {
        let mut s = TenantSafety {
            config: settings.switches.clone(),
            permanent_open_threshold: settings.permanent_open_threshold,
            switches: TenantSwitches::default(),
            dormancy: Dormancy::new(settings.dormancy_threshold),
            backoff: Backoff::new(settings.backoff.clone(), settings.jitter_seed)?,
            next_healing_at: None,
            ledgers: BTreeMap::new(),
            breakers: BTreeMap::new(),
            remediation: RemediationUsage::default(),
            windows: Vec::new(),
        };
        for (key, value) in records {
            match (key, value) {
                (SafetyKey::Switches, SafetyValue::TenantSwitches(sw)) => s.switches = sw,
                (SafetyKey::Dormancy, SafetyValue::Dormancy(mut d)) => {
                    d.set_max_consecutive_failures(settings.dormancy_threshold);
                    s.dormancy = d;
                }
                (SafetyKey::Backoff, SafetyValue::Backoff(b)) => {
                    for _ in 0..b.failures {
                        s.backoff.on_failure();
                    }
                    s.next_healing_at = b.next_healing_at;
                }
                (SafetyKey::Ledger(k), SafetyValue::Ledger(l)) => {
                    s.ledgers.insert(k, l);
                }
                (SafetyKey::Breaker(name), SafetyValue::Breaker(b)) => {
                    s.breakers.insert(name, b);
                }
                (SafetyKey::Remediation, SafetyValue::Remediation(u)) => s.remediation = u,
                (SafetyKey::Windows, SafetyValue::Windows(w)) => s.windows = w,
                // A record whose value does not fit its key (hand-edited or
                // from another version) is ignored rather than trusted.
                _ => {}
            }
        }
        Ok(s)
    }

    /// Every record of this state (compare two states' records to find what
    /// an event changed).
    pub fn records(&self) -> BTreeMap<SafetyKey, SafetyValue> {
        let mut out = BTreeMap::new();
        out.insert(
            SafetyKey::Switches,
            SafetyValue::TenantSwitches(self.switches.clone()),
        );
        out.insert(
            SafetyKey::Dormancy,
            SafetyValue::Dormancy(self.dormancy.clone()),
        );
        out.insert(
            SafetyKey::Backoff,
            SafetyValue::Backoff(BackoffRecord {
                failures: self.backoff.failures(),
                next_healing_at: self.next_healing_at,
            }),
        );
        for (k, l) in &self.ledgers {
            out.insert(SafetyKey::Ledger(k.clone()), SafetyValue::Ledger(l.clone()));
        }
        for (name, b) in &self.breakers {
            out.insert(
                SafetyKey::Breaker(name.clone()),
                SafetyValue::Breaker(b.clone()),
            );
        }
        out.insert(
            SafetyKey::Remediation,
            SafetyValue::Remediation(self.remediation.clone()),
        );
        out.insert(
            SafetyKey::Windows,
            SafetyValue::Windows(self.windows.clone()),
        );
        out
    }

    /// The records of `self` that differ from `before` (what to write).
    pub fn changes_since(&self, before: &TenantSafety) -> Vec<(SafetyKey, SafetyValue)> {
        let old = before.records();
        self.records()
            .into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .collect()
    }

    /// The effective switch layers: the configuration's floor combined with
    /// the runtime layer, any off winning.
    pub fn effective_switches(&self) -> TenantSwitches {
        TenantSwitches::combine(&self.config, &self.switches)
    }

    /// The ledger of a strategy on a target (empty if it never ran).
    pub fn ledger(&self, key: &LedgerKey) -> AttemptLedger {
        self.ledgers.get(key).cloned().unwrap_or_default()
    }

    /// The shared part of an executor's breaker: rejected while latched.
    pub fn breaker_admission(&self, breaker: &str) -> Result<(), Rejection> {
        self.breakers
            .get(breaker)
            .map_or(Ok(()), SharedBreaker::admission)
    }

    /// An attempt starts. With a budget (`max_attempts`, `cooldown`), the
    /// budget is checked first and a block is returned instead of recording
    /// the start; without one (a run humans approved) the start is recorded
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
        }
        let attempt_number = ledger.consecutive_failures.saturating_add(1);
        ledger.on_start(now);
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
                Aftermath {
                    counted: true,
                    next_healing_at: None,
                    entered_dormancy: None,
                }
            }
            RunOutcome::Refused => {
                self.ledgers.entry(key).or_default().on_finish(false);
                Aftermath {
                    counted: true,
                    next_healing_at: self.next_healing_at,
                    entered_dormancy: None,
                }
            }
            RunOutcome::Failed => {
                self.ledgers.entry(key).or_default().on_finish(false);
                let delay = self.backoff.on_failure();
                self.next_healing_at = Some(now + delay);
                Aftermath {
                    counted: true,
                    next_healing_at: self.next_healing_at,
                    entered_dormancy: self.dormancy.on_healing_failure(now).cloned(),
                }
            }
        }
    }

    /// An action ran on `breaker`'s executor with `outcome`: the shared
    /// breaker counts it, and a latch puts the tenant to sleep. Returns the
    /// latch, if this outcome caused it.
    pub fn on_action_outcome(
        &mut self,
        breaker: &str,
        outcome: Result<(), FailureClass>,
        now: Timestamp,
    ) -> Option<BreakerLatched> {
        let threshold = self.permanent_open_threshold;
        let latch = self
            .breakers
            .entry(breaker.to_owned())
            .or_default()
            .on_outcome(outcome, threshold, now)?;
        let why = latch.reason.clone();
        let entered_dormancy = self
            .dormancy
            .on_breaker_permanent_open(breaker, &why, now)
            .cloned();
        Some(BreakerLatched {
            latch,
            entered_dormancy,
        })
    }

    /// A human resets an executor's breaker on every replica. Returns
    /// whether it was latched; `false` also for a breaker never used.
    pub fn reset_breaker(
        &mut self,
        breaker: &str,
        reason: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<bool, ResetError> {
        self.breakers
            .entry(breaker.to_owned())
            .or_default()
            .reset(reason, actor, now)
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
    /// afresh: the backoff and every loaded target's failure streak are
    /// cleared (load every ledger first).
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

    /// A human opens a maintenance window. Windows over for more than
    /// [`WINDOW_RETENTION`] are dropped (the audit log keeps them).
    pub fn open_window(
        &mut self,
        window: MaintenanceWindow,
        now: Timestamp,
    ) -> Result<(), WindowError> {
        if let Err(e) = window.schedule.validate() {
            return Err(WindowError::Invalid(e.to_string()));
        }
        self.windows
            .retain(|w| !w.is_over(now.saturating_sub(WINDOW_RETENTION)));
        if self.windows.iter().any(|w| w.id == window.id) {
            return Err(WindowError::Exists(window.id));
        }
        if self.windows.iter().filter(|w| !w.is_over(now)).count() >= MAX_OPEN_WINDOWS {
            return Err(WindowError::TooMany);
        }
        self.windows.push(window);
        Ok(())
    }

    /// A human ends a window created through the API. Returns it as ended.
    pub fn end_window(
        &mut self,
        id: &str,
        by: &Actor,
        reason: &str,
        now: Timestamp,
    ) -> Result<MaintenanceWindow, WindowError> {
        let w = self
            .windows
            .iter_mut()
            .find(|w| w.id == id)
            .ok_or_else(|| WindowError::NotFound(id.to_owned()))?;
        w.end(by, reason, now).map_err(WindowError::End)?;
        Ok(w.clone())
    }

    /// Sets (or with `None` unsets) a switch of the runtime layer. Setting
    /// `on` where the configuration says `off` is refused: the configuration
    /// is a floor.
    pub fn set_switch(
        &mut self,
        target: &TenantSwitchTarget,
        switch: Option<Switch>,
    ) -> Result<(), SwitchError> {
        let floor = |s: Option<&Switch>, layer: SwitchLayer| match (s, switch) {
            (Some(Switch::Off), Some(Switch::On)) => Err(SwitchError::ConfigFloor { layer }),
            _ => Ok(()),
        };
        let sw = &mut self.switches;
        match target {
            TenantSwitchTarget::Tenant => {
                floor(self.config.tenant.as_ref(), SwitchLayer::Tenant)?;
                sw.tenant = switch;
            }
            TenantSwitchTarget::Strategy(s) => {
                floor(
                    self.config.strategies.get(s),
                    SwitchLayer::Strategy(s.clone()),
                )?;
                set(&mut sw.strategies, s.clone(), switch);
            }
            TenantSwitchTarget::ActionKind(k) => {
                floor(
                    self.config.action_kinds.get(k),
                    SwitchLayer::ActionKind(k.clone()),
                )?;
                set(&mut sw.action_kinds, k.clone(), switch);
            }
        }
        Ok(())
    }
}

/// How long a window that is over stays listed.
pub const WINDOW_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// At most this many windows created through the API may be open or
/// upcoming at once (one record holds them all).
pub const MAX_OPEN_WINDOWS: usize = 100;

/// A window change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The schedule can never be active.
    #[error("invalid schedule: {0}")]
    Invalid(String),
    /// A window with this id exists.
    #[error("a window with id {0} exists")]
    Exists(String),
    /// No window has this id.
    #[error("no window with id {0} was created through the API")]
    NotFound(String),
    /// Too many open windows.
    #[error("at most {MAX_OPEN_WINDOWS} windows may be open or upcoming at once")]
    TooMany,
    /// It cannot be ended.
    #[error(transparent)]
    End(EndError),
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
    /// The state the platform's records describe.
    pub fn from_records(
        dormancy_threshold: u32,
        records: impl IntoIterator<Item = (SafetyKey, SafetyValue)>,
    ) -> PlatformSafety {
        let mut p = PlatformSafety {
            switches: GlobalSwitches::default(),
            dormancy: Dormancy::new(dormancy_threshold),
        };
        for (key, value) in records {
            match (key, value) {
                (SafetyKey::Switches, SafetyValue::GlobalSwitches(sw)) => p.switches = sw,
                (SafetyKey::Dormancy, SafetyValue::Dormancy(mut d)) => {
                    d.set_max_consecutive_failures(dormancy_threshold);
                    p.dormancy = d;
                }
                _ => {}
            }
        }
        p
    }

    /// Every record of this state.
    pub fn records(&self) -> BTreeMap<SafetyKey, SafetyValue> {
        BTreeMap::from([
            (
                SafetyKey::Switches,
                SafetyValue::GlobalSwitches(self.switches.clone()),
            ),
            (
                SafetyKey::Dormancy,
                SafetyValue::Dormancy(self.dormancy.clone()),
            ),
        ])
    }

    /// The records of `self` that differ from `before`.
    pub fn changes_since(&self, before: &PlatformSafety) -> Vec<(SafetyKey, SafetyValue)> {
        let old = before.records();
        self.records()
            .into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .collect()
    }

    /// Sets (or with `None` unsets) a global feature switch at run time.
    /// Setting `on` where the flag source (the configuration's `[flags]` or
    /// the `FEATURE_*` environment) says `off` is refused: it is a floor.
    pub fn set_switch(
        &mut self,
        feature: Feature,
        switch: Option<Switch>,
        flags: &GlobalSwitches,
    ) -> Result<(), SwitchError> {
        if switch == Some(Switch::On) && !flags.is_on(feature) {
            return Err(SwitchError::ConfigFloor {
                layer: SwitchLayer::Global(feature),
            });
        }
        set(&mut self.switches.features, feature, switch);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
