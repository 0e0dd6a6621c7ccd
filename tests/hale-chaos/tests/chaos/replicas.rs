//! Two replicas on one Postgres and one Redis, every delivery arriving
//! twice at each (two Alertmanager peers behind a load balancer): each
//! remediation runs exactly once.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, eventually, firing, unix_now};

const RESOURCES: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_duplicated_deliveries_heal_each_resource_exactly_once() {
    let test = "two_replicas_with_duplicated_deliveries_heal_each_resource_exactly_once";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let world = World::new(&schema, &redis, RESOURCES).await;
    let a = world.start_server("replica-a").await;
    let b = world.start_server("replica-b").await;
    let t0 = unix_now() - 600;

    // Round 1, racing: four deliveries of each new alert at once, two per
    // replica, each with its own startsAt (a rule re-evaluated, a
    // Prometheus restarted), so each passes the delivery key and races on
    // the episode claim and the resource lock.
    // Round 2, Alertmanager HA: the same refire from both peers to both
    // replicas at once (identical deliveries).
    let mut started = 0;
    let mut decisions = std::collections::BTreeMap::<String, u32>::new();
    for round in 0..2i64 {
        let posts = (0..RESOURCES).flat_map(|s| {
            [(&a, 0i64), (&b, 1), (&a, 2), (&b, 3)].map(move |(server, i)| {
                let starts_at = if round == 0 { t0 + i } else { t0 + 600 };
                let peer = if i % 2 == 0 {
                    "http://am-1:9093"
                } else {
                    "http://am-2:9093"
                };
                (server, peer, [firing(s, starts_at)])
            })
        });
        let posts = posts.map(|(server, peer, alert)| {
            let world = &world;
            async move { world.post(server, &alert, peer).await }
        });
        for answer in futures::future::join_all(posts).await {
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            for d in answer.decisions() {
                if d == "operation_started" {
                    started += 1;
                }
                *decisions.entry(d).or_default() += 1;
            }
        }
    }
    assert_eq!(started, RESOURCES, "{decisions:?}");

    let api = world.api(&a);
    let ops = eventually(
        Duration::from_secs(60),
        "every healing to finish",
        || async {
            let ops = api.tally("/v1/operations", "", "state").await.ok()?;
            (ops.get("COMPLETED") + ops.get("FAILED") + ops.get("INTERRUPTED") == ops.total)
                .then_some(ops)
        },
    )
    .await;
    #[allow(clippy::print_stderr)] // the counts are this test's report
    {
        eprintln!(
            "replicas: {} deliveries -> {decisions:?}; operations {:?}; restarts applied {}",
            RESOURCES * 8,
            ops.by,
            world.actions()
        );
    }
    assert_eq!(ops.total, u64::from(RESOURCES), "{ops:?}");
    assert_eq!(ops.get("COMPLETED"), u64::from(RESOURCES), "{ops:?}");
    for s in 0..RESOURCES {
        assert_eq!(world.restarts(s), 1, "svc {s}: {:?}", world.fake.requests());
    }
    assert_eq!(world.actions(), u64::from(RESOURCES));
    a.stop().await;
    b.stop().await;
}
