//! Runtime state snapshots and readiness.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_engine::ports::{
    PlatformStateSnapshot, StoreError, StoreHealth, TenantStateSnapshot, TenantStateStore,
};

use super::MemoryStore;

#[async_trait]
impl TenantStateStore for MemoryStore {
    async fn load_tenant_state(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<TenantStateSnapshot>, StoreError> {
        let tables = self.tables()?;
        Ok(tables.tenant(tenant).and_then(|t| t.state.clone()))
    }

    async fn save_tenant_state(
        &self,
        tenant: &TenantId,
        state: &TenantStateSnapshot,
    ) -> Result<(), StoreError> {
        let mut tables = self.tables()?;
        tables.tenant_mut(tenant).state = Some(state.clone());
        Ok(())
    }

    async fn load_platform_state(&self) -> Result<Option<PlatformStateSnapshot>, StoreError> {
        Ok(self.tables()?.platform.clone())
    }

    async fn save_platform_state(&self, state: &PlatformStateSnapshot) -> Result<(), StoreError> {
        self.tables()?.platform = Some(state.clone());
        Ok(())
    }
}

#[async_trait]
impl StoreHealth for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.tables().map(drop)
    }
}
