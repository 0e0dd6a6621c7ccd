//! Fingerprint convergence on the real Postgres: the upsert is atomic under
//! concurrency and equals `hale_domain::convergence::converge` delivery by
//! delivery.

mod common;

use std::sync::Arc;
use std::time::Duration;

use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_domain::convergence::{ClaimKind, RECENT_FIRINGS_KEPT, converge};
use hale_engine::ports::FingerprintStore;
use hale_testkit::fixtures;

const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

fn at(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0.unix_micros() + micros)
}

/// Seed 003's storm: 200 deliveries of one alert arrive at once, through a
/// pool of 10 connections. Exactly one row, and no delivery lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_deliveries_leave_one_row_with_hit_count_200() {
    let Some((store, db)) = common::test_store_with(
        "two_hundred_concurrent_deliveries",
        10,
        Duration::from_secs(5),
    )
    .await
    else {
        return;
    };
    let tenant = fixtures::tenant("storm");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            let tenant = tenant.clone();
            tokio::spawn(async move {
                let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at(i));
                store.converge(&tenant, &d).await
            })
        })
        .collect();
    let mut new_episodes = 0;
    for task in tasks {
        let rec = task.await.expect("task").expect("converge");
        if rec.status_hits == 1 {
            new_episodes += 1;
        }
    }
    assert_eq!(new_episodes, 1, "exactly one delivery starts the episode");

    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    let rec = store.get_fingerprint(&tenant, &fp).await.unwrap().unwrap();
    assert_eq!(rec.hit_count, 200);
    assert_eq!(rec.status_hits, 200);
    assert_eq!(rec.episode, 1);
    assert_eq!(rec.recent_firings.len(), 1);
    assert_eq!(rec.first_seen_at, rec.episode_started_at);
    assert_eq!(
        rec.last_seen_at,
        at(199),
        "last_seen_at is the greatest delivery time"
    );

    let mut admin = db.raw(&db.admin_url).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_fingerprints")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

/// Many episodes, out-of-order timestamps and claims: the stored record
/// equals the pure function's after every delivery, including the trimming
/// of `recent_firings` to the last 16 and the claim reset on a new episode.
#[tokio::test]
async fn upsert_equals_the_pure_convergence_rule() {
    let Some((store, _db)) = common::test_store("upsert_equals_the_pure_convergence_rule").await
    else {
        return;
    };
    let tenant = fixtures::tenant("differential");
    let mut expected = None;
    // Start resolved (episode 0), then alternate with repeats; times go
    // backwards now and then (Alertmanager retries arrive late).
    let mut step = 0i64;
    for round in 0..(RECENT_FIRINGS_KEPT as i64 + 4) {
        for (status, repeats) in [(AlertStatus::Resolved, 2), (AlertStatus::Firing, 3)] {
            for r in 0..repeats {
                step += 1;
                let when = if r == 1 {
                    at(step * 1_000 - 5_000)
                } else {
                    at(step * 1_000)
                };
                let d = fixtures::delivery("DiskFull", "db", status, when);
                let want = converge(expected.as_ref(), &d);
                let got = store.converge(&tenant, &d).await.unwrap();
                assert_eq!(got, want, "round {round}, {status:?} #{r}");
                expected = Some(got);
            }
        }
        // Claim every other episode so the reset is exercised.
        let rec = expected.clone().unwrap();
        if round % 2 == 0 {
            let claim = fixtures::claim(ClaimKind::Operation, &format!("op-{round}"), at(step));
            let mut want = rec.clone();
            assert!(want.try_claim(rec.episode, claim.clone()));
            assert!(
                store
                    .claim_episode(&tenant, &rec.fingerprint, rec.episode, &claim)
                    .await
                    .unwrap()
            );
            expected = Some(want);
        }
    }
    let last = expected.unwrap();
    assert_eq!(last.recent_firings.len(), RECENT_FIRINGS_KEPT);
    assert_eq!(
        store
            .get_fingerprint(&tenant, &last.fingerprint)
            .await
            .unwrap(),
        Some(last)
    );
}
