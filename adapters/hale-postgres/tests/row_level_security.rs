//! Tenant isolation is enforced by Postgres, not only by the store's
//! queries: raw SQL on the application role's connection cannot read,
//! change or delete another tenant's rows, and a connection with no tenant
//! set sees nothing.

mod common;

use hale_domain::Timestamp;
use hale_domain::alert::AlertStatus;
use hale_engine::ports::{
    ApprovalFilter, ApprovalStore, AuditLog, FingerprintStore, IncidentStore, KnowledgeStore,
    Ledgers, OperationStore, SafetyScope, SafetyStore, TimelineStore,
};
use hale_postgres::PgStore;
use hale_testkit::fixtures;
use sqlx::{Connection, PgConnection};

/// Every table with row-level security.
const TENANT_TABLES: [&str; 8] = [
    "approvals",
    "timeline_events",
    "audit_log",
    "incidents",
    "knowledge_entries",
    "healing_operations",
    "alert_fingerprints",
    "safety_records",
];

/// Tables the application role may UPDATE and DELETE.
const MUTABLE_TABLES: [&str; 6] = [
    "approvals",
    "incidents",
    "knowledge_entries",
    "healing_operations",
    "alert_fingerprints",
    "safety_records",
];

const T0: Timestamp = Timestamp::from_unix_micros(1_800_000_000_123_456);

/// Writes one row of every tenant table for `tenant` through the store.
async fn populate(store: &PgStore, tenant: &hale_domain::TenantId, tag: &str) {
    let approval = fixtures::approval(tenant, &format!("apr-{tag}"), T0);
    let event = fixtures::timeline_event(tenant, &format!("ev-{tag}"), T0);
    store.create_approval(&approval, &event).await.unwrap();
    let op = fixtures::operation(tenant, &format!("op-{tag}"), T0);
    let audit = fixtures::audit_entry(tenant, &format!("au-{tag}"), T0);
    store.create_operation(&op, &audit).await.unwrap();
    store
        .create_incident(&fixtures::incident(tenant, &format!("INC-{tag}"), T0))
        .await
        .unwrap();
    store
        .create_knowledge(&fixtures::knowledge_entry(tenant, &format!("kb-{tag}"), T0))
        .await
        .unwrap();
    store
        .converge(
            tenant,
            &fixtures::delivery("HighErrorRate", "checkout", AlertStatus::Firing, T0),
        )
        .await
        .unwrap();
    store
        .update_safety(
            &SafetyScope::Tenant(tenant.clone()),
            Ledgers::None,
            &mut |_| {
                vec![(
                    hale_domain::safety::SafetyKey::Dormancy,
                    hale_domain::safety::SafetyValue::Dormancy(
                        hale_domain::dormancy::Dormancy::default(),
                    ),
                )]
            },
        )
        .await
        .unwrap();
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn set_tenant(conn: &mut PgConnection, tenant: &str) {
    sqlx::query("SELECT set_config('hale.tenant', $1, true)")
        .bind(tenant)
        .execute(conn)
        .await
        .unwrap();
}

async fn rows_affected(conn: &mut PgConnection, sql: &str) -> u64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .rows_affected()
}

async fn sqlstate(conn: &mut PgConnection, sql: &str) -> String {
    match sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
    {
        Ok(done) => panic!(
            "{sql} must fail, but it affected {} rows",
            done.rows_affected()
        ),
        Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()).unwrap_or_default(),
        Err(e) => panic!("{sql}: unexpected error {e}"),
    }
}

#[tokio::test]
async fn tenant_a_cannot_read_update_or_delete_tenant_b_rows() {
    let Some((store, db)) = common::test_store("tenant_a_cannot_read_tenant_b").await else {
        return;
    };
    let (a, b) = (fixtures::tenant("tenant-a"), fixtures::tenant("tenant-b"));
    populate(&store, &a, "a").await;
    populate(&store, &b, "b").await;

    // Through the store: B's ids read as absent for A, and A's writes cannot
    // reach B's rows.
    let b_approval = fixtures::approval(&b, "apr-b", T0);
    assert_eq!(store.get_approval(&a, &b_approval.id).await.unwrap(), None);
    let listed = store
        .list_approvals(&a, &ApprovalFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].tenant, a);
    let mut forged = b_approval.clone();
    forged.tenant = a.clone();
    forged.description = "forged by tenant a".into();
    assert!(matches!(
        store.update_approval(&forged, None).await,
        Err(hale_engine::ports::StoreError::NotFound(_))
    ));

    // Raw SQL as the application role, with hale.tenant = A.
    let mut conn = db.app().await;
    let mut tx = conn.begin().await.unwrap();
    set_tenant(&mut tx, "tenant-a").await;
    for table in TENANT_TABLES {
        assert_eq!(
            count(
                &mut tx,
                &format!("SELECT count(*) FROM {table} WHERE tenant = 'tenant-b'")
            )
            .await,
            0,
            "{table}: tenant A reads tenant B's rows"
        );
        assert_eq!(
            count(&mut tx, &format!("SELECT count(*) FROM {table}")).await,
            1,
            "{table}: tenant A sees exactly its own row"
        );
    }
    for table in MUTABLE_TABLES {
        let col = if table == "safety_records" {
            "version"
        } else {
            "tenant"
        };
        let set = if table == "safety_records" {
            format!("{col} = {col}")
        } else {
            format!("{col} = tenant")
        };
        assert_eq!(
            rows_affected(
                &mut tx,
                &format!("UPDATE {table} SET {set} WHERE tenant = 'tenant-b'")
            )
            .await,
            0,
            "{table}: tenant A updated tenant B's rows"
        );
        assert_eq!(
            rows_affected(
                &mut tx,
                &format!("DELETE FROM {table} WHERE tenant = 'tenant-b'")
            )
            .await,
            0,
            "{table}: tenant A deleted tenant B's rows"
        );
    }
    // A's own row is updatable (the privilege exists; RLS is what limits it).
    assert_eq!(
        rows_affected(&mut tx, "UPDATE approvals SET description = 'mine'").await,
        1
    );
    tx.rollback().await.unwrap();

    // Writing a row for B, or moving A's row to B, fails the WITH CHECK.
    for sql in [
        "INSERT INTO safety_records (tenant, kind, name, version, body) VALUES ('tenant-b', 'dormancy', '', 1, '{}')",
        "UPDATE approvals SET tenant = 'tenant-b' WHERE tenant = 'tenant-a'",
    ] {
        let mut tx = conn.begin().await.unwrap();
        set_tenant(&mut tx, "tenant-a").await;
        assert_eq!(sqlstate(&mut tx, sql).await, "42501", "{sql}");
        tx.rollback().await.unwrap();
    }

    // B's rows are untouched.
    let b_now = store
        .get_approval(&b, &b_approval.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b_now, b_approval);
    assert_eq!(
        store
            .list_audit(&b, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_timeline(&b, &Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn a_connection_without_a_tenant_sees_nothing() {
    let Some((store, db)) = common::test_store("a_connection_without_a_tenant_sees_nothing").await
    else {
        return;
    };
    let t = fixtures::tenant("tenant-a");
    populate(&store, &t, "a").await;

    // The rows exist (the superuser is not subject to row-level security).
    let mut admin = db.raw(&db.admin_url).await;
    for table in TENANT_TABLES {
        assert_eq!(
            count(&mut admin, &format!("SELECT count(*) FROM {table}")).await,
            1
        );
    }

    let mut app = db.app().await;
    // Never set on this session: current_setting(..., true) is NULL.
    for table in TENANT_TABLES {
        assert_eq!(
            count(&mut app, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}: visible with no tenant set"
        );
    }
    // Set in a finished transaction: the setting now reads as ''.
    let mut tx = app.begin().await.unwrap();
    set_tenant(&mut tx, "tenant-a").await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM approvals").await, 1);
    tx.commit().await.unwrap();
    for table in TENANT_TABLES {
        assert_eq!(
            count(&mut app, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}: visible after the tenant's transaction ended"
        );
    }
    // Explicitly empty: still nothing, and no write gets through.
    sqlx::query("SELECT set_config('hale.tenant', '', false)")
        .execute(&mut app)
        .await
        .unwrap();
    assert_eq!(count(&mut app, "SELECT count(*) FROM approvals").await, 0);
    assert_eq!(
        rows_affected(&mut app, "UPDATE approvals SET description = 'x'").await,
        0
    );
    assert_eq!(rows_affected(&mut app, "DELETE FROM incidents").await, 0);
    assert_eq!(
        sqlstate(
            &mut app,
            "INSERT INTO safety_records (tenant, kind, name, version, body) VALUES ('tenant-a', 'dormancy', '', 1, '{}')"
        )
        .await,
        "42501"
    );

    // FORCE: even the owner (the migration role) sees nothing without a tenant.
    let mut migrator = db.raw(&db.migrator_url).await;
    assert_eq!(
        count(&mut migrator, "SELECT count(*) FROM approvals").await,
        0
    );
}

#[tokio::test]
async fn the_app_role_cannot_bypass_or_disable_row_level_security() {
    let Some(db) = common::test_db("the_app_role_cannot_bypass_row_level_security").await else {
        return;
    };
    let mut app = db.app().await;
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut app)
            .await
            .unwrap();
    assert!(
        !superuser && !bypass,
        "hale_app must be neither superuser nor BYPASSRLS"
    );
    for table in TENANT_TABLES {
        let (owner, enabled, forced): (String, bool, bool) = sqlx::query_as(
            "SELECT pg_get_userbyid(relowner)::text, relrowsecurity, relforcerowsecurity \
             FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind(table)
        .fetch_one(&mut app)
        .await
        .unwrap();
        assert_eq!(owner, "hale_migrator", "{table} owner");
        assert!(enabled && forced, "{table}: RLS must be enabled and forced");
    }
    // Not the owner: cannot switch it off or drop the policy.
    assert_eq!(
        sqlstate(&mut app, "ALTER TABLE approvals DISABLE ROW LEVEL SECURITY").await,
        "42501"
    );
    assert_eq!(
        sqlstate(&mut app, "DROP POLICY tenant_isolation ON approvals").await,
        "42501"
    );
    // row_security = off makes queries that RLS would filter fail instead.
    sqlx::query("SET row_security = off")
        .execute(&mut app)
        .await
        .unwrap();
    assert_eq!(sqlstate(&mut app, "SELECT * FROM approvals").await, "42501");
}

#[tokio::test]
async fn audit_log_and_timeline_are_append_only_for_the_app() {
    let Some((store, db)) = common::test_store("audit_log_and_timeline_are_append_only").await
    else {
        return;
    };
    let t = fixtures::tenant("tenant-a");
    populate(&store, &t, "a").await;
    let mut app = db.app().await;
    for sql in [
        "UPDATE audit_log SET success = NOT success",
        "DELETE FROM audit_log",
        "UPDATE timeline_events SET title = 'rewritten'",
        "DELETE FROM timeline_events",
        "TRUNCATE audit_log",
    ] {
        let mut tx = app.begin().await.unwrap();
        set_tenant(&mut tx, "tenant-a").await;
        assert_eq!(sqlstate(&mut tx, sql).await, "42501", "{sql}");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn platform_safety_records_are_not_tenant_data() {
    let Some((store, db)) = common::test_store("platform_safety_records_are_not_tenant_data").await
    else {
        return;
    };
    let mut switches = hale_domain::kill_switch::GlobalSwitches::default();
    switches.features.insert(
        hale_domain::kill_switch::Feature::Execution,
        hale_domain::kill_switch::Switch::Off,
    );
    let value = hale_domain::safety::SafetyValue::GlobalSwitches(switches);
    let written = value.clone();
    store
        .update_safety(&SafetyScope::Platform, Ledgers::None, &mut move |_| {
            vec![(hale_domain::safety::SafetyKey::Switches, written.clone())]
        })
        .await
        .unwrap();
    let read = store
        .safety_records(&SafetyScope::Platform, 0)
        .await
        .unwrap();
    assert_eq!(read.records[0].value, value);
    // Readable with no tenant; PUBLIC has no access.
    let mut app = db.app().await;
    assert_eq!(
        count(&mut app, "SELECT count(*) FROM platform_safety_records").await,
        1
    );
    for table in ["platform_safety_records", "safety_epochs", "safety_records"] {
        let public: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT has_table_privilege('public', '{table}', 'SELECT')"
        )))
        .fetch_one(&mut app)
        .await
        .unwrap();
        assert!(!public, "{table}");
    }
    // Only the platform's kinds can be stored there.
    assert_eq!(
        sqlstate(
            &mut app,
            "INSERT INTO platform_safety_records (kind, name, version, body) VALUES ('ledger', 'x', 1, '{}')"
        )
        .await,
        "23514"
    );
}
