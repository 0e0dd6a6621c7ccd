//! Several engines over one store (replicas): the safety state is shared.
//! A switch, a resume, a breaker latch or reset made on one replica is in
//! force on every other within the sync interval, and the counts behind
//! dormancy, PERMANENT_OPEN, max attempts and cooldown are the cluster's.
//! (Real processes on Postgres and Redis: tests/hale-chaos.)

mod support;

use std::time::Duration;

use hale_domain::breaker::BreakerState;
use hale_domain::failure::FailureClass;
use hale_domain::guard::Guard;
use hale_domain::kill_switch::{Feature, Switch};
use hale_domain::{Actor, Scope};
use hale_engine::ports::Health;
use hale_engine::{Engine, Outcome, TenantPolicy};
use hale_testkit::Kit;
use hale_testkit::fakes::Scripted;
use support::*;

fn guard(o: &Outcome) -> Option<Guard> {
    match o {
        Outcome::Blocked { guard, .. } => Some(*guard),
        _ => None,
    }
}

/// A replica: the kit's shared store, locks and executor, ids of its own
/// (replicas draw random ids, as real ones do).
async fn replica(kit: &Kit, policy: TenantPolicy) -> Engine {
    let mut ports = kit.ports();
    ports.ids = std::sync::Arc::new(hale_engine::ids::UuidIds);
    Engine::builder(ports).tenant(policy).build().await.unwrap()
}

async fn replicas(kit: &Kit, n: usize, policy: impl Fn() -> TenantPolicy) -> Vec<Engine> {
    let mut out = Vec::new();
    for _ in 0..n {
        let e = replica(kit, policy()).await;
        e.start_background_tasks().unwrap();
        out.push(e);
    }
    out
}

/// The sync interval plus a margin: what "within a second" has to cover.
/// Sleeping (rather than jumping the clock) lets every sync tick run.
async fn propagate() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(start_paused = true)]
async fn the_emergency_stop_on_one_replica_stops_the_others() {
    let kit = Kit::new();
    let t = tenant("t");
    let r = replicas(&kit, 3, || {
        TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")])
    })
    .await;
    let ops = Actor::new("ops");
    r[0].set_global_switch(Feature::AutoHealing, Some(Switch::Off), &ops, "incident")
        .await
        .unwrap();
    propagate().await;
    for (i, e) in r.iter().enumerate() {
        let o = ingest_one(e, &t, alert("HighErrorRate", &format!("svc-{i}"))).await;
        assert_eq!(guard(&o), Some(Guard::KillSwitch), "replica {i}: {o:?}");
    }
    assert!(kit.executor.applied().is_empty());
    // And it survives a replica restart: the state is the store's.
    let fresh = replica(
        &kit,
        TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]),
    )
    .await;
    let o = ingest_one(&fresh, &t, alert("HighErrorRate", "svc-9")).await;
    assert_eq!(guard(&o), Some(Guard::KillSwitch), "{o:?}");
    r[2].set_global_switch(Feature::AutoHealing, None, &ops, "over")
        .await
        .unwrap();
    propagate().await;
    started(&ingest_one(&r[1], &t, alert("HighErrorRate", "svc-10")).await);
}

#[tokio::test(start_paused = true)]
async fn a_start_confirms_against_the_store_even_before_the_copy_syncs() {
    let kit = Kit::new();
    let t = tenant("t");
    let policy = || TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
    // No background sync at all: only the start's own confirmation.
    let a = replica(&kit, policy()).await;
    let b = replica(&kit, policy()).await;
    ingest_one(&b, &t, alert("Other", "x")).await; // B loads the tenant.
    a.set_tenant_switch(
        &t,
        hale_engine::TenantSwitchTarget::Tenant,
        Some(Switch::Off),
        &Actor::new("ops"),
        "stop",
    )
    .await
    .unwrap();
    let o = ingest_one(&b, &t, alert("HighErrorRate", "checkout")).await;
    assert_eq!(guard(&o), Some(Guard::KillSwitch), "{o:?}");
    assert!(kit.executor.applied().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dormancy_counts_failures_across_replicas_and_a_resume_anywhere_wakes_all() {
    let kit = Kit::new();
    let t = tenant("t");
    let r = replicas(&kit, 3, || {
        let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
        p.dormancy_threshold = 3;
        p.backoff.base = Duration::from_millis(100);
        p.backoff.max = Duration::from_millis(100);
        p
    })
    .await;
    kit.probe
        .set_default(Health::Unhealthy("pods crash-looping".into()));
    for (i, e) in r.iter().enumerate() {
        started(&ingest_one(e, &t, alert("HighErrorRate", &format!("svc-{i}"))).await);
        e.wait_idle().await;
        advance(Duration::from_millis(500)).await;
    }
    propagate().await;
    for (i, e) in r.iter().enumerate() {
        let s = e.status(&t).await.unwrap();
        assert!(
            s.self_healing.is_dormant,
            "replica {i} sees the cluster's dormancy"
        );
        let o = ingest_one(e, &t, alert("HighErrorRate", &format!("new-{i}"))).await;
        assert_eq!(guard(&o), Some(Guard::Dormant), "replica {i}: {o:?}");
    }
    r[1].resume(
        &Scope::Tenant(t.clone()),
        "fixed the probe",
        &Actor::new("ops"),
    )
    .await
    .unwrap();
    propagate().await;
    kit.probe.set_default(Health::Healthy);
    for (i, e) in r.iter().enumerate() {
        assert!(
            !e.status(&t).await.unwrap().self_healing.is_dormant,
            "replica {i}"
        );
    }
    started(&ingest_one(&r[2], &t, alert("HighErrorRate", "after")).await);
}

#[tokio::test(start_paused = true)]
async fn cooldown_and_max_attempts_hold_for_the_cluster() {
    let kit = Kit::new();
    let t = tenant("t");
    let r = replicas(&kit, 2, || {
        let mut s = restart("HighErrorRate");
        s.cooldown = Duration::from_secs(600);
        TenantPolicy::new(t.clone(), vec![s])
    })
    .await;
    let a = alert("HighErrorRate", "checkout");
    started(&ingest_one(&r[0], &t, a.clone()).await);
    r[0].wait_idle().await;
    // A new episode of the same alert reaches the other replica within the
    // cooldown: the cooldown is the cluster's.
    let o = refire(&r[1], &t, &a).await;
    assert_eq!(guard(&o), Some(Guard::Cooldown), "{o:?}");
    assert_eq!(kit.executor.applied_count("rollout_restart"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_latched_anywhere_is_latched_everywhere_and_a_reset_anywhere_resets_all() {
    let kit = Kit::new();
    let t = tenant("t");
    let r = replicas(&kit, 2, || {
        let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
        p.dormancy_threshold = 100;
        p
    })
    .await;
    kit.executor.set_default(Scripted::Fail(
        FailureClass::Fatal,
        "401 Unauthorized".into(),
    ));
    started(&ingest_one(&r[0], &t, alert("HighErrorRate", "checkout")).await);
    r[0].wait_idle().await;
    propagate().await;
    let latched = |e: &Engine| {
        let e = e.clone();
        let t = t.clone();
        async move {
            e.breakers(&t)
                .await
                .unwrap()
                .into_iter()
                .find(|b| b.name == "scripted")
                .map(|b| b.snapshot.state)
        }
    };
    assert_eq!(latched(&r[0]).await, Some(BreakerState::PermanentOpen));
    assert_eq!(
        latched(&r[1]).await,
        Some(BreakerState::PermanentOpen),
        "the latch reaches the other replica"
    );
    let ops = Actor::new("ops");
    r[1].resume(&Scope::Tenant(t.clone()), "token rotated", &ops)
        .await
        .unwrap();
    r[1].reset_breaker(&t, "scripted", "token rotated", &ops)
        .await
        .unwrap();
    propagate().await;
    assert_eq!(
        latched(&r[0]).await,
        Some(BreakerState::Closed),
        "the reset reaches the first"
    );
    kit.executor.set_default(Scripted::Ok);
    started(&ingest_one(&r[0], &t, alert("HighErrorRate", "cart")).await);
}

#[tokio::test(start_paused = true)]
async fn permanent_open_after_n_failures_counts_the_whole_cluster() {
    let kit = Kit::new();
    let t = tenant("t");
    let r = replicas(&kit, 2, || {
        let mut p = TenantPolicy::new(t.clone(), vec![restart("HighErrorRate")]);
        p.dormancy_threshold = 100;
        p.breaker.failure_threshold = 3;
        p.breaker.permanent_open_threshold = 4;
        p.backoff.base = Duration::from_millis(10);
        p.backoff.max = Duration::from_millis(10);
        p
    })
    .await;
    kit.executor
        .set_default(Scripted::Fail(FailureClass::Transient, "503".into()));
    for n in 0..4 {
        let e = &r[n % 2];
        started(&ingest_one(e, &t, alert("HighErrorRate", &format!("svc-{n}"))).await);
        e.wait_idle().await;
        advance(Duration::from_millis(100)).await;
    }
    propagate().await;
    for (i, e) in r.iter().enumerate() {
        let o = ingest_one(e, &t, alert("HighErrorRate", &format!("late-{i}"))).await;
        assert!(
            matches!(
                &o,
                Outcome::Blocked {
                    guard: Guard::CircuitOpen | Guard::Dormant,
                    ..
                }
            ),
            "replica {i}: two failures each, four for the cluster, latch: {o:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_freeze_stops_a_running_operation_before_its_next_action() {
    let kit = Kit::new();
    let t = tenant("t");
    let two_steps = strategy(serde_json::json!({
        "id": "restart-twice", "risk": "low",
        "trigger": {"alertnames": ["HighErrorRate"]},
        "target": {"kind": "deployment"},
        "actions": [
            {"kind": "rollout_restart", "timeout": "60s"},
            {"kind": "scale", "timeout": "60s", "params": {"replicas": 3}}
        ],
        "verify": {"check": "none"}
    }));
    let r = replicas(&kit, 2, || {
        TenantPolicy::new(t.clone(), vec![two_steps.clone()])
    })
    .await;
    kit.executor
        .push("rollout_restart", Scripted::Slow(Duration::from_secs(5)));
    let op = started(&ingest_one(&r[0], &t, alert("HighErrorRate", "checkout")).await);
    advance(Duration::from_secs(1)).await;
    r[1].set_global_switch(
        Feature::Execution,
        Some(Switch::Off),
        &Actor::new("ops"),
        "freeze",
    )
    .await
    .unwrap();
    r[0].wait_idle().await;
    assert_eq!(
        kit.executor.applied_count("scale"),
        0,
        "no action after the freeze"
    );
    let stored = op_state(&kit, &t, &op).await;
    assert_eq!(stored, hale_domain::healing::HealingState::Interrupted);
}

async fn op_state(
    kit: &Kit,
    t: &hale_domain::TenantId,
    op: &str,
) -> hale_domain::healing::HealingState {
    use hale_engine::ports::OperationStore;
    kit.store
        .get_operation(t, &hale_domain::OperationId::new(op))
        .await
        .unwrap()
        .unwrap()
        .state
}
