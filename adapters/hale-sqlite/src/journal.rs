//! The append-only logs: `AuditLog` and `TimelineStore`. The store never
//! updates or deletes their rows.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::timeline::TimelineEvent;
use hale_engine::ports::{AuditFilter, AuditLog, Page, StoreError, TimelineFilter, TimelineStore};

use sqlx::{Sqlite, Transaction};

use crate::outbox::carry;
use crate::store::{SqliteStore, Table, commit, push_time_range, to_doc};

/// Appends an audit entry and the notice it carries, in `tx`.
pub(crate) async fn insert_audit(
    tx: &mut Transaction<'static, Sqlite>,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let doc = to_doc(entry)?;
    Table::AUDIT
        .insert(tx, &entry.tenant, &entry.id, doc)
        .await?;
    carry(tx, Notice::for_audit(entry)).await?;
    Ok(())
}

/// Appends a timeline event, in `tx`.
pub(crate) async fn insert_timeline(
    tx: &mut Transaction<'static, Sqlite>,
    event: &TimelineEvent,
) -> Result<(), StoreError> {
    Table::TIMELINE
        .insert(tx, &event.tenant, &event.id, to_doc(event)?)
        .await
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_audit(&mut tx, entry).await?;
        commit(tx).await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let mut qb = Table::AUDIT.list(tenant);
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
        if let Some(s) = filter.source_system {
            qb.push(" AND source_system = ").push_bind(s.as_str());
        }
        if let Some(c) = filter.authorization_channel {
            qb.push(" AND authorization_channel = ")
                .push_bind(c.as_str());
        }
        if let Some(ok) = filter.success {
            qb.push(" AND success = ").push_bind(ok);
        }
        push_time_range(&mut qb, "created_at", filter.since, filter.until)?;
        self.page(Table::AUDIT, qb, "created_at DESC, id DESC", filter.page)
            .await
    }
}

#[async_trait]
impl TimelineStore for SqliteStore {
    async fn append_timeline_audited(
        &self,
        event: &TimelineEvent,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        self.insert_one(Table::TIMELINE, &event.tenant, &event.id, event, audit)
            .await
    }

    async fn list_timeline(
        &self,
        tenant: &TenantId,
        filter: &TimelineFilter,
    ) -> Result<Page<TimelineEvent>, StoreError> {
        let mut qb = Table::TIMELINE.list(tenant);
        if let Some(id) = &filter.incident_id {
            qb.push(" AND incident_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.operation_id {
            qb.push(" AND operation_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(id) = &filter.approval_id {
            qb.push(" AND approval_id = ")
                .push_bind(id.as_str().to_owned());
        }
        if let Some(t) = filter.event_type {
            qb.push(" AND event_type = ").push_bind(t.as_str());
        }
        push_time_range(&mut qb, "created_at", filter.since, filter.until)?;
        self.page(Table::TIMELINE, qb, "created_at DESC, id DESC", filter.page)
            .await
    }
}
