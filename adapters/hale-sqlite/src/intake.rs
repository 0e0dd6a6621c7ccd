//! `IntakeStore`: a delivery's convergence and the open incidents it
//! concerns under one write lock; what its evaluations recorded under
//! another.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{Delivery, FingerprintRecord, converge};
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use crate::incidents::{insert_incident, open_incident_in, replace_incident};
use crate::journal::{insert_audit, insert_timeline};
use crate::operations::pending_effectiveness_in;
use crate::store::{SqliteStore, Table, commit, to_doc};

#[async_trait]
impl IntakeStore for SqliteStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        deliveries: &[Delivery],
    ) -> Result<Vec<Converged>, StoreError> {
        let t = Table::FINGERPRINTS;
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let key = delivery.fingerprint.as_str();
            let before: Option<FingerprintRecord> = t.get_in(&mut tx, tenant, key).await?;
            let record = converge(before.as_ref(), delivery);
            t.upsert(&mut tx, tenant, key, to_doc(&record)?).await?;
            let open_incident = if record.verdict().concerns_incident() {
                open_incident_in(&mut tx, tenant, &record.fingerprint).await?
            } else {
                None
            };
            let pending_effectiveness = if record.verdict().observes_effectiveness() {
                pending_effectiveness_in(&mut tx, tenant, &record.fingerprint).await?
            } else {
                Vec::new()
            };
            out.push(Converged {
                record,
                open_incident,
                pending_effectiveness,
            });
        }
        commit(tx).await?;
        Ok(out)
    }

    async fn commit_intake(
        &self,
        tenant: &TenantId,
        writes: &[IntakeWrite],
    ) -> Result<Vec<Option<u64>>, StoreError> {
        for w in writes {
            w.check_tenant(tenant)?;
        }
        let mut tx = self.write().await?;
        let mut revisions = Vec::with_capacity(writes.len());
        for write in writes {
            revisions.push(match &write.incident {
                Some(IncidentWrite::Create(i)) => {
                    insert_incident(&mut tx, i).await?;
                    Some(i.revision)
                }
                Some(IncidentWrite::Update(i)) => Some(replace_incident(&mut tx, i).await?),
                None => None,
            });
            for e in &write.timeline {
                insert_timeline(&mut tx, e).await?;
            }
            for a in &write.audit {
                insert_audit(&mut tx, a).await?;
            }
        }
        commit(tx).await?;
        Ok(revisions)
    }
}
