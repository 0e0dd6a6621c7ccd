//! `IntakeStore`: a delivery's convergence and the open incidents it
//! concerns in one transaction (two statements when its fingerprints are
//! distinct); what its evaluations recorded in another.

use std::collections::HashSet;

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{Delivery, FingerprintRecord};
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use crate::audit::insert_audit;
use crate::fingerprints::{converge_distinct_in, converge_in};
use crate::incidents::{insert_incident, open_incident_in, open_incidents_in, replace_incident};
use crate::operations::pending_effectiveness_in;
use crate::store::{PgStore, commit};
use crate::timeline::insert_timeline;

#[async_trait]
impl IntakeStore for PgStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        deliveries: &[Delivery],
    ) -> Result<Vec<Converged>, StoreError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let distinct = deliveries
            .iter()
            .map(|d| &d.fingerprint)
            .collect::<HashSet<_>>()
            .len()
            == deliveries.len();
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            let out: Vec<Converged> = if distinct {
                let records = converge_distinct_in(&mut tx, tenant, deliveries).await?;
                let wanted: Vec<_> = records
                    .iter()
                    .filter(|r| r.verdict().concerns_incident())
                    .map(|r| &r.fingerprint)
                    .collect();
                let mut open = open_incidents_in(&mut tx, tenant, &wanted).await?;
                let mut out = records
                    .into_iter()
                    .map(|record| {
                        let at = open.iter().position(|i| {
                            i.fingerprint == record.fingerprint
                                && record.verdict().concerns_incident()
                        });
                        Converged {
                            open_incident: at.map(|i| open.swap_remove(i)),
                            record,
                            pending_effectiveness: Vec::new(),
                        }
                    })
                    .collect::<Vec<_>>();
                // The operations each observation settles, in one read.
                let observed: Vec<_> = out
                    .iter()
                    .filter(|c| c.record.verdict().observes_effectiveness())
                    .map(|c| &c.record.fingerprint)
                    .collect();
                for op in pending_effectiveness_in(&mut tx, tenant, &observed).await? {
                    let of_alert = out.iter_mut().find(|c| {
                        c.record.verdict().observes_effectiveness()
                            && op.fingerprint.as_ref() == Some(&c.record.fingerprint)
                    });
                    if let Some(c) = of_alert {
                        c.pending_effectiveness.push(op);
                    }
                }
                out
            } else {
                // A fingerprint repeats: each delivery sees the one before.
                let mut out = Vec::with_capacity(deliveries.len());
                for d in deliveries {
                    let record: FingerprintRecord = converge_in(&mut tx, tenant, d).await?;
                    let open_incident = if record.verdict().concerns_incident() {
                        open_incident_in(&mut tx, tenant, &record.fingerprint).await?
                    } else {
                        None
                    };
                    let pending_effectiveness = if record.verdict().observes_effectiveness() {
                        pending_effectiveness_in(&mut tx, tenant, &[&record.fingerprint]).await?
                    } else {
                        Vec::new()
                    };
                    out.push(Converged {
                        record,
                        open_incident,
                        pending_effectiveness,
                    });
                }
                out
            };
            commit(tx).await?;
            Ok(out)
        })
        .await
    }

    async fn commit_intake(
        &self,
        tenant: &TenantId,
        writes: &[IntakeWrite],
    ) -> Result<Vec<Option<u64>>, StoreError> {
        for w in writes {
            w.check_tenant(tenant)?;
        }
        self.timed(async {
            let mut tx = self.begin(tenant).await?;
            // Incident rows are locked in id order, whatever the writes'
            // order, so two commits over the same incidents cannot deadlock.
            let mut order: Vec<usize> = (0..writes.len()).collect();
            order.sort_by(|&a, &b| {
                let id = |i: usize| writes[i].incident.as_ref().map(|w| &w.incident().id);
                id(a).cmp(&id(b))
            });
            let mut revisions = vec![None; writes.len()];
            for i in order {
                let write = &writes[i];
                revisions[i] = match &write.incident {
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
            }
            commit(tx).await?;
            Ok(revisions)
        })
        .await
    }
}
