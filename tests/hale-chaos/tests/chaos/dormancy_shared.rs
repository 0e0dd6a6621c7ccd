//! Three replicas on one Postgres and one Redis: dormancy counts failures
//! for the cluster, not per process. `dormancy_threshold` failed healings
//! spread over the three replicas (one each) put the tenant to sleep on
//! every replica, and a resume on another replica wakes all of them.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::server::ServerProc;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_fake_kube::Fault;
use hale_load::alerts::NAMESPACE;
use serde_json::{Value, json};
use tokio::time::Instant;

/// One failure per replica.
const THRESHOLD: u32 = 3;

/// The bound the issue sets: a change is in force everywhere within 1 s.
const BOUND: Duration = Duration::from_secs(1);

/// The decision of a single-alert post.
async fn decide(world: &World, server: &ServerProc, service: u32, t0: i64) -> Value {
    let answer = world
        .post(server, &[firing(service, t0)], "http://am-1:9093")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["decisions"][0]["outcome"].clone()
}

/// Polls every replica's tenant status until each shows `dormant`;
/// returns how long that took.
async fn all_show(world: &World, replicas: &[ServerProc], dormant: bool) -> Duration {
    let start = Instant::now();
    eventually(
        Duration::from_secs(10),
        &format!("every replica to show isDormant = {dormant}"),
        || async {
            for server in replicas {
                let status = world.status(server, true).await;
                if status["selfHealing"]["isDormant"] != dormant {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dormancy_counts_failures_across_three_replicas_and_a_resume_on_one_wakes_all() {
    let test = "dormancy_counts_failures_across_three_replicas_and_a_resume_on_one_wakes_all";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 8).await;
    // The tenant sleeps after THRESHOLD failed healings; the breaker and
    // the backoff stay out of the way (its thresholds well above three
    // failures, a backoff of a few milliseconds). The failures are
    // `transient` (a 500): a refusal (`invalid_action`, `target_gone`)
    // says nothing about the system and does not count toward dormancy.
    world.config.tenant_extra = format!(
        "dormancy_threshold = {THRESHOLD}\n\
         [tenants.breaker]\nfailure_threshold = 50\npermanent_open_threshold = 100\n\
         [tenants.backoff]\nbase = \"10ms\"\nmax = \"20ms\"\n"
    );
    let replicas = world
        .start_servers(&["replica-a", "replica-b", "replica-c"])
        .await;
    let t0 = unix_now() - 600;

    // Every restart fails at the API server.
    world.fake.inject(Fault {
        method: Some("PATCH".into()),
        path: format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/*"),
        status: Some(500),
        times: None,
        latency_ms: 0,
        // Only the apply: its dry run (sent first) passes.
        dry_run: Some(false),
    });
    for (i, server) in replicas.iter().enumerate() {
        let service = u32::try_from(i).expect("a small index");
        let outcome = decide(&world, server, service, t0).await;
        assert_eq!(outcome["decision"], "operation_started", "{outcome}");
        let api = world.api(server);
        eventually(
            Duration::from_secs(30),
            "the failed healing to be recorded",
            || async {
                let ops = api.tally("/v1/operations", "", "state").await.ok()?;
                (ops.get("FAILED") == u64::try_from(i + 1).ok()?).then_some(())
            },
        )
        .await;
        if i + 1 < replicas.len() {
            for s in &replicas {
                let status = world.status(s, true).await;
                assert_eq!(
                    status["selfHealing"]["isDormant"],
                    false,
                    "dormant after {} failures: {}",
                    i + 1,
                    status["selfHealing"]
                );
            }
        }
    }
    let to_sleep = all_show(&world, &replicas, true).await;
    for (i, server) in replicas.iter().enumerate() {
        let outcome = decide(&world, server, 10 + u32::try_from(i).expect("small"), t0).await;
        assert_eq!(outcome["decision"], "blocked", "{outcome}");
        assert_eq!(outcome["guard"], "dormant", "{outcome}");
    }

    // A human resumes on replica b (the failures were spread over all
    // three; the last was on c).
    world.fake.clear_faults();
    let path = format!("/v1/dormancy/resume?tenant={}", world.config.tenant);
    let (status, body) = world
        .admin(
            &replicas[1],
            reqwest::Method::POST,
            &path,
            Some(json!({"reason": "chaos: the API server accepts writes again"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let to_wake = all_show(&world, &replicas, false).await;
    #[allow(clippy::print_stderr)] // the times are this test's report
    {
        eprintln!(
            "dormancy across replicas: dormant everywhere {to_sleep:?} after failure \
             {THRESHOLD} of {THRESHOLD} was recorded; awake everywhere {to_wake:?} after the \
             resume on replica b answered"
        );
    }
    assert!(
        to_wake <= BOUND,
        "the resume took {to_wake:?} to reach every replica"
    );
    let outcome = decide(&world, &replicas[2], 20, t0).await;
    assert_eq!(outcome["decision"], "operation_started", "{outcome}");
    for server in replicas {
        server.stop().await;
    }
}
