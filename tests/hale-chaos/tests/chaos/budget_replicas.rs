//! Remediation budgets across replicas (issue 16): two `hale-server`
//! processes on one Postgres. The budget's usage is one shared record, and
//! a start checks it and takes its slot in one serialized update, so the
//! replicas never both take the last slot: the in-flight cap under a storm
//! of slow restarts, the started cap under a storm of fast ones, and the
//! pods cap counting the pods a run on the other replica disrupted.

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
    // Both replicas found the budget exhausted; one escalation went out
    // for the window (the mark is in the shared record), recorded once.
    let path = format!(
        "/v1/audit?tenant={}&operation_type=budget.escalated",
        world.config.tenant
    );
    for server in [&a, &b] {
        let (status, v) = world.admin(server, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{v}");
        let escalations = v["items"].as_array().map_or(0, Vec::len);
        assert_eq!(escalations, 1, "one budget escalation per window: {v}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.stop().await;
    b.stop().await;
}

/// Every decision of `answers`, as (decision, guard, the whole outcome).
fn decisions(answers: &[hale_chaos::Answer]) -> Vec<(String, String, String)> {
    answers
        .iter()
        .flat_map(|a| {
            assert_eq!(a.status, 200, "{:?}", a.body);
            a.body["decisions"].as_array().cloned().unwrap_or_default()
        })
        .map(|d| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&d["outcome"]["decision"]),
                s(&d["outcome"]["guard"]),
                d["outcome"].to_string(),
            )
        })
        .collect()
}

/// The tenant's budget use as `server`'s status shows it.
async fn budget_use(world: &World, server: &hale_chaos::server::ServerProc) -> serde_json::Value {
    let status = world.status(server, true).await;
    status["remediationBudgets"]["scopes"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_start_more_than_the_started_budget() {
    let test = "two_replicas_never_start_more_than_the_started_budget";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    const MAX_STARTED: usize = 3;
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, RESOURCES).await;
    world.config.tenant_extra =
        format!("[tenants.budgets]\nmax_started = {MAX_STARTED}\nwindow = \"1h\"\n");
    world.config.detection_interval = "10m".into();
    let a = world.start_server("replica-a").await;
    let b = world.start_server("replica-b").await;
    // Fast restarts: the runs end while others start, so only the started
    // count (one shared record) can hold the line.
    let answers = world
        .post_alternating(&[&a, &b], 0..RESOURCES, unix_now() - 60)
        .await;
    let all = decisions(&answers);
    let started = all.iter().filter(|d| d.0 == "operation_started").count();
    let exhausted = all
        .iter()
        .filter(|d| d.0 == "blocked" && d.1 == "budget_exhausted")
        .count();
    assert_eq!(
        (started, exhausted),
        (MAX_STARTED, RESOURCES as usize - MAX_STARTED),
        "the started cap holds across both replicas: {all:?}"
    );
    for server in [&a, &b] {
        let used = budget_use(&world, server).await;
        assert_eq!(used["started"], MAX_STARTED, "{used}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_count_each_others_disrupted_pods() {
    let test = "two_replicas_count_each_others_disrupted_pods";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    // Each deployment the fake API server holds has 2 replicas: a restart
    // disrupts 2 pods, so two restarts use the budget of 4.
    const MAX_PODS: u32 = 4;
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 4).await;
    world.config.tenant_extra =
        format!("[tenants.budgets]\nmax_pods_disrupted = {MAX_PODS}\nwindow = \"1h\"\n");
    world.config.detection_interval = "10m".into();
    let a = world.start_server("replica-a").await;
    let b = world.start_server("replica-b").await;
    let t0 = unix_now() - 60;
    // One alert at a time, each to the other replica, each run finished
    // (its pods counted) before the next alert.
    let mut seen = Vec::new();
    for (service, server) in [(0, &a), (1, &b), (2, &a), (3, &b)] {
        let answer = world
            .post(
                server,
                &[hale_chaos::firing(service, t0)],
                "http://am-1:9093",
            )
            .await;
        let d = decisions(std::slice::from_ref(&answer)).remove(0);
        if d.0 == "operation_started" {
            let id = answer.operation_id();
            hale_chaos::eventually(Duration::from_secs(30), "the run ends", || async {
                let op = world.operation(server, &id).await?;
                (op["state"] == "COMPLETED").then_some(())
            })
            .await;
        }
        seen.push(d);
    }
    let kinds: Vec<&str> = seen.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "operation_started",
            "operation_started",
            "blocked",
            "blocked"
        ],
        "{seen:?}"
    );
    for d in &seen[2..] {
        assert_eq!(d.1, "budget_exhausted", "{seen:?}");
        assert!(
            d.2.contains("4 of 4 pods disrupted"),
            "the pods budget refused it: {seen:?}"
        );
    }
    assert_eq!(world.restarts(2) + world.restarts(3), 0);
    for server in [&a, &b] {
        let used = budget_use(&world, server).await;
        assert_eq!(used["podsDisrupted"], MAX_PODS, "{used}");
    }
    a.stop().await;
    b.stop().await;
}
