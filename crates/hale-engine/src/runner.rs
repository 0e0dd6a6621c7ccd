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

use hale_domain::Origin;
use hale_domain::alert::Alert;
use hale_domain::breaker::BreakerState;
use hale_domain::diagnosis::Diagnosis;
use hale_domain::failure::{ErrorReport, FailureClass, classify};
use hale_domain::guard::{Block, HealingPath};
use hale_domain::healing::{
    ActionLog, ActionPhase, HealingOperation, HealingState, PlanStep, after_action,
    after_refused_dry_run,
};
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::safety::RunOutcome;
use hale_domain::strategy::{ActionSpec, Strategy};

use crate::engine::Inner;
use crate::heartbeat::ConfirmLease;
use crate::ports::{
    ADVISOR_TIMEOUT, ActionRequest, DiagnosisRequest, ExecMode, Health, Lease, Ledgers, LockError,
    ProbeRequest, StoreError,
};
use crate::tenant::TenantRuntime;

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

impl Run {
    /// Every value the alert carried into this run (label names and values,
    /// annotation values, the target's namespace, kind and name): text a
    /// target may echo back, which must never decide a failure's class.
    pub(crate) fn alert_values(&self) -> Vec<&str> {
        let labels = self
            .alert
            .labels
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()]);
        let annotations = self.alert.annotations.values().map(String::as_str);
        let target = [
            self.op.resource.namespace.as_str(),
            self.op.resource.kind.as_str(),
            self.op.resource.name.as_str(),
        ];
        labels.chain(annotations).chain(target).collect()
    }

    /// The guard path the run is on.
    pub(crate) fn path(&self) -> HealingPath {
        if self.yields_to_decisions {
            HealingPath::Automatic
        } else {
            HealingPath::Approved
        }
    }
}

/// Why a run stops when a step could not be recorded.
pub(crate) fn not_durable(step: &str) -> String {
    format!(
        "could not record {step} (the store did not answer); no further action and no \
         rollback runs unrecorded"
    )
}

/// The message of an action cut off by its timeout.
fn timed_out(action: &ActionSpec) -> String {
    format!(
        "timed out after {}",
        hale_domain::time::duration::format(action.timeout)
    )
}

/// How a run ended.
pub(crate) enum RunEnd {
    Healed,
    Failed {
        error: String,
        class: Option<FailureClass>,
        rollback: bool,
        verification_failed: bool,
        /// An action's dry run failed and it was not applied: the run is
        /// refused, not a failure of the target (`dry_run_failed`).
        refused: Option<Refusal>,
    },
    Interrupted(String),
    /// Stopped in the middle of acting, without its lease or without a
    /// durable record of its last step: what the target is now is unknown.
    /// Ends INTERRUPTED like any interruption, never rolled back (that
    /// would act unleased or unrecorded), and is escalated to a human.
    Stranded(String),
}

/// A run stopped because the target's server-side dry run refused one of
/// its actions (`dry_run_failed`): that action was not applied.
pub(crate) struct Refusal {
    /// The block the dry run gave (its guard is `dry_run_failed`).
    pub block: Block,
    /// Whether an earlier action of this run was applied: only then does
    /// a rollback have anything to undo
    /// ([`hale_domain::healing::after_refused_dry_run`]).
    pub applied_before: bool,
}

/// The outcome of one action.
pub(crate) struct ActionResult {
    /// `Err` carries the failure's class.
    pub outcome: Result<(), FailureClass>,
    pub message: String,
    pub response: Option<serde_json::Value>,
    /// The lease was lost while the action ran and the action was
    /// cancelled (its class is `Fenced`).
    pub lease_lost: bool,
    /// Pods the executor reported restarting or evicting (remediation
    /// budgets count them).
    pub pods_disrupted: u32,
    /// The server-side dry run made right before applying, if the
    /// executor makes one: `Ok` with its message, or the block that kept
    /// the action from being applied.
    pub dry_run: Option<Result<String, Block>>,
}

impl ActionResult {
    fn failed(class: FailureClass, message: String) -> ActionResult {
        ActionResult {
            outcome: Err(class),
            message,
            response: None,
            lease_lost: false,
            pods_disrupted: 0,
            dry_run: None,
        }
    }

    pub(crate) fn class(&self) -> Option<FailureClass> {
        self.outcome.err()
    }

    /// The block of a failed dry run (the action was not applied).
    pub(crate) fn dry_run_block(&self) -> Option<&Block> {
        self.dry_run.as_ref().and_then(|d| d.as_ref().err())
    }
}

impl RunEnd {
    /// What the safety state counts of this end.
    pub(crate) fn outcome(&self) -> RunOutcome {
        match self {
            RunEnd::Healed => RunOutcome::Healed,
            // A failed dry run applied nothing: like an alert-caused
            // refusal, it grows the target's attempt streak and nothing
            // else.
            // It still grows that streak so that a target whose dry runs
            // keep refusing is not re-run on every re-fire without end
            // (`max_attempts` stops it; docs/policy.md).
            RunEnd::Failed {
                refused: Some(_), ..
            } => RunOutcome::Refused,
            RunEnd::Failed { class, .. } => RunOutcome::of_failure(*class),
            RunEnd::Interrupted(_) | RunEnd::Stranded(_) => RunOutcome::Interrupted,
        }
    }
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

    /// Persists the operation with an audit entry, retrying a store that
    /// is briefly unavailable. Returns whether the step is durable: a run
    /// acts on nothing it could not record (durable before acted on), so
    /// callers stop acting on `false`; the recovery sweep will find the
    /// operation at its last durable state and mark it INTERRUPTED.
    #[must_use]
    pub(crate) async fn save(
        &self,
        run: &mut Run,
        kind: AuditKind,
        reason: String,
        result: Option<&ActionResult>,
    ) -> bool {
        let a = self.run_audit(run, kind, reason, result);
        self.persist(run, std::slice::from_ref(&a)).await
    }

    /// Records the escalation of a run (its audit entry of `kind`); a run
    /// stopped by a refused dry run carries that dry run's answer in the
    /// entry's dry-run fields.
    #[must_use]
    pub(crate) async fn save_escalated(
        &self,
        run: &mut Run,
        kind: AuditKind,
        reason: String,
        refused: Option<&Block>,
    ) -> bool {
        let mut a = self.run_audit(run, kind, reason, None);
        if let Some(block) = refused {
            a.dry_run_passed = false;
            a.dry_run_message = Some(block.to_string());
        }
        self.persist(run, std::slice::from_ref(&a)).await
    }

    /// Records a run stopped mid-way (INTERRUPTED, `operation.interrupted`)
    /// and its escalation (`escalated`, the escalation's entry) in one
    /// write, so the interruption is never recorded without the
    /// escalation and its notice.
    #[must_use]
    pub(crate) async fn save_stranded(
        &self,
        run: &mut Run,
        reason: String,
        escalation: &hale_domain::escalation::Escalation,
    ) -> bool {
        run.op.escalated = true;
        let step = self.run_audit(run, AuditKind::OperationInterrupted, reason, None);
        let rec = self.run_audit(
            run,
            escalation.kind.audit_kind(),
            escalation.summary.clone(),
            None,
        );
        self.persist(run, &[step, rec]).await
    }

    /// The audit entry of one step of `run`.
    fn run_audit(
        &self,
        run: &Run,
        kind: AuditKind,
        reason: String,
        result: Option<&ActionResult>,
    ) -> AuditEntry {
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
            match &r.dry_run {
                Some(Ok(message)) => a.dry_run_message = Some(message.clone()),
                Some(Err(block)) => {
                    a.dry_run_passed = false;
                    a.dry_run_message = Some(block.to_string());
                }
                None => {}
            }
            a.success = r.outcome.is_ok();
            a.failure_classification = r.class();
            a.response.clone_from(&r.response);
            if r.outcome.is_err() {
                a.error_message = Some(r.message.clone());
            }
            a.execution_duration_ms = run
                .op
                .actions_run
                .last()
                .map(|l| u64::try_from(l.duration.as_millis()).unwrap_or(u64::MAX));
        }
        a
    }

    /// Writes the operation with its audit entries (see [`Inner::save`]).
    async fn persist(&self, run: &mut Run, entries: &[AuditEntry]) -> bool {
        for attempt in 0..3 {
            match self
                .ports
                .stores
                .operations
                .update_operation(&run.op, entries)
                .await
            {
                Ok(rev) => {
                    run.op.revision = rev;
                    return true;
                }
                Err(StoreError::Unavailable(e)) if attempt < 2 => {
                    tracing::warn!(op = %run.op.id, error = %e, "store unavailable while saving an operation; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                }
                Err(e) => {
                    tracing::error!(op = %run.op.id, error = %e, "could not save an operation step; the run stops acting");
                    return false;
                }
            }
        }
        false
    }

    /// Moves the operation to `to` and records it; `Err` is how the run
    /// ends instead (an illegal transition, or a step that is not durable).
    async fn transition(&self, run: &mut Run, to: HealingState) -> Result<(), RunEnd> {
        let now = self.now();
        match run.op.transition(to, now) {
            Ok(from) => {
                let reason = format!("{from} -> {to}");
                if self
                    .save(run, AuditKind::OperationTransition, reason, None)
                    .await
                {
                    Ok(())
                } else {
                    Err(RunEnd::Stranded(not_durable(&format!("the move to {to}"))))
                }
            }
            Err(e) => {
                tracing::error!(op = %run.op.id, error = %e, "refused an illegal transition");
                Err(RunEnd::Interrupted("illegal state".into()))
            }
        }
    }

    async fn drive(&self, run: &mut Run) -> RunEnd {
        if let Err(end) = self.transition(run, HealingState::Diagnosing).await {
            return end;
        }
        run.op.diagnosis = Some(self.diagnose(run).await);
        if let Err(end) = self.transition(run, HealingState::Healing).await {
            return end;
        }
        let actions = run.strategy.actions.clone();
        for action in &actions {
            if let Some(reason) = self.checkpoint(run).await {
                return RunEnd::Interrupted(reason);
            }
            // Whether this run has applied anything yet (an action logged
            // without a refused dry run was sent to the target).
            let applied_before = run
                .op
                .actions_run
                .iter()
                .any(|l| l.phase == ActionPhase::Heal && !l.dry_run);
            let result = self.run_action(run, action, ActionPhase::Heal).await;
            let (kind, reason) = match (result.outcome, result.dry_run_block()) {
                (Ok(()), _) => (AuditKind::ActionExecuted, None),
                (Err(_), Some(block)) => (
                    AuditKind::HealingBlocked,
                    Some(format!("{}: {block}", block.guard())),
                ),
                (Err(_), None) => (AuditKind::ActionFailed, None),
            };
            let reason =
                reason.unwrap_or_else(|| format!("{} ({:?})", action.kind, action.on_error));
            let durable = self.save(run, kind, reason, Some(&result)).await;
            // The lease is gone: stop without a rollback (a rollback acts
            // too). An action cancelled mid-way leaves the target unknown;
            // one the target fenced off did nothing.
            if result.lease_lost {
                return RunEnd::Stranded(result.message);
            }
            if result.class() == Some(FailureClass::Fenced) {
                return RunEnd::Interrupted(result.message);
            }
            if !durable {
                return RunEnd::Stranded(not_durable(&format!("action {}", action.kind)));
            }
            let refused = result.dry_run_block().map(|block| Refusal {
                block: block.clone(),
                applied_before,
            });
            let step = match (&refused, result.outcome) {
                (Some(r), Err(class)) => {
                    after_refused_dry_run(class, action.on_error, r.applied_before)
                }
                _ => after_action(result.outcome, action.on_error),
            };
            match step {
                PlanStep::Next => continue,
                step @ (PlanStep::Abort | PlanStep::Rollback) => {
                    let error = match &refused {
                        Some(r) => format!("{}: {}", r.block.guard(), r.block),
                        None => format!("action {} failed: {}", action.kind, result.message),
                    };
                    return RunEnd::Failed {
                        error,
                        class: result.class(),
                        rollback: step == PlanStep::Rollback,
                        verification_failed: false,
                        refused,
                    };
                }
            }
        }
        if let Some(reason) = self.checkpoint(run).await {
            return RunEnd::Interrupted(reason);
        }
        if let Err(end) = self.transition(run, HealingState::Verifying).await {
            return end;
        }
        let lease = run.lease.clone();
        match self.under_lease(&lease, self.verify(run)).await {
            Ok(end) => end,
            Err(lost) => RunEnd::Stranded(format!(
                "verification stopped: {}; nothing was rolled back without the lease",
                lost.0
            )),
        }
    }

    /// The advisor's diagnosis of the run's alert, or the tenant's rule
    /// table's when the advisor has none (an error or no answer within
    /// [`ADVISOR_TIMEOUT`]): advice is recorded, never waited on forever
    /// and never a reason to fail.
    async fn diagnose(&self, run: &Run) -> Diagnosis {
        let rules = &run.rt.policy.diagnosis;
        let req = DiagnosisRequest {
            tenant: &run.op.tenant,
            alert: &run.alert,
            resource: &run.op.resource,
            rules,
        };
        let advice = tokio::time::timeout(ADVISOR_TIMEOUT, self.ports.diagnosis.diagnose(req));
        match advice.await {
            Ok(Ok(mut d)) => {
                d.confidence = match d.confidence.is_nan() {
                    true => 0.0,
                    false => d.confidence.clamp(0.0, 1.0),
                };
                d
            }
            Ok(Err(e)) => {
                tracing::info!(op = %run.op.id, error = %e, "the diagnosis advisor had no advice; using the rule table");
                rules.diagnose(&run.alert, &run.op.resource.name)
            }
            Err(_) => {
                tracing::warn!(op = %run.op.id, "the diagnosis advisor did not answer in time; using the rule table");
                rules.diagnose(&run.alert, &run.op.resource.name)
            }
        }
    }

    /// Between actions: shutdown, the safety state (switches, the freeze
    /// and dormancy confirmed against the store), lock ownership,
    /// pre-emption.
    async fn checkpoint(&self, run: &Run) -> Option<String> {
        if self.is_stopping() {
            return Some("engine shutting down".into());
        }
        if let Some(reason) = self.confirm_run(&run.rt, run.path(), &run.strategy).await {
            return Some(reason);
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

    pub(crate) async fn run_action(
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
            success: result.outcome.is_ok(),
            // Only a dry run ran when it failed.
            dry_run: result.dry_run_block().is_some(),
            failure: result.class(),
            message: Some(result.message.clone()),
        });
        result
    }

    async fn execute_action(&self, run: &Run, action: &ActionSpec) -> ActionResult {
        let fail = ActionResult::failed;
        let Some(exec) = self.ports.executor_for(&action.kind).cloned() else {
            return fail(
                FailureClass::InvalidAction,
                format!("no executor runs {}", action.kind),
            );
        };
        // An automatic action is first sent as a dry run when the
        // executor can make one; a refusal blocks it before the breaker is
        // asked, so it neither takes a probe slot nor counts as a failure.
        let confirm = ConfirmLease {
            locks: self.ports.locks.as_ref(),
            lease: &run.lease,
            ttl: self.config.automatic_lock_ttl,
        };
        let req = ActionRequest {
            tenant: &run.op.tenant,
            operation_id: &run.op.id,
            resource: &run.op.resource,
            action,
            mode: ExecMode::Apply,
            fencing_token: Some(run.lease.token),
            lease_check: Some(&confirm),
            namespaces: &run.rt.policy.namespaces,
        };
        let dry_run = match run.yields_to_decisions && exec.dry_runs_before_apply() {
            true => match self.dry_run(run, exec.as_ref(), req).await {
                Ok(message) => Some(message),
                Err(result) => return result,
            },
            false => None,
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
        let work = tokio::time::timeout(action.timeout, exec.execute(req));
        let outcome = match self.under_lease(&run.lease, work).await {
            Ok(outcome) => outcome,
            // The lease is gone mid-action: the action was cancelled, and
            // what it did is unknown; the target is not at fault.
            Err(lost) => {
                let message = format!(
                    "{} on {} was cancelled: {}",
                    action.kind, run.op.resource, lost.0
                );
                return ActionResult {
                    lease_lost: true,
                    ..fail(FailureClass::Fenced, message)
                };
            }
        };
        let result = match outcome {
            Ok(Ok(o)) => ActionResult {
                outcome: Ok(()),
                message: o.message,
                response: o.response,
                lease_lost: false,
                pods_disrupted: o.pods_disrupted,
                dry_run: dry_run.map(Ok),
            },
            Ok(Err(e)) => {
                // What the target said in its own words may make a
                // transient failure fatal (the tenant's patterns); the
                // alert's own values never can.
                let report = ErrorReport {
                    class: e.class,
                    target_said: e.target_said.as_deref(),
                };
                let class = classify(report, &run.alert_values(), &run.rt.policy.classifier);
                ActionResult {
                    outcome: Err(class),
                    message: e.message,
                    response: e.response,
                    lease_lost: false,
                    pods_disrupted: 0,
                    dry_run: dry_run.map(Ok),
                }
            }
            Err(_) => fail(FailureClass::Timeout, timed_out(action)),
        };
        let now = self.now();
        let transition = match result.outcome {
            Ok(()) => breaker.record_success(&permit, || now),
            Err(class) => breaker.record_failure(&permit, class, now),
        };
        if let Some(t) = transition {
            self.on_breaker_transition(&run.rt, exec.name(), t).await;
        }
        // The shared record counts the cluster's failures toward
        // PERMANENT_OPEN and latches for every replica.
        // Pods it disrupted count toward the remediation budgets, in the
        // same update (only when a budget is configured).
        let (name, outcome) = (exec.name(), result.outcome);
        let pods = match run.rt.policy.remediation.is_empty() {
            true => 0,
            false => result.pods_disrupted,
        };
        let op_id = &run.op.id;
        // PERMANENT_OPEN is audited with the latch: from the state this
        // replica's breaker left (a fatal failure latched it locally too).
        let from = match transition {
            Some(t) if t.to == BreakerState::PermanentOpen => t.from,
            _ => breaker.state(),
        };
        let rt = &run.rt;
        let latched = self
            .update_with_retries(
                rt,
                Ledgers::None,
                |_, s| {
                    if pods > 0 {
                        s.remediation.add_pods(op_id, pods);
                    }
                    s.on_action_outcome(name, outcome, now)
                },
                |l| self.latch_trail(rt, name, from, l.as_ref(), now),
            )
            .await
            .flatten();
        if let Some(l) = latched
            && let Some(rec) = l.entered_dormancy
        {
            self.on_dormant(&run.rt, &rec, now).await;
        }
        result
    }

    /// The server-side dry run of `action` with the request the apply will
    /// make (no fencing token: a dry run changes nothing). `Ok` is its
    /// message; `Err` the result that stands for the action: not applied,
    /// blocked as `dry_run_failed`, no breaker or safety record touched.
    async fn dry_run(
        &self,
        run: &Run,
        exec: &dyn crate::ports::ActionExecutor,
        apply: ActionRequest<'_>,
    ) -> Result<String, ActionResult> {
        let action = apply.action;
        let req = ActionRequest {
            mode: ExecMode::DryRun,
            fencing_token: None,
            lease_check: None,
            ..apply
        };
        let work = tokio::time::timeout(action.timeout, exec.execute(req));
        let (class, message, response) = match self.under_lease(&run.lease, work).await {
            Ok(Ok(Ok(o))) => return Ok(o.message),
            Ok(Ok(Err(e))) => (e.class, e.message, e.response),
            Ok(Err(_)) => (FailureClass::Timeout, timed_out(action), None),
            // Nothing was applied; the lease is gone, so the run stops as
            // it would mid-action.
            Err(lost) => {
                let message = format!(
                    "the dry run of {} on {} was cancelled: {}",
                    action.kind, run.op.resource, lost.0
                );
                return Err(ActionResult {
                    lease_lost: true,
                    ..ActionResult::failed(FailureClass::Fenced, message)
                });
            }
        };
        let block = Block::DryRunFailed {
            kind: action.kind.clone(),
            message: message.clone(),
        };
        tracing::warn!(op = %run.op.id, action = %action.kind, resource = %run.op.resource, %class, "{block}");
        self.metrics
            .inc(crate::metrics::family::BLOCKS, block.guard().as_str());
        Err(ActionResult {
            response,
            dry_run: Some(Err(block.clone())),
            ..ActionResult::failed(class, block.to_string())
        })
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
                        refused: None,
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
            refused: None,
        }
    }
}
