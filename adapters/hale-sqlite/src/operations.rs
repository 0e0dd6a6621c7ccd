//! `OperationStore`; every write commits together with its audit entry. The
//! action log is the `actions_run` array inside the operation's document.

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::effectiveness::{Effectiveness, EffectivenessTally};
use hale_domain::healing::HealingOperation;
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::{OperationId, StrategyId, TenantId};
use hale_engine::ports::{
    HealingCounters, OperationFilter, OperationStore, Page, StoreError, caused_by,
};

use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::error;
use crate::outbox::carry;
use crate::store::{
    SqliteStore, Table, commit, from_doc, next_revision, push_time_range, same_tenant, to_doc,
};

const T: Table = Table::OPERATIONS;

/// Operations waiting for an effectiveness verdict (of one alert, when
/// given), oldest completion first.
fn pending_query(tenant: &TenantId, fingerprint: Option<&Fingerprint>) -> QueryBuilder<Sqlite> {
    let mut qb = T.list(tenant);
    qb.push(" AND doc ->> '$.effectiveness' = 'pending'");
    if let Some(f) = fingerprint {
        qb.push(" AND fingerprint = ")
            .push_bind(f.as_str().to_owned());
    }
    qb.push(" ORDER BY completed_at ASC, id ASC");
    qb
}

/// One alert's operations waiting for an effectiveness verdict, read in
/// `tx`.
pub(crate) async fn pending_effectiveness_in(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &TenantId,
    fingerprint: &Fingerprint,
) -> Result<Vec<HealingOperation>, StoreError> {
    let docs: Vec<String> = pending_query(tenant, Some(fingerprint))
        .build_query_scalar()
        .fetch_all(&mut **tx)
        .await
        .map_err(error::db)?;
    docs.iter().map(|d| from_doc(T, d)).collect()
}

#[async_trait]
impl OperationStore for SqliteStore {
    async fn create_operation(
        &self,
        op: &HealingOperation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        same_tenant(&op.tenant, &audit.tenant, "the audit entry")?;
        let (doc, audit_doc) = (to_doc(op)?, to_doc(audit)?);
        let mut tx = self.write().await?;
        T.insert(&mut tx, &op.tenant, op.id.as_str(), doc).await?;
        Table::AUDIT
            .insert(&mut tx, &audit.tenant, &audit.id, audit_doc)
            .await?;
        carry(&mut tx, Notice::for_audit(audit)).await?;
        commit(tx).await
    }

    async fn get_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<HealingOperation>, StoreError> {
        self.get(T, tenant, id.as_str()).await
    }

    async fn list_operations(
        &self,
        tenant: &TenantId,
        filter: &OperationFilter,
    ) -> Result<Page<HealingOperation>, StoreError> {
        let mut qb = T.list(tenant);
        if let Some(state) = filter.state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(s) = &filter.strategy_id {
            qb.push(" AND strategy_id = ")
                .push_bind(s.as_str().to_owned());
        }
        if let Some(r) = &filter.resource {
            qb.push(" AND resource = ").push_bind(r.key());
        }
        push_time_range(&mut qb, "started_at", filter.since, filter.until)?;
        self.page(T, qb, "started_at DESC, id DESC", filter.page)
            .await
    }

    async fn update_operation(
        &self,
        op: &HealingOperation,
        audit: &[AuditEntry],
    ) -> Result<u64, StoreError> {
        caused_by(&op.tenant, audit)?;
        let next = next_revision(op.revision)?;
        let doc = to_doc(&HealingOperation {
            revision: next,
            ..op.clone()
        })?;
        let audit_docs = audit.iter().map(to_doc).collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.write().await?;
        T.replace(&mut tx, &op.tenant, op.id.as_str(), doc, Some(op.revision))
            .await?;
        for (audit, audit_doc) in audit.iter().zip(audit_docs) {
            Table::AUDIT
                .insert(&mut tx, &audit.tenant, &audit.id, audit_doc)
                .await?;
            carry(&mut tx, Notice::for_audit(audit)).await?;
        }
        commit(tx).await?;
        Ok(next)
    }

    async fn operation_counts(&self, tenant: &TenantId) -> Result<HealingCounters, StoreError> {
        let rows = sqlx::query(
            "SELECT state, count(*) AS n FROM healing_operations WHERE tenant = ?1 GROUP BY state",
        )
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(crate::error::db)?;
        let mut c = HealingCounters::default();
        for row in &rows {
            use sqlx::Row;
            let state: String = row.try_get("state").map_err(crate::error::db)?;
            let n: i64 = row.try_get("n").map_err(crate::error::db)?;
            let n = u64::try_from(n).unwrap_or(0);
            c.total_attempts += n;
            match state.as_str() {
                "COMPLETED" => c.successful_healings += n,
                "FAILED" => c.failed_healings += n,
                _ => {}
            }
        }
        Ok(c)
    }

    async fn effectiveness_tally(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(StrategyId, EffectivenessTally)>, StoreError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT strategy_id, doc ->> '$.effectiveness' AS verdict, count(*) AS n \
             FROM healing_operations WHERE tenant = ?1 AND doc ->> '$.effectiveness' IS NOT NULL \
             GROUP BY strategy_id, verdict ORDER BY strategy_id",
        )
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(crate::error::db)?;
        let mut counted = Vec::with_capacity(rows.len());
        for row in &rows {
            let strategy: String = row.try_get("strategy_id").map_err(crate::error::db)?;
            let verdict: String = row.try_get("verdict").map_err(crate::error::db)?;
            let n: i64 = row.try_get("n").map_err(crate::error::db)?;
            let verdict: Effectiveness = verdict.parse().map_err(|e: String| {
                StoreError::Invalid(format!("stored healing_operations.effectiveness: {e}"))
            })?;
            counted.push((
                StrategyId::new(strategy),
                verdict,
                u64::try_from(n).unwrap_or(0),
            ));
        }
        Ok(EffectivenessTally::by_key(counted))
    }

    async fn unfinished_operations(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        let mut qb = T.list(tenant);
        qb.push(" AND state NOT IN ('COMPLETED', 'FAILED', 'INTERRUPTED')")
            .push(" ORDER BY started_at ASC, id ASC");
        self.all(T, qb).await
    }

    async fn pending_effectiveness(
        &self,
        tenant: &TenantId,
        fingerprint: Option<&Fingerprint>,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        self.all(T, pending_query(tenant, fingerprint)).await
    }
}
