//! Runtime state snapshots (`tenant_state`, `platform_state`) and readiness.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_engine::ports::{
    PlatformStateSnapshot, StoreError, StoreHealth, TenantStateSnapshot, TenantStateStore,
};

use crate::error;
use crate::store::{SqliteStore, commit, to_doc};

const SAVE_TENANT: &str = "INSERT INTO tenant_state (tenant, doc) VALUES (?1, ?2) \
    ON CONFLICT (tenant) DO UPDATE SET doc = excluded.doc";

const SAVE_PLATFORM: &str = "INSERT INTO platform_state (id, doc) VALUES ('platform', ?1) \
    ON CONFLICT (id) DO UPDATE SET doc = excluded.doc";

fn decode<T: serde::de::DeserializeOwned>(
    table: &str,
    doc: Option<String>,
) -> Result<Option<T>, StoreError> {
    doc.map(|d| {
        serde_json::from_str(&d)
            .map_err(|e| StoreError::Invalid(format!("stored {table} row cannot be read: {e}")))
    })
    .transpose()
}

#[async_trait]
impl TenantStateStore for SqliteStore {
    async fn load_tenant_state(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<TenantStateSnapshot>, StoreError> {
        let doc = sqlx::query_scalar("SELECT doc FROM tenant_state WHERE tenant = ?1")
            .bind(tenant.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(error::db)?;
        decode("tenant_state", doc)
    }

    async fn save_tenant_state(
        &self,
        tenant: &TenantId,
        state: &TenantStateSnapshot,
    ) -> Result<(), StoreError> {
        let doc = to_doc(state)?;
        let mut tx = self.write().await?;
        sqlx::query(SAVE_TENANT)
            .bind(tenant.as_str())
            .bind(doc)
            .execute(&mut *tx)
            .await
            .map_err(error::db)?;
        commit(tx).await
    }

    async fn load_platform_state(&self) -> Result<Option<PlatformStateSnapshot>, StoreError> {
        let doc = sqlx::query_scalar("SELECT doc FROM platform_state WHERE id = 'platform'")
            .fetch_optional(self.pool())
            .await
            .map_err(error::db)?;
        decode("platform_state", doc)
    }

    async fn save_platform_state(&self, state: &PlatformStateSnapshot) -> Result<(), StoreError> {
        let doc = to_doc(state)?;
        let mut tx = self.write().await?;
        sqlx::query(SAVE_PLATFORM)
            .bind(doc)
            .execute(&mut *tx)
            .await
            .map_err(error::db)?;
        commit(tx).await
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.pool())
            .await
            .map_err(error::db)?;
        Ok(())
    }
}
