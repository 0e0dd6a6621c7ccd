//! Postgres stopped in the middle of a run (issue 14, durable before
//! acted on): the first action lands while the store is down, its record
//! fails, and nothing runs after it: no second action, no rollback.

use std::path::PathBuf;
use std::time::Duration;

use hale_chaos::postgres::{PrivatePostgres, fresh_schema};
use hale_chaos::{World, deployment_path, eventually};
use hale_fake_kube::Fault;

use crate::two_strategies::alert;

/// `HighLatency`: restart, then scale; roll back on any failure.
const TWO_ACTIONS: &str = r#"
[[tenants.strategies]]
id = "restart-then-scale"
risk = "low"
trigger = { alertnames = ["HighLatency"] }
target = { kind = "deployment", name_labels = ["deployment", "service"] }
actions = [
  { kind = "rollout_restart", timeout = "30s", on_error = "rollback" },
  { kind = "scale", params = { replicas = 3 }, timeout = "30s", on_error = "rollback" },
]
verify = { check = "none" }
rollback = { on_failure = "escalate", actions = [{ kind = "rollout_undo", timeout = "30s" }] }
cooldown = "15m"
"#;

/// The restart PATCH is held this long at the fake API server; Postgres
/// is stopped meanwhile.
const SLOW_ACTION_MS: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_run_runs_nothing_after_the_failed_record() {
    let test = "postgres_stopped_mid_run_runs_nothing_after_the_failed_record";
    let (Some(_), Some(redis), Some(pg_bin)) = (
        hale_testkit::services::database_url(test),
        hale_testkit::services::redis_url(test),
        hale_testkit::services::service_url("HALE_TEST_PG_BIN", test),
    ) else {
        return;
    };
    let pg = PrivatePostgres::start(&PathBuf::from(pg_bin));
    let schema = fresh_schema(&pg.superuser_url()).await;
    let mut world = World::new(&schema, &redis, 1).await;
    world.config.store_acquire_timeout = "1s".into();
    world.config.extra_toml = TWO_ACTIONS.into();
    let path = deployment_path(0);
    world.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: path.clone(),
        status: None,
        times: Some(1),
        latency_ms: SLOW_ACTION_MS,
        // The apply is slow; its dry run (sent first) is not.
        dry_run: Some(false),
    });
    let server = world.start_server("hale").await;
    let started = world.post(&server, &[alert(1)], "http://am-1:9093").await;
    assert_eq!(
        started.decisions(),
        ["operation_started"],
        "{:?}",
        started.body
    );
    eventually(
        Duration::from_secs(20),
        "the restart PATCH in flight",
        || async {
            world
                .fake
                .requests()
                .iter()
                .any(|r| r.verb == "PATCH" && r.path == path)
                .then_some(())
        },
    )
    .await;
    pg.stop_server();
    // The restart lands; its record cannot be written (after the store's
    // own bounded retries); the run stops.
    eventually(
        Duration::from_secs(60),
        "the run to give up its record",
        || async { server.log().contains("the run stops acting").then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = world.fake.requests();
    assert_eq!(world.restarts(0), 1, "the restart landed: {requests:?}");
    assert_eq!(
        world.actions(),
        1,
        "an action ran after a step that was not recorded: {requests:?}"
    );
    let scale_or_undo: Vec<_> = requests
        .iter()
        .filter(|r| r.path != path && r.counts.received > 0)
        .collect();
    assert!(scale_or_undo.is_empty(), "{scale_or_undo:?}");
    pg.start_server();
    let log = server.stop().await;
    assert!(!log.contains("panicked"), "{log}");
}
