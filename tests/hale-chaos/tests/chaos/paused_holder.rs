//! The paused holder (issue 14): replica A is SIGSTOPped in the middle of
//! an action, its lease expires, replica B takes the resource and acts;
//! after SIGCONT, A writes nothing over B's work. The fake API server's
//! write log shows no write with a lower fencing token after one with a
//! higher token.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, deployment_path, eventually, signal};
use hale_fake_kube::{Fault, fencing_regressions};
use rustix::process::Signal;

use crate::two_strategies::{SECOND_STRATEGY, alert};

/// The lock TTL.
const LOCK_TTL_SECS: u64 = 3;
/// A's read of the deployment is held this long at the fake API server,
/// so A is paused between its read and its write.
const SLOW_READ_MS: u64 = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_never_writes_over_the_next_holders_work() {
    let test = "a_paused_holder_never_writes_over_the_next_holders_work";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 1).await;
    world.config.automatic_lock_ttl = format!("{LOCK_TTL_SECS}s");
    world.config.detection_interval = "10m".into();
    world.config.extra_toml = SECOND_STRATEGY.into();
    let path = deployment_path(0);
    world.fake.inject(Fault {
        method: Some("GET".into()),
        path: path.clone(),
        status: None,
        times: Some(1),
        latency_ms: SLOW_READ_MS,
        dry_run: None,
    });
    let a = world.start_server("a").await;
    let b = world.start_server("b").await;

    let first = world.post(&a, &[alert(0)], "http://am-1:9093").await;
    assert_eq!(first.decisions(), ["operation_started"], "{:?}", first.body);
    let a_op = first.operation_id();
    // A is reading the deployment (its first request, held at the fake):
    // pause it there, between its read and its write.
    eventually(
        Duration::from_secs(20),
        "A's run to start healing",
        || async {
            let op = world.operation(&a, &a_op).await?;
            (op["state"] == "HEALING").then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(a.pid(), Signal::STOP);

    // A's lease lapses; B is asked to act on the same deployment and does.
    tokio::time::sleep(Duration::from_secs(LOCK_TTL_SECS + 1)).await;
    let second = world.post(&b, &[alert(1)], "http://am-1:9093").await;
    assert_eq!(
        second.decisions(),
        ["operation_started"],
        "{:?}",
        second.body
    );
    let b_api = world.api(&b);
    eventually(Duration::from_secs(30), "B's operation to complete", || {
        let api = b_api.clone();
        async move {
            let ops = api.tally("/v1/operations", "", "state").await.ok()?;
            (ops.get("COMPLETED") == 1).then_some(())
        }
    })
    .await;
    assert_eq!(world.restarts(0), 1, "B's restart");

    // A wakes up: its lease is gone, and it writes nothing.
    signal(a.pid(), Signal::CONT);
    let op = eventually(Duration::from_secs(20), "A's run to stop", || async {
        let op = world.operation(&a, &a_op).await?;
        (op["state"] == "INTERRUPTED").then_some(op)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(world.restarts(0), 1, "A wrote after B: {op}");
    let writes = world.fake.writes();
    assert!(fencing_regressions(&writes).is_empty(), "{writes:?}");
    #[allow(clippy::print_stderr)] // the test's report
    {
        eprintln!("paused holder: A ended {} ({})", op["state"], op["error"]);
    }
    let (la, lb) = (a.stop().await, b.stop().await);
    assert!(
        !la.contains("panicked") && !lb.contains("panicked"),
        "{la}\n{lb}"
    );
}
