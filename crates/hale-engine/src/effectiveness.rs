//! Effectiveness: gathering what the rule ([`hale_domain::effectiveness`])
//! needs about a completed operation and applying its verdict.
//!
//! A run that completes with a firing alert leaves its operation `pending`.
//! Intake observes the alert resolving and firing again
//! (`Inner::observe_alert`); the periodic job `effectiveness` lets time
//! pass (`Inner::settle_all_due`). A verdict is written to the operation
//! with an `operation.effectiveness` audit entry (one compare-and-set, so
//! two replicas never both settle it), put on the incident's decision chain
//! and counted in `/metrics`. An ineffective verdict that completes a chain
//! ([`hale_domain::effectiveness::chain_reached`]) writes an anti-pattern
//! entry keyed by the target, which blocks the strategy there (guard
//! `ineffective_chain`) until a person archives it, and escalates.

use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::effectiveness::{
    self, Effectiveness, EffectivenessPolicy, Observation, Settlement,
};
use hale_domain::healing::HealingOperation;
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};
use hale_domain::record::knowledge::{
    EntrySource, EntryStatus, EntryType, INEFFECTIVE_CHAIN_CATEGORY, KnowledgeEntry,
};
use hale_domain::{KnowledgeId, Origin, Timestamp};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::metrics::family;
use crate::ports::{
    Escalation, EscalationKind, KnowledgeFilter, OperationFilter, PageRequest, StoreError,
};
use crate::tenant::TenantRuntime;

/// The label of the effectiveness counter: `<verdict>:<strategy>`.
pub fn metric_label(verdict: Effectiveness, strategy: &str) -> String {
    format!("{verdict}:{strategy}")
}

impl Inner {
    /// The alert resolved or fired again (a new episode): settle its
    /// operations that wait for a verdict (`pending`, read with the
    /// delivery's convergence). Errors are logged; intake goes on.
    pub(crate) async fn observe_alert(
        &self,
        rt: &TenantRuntime,
        pending: Vec<HealingOperation>,
        seen: Observation,
    ) {
        if let Err(e) = self.settle(rt, pending, seen).await {
            tracing::warn!(tenant = %rt.tenant(), error = %e, "could not settle the effectiveness of operations");
        }
    }

    /// The periodic job: settle every tenant's pending operations whose
    /// time is up.
    pub(crate) async fn settle_all_due(&self) -> Result<(), EngineError> {
        for t in self.tenant_ids() {
            let rt = self.runtime(&t).await?;
            let now = self.now();
            let pending = self
                .ports
                .stores
                .operations
                .pending_effectiveness(rt.tenant(), None)
                .await?;
            self.settle(&rt, pending, Observation::Tick(now)).await?;
        }
        Ok(())
    }

    async fn settle(
        &self,
        rt: &TenantRuntime,
        pending: Vec<HealingOperation>,
        seen: Observation,
    ) -> Result<(), EngineError> {
        let policy = rt.policy.effectiveness;
        for op in pending {
            let Some(completed_at) = op.completed_at else {
                continue;
            };
            let settlement =
                effectiveness::settle(&policy, completed_at, op.alert_resolved_at, seen);
            self.apply_settlement(rt, &policy, op, settlement).await?;
        }
        Ok(())
    }

    /// Writes what the rule said: a new resolve instant, or a verdict.
    async fn apply_settlement(
        &self,
        rt: &TenantRuntime,
        policy: &EffectivenessPolicy,
        mut op: HealingOperation,
        settlement: Settlement,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let (verdict, reason) = match settlement {
            Settlement::Pending { resolved_at } => {
                if resolved_at == op.alert_resolved_at {
                    return Ok(());
                }
                op.alert_resolved_at = resolved_at;
                op.updated_at = op.updated_at.max(now);
                return self.write_op(op, None).await.map(|_| ());
            }
            Settlement::Effective => (
                Effectiveness::Effective,
                format!(
                    "the alert resolved and stayed resolved for {}",
                    hale_domain::time::duration::format(policy.stabilization)
                ),
            ),
            Settlement::Ineffective(why) => (Effectiveness::Ineffective, why.describe(policy)),
        };
        op.effectiveness = Some(verdict);
        op.effectiveness_settled_at = Some(now);
        op.updated_at = op.updated_at.max(now);
        // One verdict per operation, so its id is derived from the
        // operation's and draws nothing from the id sequence (a replay's
        // ids stay what they were before effectiveness was tracked).
        let mut a = AuditEntry::new(
            format!("aud-{}-effectiveness", op.id),
            op.tenant.clone(),
            AuditKind::OperationEffectiveness,
            op.resource.key(),
            Origin::failure_watcher(),
            now,
        );
        a.operation_id = Some(op.id.clone());
        a.incident_id.clone_from(&op.incident_id);
        a.approval_id.clone_from(&op.approval_id);
        a.success = verdict == Effectiveness::Effective;
        a.reason = Some(format!("{verdict}: {reason}"));
        if !self.write_op(op.clone(), Some(&a)).await? {
            return Ok(());
        }
        self.metrics.inc(
            family::EFFECTIVENESS,
            &metric_label(verdict, op.strategy_id.as_str()),
        );
        if let Some(incident) = &op.incident_id {
            let decision = match verdict {
                Effectiveness::Effective => StepDecision::Effective,
                _ => StepDecision::Ineffective,
            };
            let step = DecisionStep::new(
                now,
                Stage::Effectiveness,
                decision,
                format!("operation {}: {reason}", op.id),
            );
            if let Err(e) = self.incident_step(&op.tenant, incident, step).await {
                tracing::warn!(error = %e, "could not record effectiveness on the incident");
            }
        }
        if verdict == Effectiveness::Ineffective {
            self.check_chain(rt, policy, &op, now).await?;
        }
        Ok(())
    }

    /// Writes the operation; `false` when another replica changed it first
    /// (it settles it then, or the next observation does).
    async fn write_op(
        &self,
        op: HealingOperation,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, EngineError> {
        match self
            .ports
            .stores
            .operations
            .update_operation(&op, audit.map_or(&[], std::slice::from_ref))
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// After an ineffective verdict: if the strategy's ineffective runs on
    /// the target now form a chain, remember it and escalate.
    async fn check_chain(
        &self,
        rt: &TenantRuntime,
        policy: &EffectivenessPolicy,
        op: &HealingOperation,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let stores = &self.ports.stores;
        let tenant = rt.tenant();
        let recent = stores
            .operations
            .list_operations(
                tenant,
                &OperationFilter {
                    strategy_id: Some(op.strategy_id.clone()),
                    resource: Some(op.resource.clone()),
                    since: Some(now.saturating_sub(policy.chain_window + policy.window)),
                    page: PageRequest::new(PageRequest::MAX_LIMIT, 0),
                    ..OperationFilter::default()
                },
            )
            .await?;
        let verdicts: Vec<Timestamp> = recent
            .items
            .iter()
            .filter(|o| o.effectiveness == Some(Effectiveness::Ineffective))
            .filter_map(|o| o.effectiveness_settled_at)
            .collect();
        let key = SymptomsHash::of_target(&op.resource);
        let earlier = stores
            .knowledge
            .list_knowledge(
                tenant,
                &KnowledgeFilter {
                    entry_type: Some(EntryType::AntiPattern),
                    symptoms_hash: Some(key.clone()),
                    page: PageRequest::new(PageRequest::MAX_LIMIT, 0),
                    ..KnowledgeFilter::default()
                },
            )
            .await?;
        // A chain already remembered (or lifted by a person) counts only
        // the verdicts after it.
        let since = earlier
            .items
            .iter()
            .filter(|e| e.failed_strategy_id.as_ref() == Some(&op.strategy_id))
            .map(|e| e.updated_at)
            .max();
        if !effectiveness::chain_reached(policy, &verdicts, since, now) {
            return Ok(());
        }
        let entry = KnowledgeEntry {
            id: KnowledgeId::new(self.ports.ids.next_id("kn")),
            tenant: tenant.clone(),
            title: format!(
                "{} was ineffective {} times on {}",
                op.strategy_id, policy.chain_threshold, op.resource
            ),
            content: format!(
                "Strategy {} completed on {} but its alert came back (or never resolved) {} times within {}; the last was operation {}. Automatic runs of it on this target are blocked (guard ineffective_chain). Archive this entry, with a reason, to allow it again.",
                op.strategy_id,
                op.resource,
                policy.chain_threshold,
                hale_domain::time::duration::format(policy.chain_window),
                op.id
            ),
            entry_type: EntryType::AntiPattern,
            category: INEFFECTIVE_CHAIN_CATEGORY.into(),
            tags: vec!["anti-pattern".into(), op.strategy_id.to_string()],
            source: EntrySource::AiExtracted,
            status: EntryStatus::Approved,
            related_incident_id: op.incident_id.clone(),
            related_playbook_id: None,
            symptoms_hash: Some(key),
            failed_strategy_id: Some(op.strategy_id.clone()),
            view_count: 0,
            created_by: Some(Origin::failure_watcher().actor),
            created_at: now,
            updated_at: now,
        };
        let escalation = Escalation {
            tenant: tenant.clone(),
            kind: EscalationKind::IneffectiveChain,
            summary: format!(
                "{} was ineffective {} times on {} within {}: blocked there until knowledge entry {} is archived",
                op.strategy_id,
                policy.chain_threshold,
                op.resource,
                hale_domain::time::duration::format(policy.chain_window),
                entry.id
            ),
            resource: Some(op.resource.clone()),
            strategy_id: Some(op.strategy_id.clone()),
            operation_id: Some(op.id.clone()),
            incident_id: op.incident_id.clone(),
            guard: None,
            severity: EscalationKind::IneffectiveChain.severity(),
            at: now,
        };
        // The block and its escalation's record (with its notice) are one
        // write: never a strategy blocked without anyone hearing of it.
        let record = self.escalation_entry(&escalation, Origin::failure_watcher());
        stores
            .knowledge
            .create_knowledge_audited(&entry, &[record])
            .await?;
        self.escalate(escalation).await;
        Ok(())
    }
}
