//! The guards between a matched strategy and action: kill switches,
//! dormancy, circuit breakers, backoff, cooldown, max attempts and the
//! anti-pattern memory. Each is a pure domain rule; this module gathers
//! their inputs and applies them in order.

use std::collections::BTreeSet;

use hale_domain::ResourceRef;
use hale_domain::anti_pattern::{RememberedFailure, SymptomsHash, blocking_failure};
use hale_domain::budget::BudgetVerdict;
use hale_domain::kill_switch::{self, Feature, GlobalSwitches, SwitchVerdict};
use hale_domain::strategy::{ExecutionPath, Strategy};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::intake::Evaluation;
use crate::tenant::ledger_key;

/// Why a guard stopped an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The guard (`kill_switch`, `dormant`, `circuit_open`, `backoff`,
    /// `cooldown`, `max_attempts`, `anti_pattern`, `no_executor`).
    pub guard: &'static str,
    /// Details for the record.
    pub detail: String,
    /// Whether the detection job should try again later.
    pub retryable: bool,
}

fn block(guard: &'static str, detail: impl Into<String>, retryable: bool) -> Block {
    Block {
        guard,
        detail: detail.into(),
        retryable,
    }
}

impl Inner {
    /// Applies every guard. `Ok(Err(block))` is a verdict; `Err` is a store
    /// failure while gathering inputs.
    pub(crate) async fn check_guards(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
    ) -> Result<Result<(), Block>, EngineError> {
        let automatic = strategy.execution_path() == ExecutionPath::Automatic;
        if let Some(b) = self.static_guards(ev, strategy, resource, automatic) {
            return Ok(Err(b));
        }
        if automatic {
            // Anti-pattern memory: a fix that failed for these symptoms is
            // not tried again automatically (archiving the entry lifts it).
            let symptoms = SymptomsHash::of(ev.alert, resource);
            let entries = self
                .ports
                .stores
                .knowledge
                .active_anti_patterns(ev.tenant(), &symptoms)
                .await?;
            let remembered: Vec<RememberedFailure> = entries
                .iter()
                .filter_map(|e| e.as_remembered_failure())
                .collect();
            if let Some(hit) = blocking_failure(&symptoms, &strategy.id, &remembered) {
                return Ok(Err(block(
                    "anti_pattern",
                    format!(
                        "strategy {} already failed for these symptoms ({symptoms}); see knowledge entry {}",
                        strategy.id, hit.knowledge_id
                    ),
                    false,
                )));
            }
        }
        Ok(Ok(()))
    }

    /// The guards that need no IO.
    fn static_guards(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        automatic: bool,
    ) -> Option<Block> {
        let now = ev.now;
        // Kill switches. The global `auto_healing` switch stops automation;
        // the tenant, strategy and action-kind switches stop proposals too.
        let global = if automatic {
            self.global_switches()
        } else {
            GlobalSwitches::default()
        };
        let kinds = strategy.action_kinds();
        let verdict = {
            let st = ev.rt.state();
            kill_switch::evaluate(
                &global,
                &st.switches,
                Feature::AutoHealing,
                Some(&strategy.id),
                &kinds,
            )
        };
        if let SwitchVerdict::Disabled { by } = verdict {
            return Some(block("kill_switch", format!("switched off at {by}"), false));
        }
        // Executors must exist for every action before anything starts.
        let mut executors = BTreeSet::new();
        for kind in &kinds {
            match self.ports.executor_for(kind) {
                Some(e) => {
                    executors.insert(e.name().to_owned());
                }
                None => {
                    return Some(block(
                        "no_executor",
                        format!("no configured executor runs {kind:?}"),
                        false,
                    ));
                }
            }
        }
        if automatic {
            let platform_dormant = self
                .platform
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .dormancy
                .record()
                .map(|r| r.reason.clone());
            if let Some(reason) = platform_dormant {
                return Some(block("dormant", format!("engine dormant: {reason}"), false));
            }
            let st = ev.rt.state();
            if let Some(rec) = st.dormancy.record() {
                return Some(block(
                    "dormant",
                    format!("tenant dormant since {}: {}", rec.since, rec.reason),
                    false,
                ));
            }
            if let Some(at) = st.next_healing_at
                && now < at
            {
                return Some(block("backoff", format!("backing off until {at}"), true));
            }
        }
        for name in &executors {
            if let Err(rejection) = ev.rt.breaker(name).would_admit(now) {
                let permanent = matches!(
                    rejection,
                    hale_domain::breaker::Rejection::PermanentOpen { .. }
                );
                return Some(block(
                    "circuit_open",
                    format!("breaker {name}: {rejection}"),
                    !permanent,
                ));
            }
        }
        let ledger = ev
            .rt
            .state()
            .ledgers
            .get(&ledger_key(&strategy.id, resource))
            .cloned()
            .unwrap_or_default();
        match ledger.check(strategy.max_attempts, strategy.cooldown, now) {
            BudgetVerdict::Allowed { .. } => None,
            BudgetVerdict::Cooldown { until } => Some(block(
                "cooldown",
                format!("cooling down until {until}"),
                true,
            )),
            BudgetVerdict::MaxAttemptsReached { failures } => Some(block(
                "max_attempts",
                format!(
                    "{failures} consecutive failed attempts (max {}); fix the cause, then reset",
                    strategy.max_attempts
                ),
                false,
            )),
        }
    }
}
