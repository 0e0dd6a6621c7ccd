//! `hale-server` SIGKILLed during a failed run's rollback, before it could
//! escalate: the run is recorded FAILED, and its escalation (which carries
//! the rollback's result) was never written. The next replica's recovery
//! sweep escalates it once, saying the rollback's result is unknown.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, deployment_path, eventually, unix_now};
use hale_fake_kube::Fault;
use hale_load::alerts::LoadAlert;

/// The rollback's PATCH takes this long at the fake API server, so the
/// kill lands while it is in flight.
const SLOW_ROLLBACK_MS: u64 = 6000;

/// The automatic run's lock TTL: the sweep waits for it after the kill.
const LOCK_TTL_SECS: u64 = 3;

/// Applied (not dry-run) PATCHes of the deployment the fake API server
/// received.
fn applies(world: &World) -> u64 {
    let path = deployment_path(0);
    world
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.verb == "PATCH" && r.path == path)
        .map(|r| r.counts.received - r.counts.dry_run)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_rollback_is_escalated_by_the_next_replica() {
    let test = "sigkill_mid_rollback_is_escalated_by_the_next_replica";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 1).await;
    world.config.automatic_lock_ttl = format!("{LOCK_TTL_SECS}s");
    // A restart whose failure rolls back (the rollback plan restarts
    // again: what it does matters less than that it is slow).
    world.config.tenant_extra = r#"
[[tenants.strategies]]
id = "restart-with-rollback"
risk = "low"
trigger = { alertnames = ["HighLatency"] }
target = { kind = "deployment", name_labels = ["deployment", "service"] }
actions = [{ kind = "rollout_restart", timeout = "30s", on_error = "rollback" }]
verify = { check = "none" }
rollback = { actions = [{ kind = "rollout_restart", timeout = "30s" }] }
"#
    .into();
    // The run's apply fails; the rollback's apply is slow. (Dry runs,
    // sent first, pass.)
    world.fake.inject(Fault {
        dry_run: Some(false),
        ..Fault::status("PATCH", &deployment_path(0), 500, 1)
    });
    world.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: deployment_path(0),
        status: None,
        times: None,
        latency_ms: SLOW_ROLLBACK_MS,
        dry_run: Some(false),
    });
    let first = world.start_server("first").await;
    let alert = LoadAlert {
        alertname: 1, // HighLatency
        service: 0,
        pod: None,
        starts_at: unix_now() - 60,
        ends_at: None,
    };
    let a = world.post(&first, &[alert], "http://am-1:9093").await;
    assert_eq!(a.decisions(), ["operation_started"], "{:?}", a.body);
    let op_id = a.operation_id();

    // Kill it while the rollback's PATCH is at the API server: the run is
    // FAILED and not escalated.
    eventually(
        Duration::from_secs(20),
        "the rollback's PATCH to be in flight",
        || async { (applies(&world) == 2).then_some(()) },
    )
    .await;
    let op = world
        .operation(&first, &op_id)
        .await
        .expect("the operation");
    assert_eq!(op["state"], "FAILED", "{op}");
    assert_eq!(op["escalated"], false, "{op}");
    first.kill().await;

    // Another replica's sweep (at its start, then every run) escalates it
    // once its lock has expired.
    tokio::time::sleep(Duration::from_secs(LOCK_TTL_SECS)).await;
    let second = world.start_server("second").await;
    let op = eventually(
        Duration::from_secs(60),
        "the orphaned escalation",
        || async {
            let op = world.operation(&second, &op_id).await?;
            (op["escalated"] == true).then_some(op)
        },
    )
    .await;
    assert_eq!(op["state"], "FAILED", "{op}");
    let path = format!(
        "/v1/audit?tenant={}&operation_type=healing.escalated",
        world.config.tenant
    );
    let (status, v) = world
        .admin(&second, reqwest::Method::GET, &path, None)
        .await;
    assert_eq!(status, 200, "{v}");
    let items = v["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "escalated once: {v}");
    assert!(
        items[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("whether its rollback ran is unknown")),
        "{v}"
    );
    second.stop().await;
}
