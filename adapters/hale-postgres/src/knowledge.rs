//! `KnowledgeStore` on the `knowledge_entries` table, including the
//! anti-pattern memory (looked up by `symptoms_hash`).

use async_trait::async_trait;
use hale_domain::anti_pattern::SymptomsHash;
use hale_domain::record::audit::AuditEntry;
use hale_domain::record::knowledge::KnowledgeEntry;
use hale_domain::{KnowledgeId, TenantId};
use hale_engine::ports::{KnowledgeFilter, KnowledgeStore, Page, StoreError, caused_by};
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;

use crate::audit::insert_audit;
use crate::codec::{Cols, int, json, ts, wire};
use crate::error;
use crate::store::{PgStore, commit, list_query};

macro_rules! columns {
    () => {
        "tenant, id, title, content, entry_type, category, tags, source, status, \
         related_incident_id, related_playbook_id, symptoms_hash, failed_strategy_id, \
         view_count, created_by, created_at, updated_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO knowledge_entries (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
);

/// Replaces every column but the key (last writer wins).
const UPDATE: &str = "UPDATE knowledge_entries SET (title, content, entry_type, category, \
    tags, source, status, related_incident_id, related_playbook_id, symptoms_hash, \
    failed_strategy_id, view_count, created_by, created_at, updated_at) = ($3, $4, $5, $6, $7, \
    $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) WHERE tenant = $1 AND id = $2";

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM knowledge_entries WHERE tenant = $1 AND id = $2"
);

const SELECT_ANTI_PATTERNS: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM knowledge_entries WHERE tenant = $1 AND symptoms_hash = $2 \
     AND entry_type = 'anti_pattern' AND status <> 'archived' \
     ORDER BY created_at DESC, id DESC"
);

const RECORD_VIEW: &str =
    "UPDATE knowledge_entries SET view_count = view_count + 1 WHERE tenant = $1 AND id = $2";

fn from_row(row: &PgRow) -> Result<KnowledgeEntry, StoreError> {
    let c = Cols::new(row, "knowledge_entries");
    Ok(KnowledgeEntry {
        id: c.parse("id")?,
        tenant: c.parse("tenant")?,
        title: c.text("title")?,
        content: c.text("content")?,
        entry_type: c.parse("entry_type")?,
        category: c.text("category")?,
        tags: c.json("tags")?,
        source: c.parse("source")?,
        status: c.parse("status")?,
        related_incident_id: c.parse_opt("related_incident_id")?,
        related_playbook_id: c.text_opt("related_playbook_id")?,
        symptoms_hash: c.text_opt("symptoms_hash")?.map(SymptomsHash::from_hex),
        failed_strategy_id: c.parse_opt("failed_strategy_id")?,
        view_count: c.u64("view_count")?,
        created_by: c.parse_opt("created_by")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn bind<'q>(
    q: Query<'q, Postgres, PgArguments>,
    k: &KnowledgeEntry,
) -> Result<Query<'q, Postgres, PgArguments>, StoreError> {
    Ok(q.bind(k.tenant.as_str().to_owned())
        .bind(k.id.as_str().to_owned())
        .bind(k.title.clone())
        .bind(k.content.clone())
        .bind(wire(&k.entry_type)?)
        .bind(k.category.clone())
        .bind(json(&k.tags)?)
        .bind(wire(&k.source)?)
        .bind(wire(&k.status)?)
        .bind(
            k.related_incident_id
                .as_ref()
                .map(|i| i.as_str().to_owned()),
        )
        .bind(k.related_playbook_id.clone())
        .bind(k.symptoms_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(k.failed_strategy_id.as_ref().map(|s| s.as_str().to_owned()))
        .bind(int("view_count", k.view_count)?)
        .bind(k.created_by.as_ref().map(|a| a.as_str().to_owned()))
        .bind(ts(k.created_at)?)
        .bind(ts(k.updated_at)?))
}

#[async_trait]
impl KnowledgeStore for PgStore {
    async fn create_knowledge_audited(
        &self,
        entry: &KnowledgeEntry,
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        caused_by(&entry.tenant, audit)?;
        let insert = bind(sqlx::query(INSERT), entry)?;
        self.timed(async {
            let mut tx = self.begin(&entry.tenant).await?;
            insert.execute(&mut *tx).await.map_err(error::db)?;
            for a in audit {
                insert_audit(&mut tx, a).await?;
            }
            commit(tx).await
        })
        .await
    }

    async fn get_knowledge(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<Option<KnowledgeEntry>, StoreError> {
        let query = sqlx::query(SELECT_ONE)
            .bind(tenant.as_str())
            .bind(id.as_str());
        self.fetch_optional(tenant, query, from_row).await
    }

    async fn list_knowledge(
        &self,
        tenant: &TenantId,
        filter: &KnowledgeFilter,
    ) -> Result<Page<KnowledgeEntry>, StoreError> {
        let mut qb = list_query(
            concat!("SELECT ", columns!(), " FROM knowledge_entries"),
            tenant,
        );
        if let Some(t) = filter.entry_type {
            qb.push(" AND entry_type = ").push_bind(wire(&t)?);
        }
        if let Some(s) = filter.status {
            qb.push(" AND status = ").push_bind(wire(&s)?);
        }
        if let Some(h) = &filter.symptoms_hash {
            qb.push(" AND symptoms_hash = ")
                .push_bind(h.as_str().to_owned());
        }
        self.fetch_page(
            tenant,
            qb,
            "created_at DESC, id DESC",
            filter.page,
            from_row,
        )
        .await
    }

    async fn update_knowledge(&self, entry: &KnowledgeEntry) -> Result<(), StoreError> {
        let update = bind(sqlx::query(UPDATE), entry)?;
        match self.execute(&entry.tenant, update).await? {
            0 => Err(StoreError::NotFound(format!(
                "knowledge entry {}",
                entry.id
            ))),
            _ => Ok(()),
        }
    }

    async fn active_anti_patterns(
        &self,
        tenant: &TenantId,
        symptoms: &SymptomsHash,
    ) -> Result<Vec<KnowledgeEntry>, StoreError> {
        let query = sqlx::query(SELECT_ANTI_PATTERNS)
            .bind(tenant.as_str())
            .bind(symptoms.as_str());
        self.fetch_all(tenant, query, from_row).await
    }

    async fn record_knowledge_view(
        &self,
        tenant: &TenantId,
        id: &KnowledgeId,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(RECORD_VIEW)
            .bind(tenant.as_str())
            .bind(id.as_str());
        match self.execute(tenant, query).await? {
            0 => Err(StoreError::NotFound(format!("knowledge entry {id}"))),
            _ => Ok(()),
        }
    }
}
