//! ADR-043 flows: the decision path outranks the failure watcher, pending
//! approvals stop automatic repair, and automation stands still when the
//! lock backend is down.

mod support;

use std::time::Duration;

use hale_domain::approval::ApprovalStatus;
use hale_domain::coordination::LockPriority;
use hale_domain::healing::HealingState;
use hale_domain::{Actor, ApprovalId, OperationId, ResourceRef};
use hale_engine::ports::{ApprovalStore, Lease, OperationStore, ResourceLocks};
use hale_engine::{Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

fn policy(t: &hale_domain::TenantId) -> TenantPolicy {
    TenantPolicy::new(
        t.clone(),
        vec![approval_restart("HighLatency"), restart("HighErrorRate")],
    )
}

fn approval_id(o: &Outcome) -> ApprovalId {
    match o {
        Outcome::ApprovalRequested { approval_id, .. } => ApprovalId::new(approval_id.as_str()),
        other => panic!("expected an approval request, got {other:?}"),
    }
}

/// The decision path holds the lock while its approval is pending, so the
/// failure watcher defers (`deferred_to_decision_manager`).
#[tokio::test(start_paused = true)]
async fn lock_held_by_decision_path_defers_the_watcher() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    let a = kit.store.get_approval(&t, &apr).await.unwrap().unwrap();
    assert_eq!(a.required_signatures, 2, "HIGH risk needs two signatures");
    assert!(
        a.dry_run_checks.iter().all(|c| c.passed),
        "{:?}",
        a.dry_run_checks
    );
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert!(
        matches!(&o, Outcome::Deferred { reason, .. } if *reason == hale_domain::reason::DeferralReason::DeferredToDecisionManager),
        "{o:?}"
    );
    let deferred = audit(&kit, &t, "healing.deferred").await;
    assert_eq!(
        deferred[0].reason.as_deref(),
        Some("deferred_to_decision_manager")
    );
    assert_eq!(
        deferred[0].source_system,
        hale_domain::SourceSystem::FailureWatcher
    );
    assert_eq!(kit.executor.applied().len(), 0, "nothing acted");
}

/// With the lock free but an approval pending for the resource, the watcher
/// waits for the existing approval.
#[tokio::test(start_paused = true)]
async fn pending_approval_makes_the_watcher_wait() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    // Simulate the approval's lock expiring while it is still pending.
    let a = kit.store.get_approval(&t, &apr).await.unwrap().unwrap();
    let token = a.metadata["lock_token"].as_u64().unwrap();
    kit.locks
        .release(&Lease {
            tenant: t.clone(),
            resource: a.resource.clone(),
            priority: LockPriority::Decision,
            holder: apr.to_string(),
            token: hale_engine::ports::FencingToken(token),
        })
        .await
        .unwrap();
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert!(
        matches!(&o, Outcome::Deferred { reason, .. } if *reason == hale_domain::reason::DeferralReason::AwaitingExistingApproval),
        "{o:?}"
    );
    assert_eq!(kit.executor.applied().len(), 0);
}

/// Lock backend down: skip, fail closed, and record it; normal operation
/// resumes once it answers again (the detection job re-drives the alert).
#[tokio::test(start_paused = true)]
async fn lock_backend_down_skips_and_records_then_recovers() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    kit.locks.set_unavailable(true);
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    assert!(
        matches!(&o, Outcome::Skipped { reason, .. } if *reason == hale_domain::reason::SkipReason::LockBackendUnavailable),
        "{o:?}"
    );
    let skipped = audit(&kit, &t, "healing.skipped").await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        skipped[0].reason.as_deref(),
        Some("lock_backend_unavailable")
    );
    assert_eq!(
        kit.executor.applied().len(),
        0,
        "zero actions while the backend is down"
    );
    assert_eq!(e.metrics().get("deferrals", "lock_backend_unavailable"), 1);
    assert_eq!(e.status(&t).await.unwrap().self_healing.deferred_alerts, 1);
    kit.locks.set_unavailable(false);
    e.run_detection().await.unwrap();
    e.wait_idle().await;
    assert_eq!(
        kit.executor.applied_count("rollout_restart"),
        1,
        "re-driven after recovery"
    );
    assert_eq!(e.status(&t).await.unwrap().self_healing.deferred_alerts, 0);
}

/// A store failure in the middle of the detection job loses no deferred
/// alert: the job stops, and every alert it had not re-evaluated yet is
/// re-driven by its next run. (The job used to take the whole queue and
/// drop what was left after the failing alert.)
#[tokio::test(start_paused = true)]
async fn a_store_failure_mid_redrive_keeps_every_deferred_alert() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    kit.locks.set_unavailable(true);
    for service in ["cart", "checkout", "payments"] {
        let o = ingest_one(&e, &t, alert("HighErrorRate", service)).await;
        assert!(matches!(o, Outcome::Skipped { .. }), "{o:?}");
    }
    assert_eq!(e.status(&t).await.unwrap().self_healing.deferred_alerts, 3);
    kit.locks.set_unavailable(false);
    kit.store.set_unavailable(true);
    let err = e.run_detection().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    kit.store.set_unavailable(false);
    assert_eq!(
        e.status(&t).await.unwrap().self_healing.deferred_alerts,
        3,
        "nothing taken from the queue is lost"
    );
    e.run_detection().await.unwrap();
    e.wait_idle().await;
    assert_eq!(kit.executor.applied_count("rollout_restart"), 3);
    assert_eq!(e.status(&t).await.unwrap().self_healing.deferred_alerts, 0);
}

/// The decision path pre-empts a running automatic repair: the run yields at
/// its next checkpoint, and the approved execution takes over.
#[tokio::test(start_paused = true)]
async fn decision_path_preempts_a_running_automatic_repair() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let two_step = strategy(serde_json::json!({
        "id": "restart-then-scale", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart", "timeout": "60s"}, {"kind": "scale", "params": {"replicas": 4}}],
        "cooldown": "1s"
    }));
    let e = engine(
        &kit,
        vec![TenantPolicy::new(
            t.clone(),
            vec![approval_restart("HighLatency"), two_step],
        )],
    )
    .await;
    kit.executor
        .push("rollout_restart", Scripted::Slow(Duration::from_secs(20)));
    let auto_op = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    // Let the run start its first (slow) action.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    let a = kit.store.get_approval(&t, &apr).await.unwrap().unwrap();
    assert_eq!(a.metadata["preempting"], serde_json::json!(true));
    let preempt = audit(&kit, &t, "approval.requested").await;
    assert!(preempt[0].reason.as_deref().unwrap().contains("pre-empts"));
    // The automatic run finishes its current action, then yields.
    e.wait_idle().await;
    let op = kit
        .store
        .get_operation(&t, &OperationId::new(auto_op.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op.state, HealingState::Interrupted);
    assert!(
        op.error.as_deref().unwrap().contains("yielded"),
        "{:?}",
        op.error
    );
    assert_eq!(
        kit.executor.applied_count("scale"),
        0,
        "the second action never ran"
    );
    // Two distinct people approve; the approved run executes.
    e.approve(&t, &apr, &Actor::new("alice"), None)
        .await
        .unwrap();
    let r = e
        .approve(&t, &apr, &Actor::new("bob"), Some("go".into()))
        .await
        .unwrap();
    assert_eq!(r.approval.status, ApprovalStatus::Approved);
    let approved_op = r
        .operation_id
        .expect("the resource is free, so the run starts at once");
    e.wait_idle().await;
    let op = kit
        .store
        .get_operation(&t, &approved_op)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op.state, HealingState::Completed);
    assert_eq!(op.approval_id, Some(apr.clone()));
    assert_eq!(op.source_system, hale_domain::SourceSystem::DecisionManager);
    assert_eq!(kit.executor.applied_count("rollout_restart"), 2);
    let signed = audit(&kit, &t, "approval.signed").await;
    assert_eq!(signed.len(), 2);
    assert!(
        signed
            .iter()
            .all(|s| s.authorization_channel == hale_domain::AuthorizationChannel::Manual)
    );
}

/// An approved request waits for an automatic run that still holds the
/// resource, then executes.
#[tokio::test(start_paused = true)]
async fn approved_execution_waits_for_the_yielding_run() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let medium = strategy(serde_json::json!({
        "id": "approve-latency", "risk": "medium",
        "trigger": {"alertnames": ["HighLatency"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}]
    }));
    let e = engine(
        &kit,
        vec![TenantPolicy::new(
            t.clone(),
            vec![medium, restart("HighErrorRate")],
        )],
    )
    .await;
    kit.executor
        .push("rollout_restart", Scripted::Slow(Duration::from_secs(20)));
    started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    let r = e
        .approve(&t, &apr, &Actor::new("alice"), None)
        .await
        .unwrap();
    assert!(r.operation_id.is_none());
    assert!(r.pending_reason.unwrap().contains("waiting"));
    e.wait_idle().await;
    assert_eq!(kit.executor.applied_count("rollout_restart"), 2);
    use hale_engine::ports::OperationFilter;
    let ops = kit
        .store
        .list_operations(&t, &OperationFilter::default())
        .await
        .unwrap()
        .items;
    assert!(
        ops.iter()
            .any(|o| o.approval_id.as_ref() == Some(&apr) && o.state == HealingState::Completed)
    );
}

/// A rejection needs a reason, frees the resource and is audited.
#[tokio::test(start_paused = true)]
async fn rejection_frees_the_resource() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    assert!(e.reject(&t, &apr, &Actor::new("alice"), "").await.is_err());
    let a = e
        .reject(&t, &apr, &Actor::new("alice"), "wrong target")
        .await
        .unwrap();
    assert_eq!(a.status, ApprovalStatus::Rejected);
    let res = ResourceRef::parse("prod:deployment/checkout").unwrap();
    assert_eq!(kit.locks.inspect(&t, &res).await.unwrap(), None);
    let o = ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await;
    started(&o);
}

/// Unanswered approvals expire through the sweep and free their lock.
#[tokio::test(start_paused = true)]
async fn approvals_expire() {
    let kit = Kit::new();
    let t = tenant("team-a");
    let e = engine(&kit, vec![policy(&t)]).await;
    let apr = approval_id(&ingest_one(&e, &t, alert("HighLatency", "checkout")).await);
    tokio::time::advance(Duration::from_secs(3601)).await;
    assert_eq!(e.expire_approvals(&t).await.unwrap(), 1);
    let a = kit.store.get_approval(&t, &apr).await.unwrap().unwrap();
    assert_eq!(a.status, ApprovalStatus::Expired);
    assert!(
        e.approve(&t, &apr, &Actor::new("alice"), None)
            .await
            .is_err()
    );
    assert_eq!(audit(&kit, &t, "approval.expired").await.len(), 1);
}
