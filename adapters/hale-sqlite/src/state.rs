//! The shared safety state (`safety_records`, `safety_epochs`) and
//! readiness. An update runs in one `BEGIN IMMEDIATE` transaction: SQLite's
//! write lock holds every other writer off while the caller's update reads
//! the records and the store writes what it returns, with the audit entries
//! and notices that record the change.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};
use hale_engine::ports::{
    AuditedSafetyUpdate, Ledgers, SafetyChange, SafetyRecord, SafetyRecords, SafetyScope,
    SafetyStore, SafetyUpdated, SafetyView, StoreError, StoreHealth,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection};

use crate::error;
use crate::journal::insert_audit;
use crate::outbox::carry;
use crate::store::{SqliteStore, commit, to_doc};

/// The scope column: `*` for the platform, else the tenant id.
fn scope_key(scope: &SafetyScope) -> &str {
    match scope {
        SafetyScope::Platform => "*",
        SafetyScope::Tenant(t) => t.as_str(),
    }
}

fn record(row: &SqliteRow) -> Result<Option<SafetyRecord>, StoreError> {
    let kind: String = row.try_get("kind").map_err(error::db)?;
    let name: String = row.try_get("name").map_err(error::db)?;
    let version: i64 = row.try_get("version").map_err(error::db)?;
    let doc: String = row.try_get("doc").map_err(error::db)?;
    // A kind this version does not know (written by a newer one) is left
    // alone rather than misread.
    let Some(key) = SafetyKey::from_stored(&kind, &name) else {
        return Ok(None);
    };
    let value: SafetyValue = serde_json::from_str(&doc).map_err(|e| {
        StoreError::Invalid(format!("stored safety record {key} cannot be read: {e}"))
    })?;
    Ok(Some(SafetyRecord {
        key,
        version: u64::try_from(version).unwrap_or(0),
        value,
    }))
}

async fn epoch_of(conn: &mut SqliteConnection, scope: &str) -> Result<u64, StoreError> {
    let epoch: Option<i64> = sqlx::query_scalar("SELECT epoch FROM safety_epochs WHERE scope = ?1")
        .bind(scope)
        .fetch_optional(&mut *conn)
        .await
        .map_err(error::db)?;
    Ok(epoch.map_or(0, |e| u64::try_from(e).unwrap_or(0)))
}

async fn records(
    conn: &mut SqliteConnection,
    scope: &str,
    since: u64,
    ledgers: Ledgers<'_>,
) -> Result<SafetyRecords, StoreError> {
    let epoch = epoch_of(conn, scope).await?;
    let rows = sqlx::query::<Sqlite>(
        "SELECT kind, name, version, doc FROM safety_records \
         WHERE scope = ?1 AND version > ?2 ORDER BY kind, name",
    )
    .bind(scope)
    .bind(i64::try_from(since).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await
    .map_err(error::db)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(r) = record(row)? {
            let keep = match (&r.key, ledgers) {
                (SafetyKey::Ledger(_), Ledgers::None) => false,
                (SafetyKey::Ledger(k), Ledgers::Only(keys)) => keys.contains(k),
                _ => true,
            };
            if keep {
                out.push(r);
            }
        }
    }
    Ok(SafetyRecords {
        epoch,
        records: out,
    })
}

#[async_trait]
impl SafetyStore for SqliteStore {
    async fn safety_epochs(&self) -> Result<Vec<(SafetyScope, u64)>, StoreError> {
        let rows = sqlx::query("SELECT scope, epoch FROM safety_epochs")
            .fetch_all(self.pool())
            .await
            .map_err(error::db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let scope: String = row.try_get("scope").map_err(error::db)?;
            let epoch: i64 = row.try_get("epoch").map_err(error::db)?;
            let scope = if scope == "*" {
                SafetyScope::Platform
            } else {
                match TenantId::new(scope) {
                    Ok(t) => SafetyScope::Tenant(t),
                    Err(_) => continue,
                }
            };
            out.push((scope, u64::try_from(epoch).unwrap_or(0)));
        }
        Ok(out)
    }

    async fn safety_records(
        &self,
        scope: &SafetyScope,
        since: u64,
    ) -> Result<SafetyRecords, StoreError> {
        let mut conn = self.pool().acquire().await.map_err(error::db)?;
        records(&mut conn, scope_key(scope), since, Ledgers::All).await
    }

    async fn update_safety_audited(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: AuditedSafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError> {
        let mut tx = self.write().await?;
        let platform = records(&mut tx, "*", 0, Ledgers::None).await?;
        let tenant = match scope {
            SafetyScope::Platform => None,
            SafetyScope::Tenant(_) => Some(records(&mut tx, scope_key(scope), 0, ledgers).await?),
        };
        let SafetyChange {
            records: writes,
            trail,
        } = update(SafetyView {
            platform: &platform,
            tenant: tenant.as_ref(),
        });
        trail.fits(scope)?;
        let key = scope_key(scope);
        let mut epoch = match &tenant {
            Some(t) => t.epoch,
            None => platform.epoch,
        };
        let mut written = Vec::with_capacity(writes.len());
        if !writes.is_empty() {
            let next: i64 = sqlx::query_scalar(
                "INSERT INTO safety_epochs (scope, epoch) VALUES (?1, 1) \
                 ON CONFLICT (scope) DO UPDATE SET epoch = epoch + 1 RETURNING epoch",
            )
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(error::db)?;
            epoch = u64::try_from(next).unwrap_or(0);
            for (k, value) in writes {
                sqlx::query(
                    "INSERT INTO safety_records (scope, kind, name, version, doc) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (scope, kind, name) DO UPDATE \
                     SET version = excluded.version, doc = excluded.doc",
                )
                .bind(key)
                .bind(k.kind())
                .bind(k.name())
                .bind(next)
                .bind(to_doc(&value)?)
                .execute(&mut *tx)
                .await
                .map_err(error::db)?;
                written.push(SafetyRecord {
                    key: k,
                    version: epoch,
                    value,
                });
            }
        }
        // The change's audit entries and notices, in its transaction: a
        // failure here rolls the records back with them.
        for entry in &trail.audit {
            insert_audit(&mut tx, entry).await?;
        }
        for notice in trail.notices {
            carry(&mut tx, Some(notice)).await?;
        }
        commit(tx).await?;
        Ok(SafetyUpdated {
            platform,
            tenant: tenant.unwrap_or_default(),
            written,
            epoch,
        })
    }

    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(LedgerKey, u64)],
    ) -> Result<Vec<LedgerKey>, StoreError> {
        if spent.is_empty() {
            return Ok(Vec::new());
        }
        // One write transaction: no update of any scope runs meanwhile.
        let mut tx = self.write().await?;
        let mut deleted = Vec::new();
        for (key, version) in spent {
            let Ok(version) = i64::try_from(*version) else {
                continue;
            };
            let gone = sqlx::query(
                "DELETE FROM safety_records \
                 WHERE scope = ?1 AND kind = 'ledger' AND name = ?2 AND version = ?3",
            )
            .bind(tenant.as_str())
            .bind(key.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(error::db)?
            .rows_affected();
            if gone > 0 {
                deleted.push(key.clone());
            }
        }
        commit(tx).await?;
        Ok(deleted)
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.pool())
            .await
            .map_err(error::db)?;
        Ok(())
    }
}
