//! What the SQLite store adds to the shared contract: the file survives a
//! reopen, the seed's fields are real columns, times are UTC text, the
//! write lock makes convergence atomic, and a locked database is a bounded
//! `Unavailable`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_engine::ports::{
    ApprovalFilter, ApprovalStore, FingerprintStore, OperationStore, StoreError, StoreHealth,
    TenantStateStore,
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
            .save_tenant_state(&t, &fixtures::tenant_state(T0))
            .await
            .unwrap();
        store.close().await;
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
    assert_eq!(
        store.load_tenant_state(&t).await.unwrap(),
        Some(fixtures::tenant_state(T0))
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
