//! The shared safety state and readiness.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hale_domain::TenantId;
use hale_domain::safety::{LedgerKey, SafetyKey, SafetyValue};
use hale_engine::ports::{
    AuditedSafetyUpdate, Ledgers, SafetyChange, SafetyRecord, SafetyRecords, SafetyScope,
    SafetyStore, SafetyUpdated, SafetyView, StoreError, StoreHealth,
};

use super::MemoryStore;

/// One scope's records and epoch.
#[derive(Debug, Default, Clone)]
pub(super) struct ScopeRecords {
    epoch: u64,
    records: BTreeMap<SafetyKey, (u64, SafetyValue)>,
}

impl ScopeRecords {
    fn read(&self, keep: impl Fn(&SafetyKey, u64) -> bool) -> SafetyRecords {
        SafetyRecords {
            epoch: self.epoch,
            records: self
                .records
                .iter()
                .filter(|(k, (v, _))| keep(k, *v))
                .map(|(k, (version, value))| SafetyRecord {
                    key: k.clone(),
                    version: *version,
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

fn selected(key: &SafetyKey, ledgers: Ledgers<'_>) -> bool {
    match (key, ledgers) {
        (SafetyKey::Ledger(_), Ledgers::All) => true,
        (SafetyKey::Ledger(k), Ledgers::Only(keys)) => keys.contains(k),
        (SafetyKey::Ledger(_), Ledgers::None) => false,
        _ => true,
    }
}

#[async_trait]
impl SafetyStore for MemoryStore {
    async fn safety_epochs(&self) -> Result<Vec<(SafetyScope, u64)>, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .safety
            .iter()
            .map(|(scope, r)| (scope.clone(), r.epoch))
            .collect())
    }

    async fn safety_records(
        &self,
        scope: &SafetyScope,
        since: u64,
    ) -> Result<SafetyRecords, StoreError> {
        let tables = self.tables()?;
        Ok(tables
            .safety
            .get(scope)
            .map(|r| r.read(|_, version| version > since))
            .unwrap_or_default())
    }

    async fn update_safety_audited(
        &self,
        scope: &SafetyScope,
        ledgers: Ledgers<'_>,
        update: AuditedSafetyUpdate<'_>,
    ) -> Result<SafetyUpdated, StoreError> {
        // One lock over every table: the update is atomic with respect to
        // every other call.
        let mut tables = self.tables()?;
        let platform = tables
            .safety
            .get(&SafetyScope::Platform)
            .map(|r| r.read(|_, _| true))
            .unwrap_or_default();
        let tenant = match scope {
            SafetyScope::Platform => None,
            SafetyScope::Tenant(_) => Some(
                tables
                    .safety
                    .get(scope)
                    .map(|r| r.read(|k, _| selected(k, ledgers)))
                    .unwrap_or_default(),
            ),
        };
        let SafetyChange {
            records: writes,
            trail,
        } = update(SafetyView {
            platform: &platform,
            tenant: tenant.as_ref(),
        });
        // Everything that can refuse the change is checked before anything
        // is written: the change and its trail land together or not at all.
        trail.fits(scope)?;
        tables.check_new_audit(&trail.audit)?;
        for entry in trail.audit {
            tables.insert_audit(entry);
        }
        for notice in trail.notices {
            tables.carry(Some(notice));
        }
        let target = tables.safety.entry(scope.clone()).or_default();
        let mut written = Vec::new();
        if !writes.is_empty() {
            target.epoch += 1;
            let version = target.epoch;
            for (key, value) in writes {
                target.records.insert(key.clone(), (version, value.clone()));
                written.push(SafetyRecord {
                    key,
                    version,
                    value,
                });
            }
        }
        Ok(SafetyUpdated {
            epoch: target.epoch,
            platform,
            tenant: tenant.unwrap_or_default(),
            written,
        })
    }

    async fn prune_ledgers(
        &self,
        tenant: &TenantId,
        spent: &[(LedgerKey, u64)],
    ) -> Result<Vec<LedgerKey>, StoreError> {
        let mut tables = self.tables()?;
        let Some(target) = tables.safety.get_mut(&SafetyScope::Tenant(tenant.clone())) else {
            return Ok(Vec::new());
        };
        let mut deleted = Vec::new();
        for (key, version) in spent {
            let record = SafetyKey::Ledger(key.clone());
            if target
                .records
                .get(&record)
                .is_some_and(|(v, _)| v == version)
            {
                target.records.remove(&record);
                deleted.push(key.clone());
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl StoreHealth for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.tables().map(drop)
    }
}
