//! Versioned migrations (`migrations/*.sql`, embedded at build time).
//!
//! Migrations run as the migration role, which owns the schema; the
//! application role cannot run them (it owns nothing). `hale migrate` and
//! [`PgStore::connect`](crate::PgStore::connect) with
//! [`PgStoreConfig::migrate_url`](crate::PgStoreConfig::migrate_url) call
//! [`migrate`]. sqlx records applied versions in `_sqlx_migrations` in the
//! same schema and takes an advisory lock, so concurrent replicas starting
//! together apply each migration once.

use std::time::Duration;

use hale_engine::ports::StoreError;
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

use crate::config::{PgStoreConfig, redact};
use crate::error;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Index builds on a large table can take a while; migrations get a longer
/// statement timeout than requests.
const MIGRATION_STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies pending migrations to `schema` (or the role's default search
/// path) as the role in `url`, which must own the schema. Returns the
/// schema version afterwards.
///
/// `Invalid` if the schema does not exist, the roles are missing (see
/// [`role_setup_sql`](crate::role_setup_sql)), or the database was migrated
/// by a newer build; `Unavailable` if Postgres cannot be reached.
pub async fn migrate(url: &str, schema: Option<&str>) -> Result<i64, StoreError> {
    let mut config = PgStoreConfig::new(url);
    config.schema = schema.map(str::to_owned);
    config.statement_timeout = MIGRATION_STATEMENT_TIMEOUT;
    migrate_with(&config, url).await
}

/// Applies migrations with `config`'s session settings, connecting to `url`.
pub(crate) async fn migrate_with(config: &PgStoreConfig, url: &str) -> Result<i64, StoreError> {
    let opts = config.connect_options(url)?;
    let mut conn = tokio::time::timeout(config.connect_timeout, PgConnection::connect_with(&opts))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "connecting to {} timed out after {:?}",
                redact(url),
                config.connect_timeout
            ))
        })?
        .map_err(error::db)?;
    if let Some(schema) = &config.schema {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut conn)
                .await
                .map_err(error::db)?;
        if !exists {
            return Err(StoreError::Invalid(format!(
                "schema {schema} does not exist; create it with the roles (hale_postgres::role_setup_sql)"
            )));
        }
    }
    MIGRATOR.run(&mut conn).await.map_err(error::migration)?;
    let version = applied_version(&mut conn).await?;
    tracing::info!(version, "postgres schema migrated");
    // Closing is best effort: the work is committed.
    let _ = conn.close().await;
    Ok(version)
}

/// The newest successfully applied migration, 0 if none.
pub(crate) async fn applied_version(conn: &mut PgConnection) -> Result<i64, StoreError> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(error::db)?;
    if table.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .map_err(error::db)
}
