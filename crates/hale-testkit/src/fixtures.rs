//! Test-data builders: realistic records, parameterised by tenant, id and
//! time.
//!
//! Every builder fills the fields a real record of that kind would carry at
//! that point of its life (a pending approval has a signature but no
//! rejection), with values from the seeds' world: Kubernetes resources,
//! Alertmanager labels, dotted audit types. Change what a test cares about
//! with struct update syntax or plain assignment.
//!
//! The `*_bare` builders leave every `Option` unset and every collection
//! empty, for round-trip checks of the minimal shape.

use std::collections::BTreeMap;
use std::time::Duration;

use hale_domain::alert::{Alert, AlertStatus};
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::approval::{ApprovalRequest, ApprovalStatus, BlastRadius, DryRunCheck, Signature};
use hale_domain::convergence::{ClaimKind, Delivery, EpisodeClaim, Fingerprint, IdentityRule};
use hale_domain::diagnosis::Diagnosis;
use hale_domain::failure::FailureClass;
use hale_domain::healing::{
    ActionLog, ActionPhase, HealingOperation, HealingResult, HealingState, NewOperation,
};
use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::record::incident::{
    DecisionStep, Incident, IncidentOutcome, IncidentStatus, Signal,
};
use hale_domain::record::knowledge::{EntrySource, EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType, TimelineStatus};
use hale_domain::strategy::ActionKind;
use hale_domain::{
    Actor, ApprovalId, AuthorizationChannel, IncidentId, KnowledgeId, OperationId, Origin,
    ResourceRef, RiskLevel, Severity, SourceSystem, StrategyId, TenantId, Timestamp,
};

/// A tenant id. Panics on an invalid id: the caller is a test that wrote a
/// literal.
pub fn tenant(id: &str) -> TenantId {
    match TenantId::new(id) {
        Ok(t) => t,
        Err(e) => panic!("fixture tenant: {e}"),
    }
}

/// A fresh random tenant (`t-` and 32 hex digits), so tests can share one
/// database without seeing each other's rows.
pub fn unique_tenant() -> TenantId {
    tenant(&format!("t-{}", uuid::Uuid::new_v4().simple()))
}

/// A fresh random id with a prefix (`op-3f2a...`).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// `namespace:deployment/name`. Panics on an invalid part (test literal).
pub fn resource(namespace: &str, name: &str) -> ResourceRef {
    match ResourceRef::new(namespace, "deployment", name) {
        Ok(r) => r,
        Err(e) => panic!("fixture resource: {e}"),
    }
}

/// An action kind. Panics on an invalid kind (test literal).
pub fn action_kind(kind: &str) -> ActionKind {
    match ActionKind::new(kind) {
        Ok(k) => k,
        Err(e) => panic!("fixture action kind: {e}"),
    }
}

/// A firing Alertmanager-style alert for a service in `prod`.
pub fn alert(alertname: &str, service: &str) -> Alert {
    let mut a = Alert::firing([
        ("alertname", alertname),
        ("namespace", "prod"),
        ("service", service),
        ("severity", "critical"),
    ]);
    a.annotations
        .insert("summary".into(), format!("{alertname} on {service}"));
    a
}

/// The fingerprint of [`alert`]`(alertname, service)` under the default
/// identity rule.
pub fn fingerprint(alertname: &str, service: &str) -> Fingerprint {
    IdentityRule::default().fingerprint(&alert(alertname, service))
}

/// A delivery of [`alert`]`(alertname, service)` with the given status.
pub fn delivery(alertname: &str, service: &str, status: AlertStatus, at: Timestamp) -> Delivery {
    let mut a = alert(alertname, service);
    a.status = status;
    Delivery::of(&IdentityRule::default(), &a, at)
}

/// An episode claim.
pub fn claim(kind: ClaimKind, id: &str, at: Timestamp) -> EpisodeClaim {
    EpisodeClaim {
        kind,
        id: id.to_owned(),
        at,
    }
}

/// A pending HIGH-risk restart proposal with one of two signatures, a blast
/// radius, a passed dry run, metadata and an incident link.
pub fn approval(tenant: &TenantId, id: &str, at: Timestamp) -> ApprovalRequest {
    let target = resource("prod", "checkout");
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "alert".to_owned(),
        serde_json::json!({"alertname": "HighErrorRate", "value": 0.37, "labels": {"severity": "critical"}}),
    );
    metadata.insert("replicas".to_owned(), serde_json::json!(6));
    ApprovalRequest {
        id: ApprovalId::new(id),
        tenant: tenant.clone(),
        strategy_id: StrategyId::new("restart-on-errors"),
        action: format!("rollout_restart {target}"),
        resource: target,
        description: "HighErrorRate: 37% of checkout requests fail (5m)".to_owned(),
        status: ApprovalStatus::Pending,
        risk_level: RiskLevel::High,
        required_signatures: 2,
        signatures: vec![Signature {
            identity: Actor::new("alice@example.com"),
            signed_at: at + Duration::from_secs(60),
            comment: Some("error rate confirmed on the dashboard".to_owned()),
        }],
        blast_radius: BlastRadius {
            namespaces: vec!["prod".to_owned()],
            resources: vec!["prod:deployment/checkout".to_owned()],
            estimated_pods: Some(6),
        },
        dry_run_checks: vec![DryRunCheck {
            name: "rollout_restart".to_owned(),
            passed: true,
            message: "server-side dry run accepted".to_owned(),
        }],
        requested_by: Actor::new("hale:decision_manager"),
        rejection_reason: None,
        rejected_by: None,
        metadata,
        fingerprint: Some(fingerprint("HighErrorRate", "checkout")),
        hit_count: 3,
        last_seen_at: at + Duration::from_secs(90),
        incident_id: Some(IncidentId::new("INC-20270115-A1B2C3")),
        revision: 0,
        created_at: at,
        updated_at: at + Duration::from_secs(90),
        expires_at: at + Duration::from_secs(3600),
        resolved_at: None,
    }
}

/// [`approval`] with every `Option` unset and every collection empty.
pub fn approval_bare(tenant: &TenantId, id: &str, at: Timestamp) -> ApprovalRequest {
    ApprovalRequest {
        signatures: Vec::new(),
        blast_radius: BlastRadius::default(),
        dry_run_checks: Vec::new(),
        metadata: BTreeMap::new(),
        fingerprint: None,
        incident_id: None,
        hit_count: 1,
        last_seen_at: at,
        updated_at: at,
        ..approval(tenant, id, at)
    }
}

/// An audit entry for an executed restart, with every field set.
pub fn audit_entry(tenant: &TenantId, id: &str, at: Timestamp) -> AuditEntry {
    AuditEntry {
        success: true,
        reason: Some("approved by alice@example.com and bob@example.com".to_owned()),
        error_message: None,
        response: Some(serde_json::json!({
            "kind": "Deployment",
            "metadata": {"name": "checkout", "generation": 42},
            "status": {"replicas": 6, "updatedReplicas": 6}
        })),
        execution_duration_ms: Some(1_250),
        dry_run_passed: true,
        dry_run_message: Some("server-side dry run accepted".to_owned()),
        retry_count: 1,
        failure_classification: Some(FailureClass::Transient),
        approval_id: Some(ApprovalId::new("apr-checkout-1")),
        source_approval_id: Some(ApprovalId::new("apr-checkout-0")),
        operation_id: Some(OperationId::new("op-checkout-1")),
        incident_id: Some(IncidentId::new("INC-20270115-A1B2C3")),
        auto_repair_attempted: true,
        auto_repair_result: Some("recovered after one retry".to_owned()),
        ..audit_entry_bare(tenant, id, at)
    }
}

/// A minimal audit entry (`AuditEntry::new` from the decision path).
pub fn audit_entry_bare(tenant: &TenantId, id: &str, at: Timestamp) -> AuditEntry {
    AuditEntry::new(
        id,
        tenant.clone(),
        AuditKind::ActionExecuted,
        "prod:deployment/checkout",
        Origin::decision_manager(),
        at,
    )
}

/// A timeline event about a human signature, with every field set.
pub fn timeline_event(tenant: &TenantId, id: &str, at: Timestamp) -> TimelineEvent {
    TimelineEvent {
        description: Some("1 of 2 signatures; waiting for a second approver".to_owned()),
        actor: Some(Actor::new("alice@example.com")),
        actor_role: Some("operator".to_owned()),
        risk_level: Some(RiskLevel::High),
        approval_id: Some(ApprovalId::new("apr-checkout-1")),
        operation_id: Some(OperationId::new("op-checkout-1")),
        incident_id: Some(IncidentId::new("INC-20270115-A1B2C3")),
        ..timeline_event_bare(tenant, id, at)
    }
}

/// A timeline event with every `Option` unset.
pub fn timeline_event_bare(tenant: &TenantId, id: &str, at: Timestamp) -> TimelineEvent {
    TimelineEvent {
        id: id.to_owned(),
        tenant: tenant.clone(),
        event_type: TimelineEventType::Human,
        status: TimelineStatus::Info,
        title: "Approval signed".to_owned(),
        description: None,
        actor: None,
        actor_role: None,
        risk_level: None,
        approval_id: None,
        operation_id: None,
        incident_id: None,
        created_at: at,
    }
}

/// A mitigating P1 incident with signals, a decision chain and links.
pub fn incident(tenant: &TenantId, id: &str, at: Timestamp) -> Incident {
    let fp = fingerprint("HighErrorRate", "checkout");
    Incident {
        signals: vec![Signal {
            alertname: "HighErrorRate".to_owned(),
            status: AlertStatus::Firing,
            fingerprint: fp.clone(),
            received_at: at,
            summary: Some("37% of checkout requests fail".to_owned()),
        }],
        affected_services: vec!["checkout".to_owned(), "payments".to_owned()],
        decision_chain: vec![
            DecisionStep {
                at,
                stage: "convergence".to_owned(),
                decision: "new_episode".to_owned(),
                reason: "first firing delivery".to_owned(),
            },
            DecisionStep {
                at: at + Duration::from_millis(3),
                stage: "match".to_owned(),
                decision: "proposed".to_owned(),
                reason: "strategy restart-on-errors is HIGH risk".to_owned(),
            },
        ],
        proposal_ids: vec![ApprovalId::new("apr-checkout-1")],
        operation_ids: vec![OperationId::new("op-checkout-1")],
        status: IncidentStatus::Mitigating,
        updated_at: at + Duration::from_millis(3),
        ..incident_bare(tenant, id, at)
    }
}

/// An investigating incident with no signals, links or outcome.
pub fn incident_bare(tenant: &TenantId, id: &str, at: Timestamp) -> Incident {
    Incident {
        id: IncidentId::new(id),
        tenant: tenant.clone(),
        status: IncidentStatus::Investigating,
        severity: Severity::P1,
        title: "HighErrorRate on prod:deployment/checkout".to_owned(),
        fingerprint: fingerprint("HighErrorRate", "checkout"),
        signals: Vec::new(),
        affected_services: Vec::new(),
        decision_chain: Vec::new(),
        proposal_ids: Vec::new(),
        operation_ids: Vec::new(),
        outcome: None,
        ttl_days: 7,
        revision: 0,
        created_at: at,
        updated_at: at,
        resolved_at: None,
        closed_at: None,
    }
}

/// A resolved-and-healed outcome for [`incident`].
pub fn incident_outcome() -> IncidentOutcome {
    IncidentOutcome {
        result: "healed".to_owned(),
        summary: "rollout restart cleared the error rate".to_owned(),
        operation_id: Some(OperationId::new("op-checkout-1")),
    }
}

/// A decision-path operation in VERIFYING with a diagnosis and one action
/// run under a fencing token.
pub fn operation(tenant: &TenantId, id: &str, at: Timestamp) -> HealingOperation {
    let mut op = operation_bare(tenant, id, at);
    op.fingerprint = Some(fingerprint("HighErrorRate", "checkout"));
    op.incident_id = Some(IncidentId::new("INC-20270115-A1B2C3"));
    op.approval_id = Some(ApprovalId::new("apr-checkout-1"));
    op.source_system = SourceSystem::DecisionManager;
    op.authorization_channel = AuthorizationChannel::DecisionManager;
    op.risk = RiskLevel::High;
    op.state = HealingState::Verifying;
    op.diagnosis = Some(Diagnosis {
        component: "checkout".to_owned(),
        metric: "error_rate".to_owned(),
        root_cause: "bad_deploy".to_owned(),
        confidence: 0.85,
        suggested_fix: "roll back or restart".to_owned(),
    });
    op.actions_run = vec![ActionLog {
        action: action_kind("rollout_restart"),
        phase: ActionPhase::Heal,
        started_at: at + Duration::from_millis(20),
        duration: Duration::from_millis(1_250),
        success: true,
        dry_run: false,
        failure: None,
        message: Some("deployment.apps/checkout restarted".to_owned()),
    }];
    op.fencing_token = Some(17);
    op.updated_at = at + Duration::from_millis(1_270);
    op
}

/// A new IDLE failure-watcher operation (`HealingOperation::new`).
pub fn operation_bare(tenant: &TenantId, id: &str, at: Timestamp) -> HealingOperation {
    HealingOperation::new(
        NewOperation {
            id: OperationId::new(id),
            tenant: tenant.clone(),
            strategy_id: StrategyId::new("restart-on-errors"),
            resource: resource("prod", "checkout"),
            source_system: SourceSystem::FailureWatcher,
            authorization_channel: AuthorizationChannel::AutoRepair,
            risk: RiskLevel::Low,
            attempt_number: 1,
        },
        at,
    )
}

/// A failed, escalated operation (every terminal field set).
pub fn operation_failed(tenant: &TenantId, id: &str, at: Timestamp) -> HealingOperation {
    let mut op = operation(tenant, id, at);
    op.state = HealingState::Failed;
    op.result = Some(HealingResult::Failed);
    op.error = Some("verification failed: error rate still 31%".to_owned());
    op.failure_class = Some(FailureClass::Timeout);
    op.escalated = true;
    op.completed_at = Some(at + Duration::from_secs(45));
    op.updated_at = at + Duration::from_secs(45);
    op
}

/// A completed operation waiting for its effectiveness verdict: its alert
/// resolved, the stabilization not over yet.
pub fn operation_pending_effectiveness(
    tenant: &TenantId,
    id: &str,
    at: Timestamp,
) -> HealingOperation {
    let mut op = operation(tenant, id, at);
    op.state = HealingState::Completed;
    op.result = Some(HealingResult::Success);
    op.completed_at = Some(at + Duration::from_secs(30));
    op.updated_at = at + Duration::from_secs(30);
    op.effectiveness = Some(hale_domain::effectiveness::Effectiveness::Pending);
    op.alert_resolved_at = Some(at + Duration::from_secs(90));
    op
}

/// An approved runbook entry with tags, links and an author.
pub fn knowledge_entry(tenant: &TenantId, id: &str, at: Timestamp) -> KnowledgeEntry {
    KnowledgeEntry {
        category: "deployments".to_owned(),
        tags: vec!["checkout".to_owned(), "error-rate".to_owned()],
        source: EntrySource::Human,
        status: EntryStatus::Approved,
        related_incident_id: Some(IncidentId::new("INC-20270115-A1B2C3")),
        related_playbook_id: Some("pb-restart".to_owned()),
        view_count: 4,
        created_by: Some(Actor::new("alice@example.com")),
        updated_at: at + Duration::from_secs(600),
        ..knowledge_entry_bare(tenant, id, at)
    }
}

/// A draft runbook entry with every `Option` unset.
pub fn knowledge_entry_bare(tenant: &TenantId, id: &str, at: Timestamp) -> KnowledgeEntry {
    KnowledgeEntry {
        id: KnowledgeId::new(id),
        tenant: tenant.clone(),
        title: "Restarting checkout safely".to_owned(),
        content: "Check the PDB first; restart one replica set at a time.".to_owned(),
        entry_type: EntryType::Runbook,
        category: String::new(),
        tags: Vec::new(),
        source: EntrySource::AiExtracted,
        status: EntryStatus::Draft,
        related_incident_id: None,
        related_playbook_id: None,
        symptoms_hash: None,
        failed_strategy_id: None,
        view_count: 0,
        created_by: None,
        created_at: at,
        updated_at: at,
    }
}

/// An active anti-pattern: `strategy` failed for `symptoms`.
pub fn anti_pattern(
    tenant: &TenantId,
    id: &str,
    symptoms: &SymptomsHash,
    strategy: &str,
    at: Timestamp,
) -> KnowledgeEntry {
    KnowledgeEntry {
        title: format!("{strategy} failed for these symptoms"),
        content: "Recorded automatically after a failed healing.".to_owned(),
        entry_type: EntryType::AntiPattern,
        source: EntrySource::AiExtracted,
        status: EntryStatus::Approved,
        symptoms_hash: Some(symptoms.clone()),
        failed_strategy_id: Some(StrategyId::new(strategy)),
        created_by: Some(Actor::system()),
        ..knowledge_entry(tenant, id, at)
    }
}

/// The symptom hash of [`alert`]`(alertname, service)` on its deployment.
pub fn symptoms(alertname: &str, service: &str) -> SymptomsHash {
    SymptomsHash::of(&alert(alertname, service), &resource("prod", service))
}
