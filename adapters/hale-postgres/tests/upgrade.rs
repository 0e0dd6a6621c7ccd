//! Upgrading a database written before the safety records existed: migration
//! 0004 turns the old whole-state snapshots (`tenant_state`,
//! `platform_state`) into version-1 records, so a switch an operator set
//! off, a latched breaker or a failure streak survives the upgrade.

mod common;

use hale_domain::safety::{PlatformSafety, SafetySettings, TenantSafety};
use hale_engine::ports::{SafetyScope, SafetyStore};
use hale_postgres::{PgStore, PgStoreConfig, RoleSetup};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn old_state_snapshots_become_safety_records() {
    let Some(admin_url) = hale_testkit::services::database_url("postgres upgrade") else {
        return;
    };
    let schema = format!("hale_t_{}", uuid::Uuid::new_v4().simple());
    hale_postgres::setup_roles(
        &admin_url,
        &RoleSetup {
            schema: Some(schema.clone()),
            migrator_password: Some(common::MIGRATOR_PASSWORD.into()),
            app_password: Some(common::APP_PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    let migrator_url = common::with_user(&admin_url, "hale_migrator", common::MIGRATOR_PASSWORD);
    // The schema as the previous release left it: migrations 1 to 3.
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in [
        (
            "0001_tables.sql",
            include_str!("../migrations/0001_tables.sql"),
        ),
        (
            "0002_row_level_security.sql",
            include_str!("../migrations/0002_row_level_security.sql"),
        ),
        (
            "0003_grants.sql",
            include_str!("../migrations/0003_grants.sql"),
        ),
    ] {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    let old = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let mut conn = PgConnection::connect(&migrator_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    old.run(&mut conn).await.unwrap();
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
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('hale.tenant', 'upgraded', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tenant_state (tenant, snapshot, saved_at) VALUES ('upgraded', $1, now())",
    )
    .bind(&tenant_doc)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let platform_doc = serde_json::json!({
        "switches": {"features": {"auto_healing": "off"}},
        "dormancy": {"max_consecutive_failures": 10, "consecutive_failures": 0, "dormant": null, "last_resume": null},
        "saved_at": "2027-01-15T08:00:00.000000Z"
    });
    sqlx::query(
        "INSERT INTO platform_state (id, snapshot, saved_at) VALUES ('platform', $1, now())",
    )
    .bind(&platform_doc)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // The upgrade, then the store as the app role.
    hale_postgres::migrate(&migrator_url, Some(&schema))
        .await
        .unwrap();
    let app_url = common::with_user(&admin_url, "hale_app", common::APP_PASSWORD);
    let store = PgStore::connect(&PgStoreConfig::new(app_url).with_schema(schema))
        .await
        .unwrap();
    let t = hale_domain::TenantId::new("upgraded").unwrap();
    let recs = store
        .safety_records(&SafetyScope::Tenant(t), 0)
        .await
        .unwrap();
    assert_eq!(recs.epoch, 1);
    let settings = SafetySettings {
        dormancy_threshold: 10,
        backoff: hale_domain::backoff::BackoffPolicy::default(),
        jitter_seed: 1,
        switches: hale_domain::kill_switch::TenantSwitches::default(),
        permanent_open_threshold: 10,
    };
    let safety = TenantSafety::from_records(&settings, recs.values()).unwrap();
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
    let p = PlatformSafety::from_records(10, platform.values());
    assert!(
        !p.switches
            .is_on(hale_domain::kill_switch::Feature::AutoHealing),
        "the global stop survives the upgrade"
    );
}
