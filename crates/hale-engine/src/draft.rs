//! What one alert's intake records, gathered while the alert is decided and
//! committed at once ([`IntakeStore::commit_intake`]): the incident created
//! or changed, its timeline events and the audit entries of every skip,
//! block and deferral. Gather, decide, apply: the evaluation changes its copy
//! of the incident and queues records; the store sees one transaction.
//!
//! A draft is committed before coordination (an operation or approval names
//! the incident, so the incident must exist first) and when the evaluation
//! ends; records queued after the first commit go in a second one. Nothing
//! is acknowledged before its commit: an alert's decision is returned only
//! after its draft is durable.

use hale_domain::IncidentId;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::{Incident, incident_id};
use hale_domain::record::incident_change::IncidentChange;
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{TenantId, Timestamp};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::ports::{IncidentWrite, IntakeWrite, StoreError};

/// How often a commit is tried again after a conflict (a stale incident
/// revision, or a drawn incident id that exists).
const COMMIT_RETRIES: usize = 8;

/// An incident as the evaluation sees it, with the changes not yet stored.
#[derive(Debug)]
pub(crate) struct IntakeDraft {
    /// The incident with every change applied.
    incident: Incident,
    /// Whether the incident is in the store (at `incident.revision`).
    stored: bool,
    /// Changes since the last commit, to apply again to the stored row when
    /// another writer changed it in the meantime.
    changes: Vec<IncidentChange>,
    timeline: Vec<TimelineEvent>,
    audit: Vec<AuditEntry>,
}

impl IntakeDraft {
    /// A draft over an incident read from the store.
    pub(crate) fn stored(incident: Incident) -> IntakeDraft {
        IntakeDraft {
            incident,
            stored: true,
            changes: Vec::new(),
            timeline: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// A draft that creates `incident`.
    pub(crate) fn new_incident(incident: Incident) -> IntakeDraft {
        IntakeDraft {
            stored: false,
            ..IntakeDraft::stored(incident)
        }
    }

    /// Whether the draft creates its incident (nothing is stored yet).
    pub(crate) fn creates_incident(&self) -> bool {
        !self.stored
    }

    /// The incident's id (final once the draft is committed: a new
    /// incident's id is drawn again if it clashes).
    pub(crate) fn incident_id(&self) -> &IncidentId {
        &self.incident.id
    }

    /// Changes the incident.
    pub(crate) fn change(&mut self, change: IncidentChange) {
        change.apply(&mut self.incident);
        self.changes.push(change);
    }

    /// Queues a timeline event.
    pub(crate) fn timeline(&mut self, event: TimelineEvent) {
        self.timeline.push(event);
    }

    /// Queues an audit entry.
    pub(crate) fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Whether nothing waits to be committed.
    pub(crate) fn is_clean(&self) -> bool {
        self.stored && self.changes.is_empty() && self.timeline.is_empty() && self.audit.is_empty()
    }

    /// The write for the store (the queued records move into it).
    fn take_write(&mut self) -> IntakeWrite {
        let incident = if !self.stored {
            Some(IncidentWrite::Create(self.incident.clone()))
        } else if !self.changes.is_empty() {
            Some(IncidentWrite::Update(self.incident.clone()))
        } else {
            None
        };
        IntakeWrite {
            incident,
            timeline: std::mem::take(&mut self.timeline),
            audit: std::mem::take(&mut self.audit),
        }
    }

    /// Puts a write that was not committed back.
    fn restore(&mut self, write: IntakeWrite) {
        self.timeline = write.timeline;
        self.audit = write.audit;
    }

    /// A new incident's id clashed: every queued record follows it to `id`.
    fn rename(&mut self, id: IncidentId) {
        let old = std::mem::replace(&mut self.incident.id, id.clone());
        for e in &mut self.timeline {
            if e.incident_id.as_ref() == Some(&old) {
                e.incident_id = Some(id.clone());
            }
        }
        for a in &mut self.audit {
            if a.incident_id.as_ref() == Some(&old) {
                a.incident_id = Some(id.clone());
            }
        }
    }

    /// Another writer changed the stored incident: start again from its row.
    fn rebase(&mut self, mut fresh: Incident) {
        for c in &self.changes {
            c.apply(&mut fresh);
        }
        self.incident = fresh;
    }

    fn committed(&mut self, revision: Option<u64>) {
        if let Some(r) = revision {
            self.incident.revision = r;
        }
        self.stored = true;
        self.changes.clear();
    }
}

impl Inner {
    /// A fresh incident id in seed 003's format for `now`.
    pub(crate) fn new_incident_id(&self, now: Timestamp) -> IncidentId {
        let raw = self.ports.ids.next_id("inc");
        let suffix = raw.strip_prefix("inc-").unwrap_or(&raw);
        incident_id(now, suffix)
    }

    /// Commits several drafts (of different incidents) in one transaction,
    /// all or nothing. A conflict is returned as it is: the caller commits
    /// the drafts one by one, which resolves it.
    pub(crate) async fn commit_drafts_at_once(
        &self,
        tenant: &TenantId,
        drafts: &mut [&mut IntakeDraft],
    ) -> Result<(), EngineError> {
        let writes: Vec<IntakeWrite> = drafts.iter_mut().map(|d| d.take_write()).collect();
        match self
            .ports
            .stores
            .intake
            .commit_intake(tenant, &writes)
            .await
        {
            Ok(revisions) => {
                for (d, r) in drafts.iter_mut().zip(revisions) {
                    d.committed(r);
                }
                Ok(())
            }
            Err(e) => {
                for (d, w) in drafts.iter_mut().zip(writes) {
                    d.restore(w);
                }
                Err(e.into())
            }
        }
    }

    /// Commits what `draft` holds in one transaction; on a conflict, draws
    /// a new id for a new incident or applies the changes again to the
    /// stored row, and tries again.
    pub(crate) async fn commit_draft(
        &self,
        tenant: &TenantId,
        draft: &mut IntakeDraft,
    ) -> Result<(), EngineError> {
        if draft.is_clean() {
            return Ok(());
        }
        for _ in 0..COMMIT_RETRIES {
            let write = draft.take_write();
            let answer = self
                .ports
                .stores
                .intake
                .commit_intake(tenant, std::slice::from_ref(&write))
                .await;
            match answer {
                Ok(revisions) => {
                    draft.committed(revisions.into_iter().next().flatten());
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) if !draft.stored => {
                    // Seed 003's ids have six random characters per day; a
                    // clash is possible on a busy day.
                    draft.restore(write);
                    let at = draft.incident.created_at;
                    draft.rename(self.new_incident_id(at));
                }
                Err(StoreError::Conflict(_)) => {
                    draft.restore(write);
                    let id = draft.incident.id.clone();
                    let Some(fresh) = self
                        .ports
                        .stores
                        .incidents
                        .get_incident(tenant, &id)
                        .await?
                    else {
                        return Err(EngineError::NotFound(format!("incident {id}")));
                    };
                    draft.rebase(fresh);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "incident {} kept changing",
            draft.incident.id
        )))
    }
}

#[cfg(test)]
mod tests {
    use hale_domain::alert::Alert;
    use hale_domain::convergence::Fingerprint;
    use hale_domain::record::incident::{DecisionStep, Stage, StepDecision};

    use super::*;

    fn incident() -> Incident {
        let alert = Alert::firing([("alertname", "HighErrorRate")]);
        Incident::open(
            IncidentId::new("INC-20261207-AAAAAA"),
            TenantId::new("t").expect("a valid tenant"),
            Fingerprint::from_hex("ab"),
            &alert,
            Timestamp::from_unix_secs(1_000),
        )
    }

    fn step(reason: &str) -> IncidentChange {
        IncidentChange::Step(DecisionStep::new(
            Timestamp::from_unix_secs(1_010),
            Stage::Guard,
            StepDecision::Blocked,
            reason,
        ))
    }

    #[test]
    fn a_rebase_applies_the_pending_changes_to_the_other_writers_row() {
        let mut draft = IntakeDraft::stored(incident());
        draft.change(step("mine"));
        let mut theirs = incident();
        theirs.revision = 3;
        theirs.push_decision(DecisionStep::new(
            Timestamp::from_unix_secs(1_005),
            Stage::Coordination,
            StepDecision::Deferred,
            "theirs",
        ));
        draft.rebase(theirs);
        let reasons: Vec<&str> = draft
            .incident
            .decision_chain
            .iter()
            .map(|s| s.reason.as_str())
            .collect();
        assert_eq!(reasons, ["theirs", "mine"]);
        assert_eq!(draft.incident.revision, 3);
        assert!(matches!(
            draft.take_write().incident,
            Some(IncidentWrite::Update(_))
        ));
    }

    #[test]
    fn a_renamed_incident_takes_its_queued_records_along() {
        let mut draft = IntakeDraft::new_incident(incident());
        let old = draft.incident_id().clone();
        let mut entry = AuditEntry::new(
            "aud-1".to_owned(),
            TenantId::new("t").expect("a valid tenant"),
            hale_domain::record::audit::AuditKind::HealingBlocked,
            "prod/deployment/a",
            hale_domain::Origin::failure_watcher(),
            Timestamp::from_unix_secs(1_010),
        );
        entry.incident_id = Some(old.clone());
        draft.audit(entry);
        let new = IncidentId::new("INC-20261207-BBBBBB");
        draft.rename(new.clone());
        let write = draft.take_write();
        assert!(matches!(&write.incident, Some(IncidentWrite::Create(i)) if i.id == new));
        assert_eq!(write.audit[0].incident_id.as_ref(), Some(&new));
    }

    #[test]
    fn a_committed_draft_writes_only_what_came_after() {
        let mut draft = IntakeDraft::new_incident(incident());
        let _ = draft.take_write();
        draft.committed(Some(0));
        assert!(draft.is_clean());
        assert!(draft.take_write().is_empty());
        draft.change(step("later"));
        assert!(matches!(
            draft.take_write().incident,
            Some(IncidentWrite::Update(_))
        ));
    }
}
