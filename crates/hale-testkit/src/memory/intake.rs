//! Intake's combined calls: each under the one lock, so each is atomic.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{self, Delivery};
use hale_domain::notification::Notice;
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use super::{MemoryStore, absent, duplicate, next_revision, stale};

#[async_trait]
impl IntakeStore for MemoryStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<Converged, StoreError> {
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(tenant);
        let record = convergence::converge(t.fingerprints.get(&delivery.fingerprint), delivery);
        t.fingerprints
            .insert(record.fingerprint.clone(), record.clone());
        let open_incident = if record.verdict().concerns_incident() {
            t.open_incident(&record.fingerprint)
        } else {
            None
        };
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
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(tenant);
        // Check everything first: nothing is written unless all of it is.
        let revision = match &write.incident {
            None => None,
            Some(w) => {
                let i = w.incident();
                let stored = t.incidents.get(&i.id);
                match (w, stored) {
                    (IncidentWrite::Create(_), Some(_)) => {
                        return Err(duplicate("incident", i.id.as_str(), tenant));
                    }
                    (IncidentWrite::Create(_), None) => Some(i.revision),
                    (IncidentWrite::Update(_), None) => {
                        return Err(absent("incident", i.id.as_str(), tenant));
                    }
                    (IncidentWrite::Update(_), Some(s)) if s.revision != i.revision => {
                        return Err(stale("incident", i.id.as_str(), i.revision, s.revision));
                    }
                    (IncidentWrite::Update(_), Some(_)) => {
                        Some(next_revision(i.revision, "incident")?)
                    }
                }
            }
        };
        for e in &write.timeline {
            if t.timeline.contains_key(&e.id) {
                return Err(duplicate("timeline event", &e.id, tenant));
            }
        }
        for a in &write.audit {
            if t.audit.contains_key(&a.id) {
                return Err(duplicate("audit entry", &a.id, tenant));
            }
        }
        let mut notices = Vec::new();
        if let (Some(w), Some(rev)) = (&write.incident, revision) {
            let mut row = w.incident().clone();
            notices.push(Notice::for_incident(&row));
            row.revision = rev;
            t.incidents.insert(row.id.clone(), row);
        }
        for e in &write.timeline {
            t.timeline.insert(e.id.clone(), e.clone());
        }
        for a in &write.audit {
            notices.push(Notice::for_audit(a));
            t.audit.insert(a.id.clone(), a.clone());
        }
        for n in notices {
            tables.carry(n);
        }
        Ok(revision)
    }
}
