//! Seed 004 flows: on_error continue / abort / rollback, verification
//! failure -> rollback + escalation, per-action timeouts, cooldown and max
//! attempts, plus the anti-pattern memory.

mod support;

use std::time::Duration;

use hale_domain::failure::FailureClass;
use hale_domain::healing::{ActionPhase, HealingOperation, HealingState};
use hale_domain::record::knowledge::EntryStatus;
use hale_domain::{OperationId, TenantId};
use hale_engine::ports::{Health, KnowledgeFilter, KnowledgeStore, OperationStore};
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

fn three_step(on_error: &str) -> hale_domain::strategy::Strategy {
    strategy(serde_json::json!({
        "id": "plan", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [
            {"kind": "clear_cache", "on_error": on_error},
            {"kind": "rollout_restart"}
        ],
        "rollback": {"on_failure": "escalate", "actions": [{"kind": "rollout_undo"}]},
        "cooldown": "1s"
    }))
}

async fn run_one(kit: &Kit, e: &Engine, t: &TenantId) -> HealingOperation {
    let op = started(&ingest_one(e, t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    kit.store
        .get_operation(t, &OperationId::new(op))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn on_error_continue_runs_the_next_action() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![three_step("continue")])],
    )
    .await;
    kit.executor.push(
        "clear_cache",
        Scripted::Fail(FailureClass::Transient, "cache busy".into()),
    );
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Completed);
    assert_eq!(
        kinds(&op, ActionPhase::Heal),
        ["clear_cache", "rollout_restart"]
    );
    assert!(!op.actions_run[0].success);
}

#[tokio::test(start_paused = true)]
async fn on_error_abort_stops_without_rollback() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![three_step("abort")])],
    )
    .await;
    kit.executor.push(
        "clear_cache",
        Scripted::Fail(FailureClass::Transient, "cache busy".into()),
    );
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Failed);
    assert_eq!(kinds(&op, ActionPhase::Heal), ["clear_cache"]);
    assert!(kinds(&op, ActionPhase::Rollback).is_empty());
    assert!(op.escalated);
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::HealingFailed),
        1
    );
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
}

#[tokio::test(start_paused = true)]
async fn on_error_rollback_runs_the_rollback_plan() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![three_step("rollback")])],
    )
    .await;
    kit.executor.push(
        "clear_cache",
        Scripted::Fail(FailureClass::Transient, "cache busy".into()),
    );
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Failed);
    assert_eq!(kinds(&op, ActionPhase::Heal), ["clear_cache"]);
    assert_eq!(kinds(&op, ActionPhase::Rollback), ["rollout_undo"]);
    assert_eq!(audit(&kit, &t, "rollback.executed").await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn verification_failure_rolls_back_escalates_and_remembers_the_anti_pattern() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![three_step("abort")])],
    )
    .await;
    kit.probe
        .set_default(Health::Unhealthy("0/3 pods ready".into()));
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Failed);
    assert!(
        op.error.as_deref().unwrap().contains("verification failed"),
        "{:?}",
        op.error
    );
    assert_eq!(kinds(&op, ActionPhase::Rollback), ["rollout_undo"]);
    assert!(
        kit.probe.checks() >= 15,
        "polled every 2 s for 30 s, got {}",
        kit.probe.checks()
    );
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::HealingFailed),
        1
    );
    let incident = op.incident_id.clone().unwrap();
    use hale_engine::ports::IncidentStore;
    let inc = kit
        .store
        .get_incident(&t, &incident)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        inc.status,
        hale_domain::record::incident::IncidentStatus::Escalated
    );
    // The anti-pattern blocks the same fix on the same symptoms...
    kit.probe.set_default(Health::Healthy);
    tokio::time::advance(Duration::from_secs(60)).await;
    let o = refire(&e, &t, &alert("HighErrorRate", "checkout")).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::AntiPattern),
        "{o:?}"
    );
    // ...until a human archives the knowledge entry.
    let mut entry = kit
        .store
        .list_knowledge(&t, &KnowledgeFilter::default())
        .await
        .unwrap()
        .items
        .remove(0);
    entry.status = EntryStatus::Archived;
    kit.store.update_knowledge(&entry).await.unwrap();
    let o = refire(&e, &t, &alert("HighErrorRate", "checkout")).await;
    started(&o);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_action_is_cut_off_by_its_timeout() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    kit.executor.push("rollout_restart", Scripted::Hang);
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Failed);
    assert_eq!(op.failure_class, Some(FailureClass::Timeout));
    assert_eq!(op.actions_run[0].duration, Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn cooldown_is_never_exceeded() {
    let kit = Kit::new();
    let t = tenant("t");
    let s = strategy(serde_json::json!({
        "id": "restart", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}],
        "cooldown": "10m"
    }));
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![s])]).await;
    let a = alert("HighErrorRate", "checkout");
    started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    tokio::time::advance(Duration::from_secs(300)).await;
    let o = refire(&e, &t, &a).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::Cooldown),
        "{o:?}"
    );
    // Another target is not held back by this one's cooldown.
    started(&ingest_one(&e, &t, alert("HighErrorRate", "payments")).await);
    e.wait_idle().await;
    tokio::time::advance(Duration::from_secs(301)).await;
    started(&refire(&e, &t, &a).await);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_never_exceeded() {
    let kit = Kit::new();
    let t = tenant("t");
    let s = strategy(serde_json::json!({
        "id": "restart", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}],
        "cooldown": "1s", "max_attempts": 2
    }));
    let mut p = TenantPolicy::new(t.clone(), vec![s]);
    p.breaker.failure_threshold = 5;
    let e = engine(&kit, vec![p]).await;
    kit.executor.set_default(Scripted::Fail(
        FailureClass::Conflict,
        "409 conflict".into(),
    ));
    let a = alert("HighErrorRate", "checkout");
    started(&ingest_one(&e, &t, a.clone()).await);
    e.wait_idle().await;
    tokio::time::advance(Duration::from_secs(6)).await;
    started(&refire(&e, &t, &a).await);
    e.wait_idle().await;
    tokio::time::advance(Duration::from_secs(11)).await;
    let o = refire(&e, &t, &a).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::MaxAttempts),
        "{o:?}"
    );
    assert_eq!(kit.executor.applied_count("rollout_restart"), 2);
    let ops = kit
        .store
        .list_operations(&t, &Default::default())
        .await
        .unwrap()
        .items;
    let mut attempts: Vec<u32> = ops.iter().map(|o| o.attempt_number).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2]);
}

#[tokio::test(start_paused = true)]
async fn enter_safe_mode_puts_the_tenant_to_sleep() {
    let kit = Kit::new();
    let t = tenant("t");
    let s = strategy(serde_json::json!({
        "id": "restart", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}],
        "rollback": {"on_failure": "enter_safe_mode"}
    }));
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![s])]).await;
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Transient, "boom".into()),
    );
    run_one(&kit, &e, &t).await;
    assert!(e.status(&t).await.unwrap().self_healing.is_dormant);
}

/// `on_failure = "maintain_isolation"` keeps what the actions did in place
/// and hands it to a human: neither a failed action that asks for a
/// rollback nor a failed verification runs the rollback plan.
#[tokio::test(start_paused = true)]
async fn maintain_isolation_keeps_the_target_as_left_and_escalates() {
    let mut isolate = three_step("rollback");
    isolate.rollback.on_failure = hale_domain::strategy::FailurePolicy::MaintainIsolation;
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![isolate])]).await;
    kit.executor.push(
        "clear_cache",
        Scripted::Fail(FailureClass::Transient, "cache busy".into()),
    );
    let op = run_one(&kit, &e, &t).await;
    assert_eq!(op.state, HealingState::Failed);
    assert!(op.escalated);
    assert_eq!(kinds(&op, ActionPhase::Rollback), Vec::<String>::new());
    assert_eq!(kit.executor.applied_count("rollout_undo"), 0);
    assert!(audit(&kit, &t, "rollback.executed").await.is_empty());
    let escalated = audit(&kit, &t, "healing.escalated").await;
    assert_eq!(escalated.len(), 1);
    let reason = escalated[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("the isolation is kept in place (on_failure = maintain_isolation)"),
        "{reason}"
    );
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::HealingFailed),
        1
    );
    // A failed verification keeps it in place too.
    kit.probe
        .set_default(Health::Unhealthy("0/3 pods ready".into()));
    tokio::time::advance(Duration::from_secs(60)).await;
    let o = refire(&e, &t, &alert("HighErrorRate", "checkout")).await;
    let id = started(&o);
    e.wait_idle().await;
    let op = kit
        .store
        .get_operation(&t, &OperationId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op.state, HealingState::Failed);
    assert!(op.error.as_deref().unwrap().contains("verification failed"));
    assert_eq!(kinds(&op, ActionPhase::Rollback), Vec::<String>::new());
    assert_eq!(kit.executor.applied_count("rollout_undo"), 0);
}
