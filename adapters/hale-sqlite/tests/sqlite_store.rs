//! What the SQLite store adds to the shared contract: the file survives a
//! reopen, the seed's fields are real columns, times are UTC text, the
//! write lock makes convergence atomic, and a locked database is a bounded
//! `Unavailable`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_domain::dormancy::Dormancy;
use hale_domain::safety::{SafetyKey, SafetyValue};
use hale_engine::ports::{
    ApprovalFilter, ApprovalStore, FingerprintStore, Ledgers, OperationStore, SafetyScope,
    SafetyStore, StoreError, StoreHealth,
};
use hale_sqlite::{SqliteStore, SqliteStoreConfig};
use hale_testkit::fixtures;
use sqlx::{Connection, SqliteConnection};

const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

async fn raw(path: &std::path::Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("raw connection")
}

#[tokio::test]
async fn committed_writes_survive_closing_and_reopening_the_file() {
    let path = common::db_path("reopen");
    let t = fixtures::tenant("durable");
    let approval = fixtures::approval(&t, "apr-1", T0);
    let op = fixtures::operation(&t, "op-1", T0);
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .create_approval(&approval, &fixtures::timeline_event(&t, "ev-1", T0))
            .await
            .unwrap();
        store
            .create_operation(&op, &fixtures::audit_entry(&t, "au-1", T0))
            .await
            .unwrap();
        store
            .update_safety(&SafetyScope::Tenant(t.clone()), Ledgers::None, &mut |_| {
                vec![(SafetyKey::Dormancy, SafetyValue::Dormancy(Dormancy::new(3)))]
            })
            .await
            .unwrap();
        store.close().await;
        drop(store);
    }
    // Reopening applies no migration twice and finds everything.
    assert_eq!(
        hale_sqlite::migrate(&path).await.unwrap(),
        hale_sqlite::latest_version()
    );
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.get_approval(&t, &approval.id).await.unwrap(),
        Some(approval)
    );
    assert_eq!(store.get_operation(&t, &op.id).await.unwrap(), Some(op));
    let safety = store
        .safety_records(&SafetyScope::Tenant(t.clone()), 0)
        .await
        .unwrap();
    assert_eq!(safety.epoch, 1);
    assert_eq!(
        safety.records[0].value,
        SafetyValue::Dormancy(Dormancy::new(3))
    );
    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn seed_fields_are_columns_and_times_are_utc_text() {
    let path = common::db_path("columns");
    let store = SqliteStore::open(&path).await.unwrap();
    let t = fixtures::tenant("columns");
    let approval = fixtures::approval(&t, "apr-1", T0);
    store
        .create_approval(&approval, &fixtures::timeline_event(&t, "ev-1", T0))
        .await
        .unwrap();
    let mut conn = raw(&path).await;
    let (status, risk, signatures, hit_count, created_at, resource): (
        String,
        String,
        i64,
        i64,
        String,
        String,
    ) = sqlx::query_as(
        "SELECT status, risk_level, current_signatures, hit_count, created_at, resource \
         FROM approvals WHERE tenant = 'columns' AND id = 'apr-1'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(status, approval.status.as_str());
    assert_eq!(risk, approval.risk_level.as_str());
    assert_eq!(signatures, i64::from(approval.current_signatures()));
    assert_eq!(hit_count, approval.hit_count as i64);
    assert_eq!(created_at, "2027-01-15T08:00:00.123456Z");
    assert_eq!(resource, approval.resource.key());

    // The CHECKs hold raw writes to the schema too.
    let bad = sqlx::query("UPDATE approvals SET doc = json_set(doc, '$.status', 'maybe')")
        .execute(&mut conn)
        .await;
    assert!(bad.is_err(), "an unknown status must be refused");
    let bad = sqlx::query("UPDATE approvals SET doc = json_set(doc, '$.tenant', 'other')")
        .execute(&mut conn)
        .await;
    assert!(
        bad.is_err(),
        "the key and the document must agree on the tenant"
    );
}

#[tokio::test]
async fn times_outside_years_0000_to_9999_are_invalid_not_garbled() {
    let store = common::test_store("range").await;
    let t = fixtures::tenant("range");
    let mut approval = fixtures::approval(&t, "apr-1", T0);
    approval.expires_at = Timestamp::from_unix_micros(i64::MAX);
    let res = store
        .create_approval(&approval, &fixtures::timeline_event(&t, "ev-1", T0))
        .await;
    assert!(matches!(res, Err(StoreError::Invalid(_))), "{res:?}");
    let res = store
        .approvals_due_for_expiry(&t, Timestamp::from_unix_micros(i64::MAX), 10)
        .await;
    assert!(matches!(res, Err(StoreError::Invalid(_))), "{res:?}");
    // Nothing was written, not even the timeline event.
    let listed = store
        .list_approvals(&t, &ApprovalFilter::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_deliveries_leave_hit_count_200() {
    let path = common::db_path("storm");
    let mut config = SqliteStoreConfig::new(&path);
    config.max_connections = 8;
    config.busy_timeout = Duration::from_secs(30);
    let store = Arc::new(SqliteStore::open_with(&config).await.unwrap());
    let t = fixtures::tenant("storm");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            let t = t.clone();
            tokio::spawn(async move {
                let at = Timestamp::from_unix_micros(T0.unix_micros() + i);
                let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, at);
                store.converge(&t, &d).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let fp = fixtures::fingerprint("HighErrorRate", "checkout");
    let rec = store.get_fingerprint(&t, &fp).await.unwrap().unwrap();
    assert_eq!(rec.hit_count, 200);
    assert_eq!(rec.episode, 1);
    let mut conn = raw(&path).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_fingerprints")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_writer_blocked_past_the_busy_timeout_is_unavailable() {
    let path = common::db_path("busy");
    let mut config = SqliteStoreConfig::new(&path);
    config.busy_timeout = Duration::from_millis(200);
    let store = SqliteStore::open_with(&config).await.unwrap();
    let t = fixtures::tenant("busy");
    let d = fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0);
    store.converge(&t, &d).await.unwrap();

    // Another process holds the write lock.
    let mut other = raw(&path).await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(20), store.converge(&t, &d))
        .await
        .expect("the busy timeout must bound the wait");
    assert!(matches!(res, Err(StoreError::Unavailable(_))), "{res:?}");
    // Readers are not blocked by the writer (WAL).
    store.ping().await.unwrap();
    assert_eq!(
        store
            .get_fingerprint(&t, &d.fingerprint)
            .await
            .unwrap()
            .unwrap()
            .hit_count,
        1
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert_eq!(store.converge(&t, &d).await.unwrap().hit_count, 2);
}

#[tokio::test]
async fn a_path_that_cannot_hold_a_database_is_unavailable() {
    let dir = common::db_path("not-a-file");
    std::fs::create_dir_all(&dir).unwrap();
    let res = SqliteStore::open(&dir).await;
    assert!(matches!(res, Err(StoreError::Unavailable(_))), "{res:?}");
}

/// A database written before the safety records existed keeps its state:
/// migration 0002 turns the old whole-state snapshots into version-1
/// records (switches, dormancy, backoff, ledgers, breaker latches) and drops
/// the old tables.
#[tokio::test]
async fn old_state_snapshots_become_safety_records() {
    let path = common::db_path("upgrade");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_tables.sql"),
        include_str!("../migrations/0001_tables.sql"),
    )
    .unwrap();
    let first = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    first.run(&mut conn).await.unwrap();
    let tenant_doc = serde_json::json!({
        "breakers": {"kubernetes": {
            "state": "PERMANENT_OPEN", "consecutive_failures": 10,
            "opened_at": "2027-01-15T07:59:00.000000Z",
            "permanent": {"reason": "fatal failure class: fatal", "since": "2027-01-15T07:59:00.000000Z"},
            "last_failure_at": "2027-01-15T07:59:00.000000Z", "last_failure_class": "fatal",
            "last_reset": null, "generation": 3}},
        "dormancy": {"max_consecutive_failures": 10, "consecutive_failures": 3, "dormant": null, "last_resume": null},
        "backoff": {"policy": {"base": "5s", "max": "10m", "multiplier": 2.0, "jitter": "none"},
                    "failures": 2, "last_delay": "10s", "rng": {"state": 7}},
        "next_healing_at": "2027-01-15T08:00:10.000000Z",
        "ledgers": {"restart|prod:deployment/checkout": {
            "consecutive_failures": 2, "total_attempts": 5, "last_started_at": "2027-01-15T07:55:00.000000Z"}},
        "switches": {"tenant": "on", "strategies": {"scale-up": "off"}, "action_kinds": {}},
        "counters": {"total_attempts": 5, "successful_healings": 3, "failed_healings": 2},
        "saved_at": "2027-01-15T08:00:00.000000Z"
    });
    sqlx::query("INSERT INTO tenant_state (tenant, doc) VALUES ('upgraded', ?1)")
        .bind(tenant_doc.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    let platform_doc = serde_json::json!({
        "switches": {"features": {"auto_healing": "off"}},
        "dormancy": {"max_consecutive_failures": 10, "consecutive_failures": 0, "dormant": null, "last_resume": null},
        "saved_at": "2027-01-15T08:00:00.000000Z"
    });
    sqlx::query("INSERT INTO platform_state (id, doc) VALUES ('platform', ?1)")
        .bind(platform_doc.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let t = fixtures::tenant("upgraded");
    let recs = store
        .safety_records(&SafetyScope::Tenant(t.clone()), 0)
        .await
        .unwrap();
    assert_eq!(recs.epoch, 1);
    let settings = hale_domain::safety::SafetySettings {
        dormancy_threshold: 10,
        backoff: hale_domain::backoff::BackoffPolicy::default(),
        jitter_seed: 1,
        switches: hale_domain::kill_switch::TenantSwitches::default(),
        permanent_open_threshold: 10,
    };
    let safety = hale_domain::safety::TenantSafety::from_records(&settings, recs.values()).unwrap();
    assert_eq!(safety.dormancy.consecutive_failures(), 3);
    assert_eq!(safety.backoff.failures(), 2);
    assert!(safety.next_healing_at.is_some());
    assert_eq!(safety.ledgers.len(), 1);
    assert!(
        safety.breaker_admission("kubernetes").is_err(),
        "the latched breaker stays latched"
    );
    assert_eq!(
        safety
            .effective_switches()
            .strategies
            .get(&hale_domain::StrategyId::new("scale-up")),
        Some(&hale_domain::kill_switch::Switch::Off)
    );
    let platform = store
        .safety_records(&SafetyScope::Platform, 0)
        .await
        .unwrap();
    let p = hale_domain::safety::PlatformSafety::from_records(10, platform.values());
    assert!(
        !p.switches
            .is_on(hale_domain::kill_switch::Feature::AutoHealing),
        "the global stop survives the upgrade"
    );
    let mut conn = raw(&path).await;
    let old: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE name IN ('tenant_state', 'platform_state')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(old, 0, "the old tables are gone");
}

/// SQLite serves one process: a second open of the same file is refused
/// with a message that names the holder and the way out, and the file opens
/// again once the first store is gone.
#[tokio::test]
async fn a_second_open_of_the_same_file_is_refused_until_the_first_closes() {
    let path = common::db_path("exclusive");
    let first = SqliteStore::open(&path).await.unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        msg.contains(&std::process::id().to_string()) && msg.contains("Postgres"),
        "{msg}"
    );
    first.close().await;
    drop(first);
    SqliteStore::open(&path).await.unwrap();
}

#[tokio::test]
async fn a_database_from_before_the_fenced_class_keeps_its_rows_and_accepts_it() {
    use hale_domain::failure::FailureClass;
    use hale_engine::ports::{AuditFilter, AuditLog};

    // A file migrated by a build that knew only migration 0001.
    let path = common::db_path("upgrade-fenced");
    let first = std::env::temp_dir().join(format!(
        "hale-sqlite-0001-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_tables.sql"),
        first.join("0001_tables.sql"),
    )
    .unwrap();
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(first.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    std::fs::remove_dir_all(&first).unwrap();

    let t = fixtures::tenant("upgrade");
    let old_op = fixtures::operation_failed(&t, "op-old", T0);
    let old_audit = fixtures::audit_entry(&t, "au-old", T0);
    for (insert, id, doc) in [
        (
            "INSERT INTO healing_operations (tenant, id, doc) VALUES (?, ?, ?)",
            "op-old",
            serde_json::to_string(&old_op).unwrap(),
        ),
        (
            "INSERT INTO audit_log (tenant, id, doc) VALUES (?, ?, ?)",
            "au-old",
            serde_json::to_string(&old_audit).unwrap(),
        ),
    ] {
        sqlx::query(insert)
            .bind(t.as_str())
            .bind(id)
            .bind(doc)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // The premise: the old schema refuses the new class.
    let mut fenced = fixtures::operation_failed(&t, "op-fenced", T0);
    fenced.failure_class = Some(FailureClass::Fenced);
    let refused = sqlx::query("INSERT INTO healing_operations (tenant, id, doc) VALUES (?, ?, ?)")
        .bind(t.as_str())
        .bind("op-fenced")
        .bind(serde_json::to_string(&fenced).unwrap())
        .execute(&mut conn)
        .await;
    assert!(refused.is_err(), "0001 alone accepted `fenced`");
    conn.close().await.unwrap();

    // Opening with this build applies the rest and loses nothing.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.get_operation(&t, &old_op.id).await.unwrap(),
        Some(old_op)
    );
    let audit = store
        .list_audit(&t, &AuditFilter::default())
        .await
        .unwrap()
        .items;
    assert_eq!(audit, vec![old_audit]);
    let mut audit_fenced = fixtures::audit_entry(&t, "au-fenced", T0);
    audit_fenced.failure_classification = Some(FailureClass::Fenced);
    store
        .create_operation(&fenced, &audit_fenced)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_operation(&t, &fenced.id)
            .await
            .unwrap()
            .and_then(|o| o.failure_class),
        Some(FailureClass::Fenced)
    );
    // The indexes came back with the rebuilt tables.
    let mut conn = raw(&path).await;
    let indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'index' \
         AND tbl_name IN ('audit_log', 'healing_operations') AND sql IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(indexes, 18);
}
