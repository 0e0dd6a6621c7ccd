//! Shared helpers for the engine's scenario tests: strategies, alerts, and
//! an engine over the testkit's in-memory ports.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::time::Duration;

use hale_domain::TenantId;
use hale_domain::alert::Alert;
use hale_domain::record::audit::AuditEntry;
use hale_domain::strategy::Strategy;
use hale_engine::ports::{AuditFilter, PageRequest};
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

/// A LOW-risk automatic restart strategy for `alertname`.
pub fn restart(alertname: &str) -> Strategy {
    serde_json::from_value(serde_json::json!({
        "id": format!("restart-{}", alertname.to_lowercase()),
        "risk": "low",
        "trigger": {"alertnames": [alertname]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart", "timeout": "30s"}],
        "verify": {"check": "rollout_complete", "timeout": "30s", "interval": "2s"},
        "cooldown": "1s",
        "max_attempts": 100
    }))
    .unwrap()
}

/// A strategy from JSON, for tests that need a specific shape.
pub fn strategy(json: serde_json::Value) -> Strategy {
    serde_json::from_value(json).unwrap()
}

/// A HIGH-risk strategy on the decision path for `alertname`.
pub fn approval_restart(alertname: &str) -> Strategy {
    strategy(serde_json::json!({
        "id": format!("approve-{}", alertname.to_lowercase()),
        "risk": "high",
        "trigger": {"alertnames": [alertname]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}],
        "cooldown": "1s"
    }))
}

/// A firing alert on `prod/<service>`.
pub fn alert(alertname: &str, service: &str) -> Alert {
    Alert::firing([
        ("alertname", alertname),
        ("namespace", "prod"),
        ("service", service),
        ("severity", "critical"),
    ])
}

pub async fn engine(kit: &Kit, policies: Vec<TenantPolicy>) -> Engine {
    let mut b = Engine::builder(kit.ports());
    for p in policies {
        b = b.tenant(p);
    }
    b.build().await.unwrap()
}

/// Ingests one alert and returns its outcome.
pub async fn ingest_one(engine: &Engine, t: &TenantId, a: Alert) -> Outcome {
    let mut r = engine.ingest(t, vec![a]).await.unwrap();
    r.decisions.pop().unwrap().outcome
}

/// Fires a fresh episode of the alert (resolve, then fire), for tests that
/// need another healing attempt on the same target. Like a real
/// Alertmanager, the new episode carries a new `startsAt`.
pub async fn refire(engine: &Engine, t: &TenantId, a: &Alert) -> Outcome {
    try_refire(engine, t, a).await.unwrap()
}

/// [`refire`], returning the error of a delivery the engine refused.
pub async fn try_refire(
    engine: &Engine,
    t: &TenantId,
    a: &Alert,
) -> Result<Outcome, hale_engine::EngineError> {
    use std::sync::atomic::{AtomicI64, Ordering};
    static EPISODE: AtomicI64 = AtomicI64::new(1);
    let n = EPISODE.fetch_add(1, Ordering::Relaxed);
    let mut fresh = a.clone();
    fresh.starts_at = Some(hale_domain::Timestamp::from_unix_secs(1_800_000_000 + n));
    let mut resolved = a.clone().resolved();
    resolved.starts_at = a.starts_at;
    resolved.ends_at = Some(hale_domain::Timestamp::from_unix_secs(1_800_000_000 + n));
    engine.ingest(t, vec![resolved]).await?;
    let mut r = engine.ingest(t, vec![fresh]).await?;
    Ok(r.decisions.pop().unwrap().outcome)
}

/// A tenant's incidents, newest first (one page).
pub async fn incidents(kit: &Kit, t: &TenantId) -> Vec<hale_domain::record::incident::Incident> {
    use hale_engine::ports::{IncidentFilter, IncidentStore};
    kit.store
        .list_incidents(t, &IncidentFilter::default())
        .await
        .unwrap()
        .items
}

/// A tenant's timeline events, newest first (one page).
pub async fn timeline(
    kit: &Kit,
    t: &TenantId,
) -> Vec<hale_domain::record::timeline::TimelineEvent> {
    use hale_engine::ports::{TimelineFilter, TimelineStore};
    kit.store
        .list_timeline(t, &TimelineFilter::default())
        .await
        .unwrap()
        .items
}

pub async fn audit(kit: &Kit, t: &TenantId, operation_type: &str) -> Vec<AuditEntry> {
    use hale_engine::ports::AuditLog;
    kit.store
        .list_audit(
            t,
            &AuditFilter {
                operation_type: Some(operation_type.into()),
                page: PageRequest::new(1000, 0),
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap()
        .items
}

/// The stored operation `id`.
pub async fn operation(
    kit: &Kit,
    t: &TenantId,
    id: &str,
) -> hale_domain::healing::HealingOperation {
    use hale_engine::ports::OperationStore;
    kit.store
        .get_operation(t, &hale_domain::OperationId::new(id))
        .await
        .unwrap()
        .unwrap()
}

/// The kinds of the actions an operation ran in `phase`, in order.
pub fn kinds(
    op: &hale_domain::healing::HealingOperation,
    phase: hale_domain::healing::ActionPhase,
) -> Vec<String> {
    op.actions_run
        .iter()
        .filter(|a| a.phase == phase)
        .map(|a| a.action.to_string())
        .collect()
}

pub async fn advance(d: Duration) {
    tokio::time::advance(d).await;
}

pub fn started(o: &Outcome) -> String {
    match o {
        Outcome::OperationStarted { operation_id, .. } => operation_id.clone(),
        other => panic!("expected an operation to start, got {other:?}"),
    }
}

/// Every escalation of `t` the notifier heard has a durable notice in the
/// outbox, from the record that carries it (issue 17): the operation's, at
/// the kind's severity; and there are no more escalation notices than
/// escalations. Returns how many escalations it
/// checked, so a caller can also assert that there were some.
pub async fn assert_every_escalation_noticed(kit: &Kit, t: &TenantId) -> usize {
    use hale_domain::escalation::EscalationKind;
    use hale_domain::notification::NoticeKind;
    use hale_engine::ports::NotificationOutbox;
    let notices = kit
        .store
        .list_notices(Some(t), PageRequest::new(1000, 0))
        .await
        .unwrap()
        .items;
    let sent: Vec<_> = kit
        .notifier
        .sent()
        .into_iter()
        .filter(|e| &e.tenant == t)
        .collect();
    for e in &sent {
        let kind = if e.kind == EscalationKind::Dormant {
            NoticeKind::DormancyEntered
        } else {
            NoticeKind::HealingEscalated
        };
        assert!(
            notices.iter().any(|n| n.kind == kind
                && n.subject.operation_id == e.operation_id
                && n.severity == e.kind.severity()),
            "escalation {e:?} has no durable notice among {notices:#?}"
        );
        assert_eq!(e.severity, e.kind.severity(), "{e:?}");
    }
    let escalated = notices
        .iter()
        .filter(|n| n.kind == NoticeKind::HealingEscalated)
        .count();
    let told = sent
        .iter()
        .filter(|e| e.kind != EscalationKind::Dormant)
        .count();
    assert_eq!(escalated, told, "a notice for each escalation, no more");
    sent.len()
}

/// Every notice of `t` in the outbox.
pub async fn outbox_notices(kit: &Kit, t: &TenantId) -> Vec<hale_domain::notification::Notice> {
    use hale_engine::ports::NotificationOutbox;
    kit.store
        .list_notices(Some(t), PageRequest::new(1000, 0))
        .await
        .unwrap()
        .items
}
