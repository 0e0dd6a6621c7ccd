//! Executing a request humans approved: at decision priority (it outranks
//! automatic repair), after the guard rule for the approved path
//! ([`HealingPath::Approved`]: every switch that applies, executors,
//! breakers; never dormancy). If an automatic run holds the resource, the
//! execution waits in the background for it to yield.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hale_domain::alert::Alert;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::approval::ApprovalRequest;
use hale_domain::coordination::LockPriority;
use hale_domain::guard::{HealingPath, Verdict};
use hale_domain::healing::{HealingOperation, NewOperation};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};
use hale_domain::silence::SilenceCheck;
use hale_domain::strategy::Strategy;
use hale_domain::{Actor, OperationId, Origin};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::guards::Gathered;
use crate::ports::{Acquire, Lease, LockError, LockRequest};
use crate::runner::Run;
use crate::tenant::TenantRuntime;

impl Inner {
    /// Starts an approved request, or says why it has not started: blocked
    /// (recorded as `approval.execution_blocked`), or waiting in the
    /// background for the resource.
    pub(crate) async fn execute_approved(
        self: &Arc<Self>,
        a: &ApprovalRequest,
        approver: &Actor,
    ) -> Result<(Option<OperationId>, Option<String>), EngineError> {
        let rt = self.runtime(&a.tenant).await?;
        if let Err(reason) = self.may_run_approved(&rt, a).await? {
            self.record_execution_problem(a, &reason).await?;
            return Ok((None, Some(reason)));
        }
        match self.lease_for_approved(a).await {
            Ok(Some(lease)) => match self.start_approved(&rt, a, approver, lease).await? {
                Ok(op) => Ok((Some(op), None)),
                Err(reason) => Ok((None, Some(reason))),
            },
            Ok(None) | Err(_) => {
                let this = self.clone();
                let (a2, approver2) = (a.clone(), approver.clone());
                let rt2 = rt.clone();
                self.runs
                    .spawn(async move { this.wait_and_start(rt2, a2, approver2).await });
                Ok((None, Some("waiting for the resource: an automatic run is yielding or the lock backend is unavailable".into())))
            }
        }
    }

    /// The approved path's guard verdict for a request: its strategy, or
    /// why it may not run (the strategy is gone or a guard blocks it).
    async fn may_run_approved(
        &self,
        rt: &TenantRuntime,
        a: &ApprovalRequest,
    ) -> Result<Result<Strategy, String>, EngineError> {
        let Some(strategy) = rt.policy.strategies.iter().find(|s| s.id == a.strategy_id) else {
            return Ok(Err(format!(
                "strategy {} is no longer configured",
                a.strategy_id
            )));
        };
        let alert = alert_of(a);
        let verdict = self
            .guard_verdict(
                rt,
                HealingPath::Approved,
                strategy,
                &a.resource,
                &alert,
                self.now(),
            )
            .await?
            .verdict;
        Ok(match verdict {
            Verdict::Allow => Ok(strategy.clone()),
            Verdict::Block(b) => Err(format!("{}: {b}", b.guard())),
        })
    }

    async fn record_execution_problem(
        &self,
        a: &ApprovalRequest,
        reason: &str,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let mut audit = self.audit_entry(
            &a.tenant,
            AuditKind::ApprovalExecutionBlocked,
            &a.resource.key(),
            Origin::decision_manager(),
            now,
        );
        audit.approval_id = Some(a.id.clone());
        audit.incident_id.clone_from(&a.incident_id);
        audit.success = false;
        audit.reason = Some(reason.to_owned());
        self.audit(audit).await
    }

    /// The approval's own lease if still current, else a fresh one; `None`
    /// when an automatic run still holds the resource.
    async fn lease_for_approved(&self, a: &ApprovalRequest) -> Result<Option<Lease>, LockError> {
        let ttl = self.config.automatic_lock_ttl;
        if let Some(lease) = Self::approval_lease(a) {
            match self.ports.locks.extend(&lease, ttl).await {
                Ok(()) => return Ok(Some(lease)),
                Err(LockError::NotHeld) => {}
                Err(e) => return Err(e),
            }
        }
        let req = LockRequest {
            tenant: a.tenant.clone(),
            resource: a.resource.clone(),
            priority: LockPriority::Decision,
            holder: a.id.to_string(),
            ttl,
        };
        match self.acquire_lock(&req).await? {
            Acquire::Acquired(l) => Ok(Some(l)),
            Acquire::Held(_) => Ok(None),
        }
    }

    async fn wait_and_start(
        self: Arc<Self>,
        rt: Arc<TenantRuntime>,
        a: ApprovalRequest,
        approver: Actor,
    ) {
        let deadline = tokio::time::Instant::now() + self.config.preemption_wait;
        while tokio::time::Instant::now() < deadline && !self.is_stopping() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(lease)) = self.lease_for_approved(&a).await {
                match self.start_approved(&rt, &a, &approver, lease).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(reason)) => {
                        tracing::info!(approval = %a.id, %reason, "approved execution stopped by a guard")
                    }
                    Err(e) => {
                        tracing::warn!(approval = %a.id, error = %e, "approved execution could not start")
                    }
                }
                return;
            }
        }
        let reason = format!(
            "the resource did not become free within {}",
            hale_domain::time::duration::format(self.config.preemption_wait)
        );
        if let Err(e) = self.record_execution_problem(&a, &reason).await {
            tracing::warn!(error = %e, "could not record an approved execution that never started");
        }
    }

    /// Starts an approved request under `lease`: its operation, or why the
    /// guard stopped it right before the start (recorded).
    async fn start_approved(
        self: &Arc<Self>,
        rt: &Arc<TenantRuntime>,
        a: &ApprovalRequest,
        approver: &Actor,
        lease: Lease,
    ) -> Result<Result<OperationId, String>, EngineError> {
        let Some(strategy) = rt
            .policy
            .strategies
            .iter()
            .find(|s| s.id == a.strategy_id)
            .cloned()
        else {
            self.release_lock(&lease).await;
            return Err(EngineError::Invalid(format!(
                "strategy {} is no longer configured",
                a.strategy_id
            )));
        };
        let now = self.now();
        // Right before it starts, the approved path's guard runs again on
        // the store's current records (a switch turned off or a freeze
        // since the approval stops it); humans approved it, so the attempt
        // is recorded, not budgeted.
        let alert = alert_of(a);
        let symptoms = SymptomsHash::of(&alert, &a.resource);
        let gathered = Gathered {
            path: HealingPath::Approved,
            strategy: &strategy,
            resource: &a.resource,
            symptoms: &symptoms,
            anti_patterns: &[],
            silence: &SilenceCheck::NotAsked,
            gitops: &hale_domain::gitops::OwnershipCheck::NotAsked,
            now,
        };
        let op_id = OperationId::new(self.ports.ids.next_id("op"));
        let attempt = match self.begin_confirmed(rt, &gathered, &op_id, None).await {
            Ok(a) => a,
            Err(e) => {
                self.release_lock(&lease).await;
                return Err(e);
            }
        };
        let attempt_number = match attempt {
            Ok(n) => n,
            Err(block) => {
                self.release_lock(&lease).await;
                let reason = format!("{}: {block}", block.guard());
                self.record_execution_problem(a, &reason).await?;
                return Ok(Err(reason));
            }
        };
        let origin = Origin {
            actor: approver.clone(),
            ..Origin::decision_manager()
        };
        let mut op = HealingOperation::new(
            NewOperation {
                id: op_id.clone(),
                tenant: a.tenant.clone(),
                strategy_id: strategy.id.clone(),
                resource: a.resource.clone(),
                source_system: origin.source_system,
                authorization_channel: origin.channel,
                risk: strategy.risk,
                attempt_number,
            },
            now,
        );
        op.fingerprint.clone_from(&a.fingerprint);
        op.incident_id.clone_from(&a.incident_id);
        op.approval_id = Some(a.id.clone());
        op.fencing_token = Some(lease.token.0);
        let mut audit = self.audit_entry(
            &a.tenant,
            AuditKind::HealingStarted,
            &a.resource.key(),
            origin.clone(),
            now,
        );
        audit.operation_id = Some(op_id.clone());
        audit.approval_id = Some(a.id.clone());
        audit.source_approval_id = Some(a.id.clone());
        audit.incident_id.clone_from(&a.incident_id);
        audit.reason = Some(format!(
            "approved by {}",
            a.signatures
                .iter()
                .map(|s| s.identity.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Err(e) = self
            .ports
            .stores
            .operations
            .create_operation(&op, &audit)
            .await
        {
            self.release_lock(&lease).await;
            return Err(e.into());
        }
        if let Some(inc) = &a.incident_id {
            let step = DecisionStep::new(
                now,
                Stage::Decision,
                StepDecision::ApprovedExecutionStarted,
                format!("approval {} -> operation {}", a.id, op_id),
            );
            self.update_incident(&a.tenant, inc, |i| {
                i.operation_started(&op_id, step.clone())
            })
            .await?;
        }
        self.spawn_run(Run {
            rt: rt.clone(),
            op,
            lease,
            strategy,
            alert,
            origin,
            yields_to_decisions: false,
        });
        Ok(Ok(op_id))
    }
}

/// The alert an approval was raised for, rebuilt from its metadata (for
/// diagnosis and anti-pattern hashing).
fn alert_of(a: &ApprovalRequest) -> Alert {
    let labels: BTreeMap<String, String> = a
        .metadata
        .get("alert_labels")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| {
            let mut m = BTreeMap::new();
            if let Some(name) = a.metadata.get("alertname").and_then(|v| v.as_str()) {
                m.insert("alertname".to_owned(), name.to_owned());
            }
            m.insert("namespace".to_owned(), a.resource.namespace.clone());
            m
        });
    Alert::firing(labels)
}
