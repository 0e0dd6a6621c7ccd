//! Alert fingerprints: convergence as one atomic read-modify-write.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{self, Delivery, EpisodeClaim, Fingerprint, FingerprintRecord};
use hale_engine::ports::{FingerprintStore, Page, PageRequest, StoreError};

use super::{MemoryStore, page_of};

#[async_trait]
impl FingerprintStore for MemoryStore {
    async fn converge(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<FingerprintRecord, StoreError> {
        // The rule itself lives in the domain; the store only makes the
        // read-modify-write atomic by holding the lock across it.
        let mut tables = self.tables()?;
        let rows = &mut tables.tenant_mut(tenant).fingerprints;
        let next = convergence::converge(rows.get(&delivery.fingerprint), delivery);
        rows.insert(next.fingerprint.clone(), next.clone());
        Ok(next)
    }

    async fn claim_episode(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim: &EpisodeClaim,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        Ok(tables
            .tenants
            .get_mut(tenant)
            .and_then(|t| t.fingerprints.get_mut(fingerprint))
            .is_some_and(|rec| rec.try_claim(episode, claim.clone())))
    }

    async fn release_episode_claim(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables()?;
        let Some(rec) = tables
            .tenants
            .get_mut(tenant)
            .and_then(|t| t.fingerprints.get_mut(fingerprint))
        else {
            return Ok(false);
        };
        let held_by_caller =
            rec.episode == episode && rec.claim.as_ref().is_some_and(|c| c.id == claim_id);
        if held_by_caller {
            rec.claim = None;
        }
        Ok(held_by_caller)
    }

    async fn get_fingerprint(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<FingerprintRecord>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .tenant(tenant)
            .and_then(|t| t.fingerprints.get(fingerprint))
            .cloned())
    }

    async fn list_fingerprints(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<FingerprintRecord>, StoreError> {
        let tables = self.tables()?;
        let Some(t) = tables.tenant(tenant) else {
            return Ok(Page::from_overfetch(Vec::new(), page));
        };
        Ok(page_of(
            t.fingerprints.values(),
            |_| true,
            |a, b| (b.last_seen_at, &b.fingerprint).cmp(&(a.last_seen_at, &a.fingerprint)),
            page,
        ))
    }
}
