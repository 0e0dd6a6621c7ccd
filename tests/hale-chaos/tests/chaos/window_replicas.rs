//! A maintenance window across replicas (issue 16 item 2): two
//! `hale-server` processes on one Postgres and one Redis. A window opened
//! through replica a's API stops automatic healing on replica b at once
//! (b's start re-runs the guard on the shared records, whatever its copy
//! says), b shows it in its status, and once b ends it, a heals again
//! after its next sync of the shared state (within a second). The fake
//! Kubernetes API server counts what really changed.

use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, eventually, firing, unix_now};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_opened_on_one_replica_stops_healing_on_the_other() {
    let test = "a_window_opened_on_one_replica_stops_healing_on_the_other";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, 3).await;
    // No redrive of blocked alerts during the test.
    world.config.detection_interval = "10m".into();
    let (a, b) = tokio::join!(
        world.start_server("replica-a"),
        world.start_server("replica-b"),
    );
    let tenant = world.config.tenant.clone();
    // b holds a copy of the tenant's safety state from before the window.
    let before = world.status(&b, true).await;
    assert!(before.get("maintenanceWindows").is_none(), "{before}");

    let now = unix_now();
    let at = |s: i64| hale_domain::Timestamp::from_unix_secs(s).to_rfc3339();
    let window = json!({
        "id": "db-upgrade", "mode": "block", "reason": "chaos: database upgrade",
        "schedule": {"kind": "one_off", "start": at(now - 60), "end": at(now + 3_600)},
    });
    let (status, opened) = world
        .admin(
            &a,
            Method::POST,
            &format!("/v1/maintenance-windows?tenant={tenant}"),
            Some(window),
        )
        .await;
    assert_eq!(status, 200, "{opened}");
    assert!(
        opened["created_by"]
            .as_str()
            .is_some_and(|who| who.contains("load-admin")),
        "the window names who opened it: {opened}"
    );

    // Right after a's answer, b's decision follows the window.
    let answer = world
        .post(&b, &[firing(0, now - 30)], "http://am-1:9093")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let outcome = &answer.body["decisions"][0]["outcome"];
    assert_eq!(
        (outcome["decision"].as_str(), outcome["guard"].as_str()),
        (Some("blocked"), Some("maintenance_window")),
        "{outcome}"
    );
    let shown = world.status(&b, true).await;
    assert_eq!(
        shown["maintenanceWindows"][0]["id"], "db-upgrade",
        "b's status shows the window: {shown}"
    );
    let (_, audit) = world
        .admin(
            &b,
            Method::GET,
            &format!("/v1/audit?tenant={tenant}&operation_type=maintenance_window.opened"),
            None,
        )
        .await;
    let entry = &audit["items"][0];
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("chaos: database upgrade")),
        "the opening is audited with why: {audit}"
    );

    // b ends it; a heals the next alert.
    let (status, ended) = world
        .admin(
            &b,
            Method::POST,
            &format!("/v1/maintenance-windows/db-upgrade/end?tenant={tenant}"),
            Some(json!({"reason": "chaos: upgrade done"})),
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    // The end reaches a with its next sync (a block decided on a's older
    // copy errs on the side of not acting, so nothing confirms it first).
    let ended_at = tokio::time::Instant::now();
    eventually(
        Duration::from_secs(2),
        "a to see the window end",
        || async {
            let s = world.status(&a, true).await;
            s.get("maintenanceWindows").is_none().then_some(())
        },
    )
    .await;
    #[allow(clippy::print_stderr)] // the lag is this test's report
    {
        eprintln!(
            "window end on b in force on a after {:?}",
            ended_at.elapsed()
        );
    }
    let answer = world
        .post(&a, &[firing(1, now - 30)], "http://am-1:9093")
        .await;
    assert_eq!(
        answer.decisions(),
        ["operation_started"],
        "{:?}",
        answer.body
    );
    eventually(Duration::from_secs(30), "svc 1's restart", || async {
        (world.restarts(1) == 1).then_some(())
    })
    .await;
    assert_eq!(world.restarts(0), 0, "nothing ran during the window");
    assert_eq!(world.actions(), 1);
    a.stop().await;
    b.stop().await;
}
