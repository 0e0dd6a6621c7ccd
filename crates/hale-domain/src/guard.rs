//! The guard rule: may Hale heal here, on this path, now?
//!
//! One function, [`evaluate`], answers for every caller: the automatic path
//! (the failure watcher), the proposal path (raising an approval request),
//! the approved path (a request humans approved, about to run) and the
//! status page ([`scope_verdict`], the same stages without a strategy). The
//! engine gathers the inputs ([`GuardInput`]), calls the rule, and applies
//! the verdict; nothing else decides whether healing may start.
//!
//! The stages, in the order they are checked (the first that blocks wins):
//!
//! | stage | guard | automatic | proposal | approved |
//! | --- | --- | --- | --- | --- |
//! | target scope | `out_of_scope` | yes | yes | yes |
//! | kill switches | `kill_switch` | global `execution` and `auto_healing`, tenant, strategy, action kinds | tenant, strategy, action kinds | global `execution`, tenant, strategy, action kinds |
//! | executors | `no_executor` | yes | yes | yes |
//! | dormancy | `dormant` | platform, then tenant | no | no |
//! | maintenance windows | `maintenance_window` | yes | no | no |
//! | backoff | `backoff` | yes | no | no |
//! | breakers | `circuit_open` | yes | yes | yes |
//! | attempt budget | `cooldown`, `max_attempts` | yes | yes | no |
//! | ineffective chain | `ineffective_chain` | yes | no | no |
//! | remediation budgets | `budget_exhausted` | yes | no | no |
//! | GitOps-owned target | `gitops_managed` | yes | yes | yes |
//! | silences | `silenced`, `silence_check_unavailable` | yes | no | no |
//! | anti-patterns | `anti_pattern` | yes | no | no |
//!
//! The target's scope comes first on every path: an alert that names a
//! namespace outside the tenant's asks for something no switch, human or
//! retry can make allowed, and is refused before anything else is read or
//! run. It is the alert's fault, not the system's, so it feeds no backoff,
//! breaker or dormancy (nothing ran).
//!
//! Why the paths differ:
//! * **Automatic**: automation acting on its own is stopped by every
//!   fail-safe (seed 002's layers).
//! * **Proposal**: a proposal only asks a human. Dormancy and backoff stop
//!   automation, not a question to a person; the global `auto_healing`
//!   switch is automation's emergency stop and the global `execution`
//!   switch (the freeze) stops what acts, not what asks. The tenant, strategy and
//!   action-kind switches say "not this at all", so they stop proposals too.
//!   The attempt budget applies: a target that keeps failing is not proposed
//!   again before its cooldown, nor past its maximum attempts.
//! * **Approved**: humans decided, so neither dormancy nor backoff, the
//!   budget, the anti-pattern memory or the global `auto_healing` switch
//!   stop it (seed 000: the decision path outranks automation). Every switch
//!   that applies to it does stop it (the freeze, the tenant, strategy and
//!   action-kind layers), and so do open breakers and missing executors,
//!   which say the action cannot work now.
//!
//! A maintenance window ([`crate::maintenance`]) stops automation only: a
//! proposal and an approved run are a human's decision already. A window
//! in `approval_only` mode blocks the automatic path too, and the block
//! says so ([`Block::asks_for_approval`]): the engine then asks a human
//! instead (the proposal path's verdict).
//!
//! Remediation budgets ([`crate::remediation`]) cap how much automation
//! disrupts at once; a proposal only asks and an approved run was decided
//! by humans, so neither is stopped by them (approved runs still count in
//! the usage automation sees). An exhausted budget is retryable and is
//! never a failure: it feeds no backoff, breaker or dormancy.
//!
//! A target a GitOps tool owns ([`crate::gitops`]) refuses the strategy's
//! `scale` and `rollout_undo` on every path unless the strategy opts in
//! (`allow_gitops_managed`): the tool would revert the change whoever
//! asked for it. The executor is asked who owns the target only when every
//! earlier stage allows (`prop_gitops_only_matters_when_every_earlier_stage_allows`);
//! the refusal waits for a human (the opt-in, or the tool's own change)
//! and, like every guard, feeds no backoff, breaker or dormancy.
//!
//! `dry_run_failed` is a guard name without a stage here: a running
//! automatic operation records it when the target's server-side dry run
//! refuses an action ([`Block::DryRunFailed`]); like the stages it is no
//! failure of the target.
//!
//! Silences ([`crate::silence`]) are asked of the tenant's Alertmanager over
//! the network, so the engine asks only when every earlier stage allows
//! (`prop_silences_only_matter_when_every_earlier_stage_allows`); an
//! unreachable Alertmanager blocks (`silence_check_unavailable`) unless the
//! tenant allows it.
//!
//! The ineffective-chain and anti-pattern stages come after the silences
//! and are last: both read the remembered failures (the chains for the
//! target, the failed fixes for the symptoms), so a caller may gather them
//! only when every other stage allows
//! (`prop_anti_patterns_only_matter_when_everything_else_allows`). A chain
//! blocks a strategy on one target after it completed there several times
//! without fixing the alert ([`crate::effectiveness`]); like an
//! anti-pattern it is lifted by archiving its knowledge entry.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anti_pattern::{RememberedFailure, SymptomsHash, blocking_chain, blocking_failure};
use crate::breaker::Rejection;
use crate::budget::{AttemptLedger, BudgetVerdict};
use crate::dormancy::DormantRecord;
use crate::gitops::{self, GitOpsGate, GitOpsOwner};
use crate::ids::{KnowledgeId, StrategyId};
use crate::kill_switch::{
    self, Feature, GlobalSwitches, SwitchLayer, SwitchVerdict, TenantSwitches,
};
use crate::maintenance::{self, MaintenanceWindow, WindowMode};
use crate::namespaces::NamespacePolicy;
use crate::remediation::{BudgetExhausted, RemediationBudgets, RemediationUsage};
use crate::resource::ResourceRef;
use crate::silence::{SilenceCheck, SilenceVerdict};
use crate::strategy::ActionKind;
use crate::time::Timestamp;
use crate::wire::wire_enum;

/// Which path wants to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealingPath {
    /// The failure watcher, on its own (LOW risk).
    Automatic,
    /// The decision path raising an approval request.
    Proposal,
    /// An approved request about to run.
    Approved,
}

wire_enum!(
    /// The guard that blocked healing (wire names of the API's `guard`).
    Guard {
        /// The target is outside the tenant's namespaces.
        OutOfScope => "out_of_scope",
        /// A kill switch on the path is off.
        KillSwitch => "kill_switch",
        /// No configured executor runs one of the strategy's actions.
        NoExecutor => "no_executor",
        /// The platform or the tenant is dormant.
        Dormant => "dormant",
        /// An executor's circuit breaker does not admit calls.
        CircuitOpen => "circuit_open",
        /// Backing off after failed healings.
        Backoff => "backoff",
        /// Too soon after the last run on the target.
        Cooldown => "cooldown",
        /// Too many failed attempts on the target in a row.
        MaxAttempts => "max_attempts",
        /// This fix already failed for these symptoms.
        AntiPattern => "anti_pattern",
        /// This fix completed on the target several times without fixing it.
        IneffectiveChain => "ineffective_chain",
        /// A remediation budget (runs in flight, started or pods disrupted
        /// per window) has no room.
        BudgetExhausted => "budget_exhausted",
        /// A maintenance window is active: automation does not act.
        MaintenanceWindow => "maintenance_window",
        /// A human silenced the alert in the tenant's Alertmanager.
        Silenced => "silenced",
        /// The tenant's Alertmanager could not say whether the alert is
        /// silenced, and the tenant fails closed.
        SilenceCheckUnavailable => "silence_check_unavailable",
        /// A GitOps tool owns the target and would revert the action
        /// (`scale`, `rollout_undo`); the strategy does not opt in.
        GitopsManaged => "gitops_managed",
        /// The target's server-side dry run of an automatic action refused
        /// it, so it was not applied. Not a stage of [`evaluate`]: a run
        /// asks it right before each applied action ([`Block::DryRunFailed`]).
        DryRunFailed => "dry_run_failed",
    }
);

/// Whether and when a blocked alert may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "retry", content = "at")]
pub enum Retry {
    /// Not until a human changes something (a switch, a resume, a reset).
    Never,
    /// Not before this instant.
    At(Timestamp),
    /// Soon, at no known instant (a half-open breaker's probe slot).
    Soon,
}

impl Retry {
    /// Whether the detection job should try again.
    pub fn is_retryable(self) -> bool {
        !matches!(self, Retry::Never)
    }
}

/// Why a guard blocked healing: the typed detail the record and the answer
/// carry. Its [`fmt::Display`] is the human text of the API's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "block")]
pub enum Block {
    /// The alert's target is outside the tenant's namespaces.
    OutOfScope {
        /// The namespace the alert named.
        namespace: String,
    },
    /// A switch is off.
    SwitchedOff {
        /// The most specific layer that is off.
        by: SwitchLayer,
    },
    /// An action kind has no executor.
    NoExecutor {
        /// The kind.
        kind: ActionKind,
    },
    /// The whole platform is dormant.
    PlatformDormant {
        /// Why.
        reason: String,
    },
    /// The tenant is dormant.
    TenantDormant {
        /// Since when.
        since: Timestamp,
        /// Why.
        reason: String,
    },
    /// Backing off after failures.
    BackingOff {
        /// Until when.
        until: Timestamp,
    },
    /// A breaker rejects calls.
    BreakerRejects {
        /// The breaker (the executor's name).
        breaker: String,
        /// What it said.
        rejection: Rejection,
    },
    /// Cooling down after the last run on the target.
    CoolingDown {
        /// Until when.
        until: Timestamp,
    },
    /// The target's failure streak reached the strategy's maximum.
    MaxAttemptsReached {
        /// Failed attempts in a row.
        failures: u32,
        /// The maximum.
        max: u32,
    },
    /// The fix was ineffective on the target too often.
    IneffectiveChain {
        /// The strategy.
        strategy: StrategyId,
        /// The knowledge entry remembering the chain.
        knowledge_id: KnowledgeId,
    },
    /// The fix already failed for these symptoms.
    KnownFailure {
        /// The strategy.
        strategy: StrategyId,
        /// The symptoms.
        symptoms: SymptomsHash,
        /// The knowledge entry remembering it.
        knowledge_id: KnowledgeId,
    },
    /// A remediation budget has no room for another automatic run.
    BudgetExhausted(BudgetExhausted),
    /// A maintenance window is active.
    InMaintenance {
        /// The window's id.
        window: String,
        /// Its mode (`approval_only`: ask a human instead).
        mode: WindowMode,
        /// When the current occurrence ends.
        until: Timestamp,
        /// The window's reason.
        reason: String,
    },
    /// The alert is silenced in the tenant's Alertmanager.
    Silenced {
        /// The silences.
        silences: Vec<String>,
    },
    /// The tenant's Alertmanager could not be asked (fail closed).
    SilenceUnknown {
        /// Why.
        error: String,
    },
    /// The target refused the dry run of an automatic action; the action
    /// was not applied. Like an alert-caused refusal it is no failure of
    /// the target's health: it feeds no backoff, breaker or dormancy
    /// ([`crate::safety::RunOutcome::Refused`]).
    DryRunFailed {
        /// The action kind.
        kind: ActionKind,
        /// What the dry run answered.
        message: String,
    },
    /// A GitOps tool owns the target and would revert the action.
    GitOpsManaged {
        /// The refused action kind.
        kind: ActionKind,
        /// Who owns the target.
        owner: GitOpsOwner,
    },
}

impl Block {
    /// Which guard this is.
    pub fn guard(&self) -> Guard {
        match self {
            Block::OutOfScope { .. } => Guard::OutOfScope,
            Block::SwitchedOff { .. } => Guard::KillSwitch,
            Block::NoExecutor { .. } => Guard::NoExecutor,
            Block::PlatformDormant { .. } | Block::TenantDormant { .. } => Guard::Dormant,
            Block::BackingOff { .. } => Guard::Backoff,
            Block::BreakerRejects { .. } => Guard::CircuitOpen,
            Block::CoolingDown { .. } => Guard::Cooldown,
            Block::MaxAttemptsReached { .. } => Guard::MaxAttempts,
            Block::KnownFailure { .. } => Guard::AntiPattern,
            Block::IneffectiveChain { .. } => Guard::IneffectiveChain,
            Block::BudgetExhausted(_) => Guard::BudgetExhausted,
            Block::InMaintenance { .. } => Guard::MaintenanceWindow,
            Block::Silenced { .. } => Guard::Silenced,
            Block::SilenceUnknown { .. } => Guard::SilenceCheckUnavailable,
            Block::GitOpsManaged { .. } => Guard::GitopsManaged,
            Block::DryRunFailed { .. } => Guard::DryRunFailed,
        }
    }

    /// Whether and when trying again can help without a human.
    pub fn retry(&self) -> Retry {
        match self {
            Block::BackingOff { until }
            | Block::CoolingDown { until }
            | Block::InMaintenance { until, .. } => Retry::At(*until),
            Block::BreakerRejects { rejection, .. } => match rejection {
                Rejection::Open { retry_at } => Retry::At(*retry_at),
                Rejection::ProbesExhausted { .. } => Retry::Soon,
                Rejection::PermanentOpen { .. } => Retry::Never,
            },
            Block::BudgetExhausted(e) => e.retry_at.map_or(Retry::Soon, Retry::At),
            Block::Silenced { .. } | Block::SilenceUnknown { .. } | Block::DryRunFailed { .. } => {
                Retry::Soon
            }
            Block::OutOfScope { .. }
            | Block::SwitchedOff { .. }
            | Block::NoExecutor { .. }
            | Block::PlatformDormant { .. }
            | Block::TenantDormant { .. }
            | Block::MaxAttemptsReached { .. }
            | Block::IneffectiveChain { .. }
            | Block::KnownFailure { .. }
            | Block::GitOpsManaged { .. } => Retry::Never,
        }
    }

    /// Whether the automatic path should ask a human instead (a window in
    /// `approval_only` mode).
    pub fn asks_for_approval(&self) -> bool {
        matches!(
            self,
            Block::InMaintenance {
                mode: WindowMode::ApprovalOnly,
                ..
            }
        )
    }

    /// The block a budget verdict stands for, if it is not `Allowed`.
    pub fn of_budget(verdict: BudgetVerdict, max_attempts: u32) -> Option<Block> {
        match verdict {
            BudgetVerdict::Allowed { .. } => None,
            BudgetVerdict::Cooldown { until } => Some(Block::CoolingDown { until }),
            BudgetVerdict::MaxAttemptsReached { failures } => Some(Block::MaxAttemptsReached {
                failures,
                max: max_attempts,
            }),
        }
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Block::OutOfScope { namespace } => write!(
                f,
                "namespace {namespace:?} is outside the tenant's namespaces; nothing was run"
            ),
            Block::SwitchedOff { by } => write!(f, "switched off at {by}"),
            Block::NoExecutor { kind } => write!(f, "no configured executor runs {kind:?}"),
            Block::PlatformDormant { reason } => write!(f, "engine dormant: {reason}"),
            Block::TenantDormant { since, reason } => {
                write!(f, "tenant dormant since {since}: {reason}")
            }
            Block::BackingOff { until } => write!(f, "backing off until {until}"),
            Block::BreakerRejects { breaker, rejection } => {
                write!(f, "breaker {breaker}: {rejection}")
            }
            Block::CoolingDown { until } => write!(f, "cooling down until {until}"),
            Block::MaxAttemptsReached { failures, max } => write!(
                f,
                "{failures} consecutive failed attempts (max {max}); fix the cause, then reset"
            ),
            Block::IneffectiveChain {
                strategy,
                knowledge_id,
            } => write!(
                f,
                "strategy {strategy} was ineffective on this target too often; see knowledge entry {knowledge_id} (archive it to allow the strategy again)"
            ),
            Block::KnownFailure {
                strategy,
                symptoms,
                knowledge_id,
            } => write!(
                f,
                "strategy {strategy} already failed for these symptoms ({symptoms}); see knowledge entry {knowledge_id}"
            ),
            Block::BudgetExhausted(e) => e.fmt(f),
            Block::InMaintenance {
                window,
                mode,
                until,
                reason,
            } => write!(
                f,
                "maintenance window {window} ({mode}) until {until}: {reason}"
            ),
            Block::Silenced { silences } => write!(
                f,
                "silenced in the tenant's Alertmanager (silence {})",
                silences.join(", ")
            ),
            Block::SilenceUnknown { error } => write!(
                f,
                "could not ask the tenant's Alertmanager whether the alert is silenced ({error}); not acting (on_unreachable = \"block\")"
            ),
            Block::DryRunFailed { kind, message } => write!(
                f,
                "the server-side dry run of {kind} failed, so it was not applied: {message}"
            ),
            Block::GitOpsManaged { kind, owner } => write!(
                f,
                "the target is managed by {owner}, which would revert {kind}; not acting (set allow_gitops_managed = true on the strategy if the tool ignores this change)"
            ),
        }
    }
}

/// The rule's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// Every stage on the path allows it.
    Allow,
    /// A stage blocked it.
    Block(Block),
}

impl Verdict {
    /// Whether healing may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow)
    }

    /// The block, if any.
    pub fn block(&self) -> Option<&Block> {
        match self {
            Verdict::Allow => None,
            Verdict::Block(b) => Some(b),
        }
    }
}

/// The executor that runs one of the strategy's action kinds, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorFor<'a> {
    /// The action kind.
    pub kind: &'a ActionKind,
    /// The executor's name (its breaker's name), or `None` if none runs it.
    pub executor: Option<&'a str>,
}

/// What an executor's breaker says now ([`crate::breaker::CircuitBreaker::would_admit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerAdmission<'a> {
    /// The breaker (executor) name.
    pub breaker: &'a str,
    /// Whether it admits a call.
    pub admission: Result<(), Rejection>,
}

/// The strategy's attempt budget on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptBudget<'a> {
    /// What happened on the target so far.
    pub ledger: &'a AttemptLedger,
    /// The strategy's maximum failed attempts in a row.
    pub max_attempts: u32,
    /// The strategy's cooldown between runs.
    pub cooldown: std::time::Duration,
}

/// The tenant's remediation budgets and their shared usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemediationCheck<'a> {
    /// The configured budgets.
    pub budgets: &'a RemediationBudgets,
    /// The usage every replica shares.
    pub usage: &'a RemediationUsage,
}

/// The tenant's maintenance windows: from the configuration and created
/// through the API (shared by every replica).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Windows<'a> {
    /// Configured.
    pub configured: &'a [MaintenanceWindow],
    /// Created through the API.
    pub ad_hoc: &'a [MaintenanceWindow],
}

impl<'a> Windows<'a> {
    /// The window that decides for `strategy` on `namespace` at `now`.
    pub fn deciding(
        &self,
        namespace: &str,
        strategy: &StrategyId,
        now: Timestamp,
    ) -> Option<maintenance::ActiveWindow<'a>> {
        let all = self.configured.iter().chain(self.ad_hoc.iter());
        maintenance::deciding_window(all, namespace, strategy, now)
    }
}

/// The fail-safe state of the scope (platform and tenant), which is all the
/// status page asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeState<'a> {
    /// The effective global switches ([`crate::kill_switch::effective_global`]).
    pub global: &'a GlobalSwitches,
    /// The tenant's switch layers.
    pub tenant: &'a TenantSwitches,
    /// The platform's dormancy, if dormant.
    pub platform_dormant: Option<&'a DormantRecord>,
    /// The tenant's dormancy, if dormant.
    pub tenant_dormant: Option<&'a DormantRecord>,
}

/// The target and where its tenant may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetScope<'a> {
    /// The target the alert resolved to.
    pub resource: &'a ResourceRef,
    /// The tenant's namespaces.
    pub namespaces: &'a NamespacePolicy,
}

/// Everything the rule reads, gathered by the engine.
#[derive(Debug, Clone, Copy)]
pub struct GuardInput<'a> {
    /// Who wants to act.
    pub path: HealingPath,
    /// The target and the tenant's namespaces.
    pub target: TargetScope<'a>,
    /// Now.
    pub now: Timestamp,
    /// Switches and dormancy.
    pub scope: ScopeState<'a>,
    /// The strategy.
    pub strategy: &'a StrategyId,
    /// Each action kind the strategy may run (rollback included), with its
    /// executor.
    pub executors: &'a [ExecutorFor<'a>],
    /// The tenant's backoff: no automatic healing before this.
    pub next_healing_at: Option<Timestamp>,
    /// The breaker of each executor named in `executors`.
    pub breakers: &'a [BreakerAdmission<'a>],
    /// The attempt budget on the target.
    pub budget: AttemptBudget<'a>,
    /// The tenant's remediation budgets.
    pub remediation: RemediationCheck<'a>,
    /// The tenant's maintenance windows (configured and ad hoc).
    pub windows: Windows<'a>,
    /// What the tenant's Alertmanager said about the alert's silences
    /// (`NotAsked` until every earlier stage allows).
    pub silence: &'a SilenceCheck,
    /// The strategy's GitOps opt-in and what the executor said about the
    /// target's owner (`NotAsked` until every earlier stage allows).
    pub gitops: GitOpsGate<'a>,
    /// The symptoms of the alert on the target.
    pub symptoms: &'a SymptomsHash,
    /// Remembered failed fixes for those symptoms and ineffective chains on
    /// the target (may be left empty when the path does not read them, or
    /// until every other stage allows).
    pub anti_patterns: &'a [RememberedFailure],
}

/// The rule for a strategy on a target (the table in the module docs).
pub fn evaluate(input: &GuardInput<'_>) -> Verdict {
    match check(input) {
        Ok(()) => Verdict::Allow,
        Err(b) => Verdict::Block(b),
    }
}

/// The scope-level part of the rule, without a strategy: whether healing on
/// `path` is on at all (kill switches of the global and tenant layers,
/// dormancy). The status page's `enabled` is this verdict for the
/// automatic path.
pub fn scope_verdict(path: HealingPath, scope: &ScopeState<'_>) -> Verdict {
    let checked = switches(path, scope, None, &[]).and_then(|()| dormancy(path, scope));
    match checked {
        Ok(()) => Verdict::Allow,
        Err(b) => Verdict::Block(b),
    }
}

/// The part of the rule a running operation re-checks at each checkpoint:
/// the switches that apply to its path (its strategy's and action kinds'
/// layers included) and, for automation, dormancy. A switch turned off or a
/// scope gone dormant mid-run stops the run before its next action.
pub fn run_verdict(
    path: HealingPath,
    scope: &ScopeState<'_>,
    strategy: &StrategyId,
    kinds: &[&ActionKind],
) -> Verdict {
    match switches(path, scope, Some(strategy), kinds).and_then(|()| dormancy(path, scope)) {
        Ok(()) => Verdict::Allow,
        Err(b) => Verdict::Block(b),
    }
}

fn check(input: &GuardInput<'_>) -> Result<(), Block> {
    let path = input.path;
    in_scope(&input.target)?;
    let kinds: Vec<&ActionKind> = input.executors.iter().map(|e| e.kind).collect();
    switches(path, &input.scope, Some(input.strategy), &kinds)?;
    if let Some(missing) = input.executors.iter().find(|e| e.executor.is_none()) {
        return Err(Block::NoExecutor {
            kind: missing.kind.clone(),
        });
    }
    dormancy(path, &input.scope)?;
    if path == HealingPath::Automatic
        && let Some(active) =
            input
                .windows
                .deciding(&input.target.resource.namespace, input.strategy, input.now)
    {
        return Err(Block::InMaintenance {
            window: active.window.id.clone(),
            mode: active.window.mode,
            until: active.occurrence.end,
            reason: active.window.reason.clone(),
        });
    }
    if path == HealingPath::Automatic
        && let Some(until) = input.next_healing_at
        && input.now < until
    {
        return Err(Block::BackingOff { until });
    }
    let rejected = input
        .breakers
        .iter()
        .find_map(|b| b.admission.as_ref().err().map(|r| (b.breaker, r)));
    if let Some((breaker, rejection)) = rejected {
        return Err(Block::BreakerRejects {
            breaker: breaker.to_owned(),
            rejection: rejection.clone(),
        });
    }
    if path != HealingPath::Approved {
        let budget = input.budget;
        let verdict = budget
            .ledger
            .check(budget.max_attempts, budget.cooldown, input.now);
        if let Some(b) = Block::of_budget(verdict, budget.max_attempts) {
            return Err(b);
        }
    }
    if path == HealingPath::Automatic {
        let r = input.remediation;
        let namespace = &input.target.resource.namespace;
        r.budgets
            .check(r.usage, namespace, input.now)
            .map_err(Block::BudgetExhausted)?;
    }
    if let Some(r) = gitops::refusal(&kinds, input.gitops) {
        return Err(Block::GitOpsManaged {
            kind: r.kind,
            owner: r.owner,
        });
    }
    if path == HealingPath::Automatic {
        match input.silence.verdict() {
            SilenceVerdict::Proceed => {}
            SilenceVerdict::Silenced(silences) => return Err(Block::Silenced { silences }),
            SilenceVerdict::Unavailable(error) => return Err(Block::SilenceUnknown { error }),
        }
    }
    if path == HealingPath::Automatic
        && let Some(hit) = blocking_chain(input.strategy, input.anti_patterns)
    {
        return Err(Block::IneffectiveChain {
            strategy: input.strategy.clone(),
            knowledge_id: hit.knowledge_id.clone(),
        });
    }
    if path == HealingPath::Automatic
        && let Some(hit) = blocking_failure(input.symptoms, input.strategy, input.anti_patterns)
    {
        return Err(Block::KnownFailure {
            strategy: input.strategy.clone(),
            symptoms: input.symptoms.clone(),
            knowledge_id: hit.knowledge_id.clone(),
        });
    }
    Ok(())
}

/// The global features a path needs: the freeze (`execution`) stops every
/// execution, `auto_healing` stops automation only; a proposal executes
/// nothing.
pub fn global_features(path: HealingPath) -> &'static [Feature] {
    match path {
        HealingPath::Automatic => &[Feature::Execution, Feature::AutoHealing],
        HealingPath::Approved => &[Feature::Execution],
        HealingPath::Proposal => &[],
    }
}

/// Kill switches: the path's global features, then the tenant, strategy and
/// action-kind layers, which stop every path.
fn switches(
    path: HealingPath,
    scope: &ScopeState<'_>,
    strategy: Option<&StrategyId>,
    kinds: &[&ActionKind],
) -> Result<(), Block> {
    let features = global_features(path);
    match kill_switch::evaluate_features(scope.global, scope.tenant, features, strategy, kinds) {
        SwitchVerdict::Enabled => Ok(()),
        SwitchVerdict::Disabled { by } => Err(Block::SwitchedOff { by }),
    }
}

/// The target's namespace must be one of the tenant's, on every path.
fn in_scope(target: &TargetScope<'_>) -> Result<(), Block> {
    let namespace = &target.resource.namespace;
    if target.namespaces.allows(namespace) {
        Ok(())
    } else {
        Err(Block::OutOfScope {
            namespace: namespace.clone(),
        })
    }
}

/// Dormancy stops automation, never a human's decision or question.
fn dormancy(path: HealingPath, scope: &ScopeState<'_>) -> Result<(), Block> {
    if path != HealingPath::Automatic {
        return Ok(());
    }
    if let Some(d) = scope.platform_dormant {
        return Err(Block::PlatformDormant {
            reason: d.reason.clone(),
        });
    }
    if let Some(d) = scope.tenant_dormant {
        return Err(Block::TenantDormant {
            since: d.since,
            reason: d.reason.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
