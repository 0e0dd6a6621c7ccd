//! Ledger pruning across replicas (issue 15's `ledger-pruning` job, shared
//! by issue 16's budgets): two `hale-server` processes on one Postgres, both
//! pruning every 250 ms, while alerts start new attempts on targets whose
//! ledgers are being pruned. The store holds ledgers of four kinds, written
//! before the servers start:
//!
//! * spent (last attempt two hours ago, no failure streak): pruned;
//! * spent, then healed again during the pruning: the new attempt's ledger
//!   survives (a delete is conditional on the version the job read);
//! * in a failure streak, or within their cooldown: never pruned, unchanged.
//!
//! Afterwards every surviving ledger still decides: a new alert on a target
//! healed during the pruning is refused by its cooldown on either replica.

use std::collections::BTreeMap;
use std::time::Duration;

use hale_chaos::postgres::fresh_schema;
use hale_chaos::{World, eventually, firing, unix_now};
use hale_domain::budget::AttemptLedger;
use hale_domain::resource::ResourceRef;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};
use hale_domain::{StrategyId, TenantId, Timestamp};
use hale_engine::ports::{Ledgers, SafetyScope, SafetyStore};
use hale_load::alerts::LoadAlert;
use hale_postgres::{PgStore, PgStoreConfig};

/// Spent ledgers (services 0..SPENT); the first REHEALED of them get a
/// new alert while the replicas prune.
const SPENT: u32 = 40;
const REHEALED: u32 = 8;
/// Ledgers in a failure streak (the next STREAK services).
const STREAK: u32 = 10;
/// Ledgers within their cooldown (the next COOLING services).
const COOLING: u32 = 10;

fn key(service: u32) -> LedgerKey {
    let resource = ResourceRef::new(
        hale_load::alerts::NAMESPACE,
        "deployment",
        hale_load::alerts::service_name(service),
    )
    .expect("a valid resource");
    LedgerKey::new(&StrategyId::new(hale_load::config::STRATEGY_ID), &resource)
}

fn ledger(failures: u32, started_secs_ago: i64) -> AttemptLedger {
    AttemptLedger {
        consecutive_failures: failures,
        total_attempts: failures + 1,
        last_started_at: Some(Timestamp::from_unix_secs(unix_now() - started_secs_ago)),
    }
}

/// The tenant's ledgers in the store, by service number.
async fn ledgers(store: &PgStore, tenant: &TenantId) -> BTreeMap<u32, AttemptLedger> {
    let keys: BTreeMap<LedgerKey, u32> =
        (0..SPENT + STREAK + COOLING).map(|s| (key(s), s)).collect();
    let records = store
        .safety_records(&SafetyScope::Tenant(tenant.clone()), 0)
        .await
        .expect("read the tenant's safety records");
    records
        .records
        .into_iter()
        .filter_map(|r| match (r.key, r.value) {
            (SafetyKey::Ledger(k), SafetyValue::Ledger(l)) => Some((keys[&k], l)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_prune_spent_ledgers_and_lose_no_live_one() {
    let test = "two_replicas_prune_spent_ledgers_and_lose_no_live_one";
    let Some((admin, redis)) = hale_chaos::shared_services(test) else {
        return;
    };
    let schema = fresh_schema(&admin).await;
    let mut world = World::new(&schema, &redis, SPENT + STREAK + COOLING).await;
    world.config.engine_extra = "ledger_prune_interval = \"250ms\"\n".into();
    world.config.detection_interval = "10m".into();
    let tenant = TenantId::new(world.config.tenant.clone()).expect("a valid tenant id");

    // The ledgers, written through the store adapter (which migrates the
    // schema) before any replica runs.
    let mut config = PgStoreConfig::new(schema.app_url.clone()).with_schema(schema.name.clone());
    config.migrate_url = Some(schema.migrator_url.clone());
    let store = PgStore::connect(&config)
        .await
        .expect("connect to the store");
    let mut seeded: BTreeMap<u32, AttemptLedger> = BTreeMap::new();
    for s in 0..SPENT {
        seeded.insert(s, ledger(0, 7_200));
    }
    for s in SPENT..SPENT + STREAK {
        seeded.insert(s, ledger(2, 7_200));
    }
    for s in SPENT + STREAK..SPENT + STREAK + COOLING {
        seeded.insert(s, ledger(0, 60));
    }
    let records: Vec<(SafetyKey, SafetyValue)> = seeded
        .iter()
        .map(|(s, l)| (SafetyKey::Ledger(key(*s)), SafetyValue::Ledger(l.clone())))
        .collect();
    store
        .update_safety(
            &SafetyScope::Tenant(tenant.clone()),
            Ledgers::None,
            &mut |_| records.clone(),
        )
        .await
        .expect("seed the ledgers");
    assert_eq!(ledgers(&store, &tenant).await, seeded);

    let healing_from = unix_now();
    let (a, b) = tokio::join!(
        world.start_server("replica-a"),
        world.start_server("replica-b"),
    );
    // While both prune: new attempts on targets whose ledgers are spent,
    // half through each replica.
    let t0 = unix_now() - 30;
    for answer in world.post_alternating(&[&a, &b], 0..REHEALED, t0).await {
        assert_eq!(
            answer.decisions(),
            ["operation_started"],
            "{:?}",
            answer.body
        );
    }

    // Every spent ledger not healed again goes; nothing else does.
    let left = eventually(
        Duration::from_secs(30),
        "the spent ledgers to be pruned",
        || async {
            let left = ledgers(&store, &tenant).await;
            (!(REHEALED..SPENT).any(|s| left.contains_key(&s))).then_some(left)
        },
    )
    .await;
    for s in SPENT..SPENT + STREAK + COOLING {
        assert_eq!(left.get(&s), seeded.get(&s), "live ledger of svc {s}");
    }
    for s in 0..REHEALED {
        let l = left
            .get(&s)
            .unwrap_or_else(|| panic!("svc {s}: the new attempt's ledger was pruned"));
        assert!(
            l.last_started_at
                .is_some_and(|at| at >= Timestamp::from_unix_secs(healing_from)),
            "svc {s}: {l:?}"
        );
    }
    assert_eq!(
        left.len() as u32,
        REHEALED + STREAK + COOLING,
        "{:?}",
        left.keys()
    );

    // Both replicas keep running the job, without a failure. (One replica
    // may have pruned everything on its first run before the other's
    // second, so wait for the second run rather than expect it.)
    for server in [&a, &b] {
        let job = eventually(
            Duration::from_secs(10),
            "the pruning job to run twice",
            || async {
                let status = world.status(server, true).await;
                let job = status["backgroundTasks"]["tasks"]
                    .as_array()
                    .and_then(|t| t.iter().find(|t| t["id"] == "ledger-pruning"))
                    .cloned()
                    .unwrap_or_default();
                (job["executionCount"].as_u64() >= Some(2)).then_some(job)
            },
        )
        .await;
        assert_eq!(job["failureCount"], 0, "{job}");
    }
    // The surviving ledgers decide on both replicas: once the runs are
    // over, a new episode on a target healed during the pruning (resolved,
    // then firing again), or on one within its cooldown, is refused by the
    // cooldown wherever its alert lands.
    let api = world.api(&a);
    eventually(Duration::from_secs(60), "the runs to finish", || async {
        let ops = api.tally("/v1/operations", "", "state").await.ok()?;
        (ops.total == u64::from(REHEALED) && ops.get("COMPLETED") == ops.total).then_some(())
    })
    .await;
    for (s, server, episode_before) in [
        (0, &b, true),
        (1, &a, true),
        (SPENT + STREAK, &a, false),
        (SPENT + STREAK + 1, &b, false),
    ] {
        if episode_before {
            let resolved = LoadAlert {
                ends_at: Some(unix_now() - 2),
                ..firing(s, t0)
            };
            let answer = world.post(server, &[resolved], "http://am-1:9093").await;
            assert_eq!(answer.decisions(), ["resolved"], "{:?}", answer.body);
        }
        let answer = world
            .post(server, &[firing(s, unix_now() - 1)], "http://am-1:9093")
            .await;
        let outcome = &answer.body["decisions"][0]["outcome"];
        assert_eq!(
            (outcome["decision"].as_str(), outcome["guard"].as_str()),
            (Some("blocked"), Some("cooldown")),
            "svc {s}: {outcome}"
        );
    }
    assert_eq!(world.actions(), u64::from(REHEALED));
    a.stop().await;
    b.stop().await;
    store.close().await;
}
