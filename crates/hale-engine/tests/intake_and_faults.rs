//! Duplicate deliveries, replicas, tenant isolation, store faults, crash
//! recovery and graceful shutdown.

mod support;

use std::time::Duration;

use hale_domain::coordination::LockPriority;
use hale_domain::healing::{HealingOperation, HealingState, NewOperation};
use hale_domain::record::incident::IncidentStatus;
use hale_domain::{
    AuthorizationChannel, OperationId, ResourceRef, RiskLevel, Scope, SourceSystem, StrategyId,
};
use hale_engine::ports::{
    Acquire, IncidentFilter, IncidentStore, LockRequest, OperationFilter, OperationStore,
    ResourceLocks,
};
use hale_engine::{Engine, EngineError, Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

#[tokio::test(start_paused = true)]
async fn duplicate_deliveries_never_start_a_second_healing() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    let a = alert("HighErrorRate", "checkout");
    // One Alertmanager body with the alert twice (HA peers), then the same
    // delivery retried, then a repeat notification with a later startsAt.
    let r = e.ingest(&t, vec![a.clone(), a.clone()]).await.unwrap();
    let labels: Vec<&str> = r.decisions.iter().map(|d| d.outcome.label()).collect();
    assert_eq!(labels, ["operation_started", "duplicate_delivery"]);
    assert_eq!(
        ingest_one(&e, &t, a.clone()).await,
        Outcome::DuplicateDelivery
    );
    let mut repeat = a.clone();
    repeat.starts_at = Some(hale_domain::Timestamp::from_unix_secs(1));
    assert!(matches!(
        ingest_one(&e, &t, repeat).await,
        Outcome::Deduplicated {
            claimed_by: Some(_)
        }
    ));
    e.wait_idle().await;
    assert_eq!(kit.executor.applied_count("rollout_restart"), 1);
    let m = e.metrics();
    assert_eq!(m.alerts_received, 4);
    assert_eq!(m.duplicate_deliveries, 2);
    assert_eq!(m.get("deduplicated", "episode"), 1);
    // The storm converged into one incident.
    assert_eq!(incidents(&kit, &t).await.len(), 1);
}

/// A batch is processed concurrently across fingerprints, in order within
/// one, and the decisions come back in input order.
#[tokio::test(start_paused = true)]
async fn batches_answer_in_input_order_whatever_the_concurrency() {
    for concurrency in [1, 8] {
        let kit = Kit::new();
        let t = tenant("t");
        let mut b = Engine::builder(kit.ports())
            .tenant(TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]));
        b = b.config(hale_engine::EngineConfig {
            intake_concurrency: concurrency,
            ..hale_engine::EngineConfig::default()
        });
        let e = b.build().await.unwrap();
        let (a, b2, c) = (
            alert("HighErrorRate", "a"),
            alert("HighErrorRate", "b"),
            alert("DiskFull", "c"),
        );
        let r = e
            .ingest(&t, vec![a.clone(), b2, a.clone(), c, a])
            .await
            .unwrap();
        let labels: Vec<&str> = r.decisions.iter().map(|d| d.outcome.label()).collect();
        assert_eq!(
            labels,
            [
                "operation_started",
                "operation_started",
                "duplicate_delivery",
                "no_strategy",
                "duplicate_delivery"
            ],
            "concurrency {concurrency}"
        );
        let names: Vec<&str> = r.decisions.iter().map(|d| d.alertname.as_str()).collect();
        assert_eq!(
            names,
            [
                "HighErrorRate",
                "HighErrorRate",
                "HighErrorRate",
                "DiskFull",
                "HighErrorRate"
            ]
        );
        e.wait_idle().await;
        assert_eq!(kit.executor.applied_count("rollout_restart"), 2);
    }
}

/// Two replicas over the same stores and locks receive the same alert at the
/// same time (Alertmanager HA): exactly one remediation runs.
#[tokio::test(start_paused = true)]
async fn two_replicas_act_exactly_once() {
    let kit = Kit::new();
    let t = tenant("t");
    let policy = || TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    let r1 = engine(&kit, vec![policy()]).await;
    let r2 = engine(&kit, vec![policy()]).await;
    for n in 0..20 {
        let a = alert("HighErrorRate", &format!("svc-{n}"));
        let (x, y) = tokio::join!(r1.ingest(&t, vec![a.clone()]), r2.ingest(&t, vec![a]));
        x.unwrap();
        y.unwrap();
    }
    r1.wait_idle().await;
    r2.wait_idle().await;
    let applied = kit.executor.applied();
    assert_eq!(applied.len(), 20, "one restart per resource");
    let mut targets: Vec<String> = applied.iter().map(|c| c.resource.key()).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 20);
}

#[tokio::test(start_paused = true)]
async fn tenants_never_see_each_others_state() {
    let kit = Kit::new();
    let (a, b) = (tenant("team-a"), tenant("team-b"));
    let e = engine(
        &kit,
        vec![
            TenantPolicy::new(a.clone(), vec![restart("HighErrorRate")]),
            TenantPolicy::new(b.clone(), vec![restart("HighErrorRate")]),
        ],
    )
    .await;
    e.enter_dormant(
        &Scope::Tenant(a.clone()),
        "maintenance",
        &hale_domain::Actor::new("ops"),
    )
    .await
    .unwrap();
    let same = alert("HighErrorRate", "checkout");
    let oa = ingest_one(&e, &a, same.clone()).await;
    assert!(
        matches!(&oa, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::Dormant)
    );
    let ob = ingest_one(&e, &b, same).await;
    let op_b = started(&ob);
    e.wait_idle().await;
    // B's operation is invisible to A, and A's status shows none of B's work.
    assert!(
        kit.store
            .get_operation(&a, &OperationId::new(op_b.as_str()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(e.status(&a).await.unwrap().self_healing.total_attempts, 0);
    assert_eq!(e.status(&b).await.unwrap().self_healing.total_attempts, 1);
    // The same resource name in two tenants is two locks.
    let res = ResourceRef::parse("prod:deployment/x").unwrap();
    for t in [&a, &b] {
        let got = kit
            .locks
            .acquire(&LockRequest {
                tenant: t.clone(),
                resource: res.clone(),
                priority: LockPriority::Automatic,
                holder: "h".into(),
                ttl: Duration::from_secs(5),
            })
            .await
            .unwrap();
        assert!(matches!(got, Acquire::Acquired(_)));
    }
    assert!(matches!(
        e.ingest(&hale_domain::TenantId::new("nobody").unwrap(), vec![])
            .await,
        Err(EngineError::UnknownTenant(_))
    ));
}

/// The store is down: intake fails with StoreUnavailable (the server answers
/// 503) and nothing is lost: the retried delivery is processed in full.
#[tokio::test(start_paused = true)]
async fn store_down_fails_intake_and_the_retry_is_not_lost() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    let a = alert("HighErrorRate", "checkout");
    kit.store.set_unavailable(true);
    let err = e.ingest(&t, vec![a.clone()]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    kit.store.set_unavailable(false);
    started(&ingest_one(&e, &t, a).await);
    e.wait_idle().await;
    assert_eq!(kit.executor.applied_count("rollout_restart"), 1);
}

/// After a crash, an operation left mid-flight is marked interrupted, never
/// resumed: the executor sees no duplicate action.
#[tokio::test(start_paused = true)]
async fn crash_recovery_marks_unfinished_operations_interrupted() {
    let kit = Kit::new();
    let t = tenant("t");
    let now = hale_domain::Timestamp::from_unix_secs(hale_testkit::kit::KIT_EPOCH_SECS);
    let mut op = HealingOperation::new(
        NewOperation {
            id: OperationId::new("op-crashed"),
            tenant: t.clone(),
            strategy_id: StrategyId::new("restart-higherrorrate"),
            resource: ResourceRef::parse("prod:deployment/checkout").unwrap(),
            source_system: SourceSystem::FailureWatcher,
            authorization_channel: AuthorizationChannel::AutoRepair,
            risk: RiskLevel::Low,
            attempt_number: 1,
        },
        now,
    );
    op.transition(HealingState::Diagnosing, now).unwrap();
    op.transition(HealingState::Healing, now).unwrap();
    let audit = hale_domain::record::audit::AuditEntry::new(
        "aud-crash",
        t.clone(),
        hale_domain::record::audit::AuditKind::HealingStarted,
        "prod:deployment/checkout",
        hale_domain::Origin::failure_watcher(),
        now,
    );
    kit.store.create_operation(&op, &audit).await.unwrap();
    let e: Engine = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    let got = kit.store.get_operation(&t, &op.id).await.unwrap().unwrap();
    assert_eq!(got.state, HealingState::Interrupted);
    assert!(got.error.unwrap().contains("not resumed"));
    assert_eq!(kit.executor.applied().len(), 0);
    assert_eq!(
        kit.notifier
            .count(hale_engine::ports::EscalationKind::OperationInterrupted),
        1
    );
    assert_eq!(assert_every_escalation_noticed(&kit, &t).await, 1);
    assert_eq!(
        e.recover_interrupted().await.unwrap(),
        0,
        "recovery is idempotent"
    );
}

/// Shutdown lets a running operation reach a safe point: it stops before its
/// next action, records itself interrupted and frees the resource.
#[tokio::test(start_paused = true)]
async fn graceful_shutdown_stops_at_a_safe_point() {
    let kit = Kit::new();
    let t = tenant("t");
    let s = strategy(serde_json::json!({
        "id": "two", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [{"kind": "rollout_restart"}, {"kind": "scale", "params": {"replicas": 3}}]
    }));
    let e = engine(&kit, vec![TenantPolicy::new(t.clone(), vec![s])]).await;
    kit.executor
        .push("rollout_restart", Scripted::Slow(Duration::from_secs(10)));
    let op = started(&ingest_one(&e, &t, alert("HighErrorRate", "checkout")).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    e.shutdown().await;
    let got = kit
        .store
        .get_operation(&t, &OperationId::new(op.as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.state, HealingState::Interrupted);
    assert_eq!(kit.executor.applied_count("scale"), 0);
    let res = ResourceRef::parse("prod:deployment/checkout").unwrap();
    assert_eq!(
        kit.locks.inspect(&t, &res).await.unwrap(),
        None,
        "lock released"
    );
    assert!(matches!(
        e.ingest(&t, vec![]).await,
        Err(EngineError::ShuttingDown)
    ));
}

/// Resolved alerts close their incident; alerts without a strategy are
/// recorded on their incident too.
#[tokio::test(start_paused = true)]
async fn incidents_are_durable_and_resolve_with_the_alert() {
    let kit = Kit::new();
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    let other = alert("DiskFull", "db");
    assert_eq!(ingest_one(&e, &t, other.clone()).await, Outcome::NoStrategy);
    // A repeat (a later startsAt, as Alertmanager's repeat_interval sends)
    // is answered the same and adds nothing to the incident.
    let mut repeat = other.clone();
    repeat.starts_at = Some(hale_domain::Timestamp::from_unix_secs(2));
    assert_eq!(ingest_one(&e, &t, repeat).await, Outcome::NoStrategy);
    let mut resolved = other.resolved();
    resolved.ends_at = Some(hale_domain::Timestamp::from_unix_secs(5));
    assert!(matches!(
        ingest_one(&e, &t, resolved).await,
        Outcome::Resolved {
            incident_id: Some(_)
        }
    ));
    let inc = kit
        .store
        .list_incidents(&t, &IncidentFilter::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(inc.status, IncidentStatus::Resolved);
    assert_eq!(
        inc.decision_chain
            .iter()
            .filter(|s| s.decision == "no_strategy")
            .count(),
        1,
        "{:?}",
        inc.decision_chain
    );
    let ops = kit
        .store
        .list_operations(&t, &OperationFilter::default())
        .await
        .unwrap()
        .items;
    assert!(ops.is_empty());
}

/// Kill switches: the global FEATURE flag stops automation; a tenant-level
/// switch stops a strategy; both are recorded as blocks.
#[tokio::test(start_paused = true)]
async fn kill_switches_stop_automation() {
    use hale_domain::kill_switch::{Feature, Switch};
    let mut kit = Kit::new();
    kit.flags.features.insert(Feature::AutoHealing, Switch::Off);
    let t = tenant("t");
    let e = engine(
        &kit,
        vec![TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])],
    )
    .await;
    let o = ingest_one(&e, &t, alert("HighErrorRate", "a")).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, detail, .. } if *guard == hale_domain::guard::Guard::KillSwitch && detail.contains("global")),
        "{o:?}"
    );
    let ops = hale_domain::Actor::new("ops");
    // The flag is a floor: the API cannot switch it on at runtime ("off"
    // anywhere wins), and says so.
    let err = e
        .set_global_switch(Feature::AutoHealing, Some(Switch::On), &ops, "try")
        .await
        .unwrap_err();
    assert!(
        matches!(err, hale_engine::EngineError::Switch(_))
            && err.kind() == hale_engine::ErrorKind::Conflict,
        "{err:?}"
    );
    let o = ingest_one(&e, &t, alert("HighErrorRate", "b")).await;
    assert!(
        matches!(&o, Outcome::Blocked { guard, .. } if *guard == hale_domain::guard::Guard::KillSwitch),
        "{o:?}"
    );
    assert_eq!(
        audit(&kit, &t, "switch.set").await.len(),
        0,
        "a refused act changes nothing"
    );
}
