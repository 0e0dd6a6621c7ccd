//! Starting work once the guards passed: an automatic run (failure watcher,
//! LOW risk) or an approval request (decision path).
//!
//! Order matters for exactly-once: take the resource lock, then claim the
//! alert episode in the store (compare-and-set), then write the operation or
//! approval. A replica that loses either race stops without acting.

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::approval::{ApprovalRequest, ApprovalStatus, BlastRadius, DryRunCheck};
use hale_domain::budget::BudgetVerdict;
use hale_domain::convergence::{ClaimKind, EpisodeClaim};
use hale_domain::coordination::LockPriority;
use hale_domain::healing::{HealingOperation, NewOperation};
use hale_domain::record::incident::IncidentStatus;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::strategy::Strategy;
use hale_domain::{Actor, ApprovalId, OperationId, Origin, ResourceRef};

use crate::decision::Outcome;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::intake::Evaluation;
use crate::ports::{Acquire, ExecMode, Lease, LockError, LockRequest};
use crate::runner::Run;
use crate::tenant::ledger_key;

impl Inner {
    /// Takes a lock, timing the round trip for the metrics.
    pub(crate) async fn acquire_lock(&self, req: &LockRequest) -> Result<Acquire, LockError> {
        let t0 = tokio::time::Instant::now();
        let res = self.ports.locks.acquire(req).await;
        self.metrics.lock_latency(t0.elapsed());
        res
    }

    /// Releases a lease; a lease that already expired is fine.
    pub(crate) async fn release_lock(&self, lease: &Lease) {
        match self.ports.locks.release(lease).await {
            Ok(()) | Err(LockError::NotHeld) => {}
            Err(e) => {
                tracing::warn!(resource = %lease.resource, error = %e, "could not release a lock; its TTL will free it")
            }
        }
    }

    pub(crate) async fn start_automatic(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
    ) -> Result<Outcome, EngineError> {
        let tenant = ev.tenant();
        let op_id = OperationId::new(self.ports.ids.next_id("op"));
        let req = LockRequest {
            tenant: tenant.clone(),
            resource: resource.clone(),
            priority: LockPriority::Automatic,
            holder: op_id.to_string(),
            ttl: self.config.automatic_lock_ttl,
        };
        let lease = match self.acquire_lock(&req).await {
            Ok(Acquire::Acquired(lease)) => lease,
            Ok(Acquire::Held(h)) => {
                let reason = if h.priority == LockPriority::Decision {
                    "deferred_to_decision_manager"
                } else {
                    "resource_busy"
                };
                self.remember(ev, reason);
                return self.defer(ev, strategy, resource, reason).await;
            }
            Err(e) => {
                self.remember(ev, "lock_backend_unavailable");
                return self
                    .skip(
                        ev,
                        Some(strategy),
                        Some(resource),
                        "lock_backend_unavailable",
                        &e.to_string(),
                    )
                    .await;
            }
        };
        let claim = EpisodeClaim {
            kind: ClaimKind::Operation,
            id: op_id.to_string(),
            at: ev.now,
        };
        let claimed = match self
            .ports
            .stores
            .fingerprints
            .claim_episode(tenant, &ev.record.fingerprint, ev.record.episode, &claim)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                self.release_lock(&lease).await;
                return Err(e.into());
            }
        };
        if !claimed {
            // Another replica (or a concurrent delivery) took this episode.
            self.release_lock(&lease).await;
            let current = self
                .ports
                .stores
                .fingerprints
                .get_fingerprint(tenant, &ev.record.fingerprint)
                .await?;
            return Ok(Outcome::Deduplicated {
                claimed_by: current.and_then(|r| r.claim).map(|c| c.id),
            });
        }
        // The budget is re-checked under the lock so two alerts for one
        // target cannot both pass the cooldown.
        let key = ledger_key(&strategy.id, resource);
        let attempt = {
            let mut st = ev.rt.state();
            let ledger = st.ledgers.entry(key).or_default();
            match ledger.check(strategy.max_attempts, strategy.cooldown, ev.now) {
                BudgetVerdict::Allowed { attempt_number } => {
                    ledger.on_start(ev.now);
                    st.counters.total_attempts += 1;
                    Ok(attempt_number)
                }
                other => Err(other),
            }
        };
        let attempt_number = match attempt {
            Ok(n) => n,
            Err(verdict) => {
                self.undo_claim(ev, &claim, Some(&lease)).await;
                let (guard, detail) = match verdict {
                    BudgetVerdict::Cooldown { until } => {
                        ("cooldown", format!("cooling down until {until}"))
                    }
                    _ => ("max_attempts", "max attempts reached".to_owned()),
                };
                return self
                    .block(
                        ev,
                        strategy,
                        resource,
                        crate::guards::Block {
                            guard,
                            detail,
                            retryable: guard == "cooldown",
                        },
                    )
                    .await;
            }
        };
        let origin = Origin::failure_watcher();
        let mut op = HealingOperation::new(
            NewOperation {
                id: op_id.clone(),
                tenant: tenant.clone(),
                strategy_id: strategy.id.clone(),
                resource: resource.clone(),
                source_system: origin.source_system,
                authorization_channel: origin.channel,
                risk: strategy.risk,
                attempt_number,
            },
            ev.now,
        );
        op.fingerprint = Some(ev.record.fingerprint.clone());
        op.incident_id = Some(ev.incident.clone());
        op.fencing_token = Some(lease.token.0);
        let mut audit = self.audit_entry(
            tenant,
            "healing.started",
            &resource.key(),
            origin.clone(),
            ev.now,
        );
        audit.operation_id = Some(op_id.clone());
        audit.incident_id = Some(ev.incident.clone());
        audit.auto_repair_attempted = true;
        audit.retry_count = attempt_number.saturating_sub(1);
        audit.reason = Some(format!(
            "strategy {} matched {}",
            strategy.id,
            ev.alert.alertname().unwrap_or("alert")
        ));
        if let Err(e) = self
            .ports
            .stores
            .operations
            .create_operation(&op, &audit)
            .await
        {
            self.undo_claim(ev, &claim, Some(&lease)).await;
            return Err(e.into());
        }
        ev.rt.forget_deferred(&ev.record.fingerprint);
        let op_for_incident = op_id.clone();
        self.ev_update(ev, |inc| {
            inc.status = IncidentStatus::Mitigating;
            if !inc.operation_ids.contains(&op_for_incident) {
                inc.operation_ids.push(op_for_incident.clone());
            }
            inc.push_decision(hale_domain::record::incident::DecisionStep {
                at: ev.now,
                stage: "start".into(),
                decision: "operation_started".into(),
                reason: format!(
                    "automatic run {} of strategy {}",
                    op_for_incident, strategy.id
                ),
            });
        })
        .await?;
        let mut tl = self.timeline_event(
            tenant,
            TimelineEventType::System,
            TimelineStatus::Info,
            format!("Automatic healing started: {} on {resource}", strategy.id),
            ev.now,
        );
        tl.operation_id = Some(op_id.clone());
        tl.incident_id = Some(ev.incident.clone());
        tl.actor = Some(origin.actor.clone());
        tl.risk_level = Some(strategy.risk);
        self.timeline(tl).await?;
        self.spawn_run(Run {
            rt: ev.rt.clone(),
            op,
            lease,
            strategy: strategy.clone(),
            alert: ev.alert.clone(),
            origin,
            yields_to_decisions: true,
        });
        Ok(Outcome::OperationStarted {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            operation_id: op_id.to_string(),
        })
    }

    /// Drops an episode claim and the lock after a start that failed.
    async fn undo_claim(&self, ev: &Evaluation<'_>, claim: &EpisodeClaim, lease: Option<&Lease>) {
        if let Err(e) = self
            .ports
            .stores
            .fingerprints
            .release_episode_claim(
                ev.tenant(),
                &ev.record.fingerprint,
                ev.record.episode,
                &claim.id,
            )
            .await
        {
            tracing::warn!(error = %e, "could not release an episode claim after a failed start");
        }
        if let Some(l) = lease {
            self.release_lock(l).await;
        }
    }

    /// Raises an approval request. With `preempting`, an automatic run holds
    /// the resource: the lock request records a pre-emption request that the
    /// run honours at its next checkpoint, and the approved execution waits
    /// for the lock.
    pub(crate) async fn request_approval(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        preempting: bool,
    ) -> Result<Outcome, EngineError> {
        let tenant = ev.tenant();
        let policy = &ev.rt.policy;
        let apr_id = ApprovalId::new(self.ports.ids.next_id("apr"));
        let ttl = policy.signatures.expires_after + std::time::Duration::from_secs(60);
        let req = LockRequest {
            tenant: tenant.clone(),
            resource: resource.clone(),
            priority: LockPriority::Decision,
            holder: apr_id.to_string(),
            ttl,
        };
        let lease = match self.acquire_lock(&req).await {
            Ok(Acquire::Acquired(lease)) => Some(lease),
            Ok(Acquire::Held(h)) if h.priority == LockPriority::Automatic => None,
            Ok(Acquire::Held(_)) => {
                self.remember(ev, "resource_busy");
                return self.defer(ev, strategy, resource, "resource_busy").await;
            }
            Err(e) => {
                self.remember(ev, "lock_backend_unavailable");
                return self
                    .skip(
                        ev,
                        Some(strategy),
                        Some(resource),
                        "lock_backend_unavailable",
                        &e.to_string(),
                    )
                    .await;
            }
        };
        let claim = EpisodeClaim {
            kind: ClaimKind::Approval,
            id: apr_id.to_string(),
            at: ev.now,
        };
        let claimed = self
            .ports
            .stores
            .fingerprints
            .claim_episode(tenant, &ev.record.fingerprint, ev.record.episode, &claim)
            .await;
        match claimed {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                if let Some(l) = &lease {
                    self.release_lock(l).await;
                }
                claimed?;
                return Ok(Outcome::Deduplicated { claimed_by: None });
            }
        }
        let checks = self.dry_run_checks(ev, strategy, resource).await;
        let now = ev.now;
        let mut metadata = BTreeMap::new();
        metadata.insert(
            "alertname".to_owned(),
            serde_json::json!(ev.alert.alertname().unwrap_or_default()),
        );
        metadata.insert("episode".to_owned(), serde_json::json!(ev.record.episode));
        metadata.insert(
            "alert_labels".to_owned(),
            serde_json::json!(ev.alert.labels),
        );
        metadata.insert(
            "preempting".to_owned(),
            serde_json::json!(preempting || lease.is_none()),
        );
        if let Some(l) = &lease {
            metadata.insert("lock_token".to_owned(), serde_json::json!(l.token.0));
        }
        let approval = ApprovalRequest {
            id: apr_id.clone(),
            tenant: tenant.clone(),
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            action: strategy
                .actions
                .iter()
                .map(|a| format!("{} {resource}", a.kind))
                .collect::<Vec<_>>()
                .join("; "),
            description: format!(
                "{} ({}) matched strategy {}",
                ev.alert.alertname().unwrap_or("alert"),
                ev.alert
                    .annotations
                    .get("summary")
                    .map(String::as_str)
                    .unwrap_or("no summary"),
                strategy.id
            ),
            status: ApprovalStatus::Pending,
            risk_level: strategy.risk,
            required_signatures: policy.signatures.required(strategy.risk),
            signatures: Vec::new(),
            blast_radius: BlastRadius {
                namespaces: vec![resource.namespace.clone()],
                resources: vec![resource.key()],
                estimated_pods: None,
            },
            dry_run_checks: checks,
            requested_by: Actor::new("hale:decision_manager"),
            rejection_reason: None,
            rejected_by: None,
            metadata,
            fingerprint: Some(ev.record.fingerprint.clone()),
            hit_count: 1,
            last_seen_at: now,
            incident_id: Some(ev.incident.clone()),
            revision: 0,
            created_at: now,
            updated_at: now,
            expires_at: now + policy.signatures.expires_after,
            resolved_at: None,
        };
        let mut tl = self.timeline_event(
            tenant,
            TimelineEventType::Security,
            TimelineStatus::Warning,
            format!("Approval requested: {} on {resource}", strategy.id),
            now,
        );
        tl.approval_id = Some(apr_id.clone());
        tl.incident_id = Some(ev.incident.clone());
        tl.risk_level = Some(strategy.risk);
        tl.actor = Some(approval.requested_by.clone());
        if let Err(e) = self
            .ports
            .stores
            .approvals
            .create_approval(&approval, &tl)
            .await
        {
            self.undo_claim(ev, &claim, lease.as_ref()).await;
            return Err(e.into());
        }
        ev.rt.forget_deferred(&ev.record.fingerprint);
        let mut audit = self.audit_entry(
            tenant,
            "approval.requested",
            &resource.key(),
            Origin::decision_manager(),
            now,
        );
        audit.approval_id = Some(apr_id.clone());
        audit.incident_id = Some(ev.incident.clone());
        audit.reason = Some(if preempting {
            "decision path pre-empts a running automatic repair".into()
        } else {
            format!(
                "{} risk needs {} signature(s)",
                strategy.risk, approval.required_signatures
            )
        });
        audit.dry_run_passed = approval.dry_run_checks.iter().all(|c| c.passed);
        audit.dry_run_message = Some(
            approval
                .dry_run_checks
                .iter()
                .map(|c| format!("{}: {}", c.name, c.message))
                .collect::<Vec<_>>()
                .join("; "),
        );
        self.audit(audit).await?;
        let apr_for_incident = apr_id.clone();
        self.ev_update(ev, |inc| {
            if !inc.proposal_ids.contains(&apr_for_incident) {
                inc.proposal_ids.push(apr_for_incident.clone());
            }
            inc.push_decision(hale_domain::record::incident::DecisionStep {
                at: now,
                stage: "decision".into(),
                decision: "approval_requested".into(),
                reason: format!("approval {} for strategy {}", apr_for_incident, strategy.id),
            });
        })
        .await?;
        Ok(Outcome::ApprovalRequested {
            strategy_id: strategy.id.clone(),
            resource: resource.clone(),
            approval_id: apr_id.to_string(),
        })
    }

    /// Runs every action as a server-side dry run, so the approver sees
    /// what the target system says before signing.
    async fn dry_run_checks(
        &self,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
    ) -> Vec<DryRunCheck> {
        let op_id = OperationId::new("dry-run");
        let mut out = Vec::new();
        for action in &strategy.actions {
            let name = action.kind.to_string();
            let Some(exec) = self.ports.executor_for(&action.kind) else {
                out.push(DryRunCheck {
                    name,
                    passed: false,
                    message: "no executor runs this action kind".into(),
                });
                continue;
            };
            let req = crate::ports::ActionRequest {
                tenant: ev.tenant(),
                operation_id: &op_id,
                resource,
                action,
                mode: ExecMode::DryRun,
                fencing_token: None,
                namespaces: &ev.rt.policy.namespaces,
            };
            let res = tokio::time::timeout(action.timeout, exec.execute(req)).await;
            out.push(match res {
                Ok(Ok(o)) => DryRunCheck {
                    name,
                    passed: true,
                    message: o.message,
                },
                Ok(Err(e)) => DryRunCheck {
                    name,
                    passed: false,
                    message: e.to_string(),
                },
                Err(_) => DryRunCheck {
                    name,
                    passed: false,
                    message: format!("dry run timed out after {:?}", action.timeout),
                },
            });
        }
        out
    }
}
