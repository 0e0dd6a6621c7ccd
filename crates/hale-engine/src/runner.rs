//! Running one healing operation: diagnose, heal (per-action timeouts,
//! on_error), verify, then roll back and escalate on failure (seed 004).
//!
//! The run holds a fenced resource lock. Between actions it checks in: an
//! automatic run yields if the decision path asked for the resource, and
//! every run stops (recording itself interrupted) if it lost the lock, the
//! lock backend stopped answering, or the engine is shutting down. Every
//! state change is written together with its audit entry.

use std::sync::Arc;
use std::time::Duration;

use hale_domain::alert::Alert;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::breaker::{BreakerState, Transition};
use hale_domain::failure::FailureClass;
use hale_domain::healing::{
    ActionLog, ActionPhase, HealingOperation, HealingState, PlanStep, after_action,
};
use hale_domain::record::incident::{IncidentOutcome, IncidentStatus};
use hale_domain::record::knowledge::{EntrySource, EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::strategy::{ActionSpec, FailurePolicy, Strategy};
use hale_domain::{KnowledgeId, Origin, Severity, Timestamp};

use crate::engine::Inner;
use crate::metrics::family;
use crate::ports::{
    ActionRequest, Escalation, ExecMode, Health, Lease, LockError, ProbeRequest, StoreError,
};
use crate::tenant::{TenantRuntime, ledger_key};

/// An operation ready to run.
pub(crate) struct Run {
    pub rt: Arc<TenantRuntime>,
    pub op: HealingOperation,
    pub lease: Lease,
    pub strategy: Strategy,
    pub alert: Alert,
    pub origin: Origin,
    /// Automatic runs yield to the decision path at each checkpoint.
    pub yields_to_decisions: bool,
}

/// How a run ended.
enum RunEnd {
    Healed,
    Failed {
        error: String,
        class: Option<FailureClass>,
        rollback: bool,
        verification_failed: bool,
    },
    Interrupted(String),
}

/// The outcome of one action.
struct ActionResult {
    success: bool,
    class: Option<FailureClass>,
    message: String,
    response: Option<serde_json::Value>,
}

impl Inner {
    pub(crate) fn spawn_run(self: &Arc<Self>, run: Run) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.op.id.clone());
        let inner = self.clone();
        self.runs.spawn(async move { inner.execute_run(run).await });
    }

    async fn execute_run(self: Arc<Self>, mut run: Run) {
        let id = run.op.id.clone();
        let end = self.drive(&mut run).await;
        self.finish(run, end).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Persists the operation with an audit entry; a lost write is logged
    /// (the operation continues; recovery will find its last durable state).
    async fn save(&self, run: &mut Run, kind: &str, reason: String, result: Option<&ActionResult>) {
        let now = self.now();
        let mut a = self.audit_entry(
            &run.op.tenant,
            kind,
            &run.op.resource.key(),
            run.origin.clone(),
            now,
        );
        a.operation_id = Some(run.op.id.clone());
        a.incident_id.clone_from(&run.op.incident_id);
        a.approval_id.clone_from(&run.op.approval_id);
        a.auto_repair_attempted = run.yields_to_decisions;
        a.retry_count = run.op.attempt_number.saturating_sub(1);
        a.reason = Some(reason);
        if let Some(r) = result {
            a.success = r.success;
            a.failure_classification = r.class;
            a.response.clone_from(&r.response);
            if !r.success {
                a.error_message = Some(r.message.clone());
            }
            a.execution_duration_ms = run
                .op
                .actions_run
                .last()
                .map(|l| u64::try_from(l.duration.as_millis()).unwrap_or(u64::MAX));
        }
        for attempt in 0..3 {
            match self
                .ports
                .stores
                .operations
                .update_operation(&run.op, Some(&a))
                .await
            {
                Ok(rev) => {
                    run.op.revision = rev;
                    return;
                }
                Err(StoreError::Unavailable(e)) if attempt < 2 => {
                    tracing::warn!(op = %run.op.id, error = %e, "store unavailable while saving an operation; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                }
                Err(e) => {
                    tracing::error!(op = %run.op.id, error = %e, "could not save an operation step");
                    return;
                }
            }
        }
    }

    async fn transition(&self, run: &mut Run, to: HealingState) -> bool {
        let now = self.now();
        match run.op.transition(to, now) {
            Ok(from) => {
                self.save(run, "operation.transition", format!("{from} -> {to}"), None)
                    .await;
                true
            }
            Err(e) => {
                tracing::error!(op = %run.op.id, error = %e, "refused an illegal transition");
                false
            }
        }
    }

    async fn drive(&self, run: &mut Run) -> RunEnd {
        if !self.transition(run, HealingState::Diagnosing).await {
            return RunEnd::Interrupted("illegal state".into());
        }
        run.op.diagnosis = Some(
            run.rt
                .policy
                .diagnosis
                .diagnose(&run.alert, &run.op.resource.name),
        );
        if !self.transition(run, HealingState::Healing).await {
            return RunEnd::Interrupted("illegal state".into());
        }
        let actions = run.strategy.actions.clone();
        for action in &actions {
            if let Some(reason) = self.checkpoint(run).await {
                return RunEnd::Interrupted(reason);
            }
            let result = self.run_action(run, action, ActionPhase::Heal).await;
            let kind = if result.success {
                "action.executed"
            } else {
                "action.failed"
            };
            let reason = format!("{} ({:?})", action.kind, action.on_error);
            self.save(run, kind, reason, Some(&result)).await;
            if result.success {
                continue;
            }
            // A fatal failure (credentials, authorization) makes every further
            // action pointless, whatever on_error says.
            let step = if result.class == Some(FailureClass::Fatal) {
                PlanStep::Abort
            } else {
                after_action(false, action.on_error)
            };
            match step {
                PlanStep::Next => continue,
                PlanStep::Abort | PlanStep::Rollback => {
                    return RunEnd::Failed {
                        error: format!("action {} failed: {}", action.kind, result.message),
                        class: result.class,
                        rollback: step == PlanStep::Rollback,
                        verification_failed: false,
                    };
                }
            }
        }
        if let Some(reason) = self.checkpoint(run).await {
            return RunEnd::Interrupted(reason);
        }
        if !self.transition(run, HealingState::Verifying).await {
            return RunEnd::Interrupted("illegal state".into());
        }
        self.verify(run).await
    }

    /// Between actions: shutdown, lock ownership, pre-emption.
    async fn checkpoint(&self, run: &Run) -> Option<String> {
        if self.is_stopping() {
            return Some("engine shutting down".into());
        }
        if run.yields_to_decisions {
            match self.ports.locks.preemption_requested(&run.lease).await {
                Ok(true) => return Some("yielded to the decision path".into()),
                Ok(false) => {}
                Err(LockError::NotHeld) => return Some("resource lock lost".into()),
                Err(e) => return Some(format!("lock backend unavailable: {e}")),
            }
        }
        match self
            .ports
            .locks
            .extend(&run.lease, self.config.automatic_lock_ttl)
            .await
        {
            Ok(()) => None,
            Err(LockError::NotHeld) => Some("resource lock lost".into()),
            Err(e) => Some(format!("lock backend unavailable: {e}")),
        }
    }

    async fn run_action(
        &self,
        run: &mut Run,
        action: &ActionSpec,
        phase: ActionPhase,
    ) -> ActionResult {
        let started_at = self.now();
        let t0 = tokio::time::Instant::now();
        let result = self.execute_action(run, action).await;
        run.op.log_action(ActionLog {
            action: action.kind.clone(),
            phase,
            started_at,
            duration: t0.elapsed(),
            success: result.success,
            dry_run: false,
            failure: result.class,
            message: Some(result.message.clone()),
        });
        result
    }

    async fn execute_action(&self, run: &Run, action: &ActionSpec) -> ActionResult {
        let fail = |class, message: String| ActionResult {
            success: false,
            class: Some(class),
            message,
            response: None,
        };
        let Some(exec) = self.ports.executor_for(&action.kind).cloned() else {
            return fail(
                FailureClass::InvalidAction,
                format!("no executor runs {}", action.kind),
            );
        };
        let breaker = run.rt.breaker(exec.name());
        let permit = match breaker.admit(|| self.now()) {
            Ok(p) => p,
            Err(rejection) => {
                return fail(FailureClass::Transient, format!("not run: {rejection}"));
            }
        };
        if let Some(t) = permit.transition {
            self.on_breaker_transition(&run.rt, exec.name(), t).await;
        }
        let req = ActionRequest {
            tenant: &run.op.tenant,
            operation_id: &run.op.id,
            resource: &run.op.resource,
            action,
            mode: ExecMode::Apply,
            fencing_token: Some(run.lease.token),
            namespaces: &run.rt.policy.namespaces,
        };
        let outcome = tokio::time::timeout(action.timeout, exec.execute(req)).await;
        let result = match outcome {
            Ok(Ok(o)) => ActionResult {
                success: true,
                class: None,
                message: o.message,
                response: o.response,
            },
            Ok(Err(e)) => {
                // Errors known only by their text go through the tenant's
                // classifier (the seed's fatal patterns).
                let class = run
                    .rt
                    .policy
                    .classifier_class(&e.message)
                    .unwrap_or(e.class);
                ActionResult {
                    success: false,
                    class: Some(class),
                    message: e.message,
                    response: e.response,
                }
            }
            Err(_) => fail(
                FailureClass::Timeout,
                format!(
                    "timed out after {}",
                    hale_domain::time::duration::format(action.timeout)
                ),
            ),
        };
        let now = self.now();
        let transition = match result.class {
            None => breaker.record_success(&permit, || now),
            Some(class) => breaker.record_failure(&permit, class, now),
        };
        if let Some(t) = transition {
            self.on_breaker_transition(&run.rt, exec.name(), t).await;
        }
        result
    }

    /// Metrics, audit and, for PERMANENT_OPEN, dormancy plus escalation.
    pub(crate) async fn on_breaker_transition(
        &self,
        rt: &TenantRuntime,
        name: &str,
        t: Transition,
    ) {
        self.metrics.inc(family::BREAKER_TRANSITIONS, t.to.as_str());
        let tenant = rt.tenant();
        let mut a = self.audit_entry(
            tenant,
            "breaker.transition",
            &format!("breaker:{name}"),
            Origin::failure_watcher(),
            t.at,
        );
        a.reason = Some(format!("{} -> {} ({:?})", t.from, t.to, t.cause));
        a.success = t.to == BreakerState::Closed;
        if let Err(e) = self.audit(a).await {
            tracing::warn!(error = %e, "could not audit a breaker transition");
        }
        if t.to == BreakerState::PermanentOpen {
            let why = format!("{:?}", t.cause);
            let entered = rt
                .state()
                .dormancy
                .on_breaker_permanent_open(name, &why, t.at)
                .cloned();
            if let Some(rec) = entered {
                self.on_dormant(rt, &rec.reason, t.at).await;
            }
        }
    }

    /// Audits and escalates a tenant going dormant.
    pub(crate) async fn on_dormant(&self, rt: &TenantRuntime, reason: &str, at: Timestamp) {
        let tenant = rt.tenant();
        let mut a = self.audit_entry(
            tenant,
            "dormancy.entered",
            &format!("tenant:{tenant}"),
            Origin::failure_watcher(),
            at,
        );
        a.reason = Some(reason.to_owned());
        a.success = false;
        if let Err(e) = self.audit(a).await {
            tracing::warn!(error = %e, "could not audit dormancy");
        }
        self.escalate(Escalation {
            tenant: tenant.clone(),
            kind: "dormant".into(),
            summary: format!("healing is dormant for tenant {tenant}: {reason}; fix the cause, then resume with a reason"),
            resource: None,
            strategy_id: None,
            operation_id: None,
            incident_id: None,
            severity: Severity::P1,
            at,
        })
        .await;
        self.persist_tenant(rt).await;
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

    async fn verify(&self, run: &mut Run) -> RunEnd {
        let spec = run.strategy.verify.clone();
        if spec.check == "none" {
            return RunEnd::Healed;
        }
        let deadline = tokio::time::Instant::now() + spec.timeout;
        let mut last = String::from("no answer");
        loop {
            let req = ProbeRequest {
                tenant: &run.op.tenant,
                resource: &run.op.resource,
                check: &spec.check,
                namespaces: &run.rt.policy.namespaces,
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ports.probe.check(req)).await {
                Ok(Ok(Health::Healthy)) => return RunEnd::Healed,
                Ok(Ok(other)) => last = other.to_string(),
                Ok(Err(e))
                    if e.class == FailureClass::Fatal || e.class == FailureClass::TargetGone =>
                {
                    return RunEnd::Failed {
                        error: format!("verification failed: {e}"),
                        class: Some(e.class),
                        rollback: true,
                        verification_failed: true,
                    };
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(spec.interval.min(deadline - now)).await;
        }
        RunEnd::Failed {
            error: format!(
                "verification failed after {}: {last}",
                hale_domain::time::duration::format(spec.timeout)
            ),
            class: Some(FailureClass::Timeout),
            rollback: true,
            verification_failed: true,
        }
    }

    async fn finish(&self, mut run: Run, end: RunEnd) {
        let now = self.now();
        let tenant = run.op.tenant.clone();
        let (success, counted) = match &end {
            RunEnd::Healed => (true, true),
            RunEnd::Failed { .. } => (false, true),
            RunEnd::Interrupted(_) => (false, false),
        };
        match &end {
            RunEnd::Healed => {
                if run.op.transition(HealingState::Completed, now).is_ok() {
                    self.save(
                        &mut run,
                        "operation.completed",
                        "healed and verified".into(),
                        None,
                    )
                    .await;
                }
            }
            RunEnd::Failed {
                error,
                class,
                rollback,
                verification_failed,
            } => {
                if run.op.fail(error.clone(), *class, now).is_ok() {
                    self.save(&mut run, "operation.failed", error.clone(), None)
                        .await;
                }
                if *rollback {
                    self.roll_back(&mut run).await;
                }
                if *verification_failed {
                    self.remember_anti_pattern(&run, now).await;
                }
                self.escalate_failure(&mut run, error, now).await;
            }
            RunEnd::Interrupted(reason) => {
                if run.op.transition(HealingState::Interrupted, now).is_ok() {
                    run.op.error = Some(reason.clone());
                    self.save(&mut run, "operation.interrupted", reason.clone(), None)
                        .await;
                }
            }
        }
        self.metrics.inc(family::OPERATIONS, run.op.state.as_str());
        // Fail-safe bookkeeping: ledger, backoff, dormancy, counters.
        let dormant = if counted {
            let mut st = run.rt.state();
            let key = ledger_key(&run.op.strategy_id, &run.op.resource);
            st.ledgers.entry(key).or_default().on_finish(success);
            if success {
                st.backoff.reset();
                st.next_healing_at = None;
                st.dormancy.on_healing_success();
                st.counters.successful_healings += 1;
                None
            } else {
                let delay = st.backoff.on_failure();
                st.next_healing_at = Some(now + delay);
                st.counters.failed_healings += 1;
                st.last_failure_at = Some(now);
                st.dormancy.on_healing_failure(now).cloned()
            }
        } else {
            None
        };
        if let Some(rec) = dormant {
            self.on_dormant(&run.rt, &rec.reason, now).await;
        }
        self.release_lock(&run.lease).await;
        self.close_incident_chapter(&run, &end, now).await;
        self.persist_tenant(&run.rt).await;
        tracing::info!(tenant = %tenant, op = %run.op.id, state = %run.op.state, "healing operation finished");
    }

    async fn roll_back(&self, run: &mut Run) {
        let actions = run.strategy.rollback.actions.clone();
        for action in &actions {
            // Rollback runs even if earlier rollback actions failed: each one
            // undoes something different.
            let result = self.run_action(run, action, ActionPhase::Rollback).await;
            let kind = if result.success {
                "rollback.executed"
            } else {
                "rollback.failed"
            };
            self.save(run, kind, action.kind.to_string(), Some(&result))
                .await;
        }
    }

    async fn escalate_failure(&self, run: &mut Run, error: &str, now: Timestamp) {
        let policy = run.strategy.rollback.on_failure;
        if policy == FailurePolicy::EnterSafeMode {
            let entered = run.rt.state().dormancy.enter_safe_mode(
                &format!(
                    "strategy {} failed and asks for safe mode: {error}",
                    run.strategy.id
                ),
                now,
            );
            if entered {
                self.on_dormant(&run.rt, "safe mode after a failed healing", now)
                    .await;
            }
        }
        run.op.escalated = true;
        self.save(
            run,
            "healing.escalated",
            format!("{policy:?}: {error}"),
            None,
        )
        .await;
        self.escalate(Escalation {
            tenant: run.op.tenant.clone(),
            kind: "healing_failed".into(),
            summary: format!(
                "healing {} of {} failed: {error}",
                run.strategy.id, run.op.resource
            ),
            resource: Some(run.op.resource.clone()),
            strategy_id: Some(run.strategy.id.clone()),
            operation_id: Some(run.op.id.clone()),
            incident_id: run.op.incident_id.clone(),
            severity: Severity::P1,
            at: now,
        })
        .await;
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
        let (status, outcome, tone) = match end {
            RunEnd::Healed => (
                None,
                Some(("healed", "healed and verified".to_owned())),
                TimelineStatus::Success,
            ),
            RunEnd::Failed { error, .. } => (
                Some(IncidentStatus::Escalated),
                Some(("failed", error.clone())),
                TimelineStatus::Error,
            ),
            RunEnd::Interrupted(r) => (
                None,
                Some(("interrupted", r.clone())),
                TimelineStatus::Warning,
            ),
        };
        let op_id = run.op.id.clone();
        let res = self
            .update_incident(&run.op.tenant, &incident, |inc| {
                if let Some(s) = status {
                    inc.status = s;
                }
                if let Some((result, summary)) = &outcome {
                    inc.outcome = Some(IncidentOutcome {
                        result: (*result).to_owned(),
                        summary: summary.clone(),
                        operation_id: Some(op_id.clone()),
                    });
                }
                inc.push_decision(hale_domain::record::incident::DecisionStep {
                    at: now,
                    stage: "heal".into(),
                    decision: outcome.as_ref().map_or("finished", |o| o.0).to_owned(),
                    reason: format!("operation {op_id}"),
                });
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

impl crate::config::TenantPolicy {
    /// The classifier's verdict on an error message, if a rule matches.
    pub(crate) fn classifier_class(&self, message: &str) -> Option<FailureClass> {
        use hale_domain::failure::FailureClassifier;
        self.classifier.classify(message)
    }
}
