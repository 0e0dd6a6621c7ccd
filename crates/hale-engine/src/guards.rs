//! Gathering the inputs of the guard rule ([`hale_domain::guard`]) for a
//! strategy on a target, and asking it. The rule decides; this module only
//! reads the switches, dormancy, breakers, ledgers and the anti-pattern
//! memory it needs.

use std::collections::BTreeSet;

use hale_domain::alert::Alert;
use hale_domain::anti_pattern::{RememberedFailure, SymptomsHash};
use hale_domain::gitops::{self, GitOpsGate, OwnershipCheck};
use hale_domain::guard::{
    self, AttemptBudget, BreakerAdmission, ExecutorFor, GuardInput, HealingPath, RemediationCheck,
    ScopeState, TargetScope, Verdict, Windows,
};
use hale_domain::kill_switch;
use hale_domain::safety::{LedgerKey, PlatformSafety, TenantSafety};
use hale_domain::silence::SilenceCheck;
use hale_domain::strategy::Strategy;
use hale_domain::{ResourceRef, Timestamp};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::ports::{OwnerRequest, SilenceAnswer, SilenceQuery};
use crate::tenant::TenantRuntime;

/// A guard verdict, with what the verdict let through unchecked.
pub(crate) struct GuardAnswer {
    /// Allow or block.
    pub verdict: Verdict,
    /// The error of a silence check the Alertmanager did not answer while
    /// the tenant's `on_unreachable = "allow"` let the verdict allow
    /// ([`SilenceCheck::unanswered_but_allowed`]); the caller records it
    /// with the run.
    pub silence_unanswered: Option<String>,
}

impl GuardAnswer {
    fn of(verdict: Verdict) -> GuardAnswer {
        GuardAnswer {
            verdict,
            silence_unanswered: None,
        }
    }
}

impl Inner {
    /// The guard verdict for `strategy` on `resource` on `path`. The
    /// anti-pattern memory (a store read) is gathered only for the automatic
    /// path and only when every other stage allows: the rule checks it
    /// last, so the verdict is the same as with it gathered up front
    /// (`prop_anti_patterns_only_matter_when_everything_else_allows`).
    /// `Err` is a store failure while gathering.
    pub(crate) async fn guard_verdict(
        &self,
        rt: &TenantRuntime,
        path: HealingPath,
        strategy: &Strategy,
        resource: &ResourceRef,
        alert: &Alert,
        now: Timestamp,
    ) -> Result<GuardAnswer, EngineError> {
        let symptoms = SymptomsHash::of(alert, resource);
        let not_asked = SilenceCheck::NotAsked;
        let owner_not_asked = OwnershipCheck::NotAsked;
        let mut g = Gathered {
            path,
            strategy,
            resource,
            symptoms: &symptoms,
            anti_patterns: &[],
            silence: &not_asked,
            gitops: &owner_not_asked,
            now,
        };
        let mut verdict = self.guard_with(rt, &g);
        // The target's executor is asked who owns it only now, on every
        // path: every earlier stage allows
        // (`prop_gitops_only_matters_when_every_earlier_stage_allows`).
        let ownership = match verdict.is_allowed() {
            true => self.ask_gitops_owner(rt, strategy, resource).await,
            false => OwnershipCheck::NotAsked,
        };
        if ownership != OwnershipCheck::NotAsked {
            g.gitops = &ownership;
            verdict = self.guard_with(rt, &g);
        }
        if path != HealingPath::Automatic || !verdict.is_allowed() {
            return Ok(GuardAnswer::of(verdict));
        }
        // The tenant's Alertmanager is asked only now: every earlier stage
        // allows (`prop_silences_only_matter_when_every_earlier_stage_allows`).
        let silence = self.ask_silences(rt, alert).await;
        g.silence = &silence;
        let verdict = self.guard_with(rt, &g);
        if !verdict.is_allowed() {
            return Ok(GuardAnswer::of(verdict));
        }
        let silence_unanswered = silence.unanswered_but_allowed().map(str::to_owned);
        // The failed fixes for these symptoms, and the ineffective chains
        // remembered for the target whatever the alert.
        let knowledge = &self.ports.stores.knowledge;
        let mut entries = knowledge
            .active_anti_patterns(rt.tenant(), &symptoms)
            .await?;
        entries.extend(
            knowledge
                .active_anti_patterns(rt.tenant(), &SymptomsHash::of_target(resource))
                .await?,
        );
        let remembered: Vec<RememberedFailure> = entries
            .iter()
            .filter_map(|e| e.as_remembered_failure())
            .collect();
        let verdict = match remembered.is_empty() {
            true => verdict,
            false => {
                g.anti_patterns = &remembered;
                self.guard_with(rt, &g)
            }
        };
        // Only an allowing verdict let anything through unchecked.
        Ok(GuardAnswer {
            silence_unanswered: silence_unanswered.filter(|_| verdict.is_allowed()),
            verdict,
        })
    }

    /// What the tenant's Alertmanager says about the alert's silences
    /// (`NotAsked` when the tenant configures none). An unreachable
    /// Alertmanager is recorded in the log and the metrics whatever the
    /// tenant's `on_unreachable` says.
    async fn ask_silences(&self, rt: &TenantRuntime, alert: &Alert) -> SilenceCheck {
        let Some(policy) = &rt.policy.silences else {
            return SilenceCheck::NotAsked;
        };
        let query = SilenceQuery {
            tenant: rt.tenant(),
            alertmanager: &policy.alertmanager,
            labels: &alert.labels,
        };
        match self.ports.silences.silenced(&query).await {
            Ok(SilenceAnswer::NotSilenced) => SilenceCheck::NotSilenced,
            Ok(SilenceAnswer::Silenced(silences)) => SilenceCheck::Silenced { silences },
            Err(e) => {
                let on_unreachable = policy.on_unreachable;
                tracing::warn!(tenant = %rt.tenant(), error = %e, %on_unreachable, "could not ask the tenant's Alertmanager about silences");
                self.metrics.inc(
                    crate::metrics::family::SILENCE_CHECKS_UNANSWERED,
                    on_unreachable.as_str(),
                );
                SilenceCheck::Unavailable {
                    error: e.0,
                    on_unreachable,
                }
            }
        }
    }

    /// Who owns the target, asked of the executor that runs the strategy's
    /// first kind a GitOps tool would revert (`NotAsked` when it runs none
    /// or opts in). An executor that cannot read the target leaves the
    /// question open (`Unreadable`): the action reads the target again
    /// before it writes and fails with the target's own class.
    async fn ask_gitops_owner(
        &self,
        rt: &TenantRuntime,
        strategy: &Strategy,
        resource: &ResourceRef,
    ) -> OwnershipCheck {
        let kinds = strategy.action_kinds();
        if !gitops::needs_asking(&kinds, strategy.allow_gitops_managed) {
            return OwnershipCheck::NotAsked;
        }
        let Some(exec) = kinds
            .iter()
            .find(|k| gitops::reverted_by_gitops(k))
            .and_then(|k| self.ports.executor_for(k))
        else {
            return OwnershipCheck::NotAsked;
        };
        let req = OwnerRequest {
            tenant: rt.tenant(),
            resource,
            namespaces: &rt.policy.namespaces,
        };
        match exec.gitops_owner(req).await {
            Ok(Some(owner)) => OwnershipCheck::Owned(owner),
            Ok(None) => OwnershipCheck::Unowned,
            Err(e) => {
                tracing::warn!(tenant = %rt.tenant(), %resource, error = %e, "could not read the target's GitOps ownership; the action's own read decides");
                OwnershipCheck::Unreadable { error: e.message }
            }
        }
    }

    /// The rule over this replica's copy of the safety state (no IO).
    fn guard_with(&self, rt: &TenantRuntime, g: &Gathered<'_>) -> Verdict {
        let platform = self.platform().clone();
        let safety = rt.safety().clone();
        self.guard_on(rt, g, &platform, &safety)
    }

    /// The rule over the given safety state (the store's current records
    /// when a start confirms itself) plus this replica's breakers and
    /// executors.
    pub(crate) fn guard_on(
        &self,
        rt: &TenantRuntime,
        g: &Gathered<'_>,
        platform: &PlatformSafety,
        safety: &TenantSafety,
    ) -> Verdict {
        let executors: Vec<ExecutorFor<'_>> = g
            .strategy
            .action_kinds()
            .into_iter()
            .map(|kind| ExecutorFor {
                kind,
                executor: self.ports.executor_for(kind).map(|e| e.name()),
            })
            .collect();
        let names: BTreeSet<&str> = executors.iter().filter_map(|e| e.executor).collect();
        let breakers: Vec<BreakerAdmission<'_>> = names
            .into_iter()
            .map(|breaker| BreakerAdmission {
                breaker,
                admission: safety
                    .breaker_admission(breaker)
                    .and_then(|()| rt.local_would_admit(breaker, g.now)),
            })
            .collect();
        let flags = self.flags();
        let global = kill_switch::effective_global(flags.as_ref(), &platform.switches);
        let switches = safety.effective_switches();
        let ledger = safety.ledger(&LedgerKey::new(&g.strategy.id, g.resource));
        guard::evaluate(&GuardInput {
            path: g.path,
            target: TargetScope {
                resource: g.resource,
                namespaces: &rt.policy.namespaces,
            },
            now: g.now,
            scope: ScopeState {
                global: &global,
                tenant: &switches,
                platform_dormant: platform.dormancy.record(),
                tenant_dormant: safety.dormancy.record(),
            },
            strategy: &g.strategy.id,
            executors: &executors,
            next_healing_at: safety.next_healing_at,
            breakers: &breakers,
            budget: AttemptBudget {
                ledger: &ledger,
                max_attempts: g.strategy.max_attempts,
                cooldown: g.strategy.cooldown,
            },
            remediation: RemediationCheck {
                budgets: &rt.policy.remediation,
                usage: &safety.remediation,
            },
            windows: Windows {
                configured: &rt.policy.windows,
                ad_hoc: &safety.windows,
            },
            silence: g.silence,
            gitops: GitOpsGate {
                allowed: g.strategy.allow_gitops_managed,
                ownership: g.gitops,
            },
            symptoms: g.symptoms,
            anti_patterns: g.anti_patterns,
        })
    }
}

/// What a guard question is about, gathered before the safety state.
pub(crate) struct Gathered<'a> {
    pub path: HealingPath,
    pub strategy: &'a Strategy,
    pub resource: &'a ResourceRef,
    pub symptoms: &'a SymptomsHash,
    pub anti_patterns: &'a [RememberedFailure],
    /// The silence check (`NotAsked` where a start confirms itself: the
    /// Alertmanager was asked at evaluation).
    pub silence: &'a SilenceCheck,
    /// The target's GitOps owner (`NotAsked` where a start confirms
    /// itself: the executor was asked at evaluation).
    pub gitops: &'a OwnershipCheck,
    pub now: Timestamp,
}
