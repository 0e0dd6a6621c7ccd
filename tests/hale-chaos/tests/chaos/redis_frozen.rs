//! Redis frozen (SIGSTOP) during a storm: automation stands still and
//! says so, then recovers by itself as soon as Redis answers.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::redis::PrivateRedis;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_load::alerts::LoadAlert;

/// Deployments hit by the storm; one more (`STORM_RESOURCES`) heals before.
const STORM_RESOURCES: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_during_a_storm_acts_never_records_every_skip_and_recovers_within_a_second() {
    let test =
        "redis_frozen_during_a_storm_acts_never_records_every_skip_and_recovers_within_a_second";
    let Some((admin, _)) = hale_chaos::shared_services(test) else {
        return;
    };
    let redis = PrivateRedis::start().await;
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis.url(), STORM_RESOURCES + 1).await;
    // Short Redis bounds keep the frozen phase short; the behaviour is the
    // same with the production 250 ms.
    world.config.redis_timeout = "100ms".into();
    let server = world.start_server("hale").await;
    let api = world.api(&server);
    let t0 = unix_now() - 3600;

    // Normal operation first: one resource heals.
    let warm = world
        .post(&server, &[firing(STORM_RESOURCES, t0)], "http://am-1:9093")
        .await;
    assert_eq!(warm.decisions(), ["operation_started"], "{:?}", warm.body);
    eventually(
        Duration::from_secs(30),
        "the first healing to complete",
        || async {
            let ops = api.tally("/v1/operations", "", "state").await.ok()?;
            (ops.get("COMPLETED") == 1).then_some(())
        },
    )
    .await;
    assert_eq!(world.actions(), 1);

    // The storm, while Redis is frozen: every resource three times with a
    // later startsAt each time, and one body delivered twice (an HA peer).
    redis.freeze();
    let mut bodies: Vec<Vec<LoadAlert>> = (0..6u32)
        .map(|b| {
            (0..10u32)
                .map(|k| {
                    let n = b * 10 + k;
                    firing(
                        n % STORM_RESOURCES,
                        t0 + 60 * i64::from(n / STORM_RESOURCES),
                    )
                })
                .collect()
        })
        .collect();
    bodies.push(bodies[0].clone());
    let posted: usize = bodies.iter().map(Vec::len).sum();
    let answers = futures_join(&world, &server, &bodies).await;
    let mut skipped = 0;
    for a in &answers {
        assert_eq!(a.status, 200, "{:?}", a.body);
        for d in a.body["decisions"].as_array().into_iter().flatten() {
            assert_eq!(d["outcome"]["decision"], "skipped", "{d}");
            assert_eq!(d["outcome"]["reason"], "lock_backend_unavailable", "{d}");
            skipped += 1;
        }
    }
    assert_eq!(skipped, posted);
    // Zero automatic actions while frozen, and no operation was created.
    assert_eq!(world.actions(), 1, "{:?}", world.fake.requests());
    let ops = api.tally("/v1/operations", "", "state").await.unwrap();
    assert_eq!(ops.total, 1, "{ops:?}");
    // Every skipped alert is in the audit log with its reason.
    let audit = api
        .tally("/v1/audit", "operation_type=healing.skipped", "reason")
        .await
        .unwrap();
    assert_eq!(
        audit.get("lock_backend_unavailable"),
        posted as u64,
        "{audit:?}"
    );

    // SIGCONT, then a new delivery: how long until it acts?
    redis.thaw();
    let thawed = tokio::time::Instant::now();
    let mut attempt = 0;
    let decided = loop {
        attempt += 1;
        let a = world
            .post(
                &server,
                &[firing(0, t0 + 3600 + attempt)],
                "http://am-1:9093",
            )
            .await;
        if a.decisions() == ["operation_started"] {
            break thawed.elapsed();
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(5),
            "no action 5 s after SIGCONT: {:?}",
            a.body
        );
    };
    eventually(
        Duration::from_secs(10),
        "the restart to reach the API server",
        || async { (world.restarts(0) == 1).then_some(()) },
    )
    .await;
    let acted = thawed.elapsed();
    // The measurement is this test's report (docs/reliability.md).
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "redis frozen: {posted} alerts posted while frozen, {skipped} skipped (lock_backend_unavailable), {} audited, 0 actions; after SIGCONT: operation started in {decided:?} ({attempt} deliveries), restart applied in {acted:?}",
            audit.get("lock_backend_unavailable")
        );
    }
    assert!(
        decided <= Duration::from_secs(1),
        "normal operation took {decided:?} after SIGCONT"
    );
    assert_eq!(world.actions(), 2, "{:?}", world.fake.requests());
    server.stop().await;
}

/// Posts every body at once (concurrent deliveries, as a storm arrives).
async fn futures_join(
    world: &World,
    server: &hale_chaos::server::ServerProc,
    bodies: &[Vec<LoadAlert>],
) -> Vec<hale_chaos::Answer> {
    let posts = bodies.iter().enumerate().map(|(i, b)| {
        world.post(
            server,
            b,
            if i % 2 == 0 {
                "http://am-1:9093"
            } else {
                "http://am-2:9093"
            },
        )
    });
    futures::future::join_all(posts).await
}
