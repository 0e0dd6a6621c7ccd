//! The decision path's start: an approval request (seed 003) with the
//! server-side dry runs of its actions, raised under the decision-priority
//! lock that [`crate::start`]'s coordination took, or pre-empting an
//! automatic run that holds the resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use hale_domain::approval::{ApprovalRequest, ApprovalStatus, BlastRadius, DryRunCheck};
use hale_domain::convergence::{ClaimKind, EpisodeClaim};
use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};
use hale_domain::record::incident_change::IncidentChange;
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::strategy::Strategy;
use hale_domain::{Actor, ApprovalId, OperationId, Origin, ResourceRef};

use crate::decision::Outcome;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::ports::{ExecMode, Lease};

impl Inner {
    /// Raises an approval request. Without a lease, an automatic run holds
    /// the resource: taking the lock recorded a pre-emption request that the
    /// run honours at its next checkpoint, and the approved execution waits
    /// for the lock.
    pub(crate) async fn request_approval(
        self: &Arc<Self>,
        ev: &Evaluation<'_>,
        strategy: &Strategy,
        resource: &ResourceRef,
        apr_id: ApprovalId,
        lease: Option<Lease>,
    ) -> Result<Outcome, EngineError> {
        let tenant = ev.tenant();
        let policy = &ev.rt.policy;
        let preempting = lease.is_none();
        let claim = EpisodeClaim {
            kind: ClaimKind::Approval,
            id: apr_id.to_string(),
            at: ev.now,
        };
        let claimed = self.claim_episode(ev, &claim).await;
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
        metadata.insert("preempting".to_owned(), serde_json::json!(preempting));
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
            incident_id: Some(ev.incident_id()),
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
        tl.incident_id = Some(ev.incident_id());
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
            AuditKind::ApprovalRequested,
            &resource.key(),
            Origin::decision_manager(),
            now,
        );
        audit.approval_id = Some(apr_id.clone());
        audit.incident_id = Some(ev.incident_id());
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
        let step = DecisionStep::new(
            now,
            Stage::Decision,
            StepDecision::ApprovalRequested,
            format!("approval {} for strategy {}", apr_id, strategy.id),
        );
        ev.with_draft(|d| {
            d.change(IncidentChange::ApprovalRequested {
                approval: apr_id.clone(),
                step,
            })
        });
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
                lease_check: None,
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
