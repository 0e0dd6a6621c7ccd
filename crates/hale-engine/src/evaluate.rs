//! Evaluating one alert whose episode may start healing: strategy match ->
//! target -> trigger -> the guard rule -> coordination -> start or propose.
//!
//! Each step gathers what its rule needs, asks the rule once, and applies
//! the answer: a guard block is recorded ([`crate::not_acted`]); a verdict
//! that allows goes on to coordination ([`crate::start`]), which takes the
//! resource lock and decides on the lock's answer.

use std::sync::Arc;

use hale_domain::alert::Alert;
use hale_domain::convergence::{ConvergenceVerdict, FingerprintRecord};
use hale_domain::guard::{HealingPath, Verdict};
use hale_domain::reason::SkipReason;
use hale_domain::record::incident::{Stage, StepDecision};
use hale_domain::strategy::{ExecutionPath, find_strategy};
use hale_domain::{IncidentId, TenantId, Timestamp};

use crate::decision::Outcome;
use crate::draft::IntakeDraft;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::tenant::TenantRuntime;

/// The context of one alert being evaluated.
pub(crate) struct Evaluation<'a> {
    pub rt: &'a Arc<TenantRuntime>,
    pub alert: &'a Alert,
    pub record: &'a FingerprintRecord,
    /// The incident and what the evaluation recorded and has not committed
    /// yet ([`IntakeDraft`]); taken out while a commit runs.
    draft: std::sync::Mutex<Option<IntakeDraft>>,
    pub now: Timestamp,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(
        rt: &'a Arc<TenantRuntime>,
        alert: &'a Alert,
        record: &'a FingerprintRecord,
        draft: IntakeDraft,
        now: Timestamp,
    ) -> Self {
        Evaluation {
            rt,
            alert,
            record,
            draft: std::sync::Mutex::new(Some(draft)),
            now,
        }
    }

    pub(crate) fn tenant(&self) -> &TenantId {
        self.rt.tenant()
    }

    /// Changes the draft (a no-op while a commit holds it, which never
    /// overlaps a change: an evaluation runs its steps in order).
    pub(crate) fn with_draft<R>(&self, f: impl FnOnce(&mut IntakeDraft) -> R) -> Option<R> {
        let mut guard = self.draft.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_mut().map(f)
    }

    /// The incident's id.
    pub(crate) fn incident_id(&self) -> IncidentId {
        self.with_draft(|d| d.incident_id().clone())
            .unwrap_or_else(|| IncidentId::new(""))
    }

    /// The draft, with whatever is not committed yet.
    pub(crate) fn into_draft(self) -> Option<IntakeDraft> {
        self.draft.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    fn take_draft(&self) -> Option<IntakeDraft> {
        self.draft.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn put_draft(&self, draft: IntakeDraft) {
        *self.draft.lock().unwrap_or_else(|p| p.into_inner()) = Some(draft);
    }
}

/// The guard path a strategy's execution path takes at intake.
pub(crate) fn intake_path(path: ExecutionPath) -> HealingPath {
    match path {
        ExecutionPath::Automatic => HealingPath::Automatic,
        ExecutionPath::Approval => HealingPath::Proposal,
    }
}

impl Inner {
    /// Commits what the evaluation has recorded so far (one transaction).
    pub(crate) async fn commit_evaluation(&self, ev: &Evaluation<'_>) -> Result<(), EngineError> {
        let Some(mut draft) = ev.take_draft() else {
            return Ok(());
        };
        let done = self.commit_draft(ev.tenant(), &mut draft).await;
        ev.put_draft(draft);
        done
    }

    /// [`Inner::evaluate`], then the commit of everything it recorded: the
    /// outcome is returned only once its records are durable.
    pub(crate) async fn evaluate_and_commit(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
    ) -> Result<Outcome, EngineError> {
        let outcome = self.evaluate(ev).await?;
        self.commit_evaluation(ev).await?;
        Ok(outcome)
    }

    /// Strategy match, guards, coordination, then start or propose.
    pub(crate) async fn evaluate(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
    ) -> Result<Outcome, EngineError> {
        let policy = ev.rt.policy.clone();
        let Some(strategy) = find_strategy(&policy.strategies, ev.alert) else {
            // Recorded once per episode (and on the incident's creation,
            // which a retried delivery reaches after its episode began):
            // repeats of an unhandled alert say nothing new and would only
            // grow the incident.
            let creates = ev.with_draft(|d| d.creates_incident()) == Some(true);
            if ev.record.verdict() == ConvergenceVerdict::NewEpisode || creates {
                self.ev_step(
                    ev,
                    Stage::Match,
                    StepDecision::NoStrategy,
                    "no strategy matches this alert",
                );
            }
            return Ok(Outcome::NoStrategy);
        };
        let resource = match strategy.target.resolve(ev.alert) {
            Ok(r) => r,
            Err(e) => {
                let detail = e.to_string();
                let reason = SkipReason::TargetUnresolved;
                return self.skip(ev, Some(strategy), None, reason, &detail).await;
            }
        };
        if !strategy
            .trigger
            .count_satisfied(&ev.record.recent_firings, ev.now)
        {
            let detail = format!(
                "needs {} firings within {}",
                strategy.trigger.consecutive_failures,
                hale_domain::time::duration::format(strategy.trigger.within_window)
            );
            self.ev_step(ev, Stage::Trigger, StepDecision::Waiting, &detail);
            return Ok(Outcome::Waiting {
                strategy_id: strategy.id.clone(),
                detail,
            });
        }
        let path = intake_path(strategy.execution_path());
        let answer = self
            .guard_verdict(ev.rt, path, strategy, &resource, ev.alert, ev.now)
            .await?;
        if let Some(error) = &answer.silence_unanswered {
            self.record_unanswered_silence_check(ev, strategy, &resource, error);
        }
        match answer.verdict {
            // A maintenance window in `approval_only` mode: the automatic
            // run becomes a question to a human, on the proposal path's
            // own verdict.
            Verdict::Block(block)
                if path == HealingPath::Automatic && block.asks_for_approval() =>
            {
                let detail = format!("{block}; asking for approval instead");
                self.ev_step(ev, Stage::Guard, StepDecision::Deferred, &detail);
                let proposal = HealingPath::Proposal;
                let verdict = self
                    .guard_verdict(ev.rt, proposal, strategy, &resource, ev.alert, ev.now)
                    .await?
                    .verdict;
                match verdict {
                    Verdict::Block(block) => self.block(ev, strategy, &resource, block).await,
                    Verdict::Allow => self.coordinate(ev, strategy, &resource, proposal).await,
                }
            }
            Verdict::Block(block) => self.block(ev, strategy, &resource, block).await,
            Verdict::Allow => self.coordinate(ev, strategy, &resource, path).await,
        }
    }
}
