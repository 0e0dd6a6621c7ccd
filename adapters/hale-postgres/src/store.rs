//! The store type, its pool, and the transaction every port method runs in.

use std::future::Future;
use std::time::Duration;

use hale_domain::convergence::Fingerprint;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{Page, PageRequest, StoreError};
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::codec::ts;
use crate::config::{PgStoreConfig, redact};
use crate::error;
use crate::migrate;

/// Every Hale store port on Postgres.
///
/// Each port method runs in one transaction that first sets `hale.tenant`
/// (transaction-local), so row-level security confines it to that tenant
/// even if a query forgot its `WHERE tenant = ...`. `Ok` is returned only
/// after `COMMIT` succeeded.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    operation_timeout: Duration,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool_size", &self.pool.size())
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, applies migrations if `config.migrate_url` is set, and
    /// checks that the schema is at the version this build needs.
    ///
    /// `Unavailable` if Postgres cannot be reached within
    /// `config.connect_timeout`; `Invalid` if the login is a superuser or
    /// has BYPASSRLS (row-level security would not apply), if the schema
    /// is behind (run `hale migrate`) or the configuration is malformed.
    pub async fn connect(config: &PgStoreConfig) -> Result<PgStore, StoreError> {
        if let Some(url) = &config.migrate_url {
            migrate::migrate_with(config, url).await?;
        }
        let opts = config.connect_options(&config.url)?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .connect_lazy_with(opts);
        let store = PgStore {
            pool,
            operation_timeout: config.operation_timeout,
        };
        let version = tokio::time::timeout(config.connect_timeout, async {
            let mut conn = store.pool.acquire().await.map_err(error::db)?;
            crate::roles::refuse_privileged_login(&mut conn).await?;
            migrate::applied_version(&mut conn).await
        })
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "connecting to {} timed out after {:?}",
                redact(&config.url),
                config.connect_timeout
            ))
        })??;
        let needed = migrate::latest_version();
        if version < needed {
            return Err(StoreError::Invalid(format!(
                "the postgres schema is at version {version} but this build needs {needed}; run `hale migrate`"
            )));
        }
        Ok(store)
    }

    /// The pool, for reads that need no transaction (platform data only).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool; later calls answer `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `op` with the operation timeout; a timeout is `Unavailable`.
    pub(crate) async fn timed<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.operation_timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "postgres did not answer within {:?}",
                self.operation_timeout
            ))),
        }
    }

    /// Begins a transaction scoped to `tenant` by row-level security.
    ///
    /// `BEGIN` and the `set_config` go to the server as one simple-protocol
    /// message, so every store call costs three round trips instead of
    /// four (the statement and `COMMIT` are the others). The tenant is
    /// written into that message as a literal, which is safe because a
    /// [`TenantId`] is `[a-z0-9_-]` only; anything else takes the bound
    /// two-message path.
    pub(crate) async fn begin(
        &self,
        tenant: &TenantId,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        if let Some(sql) = begin_for_tenant_sql(tenant.as_str()) {
            return self
                .pool
                .begin_with(sqlx::AssertSqlSafe(sql))
                .await
                .map_err(error::db);
        }
        let mut tx = self.pool.begin().await.map_err(error::db)?;
        sqlx::query("SELECT set_config('hale.tenant', $1, true)")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(error::db)?;
        Ok(tx)
    }

    /// One optional row, read in a transaction of its own.
    pub(crate) async fn fetch_optional<T>(
        &self,
        tenant: &TenantId,
        query: PgQuery<'_>,
        from_row: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let row = query.fetch_optional(&mut *tx).await.map_err(error::db)?;
            commit(tx).await?;
            row.as_ref().map(from_row).transpose()
        })
        .await
    }

    /// Every row of a query, read in a transaction of its own.
    pub(crate) async fn fetch_all<T>(
        &self,
        tenant: &TenantId,
        query: PgQuery<'_>,
        from_row: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let rows = query.fetch_all(&mut *tx).await.map_err(error::db)?;
            commit(tx).await?;
            rows.iter().map(from_row).collect()
        })
        .await
    }

    /// One page of a list query (see [`list_query`]), ordered by `order_by`.
    pub(crate) async fn fetch_page<T>(
        &self,
        tenant: &TenantId,
        mut qb: QueryBuilder<Postgres>,
        order_by: &'static str,
        page: PageRequest,
        from_row: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let (offset, limit) = page_bounds(page)?;
        qb.push(" ORDER BY ")
            .push(order_by)
            .push(" LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let rows = qb.build().fetch_all(&mut *tx).await.map_err(error::db)?;
            commit(tx).await?;
            let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(items, page))
        })
        .await
    }

    /// Runs one statement in a transaction of its own; returns the rows it
    /// affected.
    pub(crate) async fn execute(
        &self,
        tenant: &TenantId,
        query: PgQuery<'_>,
    ) -> Result<u64, StoreError> {
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let done = query.execute(&mut *tx).await.map_err(error::db)?;
            commit(tx).await?;
            Ok(done.rows_affected())
        })
        .await
    }

    /// Begins a transaction with no tenant (platform state only).
    pub(crate) async fn begin_platform(
        &self,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(error::db)
    }
}

/// `BEGIN; SELECT set_config('hale.tenant', '<tenant>', true)`, when the
/// tenant is made only of characters that need no quoting.
fn begin_for_tenant_sql(tenant: &str) -> Option<String> {
    let plain = !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    plain.then(|| format!("BEGIN; SELECT set_config('hale.tenant', '{tenant}', true)"))
}

/// Commits, mapping the error.
pub(crate) async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(error::db)
}

/// Rejects a record whose tenant differs from the one the call is for.
pub(crate) fn same_tenant(
    expected: &TenantId,
    actual: &TenantId,
    what: &str,
) -> Result<(), StoreError> {
    if expected == actual {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} belongs to tenant {actual}, not {expected}"
        )))
    }
}

/// `OFFSET` and `LIMIT + 1` for a page (the extra row signals more).
fn page_bounds(page: PageRequest) -> Result<(i64, i64), StoreError> {
    let offset = i64::try_from(page.offset)
        .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
    Ok((offset, i64::from(page.clamped_limit()) + 1))
}

/// After a compare-and-set updated no row: `Conflict` if the row exists
/// (stale revision), else `NotFound`.
async fn cas_miss(
    tx: &mut Transaction<'static, Postgres>,
    table: &'static str,
    tenant: &TenantId,
    id: &str,
) -> StoreError {
    // The table name is one of ours, never input.
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE tenant = $1 AND id = $2)");
    let exists = sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_one(&mut **tx)
        .await;
    match exists {
        Ok(true) => StoreError::Conflict(format!("{table} {id}: stale revision")),
        Ok(false) => StoreError::NotFound(format!("{table} {id}")),
        Err(e) => error::db(e),
    }
}

/// A statement with its arguments bound.
pub(crate) type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// `select` (a `SELECT ... FROM table`) restricted to `tenant`, ready for
/// more `AND` conditions and then [`PgStore::fetch_page`].
pub(crate) fn list_query(select: &'static str, tenant: &TenantId) -> QueryBuilder<Postgres> {
    let mut qb = QueryBuilder::new(select);
    qb.push(" WHERE tenant = ")
        .push_bind(tenant.as_str().to_owned());
    qb
}

/// The rows of `sql` (`$1` the tenant, `$2` an array of fingerprints), read
/// in `tx`; no fingerprints ask nothing.
pub(crate) async fn fetch_for_fingerprints<T>(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    tenant: &TenantId,
    fingerprints: &[&Fingerprint],
    from_row: fn(&PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    if fingerprints.is_empty() {
        return Ok(Vec::new());
    }
    let fps: Vec<String> = fingerprints.iter().map(|f| f.as_str().to_owned()).collect();
    let rows = sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(fps)
        .fetch_all(&mut **tx)
        .await
        .map_err(error::db)?;
    rows.iter().map(from_row).collect()
}

/// Runs a revision compare-and-set statement in `tx`: `Conflict` if the row
/// exists at another revision, `NotFound` if it does not exist.
pub(crate) async fn cas_update(
    tx: &mut Transaction<'static, Postgres>,
    query: PgQuery<'_>,
    table: &'static str,
    tenant: &TenantId,
    id: &str,
) -> Result<(), StoreError> {
    let done = query.execute(&mut **tx).await.map_err(error::db)?;
    if done.rows_affected() == 0 {
        return Err(cas_miss(tx, table, tenant, id).await);
    }
    Ok(())
}

/// Appends `AND col >= since AND col < until` for the bounds given.
pub(crate) fn push_time_range(
    qb: &mut QueryBuilder<Postgres>,
    col: &'static str,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<(), StoreError> {
    if let Some(since) = since {
        qb.push(" AND ")
            .push(col)
            .push(" >= ")
            .push_bind(ts(since)?);
    }
    if let Some(until) = until {
        qb.push(" AND ").push(col).push(" < ").push_bind(ts(until)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::begin_for_tenant_sql;

    #[test]
    fn only_plain_tenant_ids_are_written_into_the_begin_statement() {
        assert_eq!(
            begin_for_tenant_sql("shop-eu_1").as_deref(),
            Some("BEGIN; SELECT set_config('hale.tenant', 'shop-eu_1', true)")
        );
        for odd in ["", "a'b", "Shop", "a b", "a;b", "a\\b"] {
            assert_eq!(begin_for_tenant_sql(odd), None, "{odd:?}");
        }
    }
}
