//! Redis frozen while a run verifies (issue 14): the lease cannot be
//! confirmed, so the verification stops, the run ends INTERRUPTED, and its
//! rollback does not run without the lease.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::redis::PrivateRedis;
use hale_chaos::server::ServerProc;
use hale_chaos::{World, eventually};
use hale_fake_kube::{FakeConfig, FakeKube};

use crate::two_strategies::alert;

/// `HighLatency` restarts, verifies for up to 30 s, and rolls back.
const WITH_ROLLBACK: &str = r#"
[[tenants.strategies]]
id = "restart-or-undo"
risk = "low"
trigger = { alertnames = ["HighLatency"] }
target = { kind = "deployment", name_labels = ["deployment", "service"] }
actions = [{ kind = "rollout_restart", timeout = "30s", on_error = "rollback" }]
verify = { check = "rollout_complete", timeout = "30s", interval = "500ms" }
rollback = { on_failure = "escalate", actions = [{ kind = "rollout_undo", timeout = "30s" }] }
cooldown = "15m"
"#;

/// The operation's state and error, as `server` answers for it.
async fn state(world: &World, server: &ServerProc, id: &str) -> Option<(String, String)> {
    let op = world.operation(server, id).await?;
    Some((
        op["state"].as_str()?.to_owned(),
        op["error"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_during_verification_stops_the_run_without_a_rollback() {
    let test = "redis_frozen_during_verification_stops_the_run_without_a_rollback";
    let Some((admin, _)) = hale_chaos::shared_services(test) else {
        return;
    };
    let redis = PrivateRedis::start().await;
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis.url(), 0).await;
    // A rollout that never completes: the run stays in verification.
    let fake = FakeKube::start(
        "127.0.0.1:0",
        FakeConfig {
            rollout_after_gets: 100_000,
        },
    )
    .await
    .expect("start the fake API server");
    fake.seed(hale_load::kube::deployment(0))
        .expect("seed a deployment");
    world.config.kube_url = fake.url();
    world.fake = fake;
    world.config.automatic_lock_ttl = "3s".into();
    world.config.redis_timeout = "100ms".into();
    world.config.extra_toml = WITH_ROLLBACK.into();
    let server = world.start_server("hale").await;

    let started = world.post(&server, &[alert(1)], "http://am-1:9093").await;
    assert_eq!(
        started.decisions(),
        ["operation_started"],
        "{:?}",
        started.body
    );
    let op_id = started.operation_id();
    eventually(Duration::from_secs(20), "the run to verify", || async {
        let (s, _) = state(&world, &server, &op_id).await?;
        (s == "VERIFYING").then_some(())
    })
    .await;
    assert_eq!(world.actions(), 1, "the restart");

    redis.freeze();
    let (s, error) = eventually(Duration::from_secs(15), "the run to stop", || async {
        let (s, e) = state(&world, &server, &op_id).await?;
        (s != "VERIFYING").then_some((s, e))
    })
    .await;
    redis.thaw();
    assert_eq!(s, "INTERRUPTED", "{error}");
    assert!(error.contains("verification stopped"), "{error}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(world.actions(), 1, "a rollback ran without the lease");
    let log = server.stop().await;
    assert!(!log.contains("panicked"), "{log}");
}
