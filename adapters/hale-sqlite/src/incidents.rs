//! `IncidentStore` (durable from the first alert).

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::notification::Notice;
use hale_domain::record::incident::Incident;
use hale_domain::{IncidentId, TenantId};
use hale_engine::ports::{IncidentFilter, IncidentStore, Page, StoreError};

use crate::outbox::carry;
use crate::store::{SqliteStore, Table, commit, next_revision, push_time_range, to_doc};

const T: Table = Table::INCIDENTS;

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn create_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let doc = to_doc(incident)?;
        let mut tx = self.write().await?;
        T.insert(&mut tx, &incident.tenant, incident.id.as_str(), doc)
            .await?;
        carry(&mut tx, Notice::for_incident(incident)).await?;
        commit(tx).await
    }

    async fn get_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<Incident>, StoreError> {
        self.get(T, tenant, id.as_str()).await
    }

    async fn open_incident_for(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Incident>, StoreError> {
        let mut qb = T.list(tenant);
        qb.push(" AND fingerprint = ")
            .push_bind(fingerprint.as_str().to_owned())
            .push(" AND status IN ('investigating', 'mitigating', 'escalated')")
            .push(" ORDER BY created_at DESC, id DESC LIMIT 1");
        Ok(self.all(T, qb).await?.into_iter().next())
    }

    async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
    ) -> Result<Page<Incident>, StoreError> {
        let mut qb = T.list(tenant);
        if let Some(status) = filter.status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(severity) = filter.severity {
            qb.push(" AND severity = ").push_bind(severity.as_str());
        }
        push_time_range(&mut qb, "created_at", filter.since, filter.until)?;
        self.page(T, qb, "created_at DESC, id DESC", filter.page)
            .await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<u64, StoreError> {
        let next = next_revision(incident.revision)?;
        let doc = to_doc(&Incident {
            revision: next,
            ..incident.clone()
        })?;
        let mut tx = self.write().await?;
        let (tenant, id) = (&incident.tenant, incident.id.as_str());
        T.replace(&mut tx, tenant, id, doc, Some(incident.revision))
            .await?;
        carry(&mut tx, Notice::for_incident(incident)).await?;
        commit(tx).await?;
        Ok(next)
    }
}
