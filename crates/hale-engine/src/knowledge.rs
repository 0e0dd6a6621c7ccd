//! Knowledge entries and incidents as people handle them: list and read
//! entries (a read counts as a view), write a runbook, archive an entry
//! (the documented way to lift an anti-pattern block), close an incident.
//! Every change needs an actor and a reason where it lifts or ends
//! something, and is audited with both.

use hale_domain::record::audit::AuditKind;
use hale_domain::record::incident::Incident;
use hale_domain::record::knowledge::{EntrySource, EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::{TimelineEventType, TimelineStatus};
use hale_domain::{IncidentId, KnowledgeId, Origin, TenantId};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::ports::{KnowledgeFilter, Page};

/// Longest title of a written entry, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest body of a written entry, in characters.
pub const MAX_CONTENT_CHARS: usize = 65_536;
/// Most tags on a written entry.
pub const MAX_TAGS: usize = 32;

/// A runbook a person writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRunbook {
    /// Title (required).
    pub title: String,
    /// Body (required).
    pub content: String,
    /// Category (default `runbook`).
    pub category: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The incident it was written for, if any (must exist).
    pub related_incident_id: Option<IncidentId>,
}

fn need_reason(reason: &str) -> Result<(), EngineError> {
    if reason.trim().is_empty() {
        Err(EngineError::Invalid("a reason is required".into()))
    } else {
        Ok(())
    }
}

fn checked(r: &NewRunbook) -> Result<(), EngineError> {
    let title = r.title.trim();
    if title.is_empty() {
        return Err(EngineError::Invalid("title: a title is required".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(EngineError::Invalid(format!(
            "title: at most {MAX_TITLE_CHARS} characters"
        )));
    }
    if r.content.trim().is_empty() {
        return Err(EngineError::Invalid("content: a body is required".into()));
    }
    if r.content.chars().count() > MAX_CONTENT_CHARS {
        return Err(EngineError::Invalid(format!(
            "content: at most {MAX_CONTENT_CHARS} characters"
        )));
    }
    if r.tags.len() > MAX_TAGS || r.tags.iter().any(|t| t.trim().is_empty()) {
        return Err(EngineError::Invalid(format!(
            "tags: at most {MAX_TAGS}, none empty"
        )));
    }
    Ok(())
}

impl Engine {
    /// A page of the tenant's knowledge entries, newest first.
    pub async fn knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, EngineError> {
        self.inner.runtime(tenant).await?;
        Ok(self
            .inner
            .ports
            .stores
            .knowledge
            .list_knowledge(tenant, filter)
            .await?)
    }

    /// Reads one entry and counts the view (atomically in the store), so
    /// the answer carries the count including this read.
    pub async fn view_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<KnowledgeEntry, EngineError> {
        self.inner.runtime(tenant).await?;
        let store = &self.inner.ports.stores.knowledge;
        match store.record_knowledge_view(tenant, id).await {
            Ok(()) => {}
            Err(crate::ports::StoreError::NotFound(_)) => {
                return Err(EngineError::NotFound(format!("knowledge entry {id}")));
            }
            Err(e) => return Err(e.into()),
        }
        store
            .get_knowledge(tenant, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("knowledge entry {id}")))
    }

    /// Writes a runbook entry (approved, by a person), audited as
    /// `knowledge.created`.
    pub async fn create_runbook(
        &self,
        tenant: &TenantId,
        runbook: NewRunbook,
        by: impl Into<Origin>,
    ) -> Result<KnowledgeEntry, EngineError> {
        let by = by.into();
        checked(&runbook)?;
        let inner = &self.inner;
        inner.runtime(tenant).await?;
        if let Some(inc) = &runbook.related_incident_id
            && inner
                .ports
                .stores
                .incidents
                .get_incident(tenant, inc)
                .await?
                .is_none()
        {
            return Err(EngineError::Invalid(format!(
                "related_incident_id: no incident {inc}"
            )));
        }
        let now = inner.now();
        let entry = KnowledgeEntry {
            id: KnowledgeId::new(inner.ports.ids.next_id("kn")),
            tenant: tenant.clone(),
            title: runbook.title.trim().to_owned(),
            content: runbook.content,
            entry_type: EntryType::Runbook,
            category: runbook
                .category
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "runbook".into()),
            tags: runbook.tags.iter().map(|t| t.trim().to_owned()).collect(),
            source: EntrySource::Human,
            status: EntryStatus::Approved,
            related_incident_id: runbook.related_incident_id,
            related_playbook_id: None,
            symptoms_hash: None,
            failed_strategy_id: None,
            view_count: 0,
            created_by: Some(by.actor.clone()),
            created_at: now,
            updated_at: now,
        };
        inner
            .ports
            .stores
            .knowledge
            .create_knowledge(&entry)
            .await?;
        let mut a = inner.audit_entry(
            tenant,
            AuditKind::KnowledgeCreated,
            &format!("knowledge:{}", entry.id),
            by,
            now,
        );
        a.reason = Some(format!("runbook: {}", entry.title));
        a.incident_id.clone_from(&entry.related_incident_id);
        inner.audit(a).await?;
        Ok(entry)
    }

    /// Archives an entry with a reason, audited as `knowledge.archived`
    /// (who and why). An archived anti-pattern no longer blocks its
    /// strategy: this is how a person lifts such a block after fixing the
    /// cause. `Conflict` when it is already archived.
    pub async fn archive_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<KnowledgeEntry, EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        inner.runtime(tenant).await?;
        let store = &inner.ports.stores.knowledge;
        let Some(mut entry) = store.get_knowledge(tenant, id).await? else {
            return Err(EngineError::NotFound(format!("knowledge entry {id}")));
        };
        let now = inner.now();
        if !entry.archive(now) {
            return Err(EngineError::Conflict(format!(
                "knowledge entry {id} is already archived"
            )));
        }
        store.update_knowledge(&entry).await?;
        let mut a = inner.audit_entry(
            tenant,
            AuditKind::KnowledgeArchived,
            &format!("knowledge:{id}"),
            by,
            now,
        );
        a.reason = Some(format!("{}: {}", entry.entry_type, reason.trim()));
        a.incident_id.clone_from(&entry.related_incident_id);
        inner.audit(a).await?;
        Ok(entry)
    }

    /// Closes an incident with a reason, audited as `incident.closed` and
    /// put on the timeline. `Conflict` when it is already closed. The next
    /// firing of its alert opens a new incident.
    pub async fn close_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
        reason: &str,
        by: impl Into<Origin>,
    ) -> Result<Incident, EngineError> {
        let by = by.into();
        need_reason(reason)?;
        let inner = &self.inner;
        inner.runtime(tenant).await?;
        let now = inner.now();
        let mut closed_now = false;
        let inc = inner
            .update_incident(tenant, id, |inc| closed_now = inc.close(now))
            .await?;
        if !closed_now {
            return Err(EngineError::Conflict(format!(
                "incident {id} is already closed"
            )));
        }
        let mut a = inner.audit_entry(
            tenant,
            AuditKind::IncidentClosed,
            &format!("incident:{id}"),
            by.clone(),
            now,
        );
        a.reason = Some(reason.trim().to_owned());
        a.incident_id = Some(id.clone());
        inner.audit(a).await?;
        let mut tl = inner.timeline_event(
            tenant,
            TimelineEventType::Human,
            TimelineStatus::Info,
            format!("Incident {id} closed"),
            now,
        );
        tl.incident_id = Some(id.clone());
        tl.actor = Some(by.actor);
        tl.description = Some(reason.trim().to_owned());
        inner.timeline(tl).await?;
        Ok(inc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook() -> NewRunbook {
        NewRunbook {
            title: "Restart the cache".into(),
            content: "kubectl rollout restart deploy/cache".into(),
            ..NewRunbook::default()
        }
    }

    #[test]
    fn a_runbook_needs_a_title_a_body_and_sane_tags() {
        assert!(checked(&runbook()).is_ok());
        for bad in [
            NewRunbook {
                title: " ".into(),
                ..runbook()
            },
            NewRunbook {
                content: "".into(),
                ..runbook()
            },
            NewRunbook {
                title: "x".repeat(MAX_TITLE_CHARS + 1),
                ..runbook()
            },
            NewRunbook {
                tags: vec![" ".into()],
                ..runbook()
            },
            NewRunbook {
                tags: vec!["t".into(); MAX_TAGS + 1],
                ..runbook()
            },
        ] {
            assert!(
                matches!(checked(&bad), Err(EngineError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
