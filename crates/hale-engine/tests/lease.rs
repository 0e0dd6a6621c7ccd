//! Fencing at the point of action, engine side (issue 14): the lease
//! heartbeat keeps a long action's lock; a lost lease cancels the action
//! and ends the run INTERRUPTED without a rollback; a step that cannot be
//! recorded stops the run (durable before acted on).

mod support;

use std::time::Duration;

use hale_domain::healing::{ActionPhase, HealingState};
use hale_domain::{ResourceRef, TenantId};
use hale_engine::ports::{EscalationKind, Health, ResourceLocks};
use hale_engine::{Engine, EngineConfig, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

const TTL: Duration = Duration::from_secs(30);

/// Two actions (each up to 10 minutes, far longer than the lock's TTL),
/// a verification, and a rollback on failure.
fn long_strategy() -> hale_domain::strategy::Strategy {
    strategy(serde_json::json!({
        "id": "restart-long",
        "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [
            {"kind": "clear_cache", "timeout": "10m", "on_error": "rollback"},
            {"kind": "rollout_restart", "timeout": "10m", "on_error": "rollback"}
        ],
        "verify": {"check": "rollout_complete", "timeout": "5m", "interval": "5s"},
        "rollback": {"on_failure": "escalate", "actions": [{"kind": "rollout_undo"}]},
        "cooldown": "1s"
    }))
}

async fn engine_with_ttl(kit: &Kit, t: &TenantId) -> Engine {
    let config = EngineConfig {
        automatic_lock_ttl: TTL,
        ..EngineConfig::default()
    };
    Engine::builder(kit.ports())
        .config(config)
        .tenant(TenantPolicy::new(t.clone(), vec![long_strategy()]))
        .build()
        .await
        .unwrap()
}

fn target() -> ResourceRef {
    ResourceRef::new("prod", "deployment", "checkout").unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_action_longer_than_the_lock_ttl_keeps_its_lease_by_heartbeat() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine_with_ttl(&kit, &t).await;
    kit.executor
        .push("clear_cache", Scripted::Slow(Duration::from_secs(150)));
    let id = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    // Five TTLs into the action, the lock is still this operation's.
    tokio::time::sleep(5 * TTL).await;
    let held = kit.locks.inspect(&t, &target()).await.unwrap().unwrap();
    assert_eq!(held.holder, id);
    e.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Completed, "{:?}", op.error);
    assert_eq!(
        kinds(&op, ActionPhase::Heal),
        ["clear_cache", "rollout_restart"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_cancels_the_action_and_nothing_more_runs() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine_with_ttl(&kit, &t).await;
    kit.executor
        .push("clear_cache", Scripted::Slow(Duration::from_secs(300)));
    let id = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    kit.locks.set_unavailable(true);
    e.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Interrupted);
    let why = op.error.clone().unwrap();
    assert!(
        why.contains("cancelled") && why.contains("could not confirm"),
        "{why}"
    );
    // Cancelled within one heartbeat, long before the action would end.
    let log = &op.actions_run[0];
    assert!(!log.success);
    assert!(
        log.duration <= TTL / 3 + Duration::from_secs(1),
        "{:?}",
        log.duration
    );
    assert_eq!(kit.executor.applied_count("rollout_restart"), 0);
    assert_eq!(
        kit.executor.applied_count("rollout_undo"),
        0,
        "no rollback without the lease"
    );
    assert_eq!(kit.notifier.count(EscalationKind::OperationInterrupted), 1);
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_lease_lost_during_verification_stops_it_without_a_rollback() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine_with_ttl(&kit, &t).await;
    kit.probe
        .set_default(Health::Progressing("rolling out".into()));
    let id = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    kit.locks.set_unavailable(true);
    e.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Interrupted);
    assert!(
        op.error.clone().unwrap().contains("verification stopped"),
        "{:?}",
        op.error
    );
    assert_eq!(kinds(&op, ActionPhase::Rollback), Vec::<String>::new());
    assert_eq!(kit.executor.applied_count("rollout_undo"), 0);
    assert_eq!(kit.notifier.count(EscalationKind::OperationInterrupted), 1);
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_step_that_cannot_be_recorded_runs_nothing_after_it() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine_with_ttl(&kit, &t).await;
    kit.executor
        .push("clear_cache", Scripted::Slow(Duration::from_secs(20)));
    let id = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    kit.store.set_unavailable(true);
    e.wait_idle().await;
    // The first action ran; its record failed; nothing ran after it.
    assert_eq!(kit.executor.applied_count("clear_cache"), 1);
    assert_eq!(kit.executor.applied_count("rollout_restart"), 0);
    assert_eq!(kit.executor.applied_count("rollout_undo"), 0);
    assert_eq!(kit.notifier.count(EscalationKind::OperationInterrupted), 1);
    // When the store answers again, the sweep records the interruption.
    kit.store.set_unavailable(false);
    let stored = operation(&kit, &t, &id).await;
    assert!(!stored.state.is_terminal(), "{:?}", stored.state);
    assert_eq!(e.recover_interrupted().await.unwrap(), 1);
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Interrupted);
    // The stranded run's escalation found no store to record it; the
    // sweep's did: one durable notice for the operation.
    assert!(op.escalated);
    let notices = outbox_notices(&kit, &t).await;
    let escalated: Vec<_> = notices
        .iter()
        .filter(|n| n.kind == hale_domain::notification::NoticeKind::HealingEscalated)
        .collect();
    assert_eq!(escalated.len(), 1, "{notices:#?}");
    assert_eq!(escalated[0].subject.operation_id, Some(op.id.clone()));
    assert!(escalated[0].summary.starts_with("operation_interrupted: "));
}

/// Another replica's recovery sweep leaves a live run alone, however long
/// its action takes: the heartbeat is the owner's proof of life.
#[tokio::test(start_paused = true)]
async fn another_replicas_sweep_never_interrupts_a_live_long_run() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let a = engine_with_ttl(&kit, &t).await;
    let b = engine_with_ttl(&kit, &t).await;
    kit.executor
        .push("clear_cache", Scripted::Slow(Duration::from_secs(200)));
    let id = started(&ingest_one(&a, &t, alert("HighErrorRate", "checkout")).await);
    for _ in 0..6 {
        tokio::time::sleep(TTL).await;
        assert_eq!(b.recover_interrupted().await.unwrap(), 0);
    }
    a.wait_idle().await;
    let op = operation(&kit, &t, &id).await;
    assert_eq!(op.state, HealingState::Completed, "{:?}", op.error);
}
