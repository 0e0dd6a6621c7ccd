//! `FingerprintStore`: storm convergence as the pure domain rule applied
//! under SQLite's write lock.
//!
//! SQLite has one writer at a time, so `BEGIN IMMEDIATE`, read, apply
//! [`hale_domain::convergence::converge`] (or `try_claim`), write, commit is
//! atomic: concurrent deliveries queue on the lock and none is lost.

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::convergence::{Delivery, EpisodeClaim, Fingerprint, FingerprintRecord, converge};
use hale_engine::ports::{FingerprintStore, Page, PageRequest, StoreError};

use crate::store::{SqliteStore, Table, commit, to_doc};

const T: Table = Table::FINGERPRINTS;

impl SqliteStore {
    /// Applies `change` to the stored record under the write lock and saves
    /// it if `change` says so. Returns `change`'s answer.
    async fn modify_fingerprint<R>(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        change: impl FnOnce(Option<FingerprintRecord>) -> (Option<FingerprintRecord>, R) + Send,
    ) -> Result<R, StoreError> {
        let mut tx = self.write().await?;
        let before = T.get_in(&mut tx, tenant, fingerprint.as_str()).await?;
        let (after, answer) = change(before);
        if let Some(after) = after {
            T.upsert(&mut tx, tenant, fingerprint.as_str(), to_doc(&after)?)
                .await?;
        }
        commit(tx).await?;
        Ok(answer)
    }
}

#[async_trait]
impl FingerprintStore for SqliteStore {
    async fn converge(
        &self,
        tenant: &TenantId,
        delivery: &Delivery,
    ) -> Result<FingerprintRecord, StoreError> {
        self.modify_fingerprint(tenant, &delivery.fingerprint, |before| {
            let after = converge(before.as_ref(), delivery);
            (Some(after.clone()), after)
        })
        .await
    }

    async fn claim_episode(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim: &EpisodeClaim,
    ) -> Result<bool, StoreError> {
        self.modify_fingerprint(tenant, fingerprint, |before| match before {
            Some(mut rec) => {
                let took = rec.try_claim(episode, claim.clone());
                (took.then_some(rec), took)
            }
            None => (None, false),
        })
        .await
    }

    async fn release_episode_claim(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
        episode: u64,
        claim_id: &str,
    ) -> Result<bool, StoreError> {
        self.modify_fingerprint(tenant, fingerprint, |before| match before {
            Some(mut rec)
                if rec.episode == episode
                    && rec.claim.as_ref().is_some_and(|c| c.id == claim_id) =>
            {
                rec.claim = None;
                (Some(rec), true)
            }
            _ => (None, false),
        })
        .await
    }

    async fn get_fingerprint(
        &self,
        tenant: &TenantId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<FingerprintRecord>, StoreError> {
        self.get(T, tenant, fingerprint.as_str()).await
    }

    async fn list_fingerprints(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> Result<Page<FingerprintRecord>, StoreError> {
        self.page(
            T,
            T.list(tenant),
            "last_seen_at DESC, fingerprint DESC",
            page,
        )
        .await
    }
}
