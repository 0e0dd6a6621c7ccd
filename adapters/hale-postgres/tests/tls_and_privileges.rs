//! Transport security and least privilege against the real test Postgres,
//! which `scripts/services.sh` runs with `ssl = on` and a certificate from
//! its own throwaway CA (`HALE_TEST_DATABASE_TLS_URL`,
//! `HALE_TEST_TLS_CA_FILE`). Under `HALE_REQUIRE_SERVICES=1` a missing TLS
//! service fails these tests.
//!
//! * The store connects with `sslmode=verify-full` against the CA (rustls),
//!   and Postgres reports the session as TLS.
//! * `sslmode=require` encrypts without verifying (libpq's meaning), and
//!   `verify-full` against a CA the client does not know is refused.
//! * A superuser or BYPASSRLS login is refused at connect, naming the fix.

mod common;

use hale_engine::ports::{StoreError, StoreHealth};
use hale_postgres::{PgStore, PgStoreConfig};
use sqlx::{Connection, PgConnection};

/// The TLS URL as `user`, and the migrated test schema.
async fn tls_db(test: &str) -> Option<(common::TestDb, String)> {
    let tls = hale_testkit::services::database_tls_url(test)?;
    hale_testkit::services::tls_ca_file(test)?;
    let db = common::test_db(test).await?;
    Some((db, tls))
}

#[tokio::test]
async fn the_store_runs_over_verified_tls() {
    let Some((db, tls)) = tls_db("the_store_runs_over_verified_tls").await else {
        return;
    };
    assert!(tls.contains("sslmode=verify-full"), "{tls}");
    let app = common::with_user(&tls, "hale_app", common::APP_PASSWORD);
    let store = PgStore::connect(&PgStoreConfig::new(app.clone()).with_schema(db.schema.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect over TLS: {e}"));
    store.ping().await.unwrap();

    let mut conn = PgConnection::connect(&app).await.unwrap();
    let (ssl, version): (bool, Option<String>) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ssl, "the session is not encrypted");
    assert!(version.unwrap_or_default().starts_with("TLSv1."));
}

#[tokio::test]
async fn require_encrypts_and_verify_full_refuses_an_unknown_ca() {
    let Some((db, tls)) = tls_db("require_encrypts_and_verify_full_refuses_an_unknown_ca").await
    else {
        return;
    };
    let base = tls.split_once('?').map_or(tls.as_str(), |(b, _)| b);
    let app = common::with_user(base, "hale_app", common::APP_PASSWORD);

    let require = format!("{app}?sslmode=require");
    let mut conn = PgConnection::connect(&require).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(ssl);

    // The built-in roots do not include the test CA.
    let unknown = format!("{app}?sslmode=verify-full");
    let config = PgStoreConfig::new(unknown).with_schema(db.schema.clone());
    match PgStore::connect(&config).await {
        Err(StoreError::Unavailable(m) | StoreError::Invalid(m)) => {
            assert!(!m.contains(common::APP_PASSWORD), "{m}");
        }
        Ok(_) => panic!("verify-full accepted a certificate from an unknown CA"),
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn a_superuser_login_is_refused_naming_the_fix() {
    let Some(db) = common::test_db("a_superuser_login_is_refused_naming_the_fix").await else {
        return;
    };
    let config = PgStoreConfig::new(db.admin_url.clone()).with_schema(db.schema.clone());
    match PgStore::connect(&config).await {
        Err(StoreError::Invalid(m)) => {
            assert!(m.contains("is a superuser"), "{m}");
            assert!(m.contains("hale_app"), "{m}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bypassrls_login_is_refused_naming_the_fix() {
    let Some(db) = common::test_db("a_bypassrls_login_is_refused_naming_the_fix").await else {
        return;
    };
    let role = format!("{}_bypass", db.schema);
    let mut admin = PgConnection::connect(&db.admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} LOGIN NOSUPERUSER BYPASSRLS PASSWORD 'x'; GRANT hale_app TO {role};"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let url = common::with_user(&db.admin_url, &role, "x");
    match PgStore::connect(&PgStoreConfig::new(url).with_schema(db.schema.clone())).await {
        Err(StoreError::Invalid(m)) => {
            assert!(m.contains("has BYPASSRLS"), "{m}");
            assert!(
                m.contains(&format!("ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS")),
                "{m}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // The same login without the attribute is accepted.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER ROLE {role} NOBYPASSRLS"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let url = common::with_user(&db.admin_url, &role, "x");
    PgStore::connect(&PgStoreConfig::new(url).with_schema(db.schema.clone()))
        .await
        .unwrap();
}
