//! `IntakeStore`: a delivery's convergence and its open incident under one
//! write lock; what its evaluation recorded under another.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{Delivery, FingerprintRecord, converge};
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use crate::incidents::{insert_incident, open_incident_in, replace_incident};
use crate::journal::{insert_audit, insert_timeline};
use crate::store::{SqliteStore, Table, commit, to_doc};

#[async_trait]
impl IntakeStore for SqliteStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<Converged, StoreError> {
        let t = Table::FINGERPRINTS;
        let key = delivery.fingerprint.as_str();
        let mut tx = self.write().await?;
        let before: Option<FingerprintRecord> = t.get_in(&mut tx, tenant, key).await?;
        let record = converge(before.as_ref(), delivery);
        t.upsert(&mut tx, tenant, key, to_doc(&record)?).await?;
        let open_incident = if record.verdict().concerns_incident() {
            open_incident_in(&mut tx, tenant, &record.fingerprint).await?
        } else {
            None
        };
        commit(tx).await?;
        Ok(Converged {
            record,
            open_incident,
        })
    }

    async fn commit_intake(
        &self,
        tenant: &TenantId,
        write: &IntakeWrite,
    ) -> Result<Option<u64>, StoreError> {
        write.check_tenant(tenant)?;
        let mut tx = self.write().await?;
        let revision = match &write.incident {
            Some(IncidentWrite::Create(i)) => {
                insert_incident(&mut tx, i).await?;
                Some(i.revision)
            }
            Some(IncidentWrite::Update(i)) => Some(replace_incident(&mut tx, i).await?),
            None => None,
        };
        for e in &write.timeline {
            insert_timeline(&mut tx, e).await?;
        }
        for a in &write.audit {
            insert_audit(&mut tx, a).await?;
        }
        commit(tx).await?;
        Ok(revision)
    }
}
