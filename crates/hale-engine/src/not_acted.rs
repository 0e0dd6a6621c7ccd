//! Recording why an alert was not acted on. Every deferral, skip and guard
//! block leaves the same three traces: an audit entry
//! (`healing.deferred|skipped|blocked`, failed, with its reason), a step in
//! the incident's decision chain, and a metric; the retryable ones are also
//! remembered for the detection job.

use hale_domain::guard::Block;
use hale_domain::reason::{DeferralReason, NotActed, SkipReason};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{Stage, StepDecision};
use hale_domain::strategy::{ExecutionPath, Strategy};
use hale_domain::{Origin, ResourceRef};

use crate::decision::Outcome;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::metrics::family;

/// What [`Inner::record_not_acted`] writes.
struct NotActedRecord<'a> {
    kind: AuditKind,
    target: String,
    origin: Origin,
    reason: NotActed,
    detail: Option<&'a str>,
    stage: Stage,
    decision: StepDecision,
}

pub(crate) fn origin_for(strategy: &Strategy) -> Origin {
    match strategy.execution_path() {
        ExecutionPath::Automatic => Origin::failure_watcher(),
        ExecutionPath::Approval => Origin::decision_manager(),
    }
}

impl Inner {
    /// Remembers the alert for the detection job, which re-evaluates it.
    pub(crate) fn remember(&self, ev: &Evaluation<'_>, reason: NotActed) {
        ev.rt.remember_deferred(
            ev.record.fingerprint.clone(),
            ev.alert.clone(),
            reason,
            self.config.max_deferred_per_tenant,
            self.config.max_deferred_bytes_per_tenant,
        );
    }

    /// Records a deferral: audit `healing.deferred`, incident step, metric.
    pub(crate) async fn defer(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        reason: DeferralReason,
    ) -> Result<Outcome, EngineError> {
        self.metrics.inc(family::DEFERRALS, reason.as_str());
        self.record_not_acted(
            ev,
            NotActedRecord {
                kind: AuditKind::HealingDeferred,
                target: resource.key(),
                origin: origin_for(strategy),
                reason: NotActed::Deferred(reason),
                detail: None,
                stage: Stage::Coordination,
                decision: StepDecision::Deferred,
            },
        );
        Ok(Outcome::Deferred {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            reason,
        })
    }

    /// Records a skip: audit `healing.skipped`, incident step, metric.
    pub(crate) async fn skip(
        &self,
        ev: &Evaluation<'_>,
        strategy: Option<&Strategy>,
        resource: Option<&ResourceRef>,
        reason: SkipReason,
        detail: &str,
    ) -> Result<Outcome, EngineError> {
        self.metrics.inc(family::DEFERRALS, reason.as_str());
        self.record_not_acted(
            ev,
            NotActedRecord {
                kind: AuditKind::HealingSkipped,
                target: resource
                    .map(ResourceRef::key)
                    .unwrap_or_else(|| ev.alert.alertname().unwrap_or("?").to_owned()),
                origin: strategy.map_or_else(Origin::failure_watcher, origin_for),
                reason: NotActed::Skipped(reason),
                detail: Some(detail),
                stage: Stage::Guard,
                decision: StepDecision::Skipped,
            },
        );
        Ok(Outcome::Skipped {
            strategy_id: strategy.map(|s| s.id.clone()),
            reason,
            detail: detail.to_owned(),
        })
    }

    /// Records a guard block: audit `healing.blocked`, incident step,
    /// metric; a block worth retrying is remembered for the detection job.
    pub(crate) async fn block(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        block: Block,
    ) -> Result<Outcome, EngineError> {
        let guard = block.guard();
        self.metrics.inc(family::BLOCKS, guard.as_str());
        if let Block::BudgetExhausted(e) = &block {
            self.on_budget_exhausted(ev.rt, e, Some(resource), ev.now)
                .await;
        }
        if block.retry().is_retryable() {
            self.remember(ev, NotActed::Blocked(guard));
        }
        let detail = block.to_string();
        self.record_not_acted(
            ev,
            NotActedRecord {
                kind: AuditKind::HealingBlocked,
                target: resource.key(),
                origin: origin_for(strategy),
                reason: NotActed::Blocked(guard),
                detail: Some(&detail),
                stage: Stage::Guard,
                decision: StepDecision::Blocked,
            },
        );
        Ok(Outcome::Blocked {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            guard,
            detail,
        })
    }

    /// The record every deferral, skip and block leaves: a failed audit
    /// entry with its reason, and a step in the incident's decision chain,
    /// both committed with the evaluation's other records.
    fn record_not_acted(&self, ev: &Evaluation<'_>, n: NotActedRecord<'_>) {
        let mut a = self.audit_entry(ev.tenant(), n.kind, &n.target, n.origin, ev.now);
        a.success = false;
        a.reason = Some(n.reason.as_str().to_owned());
        a.error_message = n.detail.map(str::to_owned);
        a.incident_id = Some(ev.incident_id());
        ev.with_draft(|d| d.audit(a));
        let step = match n.detail {
            Some(d) => format!("{}: {d}", n.reason),
            None => n.reason.as_str().to_owned(),
        };
        self.ev_step(ev, n.stage, n.decision, &step);
    }
}
