//! Runtime state snapshots (`tenant_state`, `platform_state`) and readiness.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_engine::ports::{
    PlatformStateSnapshot, StoreError, StoreHealth, TenantStateSnapshot, TenantStateStore,
};
use sqlx::postgres::PgRow;

use crate::codec::{Cols, json, ts};
use crate::error;
use crate::store::{PgStore, commit};

const LOAD_TENANT: &str = "SELECT snapshot FROM tenant_state WHERE tenant = $1";

const SAVE_TENANT: &str = "INSERT INTO tenant_state (tenant, snapshot, saved_at) \
    VALUES ($1, $2, $3) \
    ON CONFLICT (tenant) DO UPDATE SET snapshot = EXCLUDED.snapshot, saved_at = EXCLUDED.saved_at";

const LOAD_PLATFORM: &str = "SELECT snapshot FROM platform_state WHERE id = 'platform'";

const SAVE_PLATFORM: &str = "INSERT INTO platform_state (id, snapshot, saved_at) \
    VALUES ('platform', $1, $2) \
    ON CONFLICT (id) DO UPDATE SET snapshot = EXCLUDED.snapshot, saved_at = EXCLUDED.saved_at";

fn snapshot<T: serde::de::DeserializeOwned>(row: &PgRow) -> Result<T, StoreError> {
    Cols::new(row, "state").json("snapshot")
}

#[async_trait]
impl TenantStateStore for PgStore {
    async fn load_tenant_state(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<TenantStateSnapshot>, StoreError> {
        let query = sqlx::query(LOAD_TENANT).bind(tenant.as_str());
        self.fetch_optional(tenant, query, snapshot).await
    }

    async fn save_tenant_state(
        &self,
        tenant: &TenantId,
        state: &TenantStateSnapshot,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(SAVE_TENANT)
            .bind(tenant.as_str())
            .bind(json(state)?)
            .bind(ts(state.saved_at)?);
        self.execute(tenant, query).await.map(drop)
    }

    async fn load_platform_state(&self) -> Result<Option<PlatformStateSnapshot>, StoreError> {
        self.timed(async {
            let mut tx = self.begin_platform().await?;
            let row = sqlx::query(LOAD_PLATFORM)
                .fetch_optional(&mut *tx)
                .await
                .map_err(error::db)?;
            commit(tx).await?;
            row.as_ref().map(snapshot).transpose()
        })
        .await
    }

    async fn save_platform_state(&self, state: &PlatformStateSnapshot) -> Result<(), StoreError> {
        let query = sqlx::query(SAVE_PLATFORM)
            .bind(json(state)?)
            .bind(ts(state.saved_at)?);
        self.timed(async {
            let mut tx = self.begin_platform().await?;
            query.execute(&mut *tx).await.map_err(error::db)?;
            commit(tx).await
        })
        .await
    }
}

#[async_trait]
impl StoreHealth for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(async {
            let mut tx = self.begin_platform().await?;
            sqlx::query("SELECT 1")
                .execute(&mut *tx)
                .await
                .map_err(error::db)?;
            commit(tx).await
        })
        .await
    }
}
