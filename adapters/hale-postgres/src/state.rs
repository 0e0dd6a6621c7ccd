//! The shared safety state (`safety_records`, `platform_safety_records`,
//! `safety_epochs`) and readiness.
//!
//! An update holds its scope's epoch row `FOR UPDATE` from its first read
//! to its commit, so updates of one scope run one after another and none is
//! lost; a tenant update also holds the platform's row `FOR SHARE`, so the
//! platform records it decided on cannot change under it (platform updates
//! take the platform row only, so the lock order cannot cycle).
//!
//! The audit entries and notices that record a change are written in the
//! same transaction ([`write_trail`]). Row-level security admits the rows of
//! the `hale.tenant` the transaction set, so a platform update that records
//! a global act in every tenant's log sets each entry's tenant in turn
//! (transaction-local, like every `hale.tenant` the store sets).

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};
use hale_engine::ports::{
    AuditedSafetyUpdate, Ledgers, SafetyChange, SafetyRecord, SafetyRecords, SafetyScope,
    SafetyStore, SafetyTrail, SafetyUpdated, SafetyView, StoreError, StoreHealth,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row, Transaction};

use crate::audit::insert_audit;
use crate::codec::{Cols, int, json};
use crate::error;
use crate::outbox::{carry, scope as outbox_scope};
use crate::store::{PgStore, commit};

/// The scope column of `safety_epochs`: `*` for the platform.
fn scope_key(scope: &SafetyScope) -> &str {
    match scope {
        SafetyScope::Platform => "*",
        SafetyScope::Tenant(t) => t.as_str(),
    }
}

fn record(row: &PgRow) -> Result<Option<SafetyRecord>, StoreError> {
    let c = Cols::new(row, "safety_records");
    let (kind, name) = (c.text("kind")?, c.text("name")?);
    // A kind this version does not know (written by a newer one) is left
    // alone rather than misread.
    let Some(key) = SafetyKey::from_stored(&kind, &name) else {
        return Ok(None);
    };
    let value: SafetyValue = c.json("body")?;
    Ok(Some(SafetyRecord {
        key,
        version: c.u64("version")?,
        value,
    }))
}

async fn epoch_of(
    conn: &mut PgConnection,
    scope: &str,
    lock: &str,
) -> Result<Option<u64>, StoreError> {
    let sql = format!("SELECT epoch FROM safety_epochs WHERE scope = $1 {lock}");
    let epoch: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(scope)
        .fetch_optional(&mut *conn)
        .await
        .map_err(error::db)?;
    Ok(epoch.map(|e| u64::try_from(e).unwrap_or(0)))
}

/// The scope's records written after `since` that `ledgers` selects.
async fn records(
    conn: &mut PgConnection,
    scope: &SafetyScope,
    since: u64,
    ledgers: Ledgers<'_>,
) -> Result<Vec<SafetyRecord>, StoreError> {
    let since = int("since", since)?;
    let rows = match scope {
        SafetyScope::Platform => sqlx::query(
            "SELECT kind, name, version, body FROM platform_safety_records WHERE version > $1",
        )
        .bind(since)
        .fetch_all(&mut *conn)
        .await
        .map_err(error::db)?,
        SafetyScope::Tenant(t) => {
            let (all, only): (bool, Vec<String>) = match ledgers {
                Ledgers::None => (false, Vec::new()),
                Ledgers::Only(keys) => {
                    (false, keys.iter().map(|k| k.as_str().to_owned()).collect())
                }
                Ledgers::All => (true, Vec::new()),
            };
            sqlx::query(
                "SELECT kind, name, version, body FROM safety_records \
                 WHERE tenant = $1 AND version > $2 \
                   AND (kind <> 'ledger' OR $3 OR name = ANY($4))",
            )
            .bind(t.as_str())
            .bind(since)
            .bind(all)
            .bind(&only)
            .fetch_all(&mut *conn)
            .await
            .map_err(error::db)?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(r) = record(row)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Writes a change's audit entries (each with its notice) and notices in
/// the change's transaction, switching `hale.tenant` to each row's owner
/// (`*` for a platform notice) when it is not the one set.
async fn write_trail(
    tx: &mut Transaction<'static, Postgres>,
    scope: &SafetyScope,
    trail: SafetyTrail,
) -> Result<(), StoreError> {
    let mut set = match scope {
        SafetyScope::Platform => None,
        SafetyScope::Tenant(t) => Some(t.as_str().to_owned()),
    };
    for entry in &trail.audit {
        be_tenant(tx, &mut set, entry.tenant.as_str()).await?;
        insert_audit(tx, entry).await?;
    }
    for notice in trail.notices {
        let owner = outbox_scope(notice.tenant.as_ref()).to_owned();
        be_tenant(tx, &mut set, &owner).await?;
        carry(tx, Some(notice)).await?;
    }
    Ok(())
}

/// Sets `hale.tenant` to `want` for the rest of the transaction, unless it
/// is set to it already.
async fn be_tenant(
    tx: &mut Transaction<'static, Postgres>,
    set: &mut Option<String>,
    want: &str,
) -> Result<(), StoreError> {
    if set.as_deref() == Some(want) {
        return Ok(());
    }
    sqlx::query("SELECT set_config('hale.tenant', $1, true)")
        .bind(want)
        .execute(&mut **tx)
        .await
        .map_err(error::db)?;
    *set = Some(want.to_owned());
    Ok(())
}

impl PgStore {
    async fn begin_scope(
        &self,
        scope: &SafetyScope,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        match scope {
            SafetyScope::Platform => self.begin_platform().await,
            SafetyScope::Tenant(t) => self.begin(t).await,
        }
    }
}

#[async_trait]
impl SafetyStore for PgStore {
    async fn safety_epochs(&self) -> Result<Vec<(SafetyScope, u64)>, StoreError> {
        self.timed(async {
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
        })
        .await
    }

    async fn safety_records(
        &self,
        scope: &SafetyScope,
        since: u64,
    ) -> Result<SafetyRecords, StoreError> {
        self.timed(async {
            let mut tx = self.begin_scope(scope).await?;
            let epoch = epoch_of(&mut tx, scope_key(scope), "").await?.unwrap_or(0);
            let records = records(&mut tx, scope, since, Ledgers::All).await?;
            commit(tx).await?;
            Ok(SafetyRecords { epoch, records })
        })
        .await
    }

    async fn update_safety_audited(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: AuditedSafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError> {
        self.timed(async {
            let key = scope_key(scope);
            let mut tx = self.begin_scope(scope).await?;
            sqlx::query(
                "INSERT INTO safety_epochs (scope, epoch) VALUES ($1, 0) \
                 ON CONFLICT (scope) DO NOTHING",
            )
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(error::db)?;
            let epoch = epoch_of(&mut tx, key, "FOR UPDATE").await?.unwrap_or(0);
            let platform_epoch = match scope {
                SafetyScope::Platform => epoch,
                SafetyScope::Tenant(_) => epoch_of(&mut tx, "*", "FOR SHARE").await?.unwrap_or(0),
            };
            let platform = SafetyRecords {
                epoch: platform_epoch,
                records: records(&mut tx, &SafetyScope::Platform, 0, Ledgers::None).await?,
            };
            let tenant = match scope {
                SafetyScope::Platform => None,
                SafetyScope::Tenant(_) => Some(SafetyRecords {
                    epoch,
                    records: records(&mut tx, scope, 0, ledgers).await?,
                }),
            };
            let SafetyChange {
                records: writes,
                trail,
            } = update(SafetyView {
                platform: &platform,
                tenant: tenant.as_ref(),
            });
            trail.fits(scope)?;
            let mut written = Vec::with_capacity(writes.len());
            let mut now = epoch;
            if !writes.is_empty() {
                now = epoch + 1;
                let version = int("epoch", now)?;
                sqlx::query("UPDATE safety_epochs SET epoch = $2 WHERE scope = $1")
                    .bind(key)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(error::db)?;
                let mut kinds = Vec::with_capacity(writes.len());
                let mut names = Vec::with_capacity(writes.len());
                let mut bodies = Vec::with_capacity(writes.len());
                for (k, v) in &writes {
                    kinds.push(k.kind().to_owned());
                    names.push(k.name().to_owned());
                    bodies.push(json(v)?);
                }
                let q = match scope {
                    SafetyScope::Platform => sqlx::query(
                        "INSERT INTO platform_safety_records (kind, name, version, body) \
                         SELECT k, n, $1, b FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS u(k, n, b) \
                         ON CONFLICT (kind, name) DO UPDATE \
                         SET version = excluded.version, body = excluded.body",
                    ),
                    SafetyScope::Tenant(_) => sqlx::query(
                        "INSERT INTO safety_records (tenant, kind, name, version, body) \
                         SELECT $5, k, n, $1, b FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS u(k, n, b) \
                         ON CONFLICT (tenant, kind, name) DO UPDATE \
                         SET version = excluded.version, body = excluded.body",
                    ),
                };
                let q = q.bind(version).bind(&kinds).bind(&names).bind(&bodies);
                let q = match scope {
                    SafetyScope::Platform => q,
                    SafetyScope::Tenant(t) => q.bind(t.as_str()),
                };
                q.execute(&mut *tx).await.map_err(error::db)?;
                written = writes
                    .into_iter()
                    .map(|(key, value)| SafetyRecord {
                        key,
                        version: now,
                        value,
                    })
                    .collect();
            }
            write_trail(&mut tx, scope, trail).await?;
            commit(tx).await?;
            Ok(SafetyUpdated {
                platform,
                tenant: tenant.unwrap_or_default(),
                written,
                epoch: now,
            })
        })
        .await
    }

    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(LedgerKey, u64)],
    ) -> Result<Vec<LedgerKey>, StoreError> {
        if spent.is_empty() {
            return Ok(Vec::new());
        }
        let mut names = Vec::with_capacity(spent.len());
        let mut versions = Vec::with_capacity(spent.len());
        for (key, version) in spent {
            names.push(key.as_str().to_owned());
            versions.push(int("version", *version)?);
        }
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            // Hold the tenant's epoch row as an update does, so a prune and
            // an update of the tenant run one after the other (the version
            // condition alone would do; the lock keeps the argument short).
            if epoch_of(&mut tx, tenant.as_str(), "FOR UPDATE")
                .await?
                .is_none()
            {
                commit(tx).await?;
                return Ok(Vec::new());
            }
            let deleted: Vec<String> = sqlx::query_scalar(
                "DELETE FROM safety_records AS r \
                 USING unnest($2::text[], $3::bigint[]) AS u(name, version) \
                 WHERE r.tenant = $1 AND r.kind = 'ledger' \
                   AND r.name = u.name AND r.version = u.version \
                 RETURNING r.name",
            )
            .bind(tenant.as_str())
            .bind(&names)
            .bind(&versions)
            .fetch_all(&mut *tx)
            .await
            .map_err(error::db)?;
            commit(tx).await?;
            Ok(deleted.into_iter().map(LedgerKey::from_stored).collect())
        })
        .await
    }
}

#[async_trait]
impl StoreHealth for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin_platform().await?;
            sqlx::query("SELECT 1")
                .execute(&mut *tx)
                .await
                .map_err(error::db)?;
            commit(tx).await
        })
        .await
    }
}
