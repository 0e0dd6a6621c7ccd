//! An action longer than its lock's TTL, with two replicas: the lease
//! heartbeat keeps the lock, so a second strategy's alert for the same
//! deployment, posted to the other replica after the TTL has passed, does
//! not start a second operation on it (issue 14).

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, deployment_path, eventually};
use hale_fake_kube::{Fault, fencing_regressions};

use crate::two_strategies::{SECOND_STRATEGY, alert};

/// The restart PATCH takes this long at the fake API server.
const SLOW_ACTION_MS: u64 = 8000;
/// The lock TTL: far shorter than the action.
const LOCK_TTL_SECS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_longer_than_the_lock_ttl_is_the_only_one_on_its_resource() {
    let test = "an_action_longer_than_the_lock_ttl_is_the_only_one_on_its_resource";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 1).await;
    world.config.automatic_lock_ttl = format!("{LOCK_TTL_SECS}s");
    // No redrive of deferred alerts during the test: only the decisions
    // made while the first action runs are under test.
    world.config.detection_interval = "10m".into();
    world.config.extra_toml = SECOND_STRATEGY.into();
    world.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: deployment_path(0),
        status: None,
        times: Some(1),
        latency_ms: SLOW_ACTION_MS,
        // The apply is slow; its dry run (sent first) is not.
        dry_run: Some(false),
    });
    let a = world.start_server("a").await;
    let b = world.start_server("b").await;

    let first = world.post(&a, &[alert(0)], "http://am-1:9093").await;
    assert_eq!(first.decisions(), ["operation_started"], "{:?}", first.body);
    let path = deployment_path(0);
    eventually(
        Duration::from_secs(20),
        "the restart PATCH in flight",
        || async {
            (world
                .fake
                .requests()
                .iter()
                .any(|r| r.verb == "PATCH" && r.path == path))
            .then_some(())
        },
    )
    .await;

    // Two TTLs into the action, the other replica is asked to act on the
    // same deployment for another reason.
    tokio::time::sleep(Duration::from_secs(2 * LOCK_TTL_SECS)).await;
    let second = world.post(&b, &[alert(1)], "http://am-1:9093").await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert!(
        !second.decisions().contains(&"operation_started".to_owned()),
        "a second operation started on a resource whose lock should be held: {:?}",
        second.body
    );
    let text = second.body.to_string();
    assert!(text.contains("resource_busy"), "{text}");

    // The first operation finishes on its own, having kept its lock.
    let api = world.api(&a);
    eventually(
        Duration::from_secs(30),
        "the first operation to complete",
        || {
            let api = api.clone();
            async move {
                let ops = api.tally("/v1/operations", "", "state").await.ok()?;
                (ops.get("COMPLETED") == 1).then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        world.restarts(0),
        1,
        "exactly one restart reached the deployment"
    );
    let writes = world.fake.writes();
    assert!(fencing_regressions(&writes).is_empty(), "{writes:?}");
    let (la, lb) = (a.stop().await, b.stop().await);
    assert!(
        !la.contains("panicked") && !lb.contains("panicked"),
        "{la}\n{lb}"
    );
}
