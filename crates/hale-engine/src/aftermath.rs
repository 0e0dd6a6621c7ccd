//! A run's aftermath (seed 004 and 002): record the end state, roll back
//! and escalate a failure, remember a fix that did not fix, apply the safety
//! state's verdict on the run ([`hale_domain::safety::TenantSafety::finish_run`])
//! and close the incident's chapter. Also the breaker transitions and
//! dormancy entries a run can cause.

use std::time::Duration;

use hale_domain::alert::AlertStatus;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::breaker::{BreakerState, Transition};
use hale_domain::dormancy::DormantRecord;
use hale_domain::effectiveness::Effectiveness;
use hale_domain::failure::FailureClass;
use hale_domain::healing::{ActionPhase, HealingState};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{
    DecisionStep, IncidentOutcome, IncidentResult, IncidentStatus, Stage, StepDecision,
};
use hale_domain::record::knowledge::{EntrySource, EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::safety::{LedgerKey, PlatformSafety, TenantSafety};
use hale_domain::strategy::FailurePolicy;
use hale_domain::{KnowledgeId, Origin, Severity, Timestamp};

use crate::engine::Inner;
use crate::metrics::family;
use crate::ports::{Escalation, EscalationKind, Ledgers, SafetyTrail};
use crate::runner::{Refusal, Run, RunEnd};
use crate::tenant::TenantRuntime;

impl Inner {
    /// Metrics and audit of this replica's breaker changing state. The
    /// open/half-open cycle is this replica's own and lives in no record,
    /// so its audit entry is written on its own (it carries no notice).
    /// PERMANENT_OPEN is the cluster's: the shared record's latch, audited
    /// with the update that latched it ([`Inner::latch_trail`]), so it is
    /// not audited again here.
    pub(crate) async fn on_breaker_transition(
        &self,
        rt: &TenantRuntime,
        name: &str,
        t: Transition,
    ) {
        self.metrics.inc(family::BREAKER_TRANSITIONS, t.to.as_str());
        if t.to == BreakerState::PermanentOpen {
            return;
        }
        let tenant = rt.tenant();
        let mut a = self.audit_entry(
            tenant,
            AuditKind::BreakerTransition,
            &format!("breaker:{name}"),
            Origin::failure_watcher(),
            t.at,
        );
        a.reason = Some(format!("{} -> {} ({:?})", t.from, t.to, t.cause));
        a.success = t.to == BreakerState::Closed;
        if let Err(e) = self.audit(a).await {
            tracing::warn!(error = %e, "could not audit a breaker transition");
        }
    }

    /// Escalates a tenant going dormant (its audit entry was written with
    /// the dormancy record).
    pub(crate) async fn on_dormant(&self, rt: &TenantRuntime, rec: &DormantRecord, at: Timestamp) {
        let tenant = rt.tenant();
        let reason = &rec.reason;
        self.escalate(Escalation {
            tenant: tenant.clone(),
            kind: EscalationKind::Dormant,
            summary: format!("healing is dormant for tenant {tenant}: {reason}; fix the cause, then resume with a reason"),
            resource: None,
            strategy_id: None,
            operation_id: None,
            incident_id: None,
            guard: None,
            severity: Severity::P1,
            at,
        })
        .await;
    }

    /// A safety update a finishing run must not lose, written with the
    /// record `trail` makes of its outcome: retried a few times while the
    /// store is unavailable, then given up with an error in the log (the
    /// operation's own record is already durable).
    pub(crate) async fn update_with_retries<R, F, T>(
        &self,
        rt: &TenantRuntime,
        ledgers: Ledgers<'_>,
        mut f: F,
        mut trail: T,
    ) -> Option<R>
    where
        F: FnMut(&PlatformSafety, &mut TenantSafety) -> R + Send,
        T: FnMut(&R) -> SafetyTrail + Send,
        R: Send,
    {
        for attempt in 0u32..3 {
            match self
                .record_tenant_safety(rt, ledgers, &mut f, &mut trail)
                .await
            {
                Ok(r) => return Some(r),
                Err(e) if e.is_unavailable() && attempt < 2 => {
                    tracing::warn!(tenant = %rt.tenant(), error = %e, "store unavailable while updating the safety state; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
                }
                Err(e) => {
                    tracing::error!(tenant = %rt.tenant(), error = %e, "could not update the safety state after a run");
                    return None;
                }
            }
        }
        None
    }

    /// Sends an escalation, bounded in time; failures are logged.
    pub(crate) async fn escalate(&self, e: Escalation) {
        match tokio::time::timeout(Duration::from_secs(10), self.ports.notifier.escalate(&e)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "escalation failed"),
            Err(_) => tracing::warn!("escalation timed out"),
        }
    }

    pub(crate) async fn finish(&self, mut run: Run, end: RunEnd) {
        let now = self.now();
        let tenant = run.op.tenant.clone();
        match &end {
            RunEnd::Healed => {
                if run.op.transition(HealingState::Completed, now).is_ok() {
                    self.start_watching(&mut run).await;
                    let reason = "healed and verified".to_owned();
                    // Not durable: the sweep finds it later and interrupts it.
                    let _ = self
                        .save(&mut run, AuditKind::OperationCompleted, reason, None)
                        .await;
                }
            }
            RunEnd::Failed {
                error,
                class,
                rollback,
                verification_failed,
                refused,
            } => {
                let durable = run.op.fail(error.clone(), *class, now).is_ok()
                    && self
                        .save(&mut run, AuditKind::OperationFailed, error.clone(), None)
                        .await;
                // A rollback acts: only on a recorded failure, and only
                // while the lease holds (each rollback action runs under
                // the heartbeat and stops the rollback if the lease goes).
                // `maintain_isolation` keeps what the actions did in place
                // and hands it to a human instead of undoing it.
                let policy = run.strategy.rollback.on_failure;
                let nothing_applied = refused.as_ref().is_some_and(|r| !r.applied_before);
                let rollback_result = if nothing_applied {
                    // The domain never asks for this rollback
                    // (`after_refused_dry_run`): there is nothing to undo.
                    "no rollback ran: nothing was applied, so there is nothing to undo".to_owned()
                } else if *rollback && !policy.runs_rollback() {
                    "no rollback ran: the isolation is kept in place \
                     (on_failure = maintain_isolation)"
                        .to_owned()
                } else if *rollback && durable {
                    self.roll_back(&mut run).await
                } else {
                    "no rollback ran".to_owned()
                };
                if *verification_failed {
                    self.remember_anti_pattern(&run, now).await;
                }
                self.escalate_failure(&mut run, error, &rollback_result, refused.as_ref(), now)
                    .await;
            }
            RunEnd::Interrupted(reason) => {
                if run.op.transition(HealingState::Interrupted, now).is_ok() {
                    run.op.error = Some(reason.clone());
                    let kind = AuditKind::OperationInterrupted;
                    // Not durable: the sweep finds it later and interrupts it.
                    let _ = self.save(&mut run, kind, reason.clone(), None).await;
                }
            }
            RunEnd::Stranded(reason) => {
                let summary = format!(
                    "operation {} on {} stopped mid-way: {reason}; check the target by hand",
                    run.op.id, run.op.resource
                );
                let e = run_escalation(&run, EscalationKind::OperationInterrupted, summary, now);
                if run.op.transition(HealingState::Interrupted, now).is_ok() {
                    run.op.error = Some(reason.clone());
                    // The interruption and its escalation in one write. If
                    // the store still does not answer, the recovery sweep
                    // records both once it does (the lock is released
                    // below, so the sweep sees no live owner).
                    let _ = self.save_stranded(&mut run, reason.clone(), &e).await;
                    self.escalate(e).await;
                } else {
                    let reason = e.summary.clone();
                    self.escalate_run(&mut run, e, reason, None).await;
                }
            }
        }
        self.metrics.inc(family::OPERATIONS, run.op.state.as_str());
        // Fail-safe bookkeeping, shared by every replica: ledger, backoff,
        // dormancy.
        let key = LedgerKey::new(&run.op.strategy_id, &run.op.resource);
        let outcome = end.outcome();
        let ledgers = [key];
        // The run's remediation budget slot is freed in the same update.
        let budgets = &run.rt.policy.remediation;
        let op_id = &run.op.id;
        let rt = &run.rt;
        let aftermath = self
            .update_with_retries(
                rt,
                Ledgers::Only(&ledgers),
                |_, s| {
                    if !budgets.is_empty() {
                        s.remediation.finish(budgets, op_id, now);
                    }
                    s.finish_run(ledgers[0].clone(), outcome, now)
                },
                |a| self.dormancy_trail(rt, a.entered_dormancy.as_ref(), now),
            )
            .await;
        if let Some(rec) = aftermath.and_then(|a| a.entered_dormancy) {
            self.on_dormant(&run.rt, &rec, now).await;
        }
        self.release_lock(&run.lease).await;
        self.close_incident_chapter(&run, &end, now).await;
        tracing::info!(tenant = %tenant, op = %run.op.id, state = %run.op.state, "healing operation finished");
    }

    /// Runs the rollback plan; returns what it did, for the escalation.
    async fn roll_back(&self, run: &mut Run) -> String {
        let actions = run.strategy.rollback.actions.clone();
        if actions.is_empty() {
            return "no rollback actions".to_owned();
        }
        let mut undone = 0usize;
        for action in &actions {
            // Rollback runs even if earlier rollback actions failed: each one
            // undoes something different.
            let result = self.run_action(run, action, ActionPhase::Rollback).await;
            let kind = match result.outcome {
                Ok(()) => AuditKind::RollbackExecuted,
                Err(_) => AuditKind::RollbackFailed,
            };
            let durable = self
                .save(run, kind, action.kind.to_string(), Some(&result))
                .await;
            // Without the lease, or without a record of this step, the
            // rest of the rollback does not run.
            if result.outcome.is_ok() {
                undone += 1;
            }
            if !durable || result.class() == Some(FailureClass::Fenced) {
                tracing::warn!(op = %run.op.id, "rollback stopped: {}", result.message);
                return format!(
                    "rollback stopped after {undone} of {} actions: {}",
                    actions.len(),
                    result.message
                );
            }
        }
        if undone == actions.len() {
            format!("rollback succeeded ({undone} actions)")
        } else {
            format!(
                "rollback failed ({undone} of {} actions succeeded)",
                actions.len()
            )
        }
    }

    async fn escalate_failure(
        &self,
        run: &mut Run,
        error: &str,
        rollback_result: &str,
        refused: Option<&Refusal>,
        now: Timestamp,
    ) {
        let policy = run.strategy.rollback.on_failure;
        // A refused dry run is no failure of the target: it never puts the
        // tenant to sleep, safe mode included.
        if policy == FailurePolicy::EnterSafeMode && refused.is_none() {
            let strategy = run.strategy.id.clone();
            let rt = &run.rt;
            let entered = self
                .update_with_retries(
                    rt,
                    Ledgers::None,
                    |_, s| s.enter_safe_mode(&strategy, error, now),
                    |rec| self.dormancy_trail(rt, rec.as_ref(), now),
                )
                .await
                .flatten();
            if let Some(rec) = entered {
                self.on_dormant(&run.rt, &rec, now).await;
            }
        }
        let what = match refused {
            Some(r) => refusal_summary(run, r, rollback_result),
            None => format!(
                "healing {} of {} failed: {error}; {rollback_result}",
                run.strategy.id, run.op.resource
            ),
        };
        let reason = match refused {
            // The guard's wire name leads, as on every block.
            Some(r) => format!("{}: {what}", r.block.guard()),
            None => format!("{policy:?}: {error}; {rollback_result}"),
        };
        let mut e = run_escalation(run, EscalationKind::HealingFailed, what, now);
        e.guard = refused.map(|r| r.block.guard());
        self.escalate_run(run, e, reason, refused.map(|r| &r.block))
            .await;
    }

    /// A completed run on a firing alert waits for its effectiveness
    /// verdict ([`hale_domain::effectiveness`]). An alert that already
    /// resolved while the run verified counts as resolved then.
    async fn start_watching(&self, run: &mut Run) {
        let Some(fp) = run.op.fingerprint.clone() else {
            return;
        };
        if run.alert.status != AlertStatus::Firing {
            return;
        }
        run.op.effectiveness = Some(Effectiveness::Pending);
        match self
            .ports
            .stores
            .fingerprints
            .get_fingerprint(&run.op.tenant, &fp)
            .await
        {
            Ok(Some(rec))
                if rec.status == AlertStatus::Resolved && rec.last_seen_at >= run.op.started_at =>
            {
                run.op.alert_resolved_at = Some(rec.last_seen_at);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the alert's state for effectiveness")
            }
        }
    }

    /// The fix ran but did not fix: remember it so it is not tried again
    /// automatically on the same symptoms.
    async fn remember_anti_pattern(&self, run: &Run, now: Timestamp) {
        let symptoms = SymptomsHash::of(&run.alert, &run.op.resource);
        let entry = KnowledgeEntry {
            id: KnowledgeId::new(self.ports.ids.next_id("kn")),
            tenant: run.op.tenant.clone(),
            title: format!(
                "{} did not fix {} on {}",
                run.strategy.id,
                run.alert.alertname().unwrap_or("alert"),
                run.op.resource
            ),
            content: format!(
                "Operation {} ran strategy {} but verification failed: {}. Archive this entry to allow the strategy again.",
                run.op.id,
                run.strategy.id,
                run.op.error.as_deref().unwrap_or("unknown")
            ),
            entry_type: EntryType::AntiPattern,
            category: "automatic".into(),
            tags: vec!["anti-pattern".into(), run.strategy.id.to_string()],
            source: EntrySource::AiExtracted,
            status: EntryStatus::Approved,
            related_incident_id: run.op.incident_id.clone(),
            related_playbook_id: None,
            symptoms_hash: Some(symptoms),
            failed_strategy_id: Some(run.strategy.id.clone()),
            view_count: 0,
            created_by: Some(run.origin.actor.clone()),
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = self.ports.stores.knowledge.create_knowledge(&entry).await {
            tracing::warn!(error = %e, "could not record an anti-pattern");
        }
    }

    async fn close_incident_chapter(&self, run: &Run, end: &RunEnd, now: Timestamp) {
        let Some(incident) = run.op.incident_id.clone() else {
            return;
        };
        let (status, result, decision, summary, tone) = match end {
            RunEnd::Healed => (
                None,
                IncidentResult::Healed,
                StepDecision::Healed,
                "healed and verified".to_owned(),
                TimelineStatus::Success,
            ),
            // A refused dry run is a guard's block (`dry_run_failed`), not
            // a failure of the target; the step says so.
            RunEnd::Failed {
                error,
                refused: Some(_),
                ..
            } => (
                Some(IncidentStatus::Escalated),
                IncidentResult::Failed,
                StepDecision::Blocked,
                error.clone(),
                TimelineStatus::Error,
            ),
            RunEnd::Failed { error, .. } => (
                Some(IncidentStatus::Escalated),
                IncidentResult::Failed,
                StepDecision::Failed,
                error.clone(),
                TimelineStatus::Error,
            ),
            RunEnd::Interrupted(r) => (
                None,
                IncidentResult::Interrupted,
                StepDecision::Interrupted,
                r.clone(),
                TimelineStatus::Warning,
            ),
            RunEnd::Stranded(r) => (
                Some(IncidentStatus::Escalated),
                IncidentResult::Interrupted,
                StepDecision::Interrupted,
                r.clone(),
                TimelineStatus::Error,
            ),
        };
        let op_id = run.op.id.clone();
        let outcome = IncidentOutcome::new(result, summary, Some(op_id.clone()));
        let step_reason = match end {
            RunEnd::Failed {
                refused: Some(r), ..
            } => {
                let applied = match r.applied_before {
                    true => "earlier actions of the run were applied",
                    false => "nothing was applied",
                };
                format!("{}: operation {op_id}; {applied}", r.block.guard())
            }
            _ => format!("operation {op_id}"),
        };
        let step = DecisionStep::new(now, Stage::Heal, decision, step_reason);
        let res = self
            .update_incident(&run.op.tenant, &incident, |inc| {
                // A person who closed the incident meanwhile keeps it closed.
                if let Some(s) = status
                    && inc.status != IncidentStatus::Closed
                {
                    inc.status = s;
                }
                inc.outcome = Some(outcome.clone());
                inc.push_decision(step.clone());
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not update the incident after an operation");
        }
        let mut tl = self.timeline_event(
            &run.op.tenant,
            TimelineEventType::Exec,
            tone,
            format!(
                "Healing {}: {} on {}",
                run.op.state, run.strategy.id, run.op.resource
            ),
            now,
        );
        tl.operation_id = Some(run.op.id.clone());
        tl.incident_id = Some(incident);
        tl.approval_id.clone_from(&run.op.approval_id);
        tl.description.clone_from(&run.op.error);
        tl.actor = Some(run.origin.actor.clone());
        if let Err(e) = self.timeline(tl).await {
            tracing::warn!(error = %e, "could not record the timeline event of an operation");
        }
    }
}

/// What the escalation of a run stopped by a refused dry run says: that the
/// dry run refused the apply, whether anything of the run was applied, and
/// what the rollback did.
fn refusal_summary(run: &Run, r: &Refusal, rollback_result: &str) -> String {
    let head = format!(
        "healing {} of {}: the apply was refused by the server-side dry run",
        run.strategy.id, run.op.resource
    );
    match r.applied_before {
        false => format!(
            "{head} and nothing was applied ({}); no rollback ran (nothing to undo)",
            r.block
        ),
        true => format!(
            "{head} ({}); earlier actions of this run were applied, so their on_error \
             plan still applies: {rollback_result}",
            r.block
        ),
    }
}

/// An escalation about a run: its target, strategy, operation and
/// incident.
fn run_escalation(run: &Run, kind: EscalationKind, summary: String, at: Timestamp) -> Escalation {
    Escalation {
        tenant: run.op.tenant.clone(),
        kind,
        summary,
        resource: Some(run.op.resource.clone()),
        strategy_id: Some(run.strategy.id.clone()),
        operation_id: Some(run.op.id.clone()),
        incident_id: run.op.incident_id.clone(),
        guard: None,
        severity: kind.severity(),
        at,
    }
}
