//! Builders for the durable record: audit entries, timeline events and
//! incident updates, so every step of the pipeline is written the same way.

use hale_domain::record::audit::{AuditEntry, AuditKind};
use hale_domain::record::incident::{DecisionStep, Incident, Stage, StepDecision};
use hale_domain::record::incident_change::IncidentChange;
use hale_domain::record::timeline::{TimelineEvent, TimelineEventType, TimelineStatus};
use hale_domain::{IncidentId, Origin, TenantId, Timestamp};

use crate::engine::Inner;
use crate::error::EngineError;
use crate::evaluate::Evaluation;
use crate::ports::StoreError;

/// How often a revision conflict on an incident is retried.
const INCIDENT_CAS_RETRIES: usize = 8;

impl Inner {
    /// A new audit entry with a fresh id.
    pub(crate) fn audit_entry(
        &self,
        tenant: &TenantId,
        kind: AuditKind,
        target: &str,
        origin: Origin,
        at: Timestamp,
    ) -> AuditEntry {
        AuditEntry::new(
            self.ports.ids.next_id("aud"),
            tenant.clone(),
            kind,
            target,
            origin,
            at,
        )
    }

    /// A new timeline event with a fresh id.
    pub(crate) fn timeline_event(
        &self,
        tenant: &TenantId,
        event_type: TimelineEventType,
        status: TimelineStatus,
        title: impl Into<String>,
        at: Timestamp,
    ) -> TimelineEvent {
        TimelineEvent {
            id: self.ports.ids.next_id("tl"),
            tenant: tenant.clone(),
            event_type,
            status,
            title: title.into(),
            description: None,
            actor: None,
            actor_role: None,
            risk_level: None,
            approval_id: None,
            operation_id: None,
            incident_id: None,
            created_at: at,
        }
    }

    /// Appends an audit entry.
    pub(crate) async fn audit(&self, entry: AuditEntry) -> Result<(), EngineError> {
        self.ports
            .stores
            .audit
            .append_audit(&entry)
            .await
            .map_err(EngineError::from)
    }

    /// Appends a timeline event.
    pub(crate) async fn timeline(&self, event: TimelineEvent) -> Result<(), EngineError> {
        self.ports
            .stores
            .timeline
            .append_timeline(&event)
            .await
            .map_err(EngineError::from)
    }

    /// Reads, changes and writes an incident, retrying on revision
    /// conflicts (concurrent intake may touch the same incident).
    pub(crate) async fn update_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
        mut change: impl FnMut(&mut Incident),
    ) -> Result<Incident, EngineError> {
        for _ in 0..INCIDENT_CAS_RETRIES {
            let Some(mut inc) = self.ports.stores.incidents.get_incident(tenant, id).await? else {
                return Err(EngineError::NotFound(format!("incident {id}")));
            };
            change(&mut inc);
            match self.ports.stores.incidents.update_incident(&inc).await {
                Ok(rev) => {
                    inc.revision = rev;
                    return Ok(inc);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "incident {id} kept changing"
        )))
    }

    /// Appends a decision step to an evaluation's incident (committed with
    /// the evaluation's other records).
    pub(crate) fn ev_step(
        &self,
        ev: &Evaluation<'_>,
        stage: Stage,
        decision: StepDecision,
        reason: &str,
    ) {
        let step = DecisionStep::new(ev.now, stage, decision, reason);
        ev.with_draft(|d| d.change(IncidentChange::Step(step)));
    }

    /// Appends a decision step to an incident's chain.
    pub(crate) async fn incident_step(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
        step: DecisionStep,
    ) -> Result<(), EngineError> {
        self.update_incident(tenant, id, |inc| inc.push_decision(step.clone()))
            .await
            .map(|_| ())
    }
}
