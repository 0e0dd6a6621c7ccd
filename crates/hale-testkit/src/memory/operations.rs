//! Healing operations, written together with their audit entries.

use async_trait::async_trait;
use hale_domain::convergence::Fingerprint;
use hale_domain::effectiveness::EffectivenessTally;
use hale_domain::healing::{HealingOperation, HealingState};
use hale_domain::notification::Notice;
use hale_domain::record::audit::AuditEntry;
use hale_domain::{OperationId, StrategyId, TenantId};
use hale_engine::ports::{
    HealingCounters, OperationFilter, OperationStore, Page, StoreError, caused_by,
};

use super::{
    MemoryStore, absent, admits, duplicate, in_window, next_revision, page_of, same_tenant, stale,
};

#[async_trait]
impl OperationStore for MemoryStore {
    async fn create_operation(
        &self,
        op: &HealingOperation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        same_tenant("the audit entry", &op.tenant, &audit.tenant)?;
        let mut tables = self.tables()?;
        let t = tables.tenant_mut(&op.tenant);
        // Check both halves before writing either: the pair commits whole.
        if t.operations.contains_key(&op.id) {
            return Err(duplicate("operation", op.id.as_str(), &op.tenant));
        }
        if t.audit.contains_key(&audit.id) {
            return Err(duplicate("audit entry", &audit.id, &audit.tenant));
        }
        t.operations.insert(op.id.clone(), op.clone());
        t.audit.insert(audit.id.clone(), audit.clone());
        tables.carry(Notice::for_audit(audit));
        Ok(())
    }

    async fn get_operation(
        &self,
        tenant: &TenantId,
        id: &OperationId,
    ) -> Result<Option<HealingOperation>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.operations.get(id))
            .cloned())
    }

    async fn list_operations(
        &self,
        tenant: &TenantId,
        filter: &OperationFilter,
    ) -> Result<Page<HealingOperation>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), filter.page));
        };
        let keep = |o: &HealingOperation| {
            admits(filter.state.as_ref(), &o.state)
                && admits(filter.strategy_id.as_ref(), &o.strategy_id)
                && admits(filter.resource.as_ref(), &o.resource)
                && in_window(o.started_at, filter.since, filter.until)
        };
        Ok(page_of(
            t.operations.values(),
            keep,
            |a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)),
            filter.page,
        ))
    }

    async fn update_operation(
        &self,
        op: &HealingOperation,
        audit: &[AuditEntry],
    ) -> Result<u64, StoreError> {
        caused_by(&op.tenant, audit)?;
        let mut tables = self.tables()?;
        let id = op.id.as_str();
        let t = tables
            .tenants
            .get_mut(&op.tenant)
            .ok_or_else(|| absent("operation", id, &op.tenant))?;
        let stored = t
            .operations
            .get(&op.id)
            .ok_or_else(|| absent("operation", id, &op.tenant))?;
        if stored.revision != op.revision {
            return Err(stale("operation", id, op.revision, stored.revision));
        }
        for (i, entry) in audit.iter().enumerate() {
            if t.audit.contains_key(&entry.id) || audit[..i].iter().any(|a| a.id == entry.id) {
                return Err(duplicate("audit entry", &entry.id, &entry.tenant));
            }
        }
        let revision = next_revision(op.revision, "operation")?;
        let mut row = op.clone();
        row.revision = revision;
        t.operations.insert(row.id.clone(), row);
        for entry in audit {
            t.audit.insert(entry.id.clone(), entry.clone());
        }
        for entry in audit {
            tables.carry(Notice::for_audit(entry));
        }
        Ok(revision)
    }

    async fn operation_counts(&self, tenant: &TenantId) -> Result<HealingCounters, StoreError> {
        let tables = self.tables()?;
        let mut c = HealingCounters::default();
        for op in tables
            .tenant(tenant)
            .into_iter()
            .flat_map(|t| t.operations.values())
        {
            c.total_attempts += 1;
            match op.state {
                HealingState::Completed => c.successful_healings += 1,
                HealingState::Failed => c.failed_healings += 1,
                _ => {}
            }
        }
        Ok(c)
    }

    async fn effectiveness_tally(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(StrategyId, EffectivenessTally)>, StoreError> {
        let tables = self.tables()?;
        let rows = tables
            .tenant(tenant)
            .into_iter()
            .flat_map(|t| t.operations.values())
            .filter_map(|op| op.effectiveness.map(|v| (op.strategy_id.clone(), v, 1)));
        Ok(EffectivenessTally::by_key(rows))
    }

    async fn unfinished_operations(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<HealingOperation> = t
            .operations
            .values()
            .filter(|o| !o.state.is_terminal())
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Ok(rows)
    }

    async fn pending_effectiveness(
        &self,
        tenant: &TenantId,
        fingerprint: Option<&Fingerprint>,
    ) -> Result<Vec<HealingOperation>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .map(|t| t.pending_effectiveness(fingerprint))
            .unwrap_or_default())
    }
}
