//! Three replicas on one Postgres and one Redis under an alert storm posted
//! round-robin to all three: a global stop sent to one replica stops every
//! replica. After the stop's answer plus one second the fake Kubernetes API
//! server sees no write from any of them.
//!
//! Two stops, one test each: `auto_healing` off (automation's emergency
//! stop) and `execution` off (the freeze, which stops every execution).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::server::ServerProc;
use hale_chaos::{World, firing, unix_now};
use tokio::time::Instant;

/// Deployments the storm cycles through (a repeat is deduplicated).
const DEPLOYMENTS: u32 = 240;

/// Storm before the stop, and after the stop's answer.
const BEFORE_STOP: Duration = Duration::from_millis(1500);
const AFTER_STOP: Duration = Duration::from_secs(4);

/// The bound the issue sets: a change is in force everywhere within 1 s.
const BOUND: Duration = Duration::from_secs(1);

/// One webhook answer of the storm.
struct Posted {
    replica: usize,
    /// When the answer arrived.
    at: Instant,
    decision: String,
}

/// Posts one firing alert after another to `replica` (services `replica`,
/// `replica + 3`, ...) until `stop` is set.
async fn poster(
    world: &World,
    server: &ServerProc,
    replica: usize,
    t0: i64,
    stop: &AtomicBool,
) -> Vec<Posted> {
    let mut out = Vec::new();
    let mut service = u32::try_from(replica).expect("a small index");
    while !stop.load(Ordering::Relaxed) {
        let answer = world
            .post(
                server,
                &[firing(service % DEPLOYMENTS, t0)],
                "http://am-1:9093",
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let at = Instant::now();
        out.extend(answer.decisions().into_iter().map(|decision| Posted {
            replica,
            at,
            decision,
        }));
        service += 3;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    out
}

async fn stop_under_storm(test: &str, key: &str) {
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let world = World::new(&schema, &redis, DEPLOYMENTS).await;
    let replicas = world
        .start_servers(&["replica-a", "replica-b", "replica-c"])
        .await;
    let t0 = unix_now() - 600;
    let stop_storm = AtomicBool::new(false);

    let storm = futures::future::join_all(
        replicas
            .iter()
            .enumerate()
            .map(|(i, server)| poster(&world, server, i, t0, &stop_storm)),
    );
    let control = async {
        tokio::time::sleep(BEFORE_STOP).await;
        let writes_before = world.fake.writes().len();
        let sent = Instant::now();
        world.set_global_switch(&replicas[0], key, "off").await;
        let answered = Instant::now();
        let writes_at_answer = world.fake.writes().len();
        tokio::time::sleep_until(answered + BOUND).await;
        let writes_at_bound = world.fake.writes().len();
        tokio::time::sleep(AFTER_STOP - BOUND).await;
        stop_storm.store(true, Ordering::Relaxed);
        (
            sent,
            answered,
            [writes_before, writes_at_answer, writes_at_bound],
        )
    };
    let (posted, (sent, answered, [writes_before, writes_at_answer, writes_at_bound])) =
        tokio::join!(storm, control);
    let posted: Vec<Posted> = posted.into_iter().flatten().collect();
    // Whatever was running may finish its verification; give stragglers a
    // moment to write (they must not) before the final count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes_end = world.fake.writes().len();

    let mut before = BTreeMap::<String, u32>::new();
    let mut started_before = [0u32; 3];
    let mut after = BTreeMap::<String, u32>::new();
    let mut started_after_answer = Vec::new();
    let mut started_after_bound = Vec::new();
    for p in &posted {
        if p.at < sent {
            *before.entry(p.decision.clone()).or_default() += 1;
            if p.decision == "operation_started" {
                started_before[p.replica] += 1;
            }
        } else if p.at > answered {
            *after.entry(p.decision.clone()).or_default() += 1;
            if p.decision == "operation_started" {
                started_after_answer.push((p.replica, p.at - answered));
                if p.at > answered + BOUND {
                    started_after_bound.push(p.replica);
                }
            }
        }
    }
    // Every replica must show the stop in its own copy.
    let mut versions = Vec::new();
    for server in &replicas {
        let status = world.status(server, false).await;
        versions.push(status["safetyState"]["platformVersion"].as_u64());
        // Both stops switch automatic healing off (the status page's
        // `enabled` is the automatic path's scope verdict).
        assert_eq!(
            status["selfHealing"]["enabled"], false,
            "{}",
            status["selfHealing"]
        );
    }
    #[allow(clippy::print_stderr)] // the counts are this test's report
    {
        eprintln!(
            "emergency stop ({key} off): answered in {:?}; storm decisions before {before:?}, \
             after the answer {after:?} (started after it: {started_after_answer:?} as \
             (replica, time after the answer)); fake API writes: {writes_before} before the stop, \
             {} between the stop and its answer, {} in the second after, {} later; \
             platform versions {versions:?}",
            answered - sent,
            writes_at_answer - writes_before,
            writes_at_bound - writes_at_answer,
            writes_end - writes_at_bound,
        );
    }
    for (i, n) in started_before.iter().enumerate() {
        assert!(
            *n > 0,
            "replica {i} started nothing before the stop: {before:?}"
        );
    }
    assert!(
        started_after_bound.is_empty(),
        "replicas {started_after_bound:?} started operations after the stop plus {BOUND:?}"
    );
    assert_eq!(
        writes_end,
        writes_at_bound,
        "writes after the stop plus {BOUND:?}: {:?}",
        &world.fake.writes()[writes_at_bound..]
    );
    assert!(
        after.get("blocked").copied().unwrap_or(0) > 0,
        "the storm after the stop was never blocked: {after:?}"
    );
    assert!(
        versions.windows(2).all(|w| w[0] == w[1]) && versions[0].is_some(),
        "the replicas' platform versions differ: {versions:?}"
    );
    for server in replicas {
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_auto_healing_off_on_one_replica_stops_all_three_within_a_second() {
    stop_under_storm(
        "global_auto_healing_off_on_one_replica_stops_all_three_within_a_second",
        "auto_healing",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_execution_freeze_on_one_replica_stops_all_three_within_a_second() {
    stop_under_storm(
        "global_execution_freeze_on_one_replica_stops_all_three_within_a_second",
        "execution",
    )
    .await;
}
