//! `IntakeStore`: a delivery's convergence and its open incident in one
//! transaction; what its evaluation recorded in another.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::Delivery;
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use crate::audit::insert_audit;
use crate::fingerprints::converge_in;
use crate::incidents::{insert_incident, open_incident_in, replace_incident};
use crate::store::{PgStore, commit};
use crate::timeline::insert_timeline;

#[async_trait]
impl IntakeStore for PgStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<Converged, StoreError> {
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let record = converge_in(&mut tx, tenant, delivery).await?;
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
        })
        .await
    }

    async fn commit_intake(
        &self,
        tenant: &TenantId,
        write: &IntakeWrite,
    ) -> Result<Option<u64>, StoreError> {
        write.check_tenant(tenant)?;
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
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
        })
        .await
    }
}
