//! `ApprovalStore`; decisions commit together with their timeline event.

use async_trait::async_trait;
use hale_domain::approval::{ApprovalRequest, ApprovalStatus};
use hale_domain::notification::Notice;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{ApprovalId, ResourceRef, TenantId, Timestamp};
use hale_engine::ports::{ApprovalFilter, ApprovalStore, Page, StoreError};

use crate::outbox::carry;
use crate::store::{SqliteStore, Table, commit, next_revision, same_tenant, to_doc, ts_text};

const T: Table = Table::APPROVALS;

#[async_trait]
impl ApprovalStore for SqliteStore {
    async fn create_approval(
        &self,
        approval: &ApprovalRequest,
        event: &TimelineEvent,
    ) -> Result<(), StoreError> {
        same_tenant(&approval.tenant, &event.tenant, "the timeline event")?;
        let (doc, event_doc) = (to_doc(approval)?, to_doc(event)?);
        let mut tx = self.write().await?;
        T.insert(&mut tx, &approval.tenant, approval.id.as_str(), doc)
            .await?;
        Table::TIMELINE
            .insert(&mut tx, &event.tenant, &event.id, event_doc)
            .await?;
        carry(&mut tx, Notice::for_approval(approval, true)).await?;
        commit(tx).await
    }

    async fn get_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        self.get(T, tenant, id.as_str()).await
    }

    async fn list_approvals(
        &self,
        tenant: &TenantId,
        filter: &ApprovalFilter,
    ) -> Result<Page<ApprovalRequest>, StoreError> {
        let mut qb = T.list(tenant);
        if let Some(status) = filter.status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(resource) = &filter.resource {
            qb.push(" AND resource = ").push_bind(resource.key());
        }
        self.page(T, qb, "created_at DESC, id DESC", filter.page)
            .await
    }

    async fn pending_approval_for(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let mut qb = T.list(tenant);
        qb.push(" AND status = 'pending' AND resource = ")
            .push_bind(resource.key())
            .push(" ORDER BY created_at ASC, id ASC LIMIT 1");
        Ok(self.all(T, qb).await?.into_iter().next())
    }

    async fn update_approval(
        &self,
        approval: &ApprovalRequest,
        event: Option<&TimelineEvent>,
    ) -> Result<u64, StoreError> {
        if let Some(event) = event {
            same_tenant(&approval.tenant, &event.tenant, "the timeline event")?;
        }
        let next = next_revision(approval.revision)?;
        let doc = to_doc(&ApprovalRequest {
            revision: next,
            ..approval.clone()
        })?;
        let event_doc = event.map(to_doc).transpose()?;
        let mut tx = self.write().await?;
        T.replace(
            &mut tx,
            &approval.tenant,
            approval.id.as_str(),
            doc,
            Some(approval.revision),
        )
        .await?;
        if let (Some(event), Some(event_doc)) = (event, event_doc) {
            Table::TIMELINE
                .insert(&mut tx, &event.tenant, &event.id, event_doc)
                .await?;
        }
        carry(&mut tx, Notice::for_approval(approval, false)).await?;
        commit(tx).await?;
        Ok(next)
    }

    async fn approvals_due_for_expiry(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        let mut qb = T.list(tenant);
        qb.push(" AND status = ")
            .push_bind(ApprovalStatus::Pending.as_str())
            .push(" AND expires_at <= ")
            .push_bind(ts_text(now)?)
            .push(" ORDER BY expires_at ASC, created_at ASC, id ASC LIMIT ")
            .push_bind(i64::from(limit));
        self.all(T, qb).await
    }
}
