//! Seed 002's eight test scenarios, on paused tokio time.

mod support;

use std::time::Duration;

use hale_domain::breaker::BreakerState;
use hale_domain::dormancy::DormantTrigger;
use hale_domain::failure::FailureClass;
use hale_domain::healing::HealingState;
use hale_domain::{Actor, OperationId, Scope};
use hale_engine::ports::{Health, OperationStore};
use hale_engine::{Outcome, TenantPolicy, task_id};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

async fn op_state(kit: &Kit, t: &hale_domain::TenantId, id: &str) -> HealingState {
    kit.store
        .get_operation(t, &OperationId::new(id))
        .await
        .unwrap()
        .unwrap()
        .state
}

/// Scenario 1: a healthy start.
#[tokio::test(start_paused = true)]
async fn scenario_1_healthy_start() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    e.start_background_tasks().unwrap();
    let s = e.status(&t).await.unwrap();
    assert!(s.self_healing.enabled);
    assert!(!s.self_healing.is_dormant);
    assert_eq!(s.self_healing.consecutive_failures, 0);
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    assert_eq!(s.background_tasks.total_tasks, task_id::ALL.len());
    let op = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    assert_eq!(op_state(&kit, &t, &op).await, HealingState::Completed);
    let s = e.status(&t).await.unwrap();
    assert_eq!(
        (
            s.self_healing.total_attempts,
            s.self_healing.successful_healings
        ),
        (1, 1)
    );
    e.shutdown().await;
}

/// Scenario 2: failures are detected, recorded and counted.
#[tokio::test(start_paused = true)]
async fn scenario_2_failures_detected() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    kit.executor.set_default(Scripted::Fail(
        FailureClass::Transient,
        "503 from the API server".into(),
    ));
    let op = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    assert_eq!(op_state(&kit, &t, &op).await, HealingState::Failed);
    let s = e.status(&t).await.unwrap();
    assert_eq!(s.self_healing.consecutive_failures, 1);
    assert_eq!(s.self_healing.failed_healings, 1);
    let failed = audit(&kit, &t, "action.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].failure_classification,
        Some(FailureClass::Transient)
    );
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::HealingFailed),
        1
    );
}

/// Fails one healing on a fresh target and returns the backoff delay after it.
async fn fail_once(e: &hale_engine::Engine, kit: &Kit, t: &hale_domain::TenantId, n: u32) -> u64 {
    let o = ingest_one(e, t, alert("HighErrorRate", &format!("svc-{n}"))).await;
    started(&o);
    e.wait_idle().await;
    let s = e.status(t).await.unwrap();
    let _ = kit;
    s.self_healing.backoff_delay
}

/// Scenarios 3 and 4: backoff grows 5 s, 10 s, 20 s, 40 s, 80 s over five
/// failures, and ten consecutive failures put the tenant to sleep.
#[tokio::test(start_paused = true)]
async fn scenarios_3_and_4_backoff_grows_then_dormant_after_ten() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    // Verification failures count as healing failures but not as executor
    // failures, so the breaker stays closed and dormancy is the automatic
    // kind.
    kit.probe
        .set_default(Health::Unhealthy("pods crash-looping".into()));
    let mut delays = Vec::new();
    for n in 1..=10 {
        let d = fail_once(&e, &kit, &t, n).await;
        delays.push(d / 1000);
        // Wait out the backoff before the next attempt.
        advance(Duration::from_millis(d) + Duration::from_secs(1)).await;
    }
    assert_eq!(&delays[..5], &[5, 10, 20, 40, 80]);
    assert_eq!(delays[9], 600, "capped at 10 minutes");
    let s = e.status(&t).await.unwrap();
    assert!(s.self_healing.is_dormant);
    assert_eq!(
        s.self_healing.dormant.unwrap().triggered_by,
        DormantTrigger::Automatic
    );
    assert!(
        s.recommendations.iter().any(|r| r.contains("resume")),
        "{:?}",
        s.recommendations
    );
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::Dormant),
        1
    );
    assert_eq!(
        assert_every_escalation_noticed(&kit, &t).await,
        11,
        "ten failed runs and the dormancy"
    );
    // Dormant: nothing starts, and the block is recorded.
    let o = ingest_one(&e, &t, alert("HighErrorRate", "svc-11")).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::Dormant),
        "{o:?}"
    );
    assert_eq!(audit(&kit, &t, "healing.blocked").await.len(), 1);
    assert_eq!(kit.executor.applied_count("rollout_restart"), 10);
}

/// Scenario 5: a fatal error latches PERMANENT_OPEN at once and puts the
/// tenant to sleep.
#[tokio::test(start_paused = true)]
async fn scenario_5_permanent_open_on_fatal_error() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    // The executor says "transient", but the message matches the seed's
    // fatal pattern, which the tenant's classifier turns into Fatal.
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Transient, "No active API keys".into()),
    );
    started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    e.wait_idle().await;
    let s = e.status(&t).await.unwrap();
    let b = &s.circuit_breakers[0];
    assert_eq!(b.state, BreakerState::PermanentOpen);
    assert!(s.self_healing.is_dormant);
    assert_eq!(
        s.self_healing.dormant.unwrap().triggered_by,
        DormantTrigger::CircuitBreaker
    );
    assert!(
        s.recommendations
            .iter()
            .any(|r| r.contains("breakers reset")),
        "{:?}",
        s.recommendations
    );
    // Still latched much later.
    advance(Duration::from_secs(86_400)).await;
    let s = e.status(&t).await.unwrap();
    assert_eq!(s.circuit_breakers[0].state, BreakerState::PermanentOpen);
}

/// Scenario 6: registering the background tasks twice does not duplicate
/// them.
#[tokio::test(start_paused = true)]
async fn scenario_6_no_duplicate_background_tasks() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    e.start_background_tasks().unwrap();
    e.start_background_tasks().unwrap();
    let ids: Vec<String> = e.background_tasks().into_iter().map(|s| s.id).collect();
    let mut all: Vec<&str> = task_id::ALL.to_vec();
    all.sort_unstable();
    assert_eq!(ids, all, "each job once, and task_id::ALL names them all");
    assert!(ids.contains(&task_id::AUTO_DETECTION.to_owned()));
    assert!(ids.contains(&task_id::EFFECTIVENESS.to_owned()));
    // Sleeping (rather than jumping the clock) lets every tick run.
    tokio::time::sleep(Duration::from_secs(601)).await;
    let stats = e.background_tasks();
    let detection = stats
        .iter()
        .find(|s| s.id == task_id::AUTO_DETECTION)
        .unwrap();
    assert_eq!(detection.execution_count, 2, "every 5 minutes");
    let preventive = stats.iter().find(|s| s.id == task_id::PREVENTIVE).unwrap();
    assert_eq!(preventive.execution_count, 1, "every 10 minutes");
    let pruning = stats
        .iter()
        .find(|s| s.id == task_id::LEDGER_PRUNING)
        .unwrap();
    assert_eq!(pruning.execution_count, 1, "every 10 minutes");
    e.shutdown().await;
    assert!(e.background_tasks().is_empty());
}

/// Scenarios 7 and 8: manual recovery works, and backoff starts over after
/// it.
#[tokio::test(start_paused = true)]
async fn scenarios_7_and_8_manual_recovery_and_backoff_reset() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Fatal, "401 Unauthorized".into()),
    );
    started(&ingest_one(&e, &t, alert("HighErrorRate", "a")).await);
    e.wait_idle().await;
    assert!(e.status(&t).await.unwrap().self_healing.is_dormant);
    let ops = Actor::new("alice");
    // Resume needs a reason; the breaker stays latched until reset.
    assert!(
        e.resume(&Scope::Tenant(t.clone()), " ", &ops)
            .await
            .is_err()
    );
    e.resume(&Scope::Tenant(t.clone()), "Valid API keys added", &ops)
        .await
        .unwrap();
    let o = ingest_one(&e, &t, alert("HighErrorRate", "b")).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::CircuitOpen),
        "{o:?}"
    );
    e.reset_breaker(&t, "scripted", "rotated the token", &ops)
        .await
        .unwrap();
    let s = e.status(&t).await.unwrap();
    assert!(!s.self_healing.is_dormant);
    assert_eq!(
        s.self_healing.backoff_delay, 0,
        "backoff reset by the resume"
    );
    assert_eq!(s.circuit_breakers[0].state, BreakerState::Closed);
    let op = started(&ingest_one(&e, &t, alert("HighErrorRate", "c")).await);
    e.wait_idle().await;
    assert_eq!(op_state(&kit, &t, &op).await, HealingState::Completed);
    // Every human act is audited with the actor and the manual channel.
    for kind in ["dormancy.resumed", "breaker.reset"] {
        let entries = audit(&kit, &t, kind).await;
        assert_eq!(entries.len(), 1, "{kind}");
        assert_eq!(entries[0].executed_by, ops);
        assert_eq!(
            entries[0].authorization_channel,
            hale_domain::AuthorizationChannel::Manual
        );
    }
    // A later failure backs off from the base again.
    kit.executor.push(
        "rollout_restart",
        Scripted::Fail(FailureClass::Conflict, "409".into()),
    );
    started(&ingest_one(&e, &t, alert("HighErrorRate", "d")).await);
    e.wait_idle().await;
    assert_eq!(
        e.status(&t).await.unwrap().self_healing.backoff_delay,
        5_000
    );
}
