//! The ledger-pruning job (issue 15, bounded memory): attempt ledgers that
//! decide nothing any more are deleted from the store and from this
//! replica's copy, so a tenant's records and memory do not grow with every
//! distinct target ever healed.
//!
//! Gather, decide, apply: the job reads each tenant's ledgers (this
//! replica's copy when the tenant is loaded, the store's records when it is
//! not), asks the domain which are spent
//! ([`hale_domain::safety::ledger_prunable`]: no failure streak, cooldown
//! passed), deletes those in the store on condition that each is still at
//! the version read ([`crate::ports::SafetyStore::prune_ledgers`]), and
//! drops from the copy what the store deleted. A ledger rewritten between
//! the read and the delete (a new attempt on the target) survives. Other
//! replicas drop theirs when their own job runs; until then their stale
//! copies decide as empty ledgers would (docs/reliability.md, "What
//! replicas share").

use std::collections::BTreeSet;
use std::time::Duration;

use hale_domain::budget::AttemptLedger;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue, ledger_prunable};
use hale_domain::{TenantId, Timestamp};

use crate::config::TenantPolicy;
use crate::engine::Inner;
use crate::error::EngineError;
use crate::ports::SafetyScope;

/// Ledgers are judged spent this much later than their cooldown ends, so a
/// replica whose clock runs ahead of the one that started an attempt (by
/// less than this) cannot shorten the cooldown by pruning early.
pub(crate) const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(60);

/// Ledgers deleted per store call (bounds a statement's size).
const PRUNE_CHUNK: usize = 500;

/// What one run of the job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Ledgers the store deleted.
    pub deleted: usize,
    /// Spent ledgers the store kept (rewritten since they were read).
    pub kept: usize,
}

impl Inner {
    /// Prunes the spent ledgers of every configured tenant.
    pub(crate) async fn prune_ledgers(&self) -> Result<Pruned, EngineError> {
        let mut total = Pruned::default();
        let mut tenants = self.tenant_ids();
        tenants.sort();
        for tenant in tenants {
            if self.is_stopping() {
                break;
            }
            let pruned = self.prune_tenant_ledgers(&tenant).await?;
            total.deleted += pruned.deleted;
            total.kept += pruned.kept;
        }
        Ok(total)
    }

    async fn prune_tenant_ledgers(&self, tenant: &TenantId) -> Result<Pruned, EngineError> {
        let policy = self.policy(tenant)?;
        let judged_at = self.now().saturating_sub(CLOCK_SKEW_MARGIN);
        let loaded = self.tenants.loaded(tenant);
        let spent: Vec<(LedgerKey, u64)> = match &loaded {
            Some(rt) => {
                let view = rt.view();
                let ledgers = view
                    .ledgers()
                    .map(|(k, version, l)| (k.clone(), version, l.clone()));
                spent_of(ledgers, &policy, judged_at)
            }
            None => {
                let scope = SafetyScope::Tenant(tenant.clone());
                let records = self.ports.stores.safety.safety_records(&scope, 0).await?;
                spent_of(
                    records
                        .records
                        .into_iter()
                        .filter_map(|r| match (r.key, r.value) {
                            (SafetyKey::Ledger(k), SafetyValue::Ledger(l)) => {
                                Some((k, r.version, l))
                            }
                            _ => None,
                        }),
                    &policy,
                    judged_at,
                )
            }
        };
        let mut out = Pruned::default();
        for chunk in spent.chunks(PRUNE_CHUNK) {
            let deleted = self
                .ports
                .stores
                .safety
                .prune_ledgers(tenant, chunk)
                .await?;
            out.deleted += deleted.len();
            out.kept += chunk.len() - deleted.len();
            if let Some(rt) = &loaded {
                let deleted: BTreeSet<&LedgerKey> = deleted.iter().collect();
                let pruned: Vec<(LedgerKey, u64)> = chunk
                    .iter()
                    .filter(|(k, _)| deleted.contains(k))
                    .cloned()
                    .collect();
                rt.forget_ledgers(&pruned);
            }
        }
        if out.deleted + out.kept > 0 {
            tracing::debug!(%tenant, deleted = out.deleted, kept = out.kept, "pruned spent attempt ledgers");
        }
        Ok(out)
    }
}

/// The ledgers among `ledgers` that the domain says may be pruned at `at`.
fn spent_of(
    ledgers: impl Iterator<Item = (LedgerKey, u64, AttemptLedger)>,
    policy: &TenantPolicy,
    at: Timestamp,
) -> Vec<(LedgerKey, u64)> {
    let cooldowns: Vec<_> = policy
        .strategies
        .iter()
        .map(|s| (&s.id, s.cooldown))
        .collect();
    ledgers
        .filter(|(key, _, ledger)| ledger_prunable(key, ledger, cooldowns.iter().copied(), at))
        .map(|(key, version, _)| (key, version))
        .collect()
}
