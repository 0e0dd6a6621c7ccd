//! Effectiveness across replicas (issue 16 item 4): two `hale-server`
//! processes on one Postgres and one Redis, and an alert's resolve and
//! re-fire delivered to both (each replica gets each delivery with its own
//! `endsAt` or `startsAt`, as from two Alertmanager peers), while both
//! replicas' effectiveness jobs run. A verdict is one compare-and-set on
//! the operation, so each operation is marked exactly once: one verdict,
//! one `operation.effectiveness` audit entry, counted once in `/metrics`
//! across the replicas, and an ineffective one completes its chain (of
//! one, here) once: one anti-pattern entry per target.
//!
//! * Re-fired within the stabilization: ineffective.
//! * Re-fired after it: effective (the re-fire settles it, racing the
//!   jobs' ticks).

use std::collections::BTreeSet;
use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::server::ServerProc;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_load::alerts::LoadAlert;
use hale_load::api::family;
use reqwest::Method;
use serde_json::Value;

/// Targets whose alert fires again inside the stabilization (0..REFIRED),
/// and targets whose alert stays resolved past it (REFIRED..TARGETS).
const REFIRED: u32 = 4;
const TARGETS: u32 = 8;
const STABILIZATION_SECS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_and_a_refire_on_different_replicas_mark_each_operation_once() {
    let test = "a_resolve_and_a_refire_on_different_replicas_mark_each_operation_once";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, TARGETS).await;
    world.config.tenant_extra = format!(
        "effectiveness = {{ window = \"2m\", stabilization = \"{STABILIZATION_SECS}s\", \
         chain_threshold = 1, chain_window = \"1h\" }}\n"
    );
    world.config.detection_interval = "10m".into();
    let (a, b) = tokio::join!(
        world.start_server("replica-a"),
        world.start_server("replica-b"),
    );
    let tenant = world.config.tenant.clone();

    // Every target healed once, through either replica.
    let t0 = unix_now() - 60;
    for answer in world.post_alternating(&[&a, &b], 0..TARGETS, t0).await {
        assert_eq!(
            answer.decisions(),
            ["operation_started"],
            "{:?}",
            answer.body
        );
    }
    let api = world.api(&a);
    let ops = eventually(Duration::from_secs(60), "every fix to complete", || async {
        let ops = api.list_all("/v1/operations", "").await.ok()?;
        let done = ops.len() == TARGETS as usize
            && ops
                .iter()
                .all(|o| o["state"] == "COMPLETED" && o["effectiveness"] == "pending");
        done.then_some(ops)
    })
    .await;

    // Each alert resolves at both replicas at once, then fires again at
    // both at once: right away for the first group, after the
    // stabilization for the second.
    let story = |s: u32| {
        let world = &world;
        let (a, b) = (&a, &b);
        async move {
            let resolved = |end: i64| LoadAlert {
                ends_at: Some(end),
                ..firing(s, t0)
            };
            let end = unix_now() - 1;
            let (to_a, to_b) = ([resolved(end)], [resolved(end + 1)]);
            let (ra, rb) = tokio::join!(
                world.post(a, &to_a, "http://am-1:9093"),
                world.post(b, &to_b, "http://am-2:9093"),
            );
            for r in [&ra, &rb] {
                assert_eq!(r.status, 200, "{:?}", r.body);
            }
            if s >= REFIRED {
                tokio::time::sleep(
                    Duration::from_secs(STABILIZATION_SECS) + Duration::from_millis(1_500),
                )
                .await;
            }
            let start = unix_now();
            let (to_b, to_a) = ([firing(s, start)], [firing(s, start + 1)]);
            let (fb, fa) = tokio::join!(
                world.post(b, &to_b, "http://am-2:9093"),
                world.post(a, &to_a, "http://am-1:9093"),
            );
            for f in [&fa, &fb] {
                assert_eq!(f.status, 200, "{:?}", f.body);
                assert!(
                    !f.decisions().iter().any(|d| d == "operation_started"),
                    "the re-fire starts nothing (cooldown or chain): {:?}",
                    f.body
                );
            }
        }
    };
    futures::future::join_all((0..TARGETS).map(story)).await;

    // Each operation's verdict, once.
    let settled = eventually(Duration::from_secs(60), "every verdict", || async {
        let ops = api.list_all("/v1/operations", "").await.ok()?;
        ops.iter()
            .all(|o| o["effectiveness"] != "pending")
            .then_some(ops)
    })
    .await;
    let service_of = |o: &Value| {
        let name = o["resource"]["name"].as_str().unwrap_or_default();
        (0..TARGETS)
            .find(|s| hale_load::alerts::service_name(*s) == name)
            .unwrap_or_else(|| panic!("an operation on an unknown target: {o}"))
    };
    for o in &settled {
        let want = if service_of(o) < REFIRED {
            "ineffective"
        } else {
            "effective"
        };
        assert_eq!(o["effectiveness"], want, "{o}");
    }
    let (_, audit) = world
        .admin(
            &b,
            Method::GET,
            &format!("/v1/audit?tenant={tenant}&operation_type=operation.effectiveness&limit=100"),
            None,
        )
        .await;
    let audited: Vec<&str> = audit["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["operation_id"].as_str())
        .collect();
    let distinct: BTreeSet<&str> = audited.iter().copied().collect();
    assert_eq!(
        (audited.len(), distinct.len()),
        (ops.len(), ops.len()),
        "one effectiveness entry per operation: {audit}"
    );

    // Counted once across the replicas.
    let mut counted = std::collections::BTreeMap::<String, f64>::new();
    for server in [&a, &b] {
        let metrics = world.api(server).metrics().await.expect("/metrics");
        for (labels, n) in family(&metrics, "hale_operation_effectiveness_total") {
            *counted.entry(labels).or_default() += n;
        }
    }
    let strategy = hale_load::config::STRATEGY_ID;
    let counted_as = |verdict: &str| {
        counted
            .get(&format!("strategy=\"{strategy}\",verdict=\"{verdict}\""))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(
        (counted_as("effective"), counted_as("ineffective")),
        (f64::from(TARGETS - REFIRED), f64::from(REFIRED)),
        "{counted:?}"
    );

    // One chain entry per ineffective target.
    let (_, knowledge) = world
        .admin(
            &a,
            Method::GET,
            &format!("/v1/knowledge?tenant={tenant}&type=anti_pattern&limit=100"),
            None,
        )
        .await;
    let titles: Vec<&str> = knowledge["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["title"].as_str())
        .collect();
    assert_eq!(titles.len(), REFIRED as usize, "{knowledge}");
    for s in 0..REFIRED {
        let name = hale_load::alerts::service_name(s);
        assert_eq!(
            titles
                .iter()
                .filter(|t| t.ends_with(&format!("/{name}")))
                .count(),
            1,
            "svc {s}: {titles:?}"
        );
    }

    // Both replicas' status shows the same tally.
    for server in [&a, &b] {
        assert_eq!(
            effectiveness(&world, server).await,
            (
                0,
                u64::from(TARGETS - REFIRED),
                u64::from(REFIRED),
                Some(0.5)
            ),
        );
    }
    a.stop().await;
    b.stop().await;
}

/// The strategy's (pending, effective, ineffective, rate) in `/v1/status`.
async fn effectiveness(world: &World, server: &ServerProc) -> (u64, u64, u64, Option<f64>) {
    let status = world.status(server, true).await;
    let rows = status["effectiveness"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 1, "{status}");
    let r = &rows[0];
    assert_eq!(r["strategy"], hale_load::config::STRATEGY_ID, "{r}");
    (
        r["pending"].as_u64().unwrap_or(u64::MAX),
        r["effective"].as_u64().unwrap_or(u64::MAX),
        r["ineffective"].as_u64().unwrap_or(u64::MAX),
        r["effectiveRate"].as_f64(),
    )
}
