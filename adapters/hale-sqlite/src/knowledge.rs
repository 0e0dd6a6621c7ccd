//! `KnowledgeStore`, including the anti-pattern memory.

use async_trait::async_trait;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::{KnowledgeId, TenantId};
use hale_engine::ports::{KnowledgeFilter, KnowledgeStore, Page, StoreError};

use crate::store::{SqliteStore, Table, commit, to_doc};

const T: Table = Table::KNOWLEDGE;

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn create_knowledge_audited(
        &self,
        entry: &KnowledgeEntry,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        self.insert_one(T, &entry.tenant, entry.id.as_str(), entry, audit)
            .await
    }

    async fn get_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<Option<KnowledgeEntry>, StoreError> {
        self.get(T, tenant, id.as_str()).await
    }

    async fn list_knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, StoreError> {
        let mut qb = T.list(tenant);
        if let Some(t) = filter.entry_type {
            qb.push(" AND entry_type = ").push_bind(t.as_str());
        }
        if let Some(s) = filter.status {
            qb.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(h) = &filter.symptoms_hash {
            qb.push(" AND symptoms_hash = ")
                .push_bind(h.as_str().to_owned());
        }
        self.page(T, qb, "created_at DESC, id DESC", filter.page)
            .await
    }

    async fn update_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError> {
        let doc = to_doc(entry)?;
        let mut tx = self.write().await?;
        T.replace(&mut tx, &entry.tenant, entry.id.as_str(), doc, None)
            .await?;
        commit(tx).await
    }

    async fn active_anti_patterns(
        &self,
        tenant: &TenantId,
        symptoms: &SymptomsHash,
    ) -> Result<Vec<KnowledgeEntry>, StoreError> {
        let mut qb = T.list(tenant);
        qb.push(" AND symptoms_hash = ")
            .push_bind(symptoms.as_str().to_owned())
            .push(" AND entry_type = 'anti_pattern' AND status <> 'archived'")
            .push(" ORDER BY created_at DESC, id DESC");
        self.all(T, qb).await
    }

    async fn record_knowledge_view(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<(), StoreError> {
        // Read-modify-write under the write lock: exact for every u64, and
        // no concurrent view is lost.
        let mut tx = self.write().await?;
        let Some(mut entry) = T
            .get_in::<KnowledgeEntry>(&mut tx, tenant, id.as_str())
            .await?
        else {
            return Err(StoreError::NotFound(format!("knowledge entry {id}")));
        };
        entry.view_count = entry.view_count.saturating_add(1);
        T.replace(&mut tx, tenant, id.as_str(), to_doc(&entry)?, None)
            .await?;
        commit(tx).await
    }
}
