//! `IncidentStore` (durable from the first alert).

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::notification::Notice;
use hale_domain::record::incident::Incident;
use hale_domain::{IncidentId, TenantId};
use hale_engine::ports::{IncidentFilter, IncidentStore, Page, StoreError};

use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::error;
use crate::outbox::carry;
use crate::store::{SqliteStore, Table, commit, from_doc, next_revision, push_time_range, to_doc};

const T: Table = Table::INCIDENTS;

/// The query for a fingerprint's newest open incident.
fn open_for(tenant: &TenantId, fingerprint: &Fingerprint) -> QueryBuilder<Sqlite> {
    let mut qb = T.list(tenant);
    qb.push(" AND fingerprint = ")
        .push_bind(fingerprint.as_str().to_owned())
        .push(" AND status IN ('investigating', 'mitigating', 'escalated')")
        .push(" ORDER BY created_at DESC, id DESC LIMIT 1");
    qb
}

/// A fingerprint's newest open incident, read in `tx`.
pub(crate) async fn open_incident_in(
    tx: &mut Transaction<'static, Sqlite>,
    tenant: &TenantId,
    fingerprint: &Fingerprint,
) -> Result<Option<Incident>, StoreError> {
    let mut qb = open_for(tenant, fingerprint);
    let doc: Option<String> = qb
        .build_query_scalar()
        .fetch_optional(&mut **tx)
        .await
        .map_err(error::db)?;
    doc.map(|d| from_doc(T, &d)).transpose()
}

/// Inserts an incident and the notice it carries, in `tx`.
pub(crate) async fn insert_incident(
    tx: &mut Transaction<'static, Sqlite>,
    incident: &Incident,
) -> Result<(), StoreError> {
    let doc = to_doc(incident)?;
    T.insert(tx, &incident.tenant, incident.id.as_str(), doc)
        .await?;
    carry(tx, Notice::for_incident(incident)).await?;
    Ok(())
}

/// Replaces an incident still at `incident.revision`, with the notice it
/// carries, in `tx`; returns the new revision.
pub(crate) async fn replace_incident(
    tx: &mut Transaction<'static, Sqlite>,
    incident: &Incident,
) -> Result<u64, StoreError> {
    let next = next_revision(incident.revision)?;
    let doc = to_doc(&Incident {
        revision: next,
        ..incident.clone()
    })?;
    let (tenant, id) = (&incident.tenant, incident.id.as_str());
    T.replace(tx, tenant, id, doc, Some(incident.revision))
        .await?;
    carry(tx, Notice::for_incident(incident)).await?;
    Ok(next)
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn create_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_incident(&mut tx, incident).await?;
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
        Ok(self
            .all(T, open_for(tenant, fingerprint))
            .await?
            .into_iter()
            .next())
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
        let mut tx = self.write().await?;
        let next = replace_incident(&mut tx, incident).await?;
        commit(tx).await?;
        Ok(next)
    }
}
