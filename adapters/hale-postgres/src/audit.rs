//! `AuditLog` on the append-only `audit_log` table (the application role
//! has no UPDATE or DELETE on it).

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_engine::ports::{AuditFilter, AuditLog, Page, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Transaction};

use crate::codec::{Cols, int_opt, json_opt, ts, wire, wire_opt};
use crate::error;
use crate::outbox::carry;
use crate::store::{PgStore, commit, list_query, push_time_range};

macro_rules! columns {
    () => {
        "tenant, id, operation_type, target_resource, success, reason, error_message, response, \
         executed_by, execution_duration_ms, dry_run_passed, dry_run_message, \
         authorization_channel, source_system, retry_count, failure_classification, \
         approval_id, source_approval_id, operation_id, incident_id, auto_repair_attempted, \
         auto_repair_result, created_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO audit_log (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22, $23)"
);

fn from_row(row: &PgRow) -> Result<AuditEntry, StoreError> {
    let c = Cols::new(row, "audit_log");
    Ok(AuditEntry {
        id: c.text("id")?,
        tenant: c.parse("tenant")?,
        operation_type: c.text("operation_type")?,
        target_resource: c.text("target_resource")?,
        success: c.bool("success")?,
        reason: c.text_opt("reason")?,
        error_message: c.text_opt("error_message")?,
        response: c.json_opt("response")?,
        executed_by: c.parse("executed_by")?,
        execution_duration_ms: c.u64_opt("execution_duration_ms")?,
        dry_run_passed: c.bool("dry_run_passed")?,
        dry_run_message: c.text_opt("dry_run_message")?,
        authorization_channel: c.parse("authorization_channel")?,
        source_system: c.parse("source_system")?,
        retry_count: c.u32("retry_count")?,
        failure_classification: c.parse_opt("failure_classification")?,
        approval_id: c.parse_opt("approval_id")?,
        source_approval_id: c.parse_opt("source_approval_id")?,
        operation_id: c.parse_opt("operation_id")?,
        incident_id: c.parse_opt("incident_id")?,
        auto_repair_attempted: c.bool("auto_repair_attempted")?,
        auto_repair_result: c.text_opt("auto_repair_result")?,
        created_at: c.ts("created_at")?,
    })
}

/// Inserts an entry inside the caller's transaction (used on its own and
/// together with operation writes), with the notice it carries.
pub(crate) async fn insert_audit(
    tx: &mut Transaction<'static, Postgres>,
    e: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(e.tenant.as_str())
        .bind(e.id.as_str())
        .bind(e.operation_type.as_str())
        .bind(e.target_resource.as_str())
        .bind(e.success)
        .bind(e.reason.as_deref())
        .bind(e.error_message.as_deref())
        .bind(json_opt(e.response.as_ref())?)
        .bind(e.executed_by.as_str())
        .bind(int_opt("execution_duration_ms", e.execution_duration_ms)?)
        .bind(e.dry_run_passed)
        .bind(e.dry_run_message.as_deref())
        .bind(wire(&e.authorization_channel)?)
        .bind(wire(&e.source_system)?)
        .bind(i64::from(e.retry_count))
        .bind(wire_opt(e.failure_classification.as_ref())?)
        .bind(e.approval_id.as_ref().map(|a| a.as_str()))
        .bind(e.source_approval_id.as_ref().map(|a| a.as_str()))
        .bind(e.operation_id.as_ref().map(|o| o.as_str()))
        .bind(e.incident_id.as_ref().map(|i| i.as_str()))
        .bind(e.auto_repair_attempted)
        .bind(e.auto_repair_result.as_deref())
        .bind(ts(e.created_at)?)
        .execute(&mut **tx)
        .await
        .map_err(error::db)?;
    carry(tx, Notice::for_audit(e)).await?;
    Ok(())
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin(&entry.tenant).await?;
            insert_audit(&mut tx, entry).await?;
            commit(tx).await
        })
        .await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let mut qb = list_query(concat!("SELECT ", columns!(), " FROM audit_log"), tenant);
        if let Some(t) = &filter.operation_type {
            qb.push(" AND operation_type = ").push_bind(t.clone());
        }
        if let Some(id) = &filter.operation_id {
            qb.push(" AND operation_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.approval_id {
            qb.push(" AND approval_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.incident_id {
            qb.push(" AND incident_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(s) = &filter.source_system {
            qb.push(" AND source_system = ").push_bind(wire(s)?);
        }
        if let Some(c) = &filter.authorization_channel {
            qb.push(" AND authorization_channel = ").push_bind(wire(c)?);
        }
        if let Some(ok) = filter.success {
            qb.push(" AND success = ").push_bind(ok);
        }
        push_time_range(&mut qb, "created_at", filter.since, filter.until)?;
        self.fetch_page(
            tenant,
            qb,
            "created_at DESC, id DESC",
            filter.page,
            from_row,
        )
        .await
    }
}
