//! A private schema per test on the Postgres of `HALE_TEST_DATABASE_URL`.
//!
//! The URL is a superuser's. Each call creates the two roles (idempotent),
//! a fresh schema `hale_t_<uuid>` owned by `hale_migrator`, runs the
//! migrations as `hale_migrator`, and connects the store as `hale_app`, so
//! every test runs under the production privilege split and row-level
//! security. Schemas are left behind for inspection; the services script
//! throws the whole cluster away.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use hale_postgres::{PgStore, PgStoreConfig, RoleSetup};
use sqlx::{Connection, PgConnection};

/// Passwords matching `scripts/services.sh` (loopback trust auth ignores them).
pub(crate) const MIGRATOR_PASSWORD: &str = "hale_migrator";
pub(crate) const APP_PASSWORD: &str = "hale_app";

/// A migrated private schema and the URLs to reach it as each role.
#[derive(Debug, Clone)]
pub(crate) struct TestDb {
    pub(crate) admin_url: String,
    pub(crate) migrator_url: String,
    pub(crate) app_url: String,
    pub(crate) schema: String,
}

impl TestDb {
    /// The store config for the app role in this schema.
    pub(crate) fn config(&self) -> PgStoreConfig {
        PgStoreConfig::new(self.app_url.clone()).with_schema(self.schema.clone())
    }

    /// A raw connection as `user` (`app_url`/`migrator_url`/`admin_url`)
    /// with the schema on its search path.
    pub(crate) async fn raw(&self, url: &str) -> PgConnection {
        let mut conn = PgConnection::connect(url).await.expect("raw connection");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET search_path TO {}",
            self.schema
        )))
        .execute(&mut conn)
        .await
        .expect("set search_path");
        conn
    }

    /// A raw connection as the application role.
    pub(crate) async fn app(&self) -> PgConnection {
        self.raw(&self.app_url).await
    }
}

/// `url` with its user and password replaced.
pub(crate) fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A fresh migrated schema, or `None` (skip) without a database.
pub(crate) async fn test_db(test: &str) -> Option<TestDb> {
    let admin_url = hale_testkit::services::database_url(test)?;
    let schema = format!("hale_t_{}", uuid::Uuid::new_v4().simple());
    hale_postgres::setup_roles(
        &admin_url,
        &RoleSetup {
            schema: Some(schema.clone()),
            migrator_password: Some(MIGRATOR_PASSWORD.into()),
            app_password: Some(APP_PASSWORD.into()),
        },
    )
    .await
    .expect("role setup");
    let db = TestDb {
        migrator_url: with_user(&admin_url, "hale_migrator", MIGRATOR_PASSWORD),
        app_url: with_user(&admin_url, "hale_app", APP_PASSWORD),
        admin_url,
        schema,
    };
    hale_postgres::migrate(&db.migrator_url, Some(&db.schema))
        .await
        .expect("migrate");
    Some(db)
}

/// A store on a fresh schema, or `None` (skip) without a database.
pub(crate) async fn test_store(test: &str) -> Option<(Arc<PgStore>, TestDb)> {
    let db = test_db(test).await?;
    let store = PgStore::connect(&db.config()).await.expect("connect");
    Some((Arc::new(store), db))
}

/// Like [`test_store`] with a custom pool size and statement timeout.
pub(crate) async fn test_store_with(
    test: &str,
    max_connections: u32,
    statement_timeout: Duration,
) -> Option<(Arc<PgStore>, TestDb)> {
    let db = test_db(test).await?;
    let mut config = db.config();
    config.max_connections = max_connections;
    config.statement_timeout = statement_timeout;
    let store = PgStore::connect(&config).await.expect("connect");
    Some((Arc::new(store), db))
}
