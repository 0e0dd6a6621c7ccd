//! The store type, its pool, and the document helpers every port uses.
//!
//! Each table row is `(tenant, key, doc)` with `doc` the serde JSON of the
//! domain record; the schema derives every other column from it. So a write
//! serializes the record, a read deserializes it, and the store never maps
//! fields by hand. Writes run in `BEGIN IMMEDIATE` transactions, which take
//! SQLite's write lock up front: read-modify-write sequences (convergence,
//! claims, view counts) cannot interleave, and a busy database makes the
//! writer wait (up to the busy timeout) at `BEGIN` rather than fail later.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hale_domain::record::audit::AuditEntry;
use hale_domain::{TenantId, Timestamp};
use hale_engine::ports::{Page, PageRequest, StoreError, caused_by};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::config::SqliteStoreConfig;
use crate::error;
use crate::journal::insert_audit;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Every Hale store port on one SQLite file.
///
/// One process at a time: opening takes an exclusive lock on
/// `<file>.lock` for as long as any clone of the store lives, and a second
/// process (or a second open in this one) is refused with a message naming
/// the holder. SQLite is the single-server store; replicas run on Postgres
/// and Redis.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    _lock: Arc<ProcessLock>,
}

/// The exclusive lock on `<file>.lock` (released when the file is closed,
/// including by a crash).
#[derive(Debug)]
struct ProcessLock {
    _file: std::fs::File,
}

impl ProcessLock {
    fn take(db: &Path) -> Result<ProcessLock, StoreError> {
        use std::io::{Read, Seek, Write};
        let path = PathBuf::from(format!("{}.lock", db.display()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot open the lock file {}: {e}",
                    path.display()
                ))
            })?;
        match file.try_lock() {
            Ok(()) => {
                // Best effort: the pid only makes the refusal's message
                // more useful.
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = write!(file, "{}", std::process::id());
                Ok(ProcessLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_owned()
                } else {
                    format!("process {holder}")
                };
                Err(StoreError::Unavailable(format!(
                    "the database {} is in use by {who} (lock {}): SQLite serves one hale-server \
                     process; stop the other one, give this one its own data directory, or run \
                     replicas on Postgres and Redis",
                    db.display(),
                    path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Unavailable(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies pending migrations to the database file at `path` (creating it)
/// and returns the schema version. [`SqliteStore::open`] does this too; this
/// is for `hale migrate`.
pub async fn migrate(path: impl AsRef<Path>) -> Result<i64, StoreError> {
    let store = SqliteStore::open(path).await?;
    let version = store.applied_version().await?;
    store.close().await;
    Ok(version)
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` with the default
    /// settings and applies pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(&SqliteStoreConfig::new(path.as_ref())).await
    }

    /// Opens the database with `config` and applies pending migrations.
    /// `Invalid` if the file was migrated by a newer build; `Unavailable` if
    /// it cannot be opened or written.
    pub async fn open_with(config: &SqliteStoreConfig) -> Result<SqliteStore, StoreError> {
        let lock = Arc::new(ProcessLock::take(&config.path)?);
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .connect_with(config.connect_options())
            .await
            .map_err(|e| {
                let at = config.path.display();
                match error::db(e) {
                    StoreError::Invalid(m) | StoreError::Unavailable(m) => {
                        StoreError::Unavailable(format!("cannot open {at}: {m}"))
                    }
                    other => other,
                }
            })?;
        MIGRATOR.run(&pool).await.map_err(error::migration)?;
        let store = SqliteStore { pool, _lock: lock };
        tracing::debug!(
            path = %config.path.display(),
            version = store.applied_version().await?,
            "sqlite store open"
        );
        Ok(store)
    }

    /// Closes the pool (checkpointing the WAL); later calls answer
    /// `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn applied_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(error::db)
    }

    /// A write transaction holding SQLite's write lock.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(error::db)
    }

    /// Inserts one record with the audit entries it causes (each with the
    /// notice it carries) in a transaction of its own; `Conflict` if the
    /// key or an entry's id exists, `Invalid` if an entry is another
    /// tenant's: then nothing is written.
    pub(crate) async fn insert_one<T: Serialize>(
        &self,
        table: Table,
        tenant: &TenantId,
        key: &str,
        record: &T,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        caused_by(tenant, audit)?;
        let doc = to_doc(record)?;
        let mut tx = self.write().await?;
        table.insert(&mut tx, tenant, key, doc).await?;
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        commit(tx).await
    }

    /// The record keyed `(tenant, key)` in `table`, if any.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(table.select_one()))
            .bind(tenant.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(error::db)?;
        doc.map(|d| from_doc(table, &d)).transpose()
    }

    /// Every record a query of `doc`s returns.
    pub(crate) async fn all<T: DeserializeOwned>(
        &self,
        table: Table,
        mut qb: QueryBuilder<Sqlite>,
    ) -> Result<Vec<T>, StoreError> {
        let docs: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(error::db)?;
        docs.iter().map(|d| from_doc(table, d)).collect()
    }

    /// One page of a list query (see [`Table::list`]), ordered by `order_by`.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        table: Table,
        mut qb: QueryBuilder<Sqlite>,
        order_by: &'static str,
        page: PageRequest,
    ) -> Result<Page<T>, StoreError> {
        let offset = i64::try_from(page.offset)
            .map_err(|_| StoreError::Invalid(format!("offset {} is too large", page.offset)))?;
        qb.push(" ORDER BY ")
            .push(order_by)
            .push(" LIMIT ")
            .push_bind(i64::from(page.clamped_limit()) + 1)
            .push(" OFFSET ")
            .push_bind(offset);
        let items = self.all(table, qb).await?;
        Ok(Page::from_overfetch(items, page))
    }
}

/// A table and the name of its key column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) key: &'static str,
}

impl Table {
    pub(crate) const APPROVALS: Table = Table::by_id("approvals");
    pub(crate) const TIMELINE: Table = Table::by_id("timeline_events");
    pub(crate) const AUDIT: Table = Table::by_id("audit_log");
    pub(crate) const INCIDENTS: Table = Table::by_id("incidents");
    pub(crate) const KNOWLEDGE: Table = Table::by_id("knowledge_entries");
    pub(crate) const OPERATIONS: Table = Table::by_id("healing_operations");
    pub(crate) const FINGERPRINTS: Table = Table {
        name: "alert_fingerprints",
        key: "fingerprint",
    };

    const fn by_id(name: &'static str) -> Table {
        Table { name, key: "id" }
    }

    // The SQL below interpolates only these constant names, never input.

    fn select_one(self) -> String {
        format!(
            "SELECT doc FROM {} WHERE tenant = ?1 AND {} = ?2",
            self.name, self.key
        )
    }

    /// `SELECT doc FROM table WHERE tenant = ?`, ready for more `AND`s.
    pub(crate) fn list(self, tenant: &TenantId) -> QueryBuilder<Sqlite> {
        let mut qb = QueryBuilder::new(format!("SELECT doc FROM {} WHERE tenant = ", self.name));
        qb.push_bind(tenant.as_str().to_owned());
        qb
    }

    /// Inserts a record; `Conflict` if the key exists.
    pub(crate) async fn insert(
        self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: &TenantId,
        key: &str,
        doc: String,
    ) -> Result<(), StoreError> {
        self.write_doc(tx, tenant, key, doc, "").await
    }

    /// Inserts or replaces a record.
    pub(crate) async fn upsert(
        self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: &TenantId,
        key: &str,
        doc: String,
    ) -> Result<(), StoreError> {
        let on_conflict = format!(
            " ON CONFLICT (tenant, {}) DO UPDATE SET doc = excluded.doc",
            self.key
        );
        self.write_doc(tx, tenant, key, doc, &on_conflict).await
    }

    async fn write_doc(
        self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: &TenantId,
        key: &str,
        doc: String,
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {} (tenant, {}, doc) VALUES (?1, ?2, ?3){on_conflict}",
            self.name, self.key
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(key)
            .bind(doc)
            .execute(&mut **tx)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    /// Replaces a record. With `revision`, only if the stored one is at that
    /// revision: `Conflict` if it is not, `NotFound` if it does not exist.
    pub(crate) async fn replace(
        self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: &TenantId,
        key: &str,
        doc: String,
        revision: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut sql = format!(
            "UPDATE {} SET doc = ?3 WHERE tenant = ?1 AND {} = ?2",
            self.name, self.key
        );
        let mut query_revision = None;
        if let Some(r) = revision {
            query_revision = Some(i64::try_from(r).map_err(|_| too_large("revision", r))?);
            sql.push_str(" AND revision = ?4");
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(key)
            .bind(doc);
        if let Some(r) = query_revision {
            query = query.bind(r);
        }
        let done = query.execute(&mut **tx).await.map_err(error::db)?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let exists = sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE tenant = ?1 AND {} = ?2)",
            self.name, self.key
        )))
        .bind(tenant.as_str())
        .bind(key)
        .fetch_one(&mut **tx)
        .await
        .map_err(error::db)?;
        Err(if exists {
            StoreError::Conflict(format!("{} {key}: stale revision", self.name))
        } else {
            StoreError::NotFound(format!("{} {key}", self.name))
        })
    }

    /// The record keyed `(tenant, key)`, read inside a write transaction.
    pub(crate) async fn get_in<T: DeserializeOwned>(
        self,
        tx: &mut Transaction<'static, Sqlite>,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.select_one()))
            .bind(tenant.as_str())
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(error::db)?;
        doc.map(|d| from_doc(self, &d)).transpose()
    }
}

/// Commits, mapping the error.
pub(crate) async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    tx.commit().await.map_err(error::db)
}

/// A record as its JSON document.
pub(crate) fn to_doc<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|e| StoreError::Invalid(format!("cannot encode as JSON: {e}")))
}

/// A document read back as a record.
pub(crate) fn from_doc<T: DeserializeOwned>(table: Table, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc)
        .map_err(|e| StoreError::Invalid(format!("stored {} row cannot be read: {e}", table.name)))
}

/// A timestamp as the stored text. Only the fixed-width form (years
/// 0000-9999) sorts in time order, so bounds outside it are `Invalid`, as
/// the schema's CHECKs make stored values outside it.
pub(crate) fn ts_text(t: Timestamp) -> Result<String, StoreError> {
    let s = t.to_rfc3339();
    if s.len() == 27 && s.as_bytes()[0].is_ascii_digit() {
        Ok(s)
    } else {
        Err(StoreError::Invalid(format!(
            "timestamp {s} is outside the storable range (years 0000-9999)"
        )))
    }
}

/// Appends `AND col >= since AND col < until` for the bounds given.
pub(crate) fn push_time_range(
    qb: &mut QueryBuilder<Sqlite>,
    col: &'static str,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<(), StoreError> {
    if let Some(since) = since {
        qb.push(" AND ")
            .push(col)
            .push(" >= ")
            .push_bind(ts_text(since)?);
    }
    if let Some(until) = until {
        qb.push(" AND ")
            .push(col)
            .push(" < ")
            .push_bind(ts_text(until)?);
    }
    Ok(())
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

fn too_large(what: &str, v: u64) -> StoreError {
    StoreError::Invalid(format!("{what} {v} exceeds the largest storable value"))
}

/// `revision + 1`, refusing values the schema cannot hold.
pub(crate) fn next_revision(revision: u64) -> Result<u64, StoreError> {
    match revision.checked_add(1) {
        Some(r) if i64::try_from(r).is_ok() => Ok(r),
        _ => Err(too_large("revision", revision)),
    }
}
