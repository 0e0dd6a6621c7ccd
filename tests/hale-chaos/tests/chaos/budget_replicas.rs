//! A remediation budget across replicas (issue 16): two `hale-server`
//! processes on one Postgres, a storm of alerts split between them, every
//! restart slow. The tenant's in-flight cap holds across both: the budget's
//! usage is one shared record, and a start checks it and takes its slot in
//! one serialized update, so the replicas never both take the last slot.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, deployment_path, unix_now};
use hale_fake_kube::Fault;

const RESOURCES: u32 = 8;
const MAX_IN_FLIGHT: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_run_more_than_the_in_flight_budget() {
    let test = "two_replicas_never_run_more_than_the_in_flight_budget";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, RESOURCES).await;
    world.config.tenant_extra =
        format!("[tenants.budgets]\nmax_in_flight = {MAX_IN_FLIGHT}\nwindow = \"1h\"\n");
    // No redrive of blocked alerts during the test.
    world.config.detection_interval = "10m".into();
    for s in 0..RESOURCES {
        world.fake.inject(Fault {
            method: Some("PATCH".into()),
            path: deployment_path(s),
            status: None,
            times: Some(1),
            latency_ms: 6_000,
            // The apply is slow; its dry run (sent first) is not.
            dry_run: Some(false),
        });
    }
    let a = world.start_server("replica-a").await;
    let b = world.start_server("replica-b").await;
    let t0 = unix_now() - 60;
    let mut started = 0;
    let mut exhausted = 0;
    for answer in world.post_alternating(&[&a, &b], 0..RESOURCES, t0).await {
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        for d in answer.body["decisions"].as_array().into_iter().flatten() {
            match d["outcome"]["decision"].as_str() {
                Some("operation_started") => started += 1,
                Some("blocked") if d["outcome"]["guard"] == "budget_exhausted" => exhausted += 1,
                other => panic!("unexpected decision {other:?}: {d}"),
            }
        }
    }
    assert_eq!(
        (started, exhausted),
        (MAX_IN_FLIGHT, RESOURCES - MAX_IN_FLIGHT),
        "the in-flight cap holds across both replicas"
    );
    // Both replicas see the same usage.
    for server in [&a, &b] {
        let status = world.status(server, true).await;
        let in_flight = status["remediationBudgets"]["inFlight"].as_u64();
        assert!(
            in_flight.is_some_and(|n| n <= u64::from(MAX_IN_FLIGHT)),
            "{status}"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.stop().await;
    b.stop().await;
}
