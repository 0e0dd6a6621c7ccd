//! Intake's combined calls: each under the one lock, so each is atomic.

use async_trait::async_trait;
use hale_domain::convergence::{self, Delivery};
use hale_domain::notification::Notice;
use hale_domain::{IncidentId, TenantId};
use hale_engine::ports::{Converged, IncidentWrite, IntakeStore, IntakeWrite, StoreError};

use super::{MemoryStore, TenantTables, absent, duplicate, next_revision, stale};

/// Applies one write to a tenant's tables, noting in `undo` what it
/// changed; returns the incident's revision and the notices it carries.
fn apply(
    t: &mut TenantTables,
    tenant: &TenantId,
    write: &IntakeWrite,
    undo: &mut Vec<Undo>,
    notices: &mut Vec<Notice>,
) -> Result<Option<u64>, StoreError> {
    let revision = match &write.incident {
        None => None,
        Some(w) => {
            let i = w.incident();
            let stored = t.incidents.get(&i.id);
            let revision = match (w, stored) {
                (IncidentWrite::Create(_), Some(_)) => {
                    return Err(duplicate("incident", i.id.as_str(), tenant));
                }
                (IncidentWrite::Create(_), None) => i.revision,
                (IncidentWrite::Update(_), None) => {
                    return Err(absent("incident", i.id.as_str(), tenant));
                }
                (IncidentWrite::Update(_), Some(s)) if s.revision != i.revision => {
                    return Err(stale("incident", i.id.as_str(), i.revision, s.revision));
                }
                (IncidentWrite::Update(_), Some(_)) => next_revision(i.revision, "incident")?,
            };
            let mut row = i.clone();
            notices.extend(Notice::for_incident(&row));
            row.revision = revision;
            let before = t.incidents.insert(row.id.clone(), row).map(Box::new);
            undo.push(Undo::Incident(i.id.clone(), before));
            Some(revision)
        }
    };
    for e in &write.timeline {
        if t.timeline.contains_key(&e.id) {
            return Err(duplicate("timeline event", &e.id, tenant));
        }
        t.timeline.insert(e.id.clone(), e.clone());
        undo.push(Undo::Timeline(e.id.clone()));
    }
    for a in &write.audit {
        if t.audit.contains_key(&a.id) {
            return Err(duplicate("audit entry", &a.id, tenant));
        }
        notices.extend(Notice::for_audit(a));
        t.audit.insert(a.id.clone(), a.clone());
        undo.push(Undo::Audit(a.id.clone()));
    }
    Ok(revision)
}

/// What a failed commit puts back.
enum Undo {
    Incident(
        IncidentId,
        Option<Box<hale_domain::record::incident::Incident>>,
    ),
    Timeline(String),
    Audit(String),
}

#[async_trait]
impl IntakeStore for MemoryStore {
    async fn converge_for_intake(
        &self,
        tenant: &TenantId,
        deliveries: &[Delivery],
    ) -> Result<Vec<Converged>, StoreError> {
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(tenant);
        let mut out = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let record = convergence::converge(t.fingerprints.get(&delivery.fingerprint), delivery);
            t.fingerprints
                .insert(record.fingerprint.clone(), record.clone());
            let verdict = record.verdict();
            let open_incident = verdict
                .concerns_incident()
                .then(|| t.open_incident(&record.fingerprint))
                .flatten();
            let pending_effectiveness = if verdict.observes_effectiveness() {
                t.pending_effectiveness(Some(&record.fingerprint))
            } else {
                Vec::new()
            };
            out.push(Converged {
                record,
                open_incident,
                pending_effectiveness,
            });
        }
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
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(tenant);
        let (mut undo, mut notices) = (Vec::new(), Vec::new());
        let mut revisions = Vec::with_capacity(writes.len());
        for w in writes {
            match apply(t, tenant, w, &mut undo, &mut notices) {
                Ok(r) => revisions.push(r),
                Err(e) => {
                    // All or nothing: put back what the earlier writes did.
                    for u in undo.into_iter().rev() {
                        match u {
                            Undo::Incident(id, Some(before)) => {
                                t.incidents.insert(id, *before);
                            }
                            Undo::Incident(id, None) => {
                                t.incidents.remove(&id);
                            }
                            Undo::Timeline(id) => {
                                t.timeline.remove(&id);
                            }
                            Undo::Audit(id) => {
                                t.audit.remove(&id);
                            }
                        }
                    }
                    return Err(e);
                }
            }
        }
        for n in notices {
            tables.carry(Some(n));
        }
        Ok(revisions)
    }
}
