//! `hale-server` SIGKILLed while a healing action is in flight: after the
//! restart the operation is marked INTERRUPTED (never resumed blindly) and
//! the executor never sees the action twice.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, deployment_path, eventually, firing, unix_now};
use hale_fake_kube::Fault;

/// The restart PATCH takes this long at the fake API server, so the kill
/// lands while it is in flight.
const SLOW_ACTION_MS: u64 = 4000;

/// The automatic run's lock TTL: after the kill, the lock outlives the
/// process by at most this long, and recovery waits for it.
const LOCK_TTL_SECS: u64 = 3;

/// How many times the fake API server received the restart PATCH (not
/// counting its server-side dry runs, which the engine sends first and
/// which change nothing), and how many of those it applied.
fn patches(world: &World) -> (u64, u64) {
    let (received, applied, dry_runs) = patch_counts(world);
    (received - dry_runs, applied)
}

/// The restart PATCH's counters: received (dry runs included), applied,
/// dry runs answered.
fn patch_counts(world: &World) -> (u64, u64, u64) {
    let path = deployment_path(0);
    world
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.verb == "PATCH" && r.path == path)
        .fold((0, 0, 0), |(rec, app, dry), r| {
            (
                rec + r.counts.received,
                app + r.counts.applied,
                dry + r.counts.dry_run,
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_action_is_recovered_as_interrupted_and_never_acted_twice() {
    let test = "sigkill_mid_action_is_recovered_as_interrupted_and_never_acted_twice";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 1).await;
    world.config.automatic_lock_ttl = format!("{LOCK_TTL_SECS}s");
    world.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: deployment_path(0),
        status: None,
        times: None,
        latency_ms: SLOW_ACTION_MS,
        // The apply is slow; its dry run (sent first) is not.
        dry_run: Some(false),
    });
    let server = world.start_server("first").await;
    let alert = firing(0, unix_now() - 60);
    let a = world.post(&server, &[alert], "http://am-1:9093").await;
    assert_eq!(a.decisions(), ["operation_started"], "{:?}", a.body);
    let op_id = a.operation_id();

    // Kill it while the PATCH is at the API server.
    eventually(
        Duration::from_secs(20),
        "the restart PATCH to be in flight",
        // The dry run was answered and the apply arrived after it.
        || async { (patch_counts(&world) == (2, 0, 1)).then_some(()) },
    )
    .await;
    let log = server.kill().await;
    assert!(log.contains("Hale is listening"), "{log}");

    // The dead process's lock expires with its TTL; the slow PATCH has
    // finished (or was dropped with the connection) by then too.
    tokio::time::sleep(Duration::from_millis(
        (LOCK_TTL_SECS * 1000).max(SLOW_ACTION_MS) + 1500,
    ))
    .await;
    let (received, applied) = patches(&world);
    assert_eq!(received, 1);
    assert!(applied <= 1);

    // The restarted server recovers the operation at start: INTERRUPTED,
    // with the reason, audited.
    let server = world.start_server("second").await;
    let api = world.api(&server);
    let op_url = server.at(&format!(
        "/v1/operations/{op_id}?tenant={}",
        world.config.tenant
    ));
    let op: serde_json::Value =
        eventually(Duration::from_secs(20), "the operation's recovery", || {
            let (http, url, token) = (
                world.http.clone(),
                op_url.clone(),
                world.config.admin_token.clone(),
            );
            async move {
                let op: serde_json::Value = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (op["state"] == "INTERRUPTED").then_some(op)
            }
        })
        .await;
    assert!(
        op["error"]
            .as_str()
            .is_some_and(|e| e.contains("not resumed")),
        "{op}"
    );
    let audit = api
        .tally(
            "/v1/audit",
            "operation_type=operation.interrupted",
            "operation_type",
        )
        .await
        .unwrap();
    assert_eq!(audit.total, 1, "{audit:?}");

    // Alertmanager keeps sending the alert, and the rule refires: neither
    // starts a second healing of the same episode.
    let again = world.post(&server, &[alert], "http://am-2:9093").await;
    let refire = world
        .post(&server, &[firing(0, unix_now())], "http://am-1:9093")
        .await;
    for a in [&again, &refire] {
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert!(
            !a.decisions().contains(&"operation_started".to_owned()),
            "{:?}",
            a.body
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (received, applied) = patches(&world);
    let ops = api.tally("/v1/operations", "", "state").await.unwrap();
    #[allow(clippy::print_stderr)] // the counts are this test's report
    {
        eprintln!(
            "sigkill: operation {op_id} -> {}; restart PATCH received {received}, applied {applied}; operations {:?}; after restart: {:?} then {:?}",
            op["state"],
            ops.by,
            again.decisions(),
            refire.decisions()
        );
    }
    assert_eq!(received, 1, "{:?}", world.fake.requests());
    assert!(applied <= 1);
    assert_eq!(ops.total, 1, "{ops:?}");
    server.stop().await;
}
