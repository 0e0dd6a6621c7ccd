//! Approvals, the audit log, incidents, timeline and knowledge entries.

use async_trait::async_trait;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::approval::{ApprovalRequest, ApprovalStatus};
use hale_domain::convergence::Fingerprint;
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::incident::Incident;
use hale_domain::record::knowledge::{EntryStatus, EntryType, KnowledgeEntry};
use hale_domain::record::timeline::TimelineEvent;
use hale_domain::{ApprovalId, IncidentId, KnowledgeId, ResourceRef, TenantId, Timestamp};
use hale_engine::ports::{
    ApprovalFilter, ApprovalStore, AuditFilter, AuditLog, IncidentFilter, IncidentStore,
    KnowledgeFilter, KnowledgeStore, Page, PageRequest, StoreError, TimelineFilter, TimelineStore,
    caused_by,
};

use super::{
    MemoryStore, Tables, absent, admits, admits_opt, duplicate, in_window, next_revision, page_of,
    same_tenant, stale,
};

// === impl ApprovalStore ===

#[async_trait]
impl ApprovalStore for MemoryStore {
    async fn create_approval(
        &self,
        approval: &ApprovalRequest,
        event: &TimelineEvent,
    ) -> Result<(), StoreError> {
        same_tenant("the timeline event", &approval.tenant, &event.tenant)?;
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(&approval.tenant);
        if t.approvals.contains_key(&approval.id) {
            return Err(duplicate(
                "approval",
                approval.id.as_str(),
                &approval.tenant,
            ));
        }
        if t.timeline.contains_key(&event.id) {
            return Err(duplicate("timeline event", &event.id, &event.tenant));
        }
        t.approvals.insert(approval.id.clone(), approval.clone());
        t.timeline.insert(event.id.clone(), event.clone());
        tables.carry(Notice::for_approval(approval, true));
        Ok(())
    }

    async fn get_approval(
        &self,
        tenant: &TenantId,
        id: &ApprovalId,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.approvals.get(id))
            .cloned())
    }

    async fn list_approvals(
        &self,
        tenant: &TenantId,
        filter: &ApprovalFilter,
    ) -> Result<Page<ApprovalRequest>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        Ok(page_of(
            t.approvals.values(),
            |a| {
                admits(filter.status.as_ref(), &a.status)
                    && admits(filter.resource.as_ref(), &a.resource)
            },
            |a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            filter.page,
        ))
    }

    async fn pending_approval_for(
        &self,
        tenant: &TenantId,
        resource: &ResourceRef,
    ) -> Result<Option<ApprovalRequest>, StoreError> {
        let tables = self.tables()?;
        Ok(tables.tenant(tenant).and_then(|t| {
            t.approvals
                .values()
                .filter(|a| a.status == ApprovalStatus::Pending && &a.resource == resource)
                .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
                .cloned()
        }))
    }

    async fn update_approval(
        &self,
        approval: &ApprovalRequest,
        event: Option<&TimelineEvent>,
    ) -> Result<u64, StoreError> {
        if let Some(event) = event {
            same_tenant("the timeline event", &approval.tenant, &event.tenant)?;
        }
        let mut tables = self.tables()?;
        let id = approval.id.as_str();
        let t = tables
            .tenants
            .get_mut(&approval.tenant)
            .ok_or_else(|| absent("approval", id, &approval.tenant))?;
        let stored = t
            .approvals
            .get(&approval.id)
            .ok_or_else(|| absent("approval", id, &approval.tenant))?;
        if stored.revision != approval.revision {
            return Err(stale("approval", id, approval.revision, stored.revision));
        }
        if let Some(event) = event
            && t.timeline.contains_key(&event.id)
        {
            return Err(duplicate("timeline event", &event.id, &event.tenant));
        }
        let revision = next_revision(approval.revision, "approval")?;
        let mut row = approval.clone();
        row.revision = revision;
        t.approvals.insert(row.id.clone(), row);
        if let Some(event) = event {
            t.timeline.insert(event.id.clone(), event.clone());
        }
        tables.carry(Notice::for_approval(approval, false));
        Ok(revision)
    }

    async fn approvals_due_for_expiry(
        &self,
        tenant: &TenantId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Vec::new());
        };
        let mut due: Vec<&ApprovalRequest> = t
            .approvals
            .values()
            .filter(|a| a.is_due_to_expire(now))
            .collect();
        due.sort_by(|a, b| {
            (a.expires_at, a.created_at, &a.id).cmp(&(b.expires_at, b.created_at, &b.id))
        });
        let limit = limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
        Ok(due.into_iter().take(limit).cloned().collect())
    }
}

// === impl AuditLog ===

impl Tables {
    /// `Conflict` when any of `entries` has an id its tenant's log (or an
    /// earlier one of `entries`) already holds; checked before anything is
    /// written, so a failed call writes nothing.
    pub(super) fn check_new_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            let stored = self
                .tenant(&e.tenant)
                .is_some_and(|t| t.audit.contains_key(&e.id));
            if stored || !seen.insert((&e.tenant, &e.id)) {
                return Err(duplicate("audit entry", &e.id, &e.tenant));
            }
        }
        Ok(())
    }

    /// Appends an entry checked by [`Tables::check_new_audit`], with the
    /// notice it carries.
    pub(super) fn insert_audit(&mut self, entry: AuditEntry) {
        let notice = Notice::for_audit(&entry);
        self.tenant_mut(&entry.tenant)
            .audit
            .insert(entry.id.clone(), entry);
        self.carry(notice);
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        tables.check_new_audit(std::slice::from_ref(entry))?;
        tables.insert_audit(entry.clone());
        Ok(())
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        let keep = |e: &AuditEntry| {
            admits(filter.operation_type.as_ref(), &e.operation_type)
                && admits_opt(filter.operation_id.as_ref(), e.operation_id.as_ref())
                && admits_opt(filter.approval_id.as_ref(), e.approval_id.as_ref())
                && admits_opt(filter.incident_id.as_ref(), e.incident_id.as_ref())
                && admits(filter.source_system.as_ref(), &e.source_system)
                && admits(
                    filter.authorization_channel.as_ref(),
                    &e.authorization_channel,
                )
                && admits(filter.success.as_ref(), &e.success)
                && in_window(e.created_at, filter.since, filter.until)
        };
        Ok(page_of(
            t.audit.values(),
            keep,
            |a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            filter.page,
        ))
    }
}

// === impl IncidentStore ===

#[async_trait]
impl IncidentStore for MemoryStore {
    async fn create_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(&incident.tenant);
        if t.incidents.contains_key(&incident.id) {
            return Err(duplicate(
                "incident",
                incident.id.as_str(),
                &incident.tenant,
            ));
        }
        t.incidents.insert(incident.id.clone(), incident.clone());
        tables.carry(Notice::for_incident(incident));
        Ok(())
    }

    async fn get_incident(
        &self,
        tenant: &TenantId,
        id: &IncidentId,
    ) -> Result<Option<Incident>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.incidents.get(id))
            .cloned())
    }

    async fn open_incident_for(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Incident>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.open_incident(fingerprint)))
    }

    async fn list_incidents(
        &self,
        tenant: &TenantId,
        filter: &IncidentFilter,
    ) -> Result<Page<Incident>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        let keep = |i: &Incident| {
            admits(filter.status.as_ref(), &i.status)
                && admits(filter.severity.as_ref(), &i.severity)
                && in_window(i.created_at, filter.since, filter.until)
        };
        Ok(page_of(
            t.incidents.values(),
            keep,
            |a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            filter.page,
        ))
    }

    async fn update_incident(&self, incident: &Incident) -> Result<u64, StoreError> {
        let mut tables = self.tables()?;
        let id = incident.id.as_str();
        let t = tables
            .tenants
            .get_mut(&incident.tenant)
            .ok_or_else(|| absent("incident", id, &incident.tenant))?;
        let stored = t
            .incidents
            .get(&incident.id)
            .ok_or_else(|| absent("incident", id, &incident.tenant))?;
        if stored.revision != incident.revision {
            return Err(stale("incident", id, incident.revision, stored.revision));
        }
        let revision = next_revision(incident.revision, "incident")?;
        let mut row = incident.clone();
        row.revision = revision;
        t.incidents.insert(row.id.clone(), row);
        tables.carry(Notice::for_incident(incident));
        Ok(revision)
    }
}

// === impl TimelineStore ===

#[async_trait]
impl TimelineStore for MemoryStore {
    async fn append_timeline_audited(
        &self,
        event: &TimelineEvent,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        caused_by(&event.tenant, audit)?;
        let mut tables = self.tables()?;
        // Everything that can refuse the write is checked before anything
        // is written: the event and its audit entries land together.
        if tables
            .tenant(&event.tenant)
            .is_some_and(|t| t.timeline.contains_key(&event.id))
        {
            return Err(duplicate("timeline event", &event.id, &event.tenant));
        }
        tables.check_new_audit(audit)?;
        tables
            .tenant_mut(&event.tenant)
            .timeline
            .insert(event.id.clone(), event.clone());
        for entry in audit {
            tables.insert_audit(entry.clone());
        }
        Ok(())
    }

    async fn list_timeline(
        &self,
        tenant: &TenantId,
        filter: &TimelineFilter,
    ) -> Result<Page<TimelineEvent>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        let keep = |e: &TimelineEvent| {
            admits_opt(filter.incident_id.as_ref(), e.incident_id.as_ref())
                && admits_opt(filter.operation_id.as_ref(), e.operation_id.as_ref())
                && admits_opt(filter.approval_id.as_ref(), e.approval_id.as_ref())
                && admits(filter.event_type.as_ref(), &e.event_type)
                && in_window(e.created_at, filter.since, filter.until)
        };
        Ok(page_of(
            t.timeline.values(),
            keep,
            |a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            filter.page,
        ))
    }
}

// === impl KnowledgeStore ===

#[async_trait]
impl KnowledgeStore for MemoryStore {
    async fn create_knowledge_audited(
        &self,
        entry: &KnowledgeEntry,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        caused_by(&entry.tenant, audit)?;
        let mut tables = self.tables()?;
        // Everything that can refuse the write is checked before anything
        // is written: the entry and its audit entries land together.
        if tables
            .tenant(&entry.tenant)
            .is_some_and(|t| t.knowledge.contains_key(&entry.id))
        {
            return Err(duplicate(
                "knowledge entry",
                entry.id.as_str(),
                &entry.tenant,
            ));
        }
        tables.check_new_audit(audit)?;
        tables
            .tenant_mut(&entry.tenant)
            .knowledge
            .insert(entry.id.clone(), entry.clone());
        for a in audit {
            tables.insert_audit(a.clone());
        }
        Ok(())
    }

    async fn get_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<Option<KnowledgeEntry>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.knowledge.get(id))
            .cloned())
    }

    async fn list_knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        let keep = |e: &KnowledgeEntry| {
            admits(filter.entry_type.as_ref(), &e.entry_type)
                && admits(filter.status.as_ref(), &e.status)
                && admits_opt(filter.symptoms_hash.as_ref(), e.symptoms_hash.as_ref())
        };
        Ok(page_of(
            t.knowledge.values(),
            keep,
            |a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)),
            filter.page,
        ))
    }

    async fn update_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let row = tables
            .tenants
            .get_mut(&entry.tenant)
            .and_then(|t| t.knowledge.get_mut(&entry.id))
            .ok_or_else(|| absent("knowledge entry", entry.id.as_str(), &entry.tenant))?;
        *row = entry.clone();
        Ok(())
    }

    async fn active_anti_patterns(
        &self,
        tenant: &TenantId,
        symptoms: &SymptomsHash,
    ) -> Result<Vec<KnowledgeEntry>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<KnowledgeEntry> = t
            .knowledge
            .values()
            .filter(|e| {
                e.entry_type == EntryType::AntiPattern
                    && e.status != EntryStatus::Archived
                    && e.symptoms_hash.as_ref() == Some(symptoms)
            })
            .cloned()
            .collect();
        rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(rows)
    }

    async fn record_knowledge_view(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        let row = tables
            .tenants
            .get_mut(tenant)
            .and_then(|t| t.knowledge.get_mut(id))
            .ok_or_else(|| absent("knowledge entry", id.as_str(), tenant))?;
        row.view_count = row.view_count.saturating_add(1);
        Ok(())
    }
}
